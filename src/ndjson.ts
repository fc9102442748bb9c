/**
 * NDJSON parsed in JavaScript, for where records must be objects: the memory backend, and a
 * queue routing lines to several buckets. The native backends take NDJSON bytes as they are.
 * Same rules as the core: one object per line, blank lines skipped, a leading byte order mark
 * ignored, a bad line named (1-based) and nothing of the call kept.
 */
import { StorageError } from './errors.js'
import { assertRecord } from './records.js'
import type { Row } from './types.js'

const UTF8 = new TextDecoder('utf-8', { fatal: true })

export function parseNdjson(data: Uint8Array | string): Row[] {
  const text = typeof data === 'string' ? data : utf8(data)
  const lines = text.split('\n')
  const rows: Row[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = (i === 0 ? lines[i].replace(/^\uFEFF/, '') : lines[i]).trim()
    if (line === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (e) {
      throw new StorageError(`line ${i + 1}: ${(e as Error).message}; nothing of this call was stored`, 'INVALID_RECORD')
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new StorageError(`line ${i + 1}: a line must hold one JSON object; nothing of this call was stored`, 'INVALID_RECORD')
    }
    // What JSON.parse accepts but a record cannot hold (1e400 parses as Infinity).
    assertRecord(value, `line ${i + 1}:`)
    rows.push(value as Row)
  }
  return rows
}

/** The bytes as text; bytes that are not UTF-8 are refused, naming their line. */
function utf8(data: Uint8Array): string {
  try {
    return UTF8.decode(data)
  } catch {
    let line = 1
    let start = 0
    for (let i = 0; i <= data.length; i++) {
      if (i < data.length && data[i] !== 0x0a) continue
      try {
        UTF8.decode(data.subarray(start, i))
      } catch {
        break
      }
      line++
      start = i + 1
    }
    throw new StorageError(`line ${line}: bytes that are not UTF-8; nothing of this call was stored`, 'INVALID_RECORD')
  }
}
