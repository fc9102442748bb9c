/**
 * NDJSON parsed in JavaScript, for where records must be objects: the memory backend, and a
 * queue routing lines to several buckets. The native backends take NDJSON bytes as they are.
 * Same rules as the core: one object per line, blank lines skipped, a leading byte order mark
 * ignored, a bad line named (1-based) and nothing of the call kept.
 */
import { StorageError } from './errors.js'
import type { Row } from './types.js'

export function parseNdjson(data: Uint8Array | string): Row[] {
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')
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
    rows.push(value as Row)
  }
  return rows
}
