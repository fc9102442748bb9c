/**
 * Sizes from callers are bounded before anything is buffered: one record's JSON
 * (`maxRecordBytes`) and one call's JSON (`maxBatchBytes`). Over a limit the whole call is
 * refused with `INVALID_RECORD` naming the limit and the size, so nothing of it is stored.
 * Cheap on the hot path: UTF-8 is at most 3 bytes per UTF-16 unit and at least 1, so exact
 * byte counts (and per-record encoding) are only needed for calls near a limit.
 */
import { StorageError } from './errors.js'
import type { Row } from './types.js'

export interface SizeLimits {
  maxRecordBytes: number
  maxBatchBytes: number
}

const MiB = 1024 * 1024
const fmt = (n: number) => (n >= MiB ? `${(n / MiB).toFixed(1)} MiB (${n} bytes)` : `${n} bytes`)

function tooLarge(what: string, size: number, limit: number, option: string, unit = ' of JSON'): StorageError {
  return new StorageError(`${what} is ${fmt(size)}${unit}, over ${option} ${fmt(limit)}; nothing of this call was stored`, 'INVALID_RECORD')
}

/** Checks the JSON text of a call (an array of `count` records, or NDJSON) against both limits. */
export function checkJsonText(json: string, count: number, limits: SizeLimits, records?: readonly Row[]): void {
  const { maxRecordBytes, maxBatchBytes } = limits
  if (json.length * 3 <= Math.min(maxRecordBytes, maxBatchBytes)) return
  const bytes = json.length > maxBatchBytes ? json.length : Buffer.byteLength(json)
  if (bytes > maxBatchBytes) throw tooLarge(`a call of ${count} record${count === 1 ? '' : 's'}`, bytes, maxBatchBytes, 'maxBatchBytes')
  if (bytes - 2 <= maxRecordBytes) return // the array's brackets hold every record
  if (count === 1) throw tooLarge('the record', bytes - 2, maxRecordBytes, 'maxRecordBytes')
  if (records === undefined) return
  for (let i = 0; i < records.length; i++) {
    const one = JSON.stringify(records[i])
    if (one.length * 3 <= maxRecordBytes) continue
    const size = Buffer.byteLength(one)
    if (size > maxRecordBytes) throw tooLarge(`record ${i}`, size, maxRecordBytes, 'maxRecordBytes')
  }
}

/**
 * Checks an NDJSON argument: its type, and its size against `maxBatchBytes` (each line's against
 * `maxRecordBytes` is checked by the core, which sees the lines).
 */
export function checkNdjson(data: unknown, limits: SizeLimits): asserts data is Uint8Array | string {
  let bytes: number
  if (typeof data === 'string') {
    if (data.length <= limits.maxBatchBytes / 3) return
    bytes = data.length > limits.maxBatchBytes ? data.length : Buffer.byteLength(data)
  } else if (data instanceof Uint8Array) {
    bytes = data.byteLength
  } else {
    throw new StorageError('putNdjson expects a string, a Uint8Array or a Buffer of NDJSON', 'INVALID_RECORD')
  }
  if (bytes > limits.maxBatchBytes) throw tooLarge('a call of NDJSON', bytes, limits.maxBatchBytes, 'maxBatchBytes')
}

/** Arrow IPC bytes of one `putArrow` call against `maxBatchBytes`. */
export function checkArrow(ipc: Uint8Array, limits: SizeLimits): void {
  if (ipc.byteLength > limits.maxBatchBytes) throw tooLarge('a call of Arrow IPC', ipc.byteLength, limits.maxBatchBytes, 'maxBatchBytes', '')
}

/** A call whose vectors cross as raw floats: its JSON text plus those bytes against `maxBatchBytes`. */
export function checkWithVectors(json: string, vectorBytes: number, count: number, limits: SizeLimits): void {
  const bytes = Buffer.byteLength(json) + vectorBytes
  if (bytes > limits.maxBatchBytes) {
    throw tooLarge(`a call of ${count} record${count === 1 ? '' : 's'}`, bytes, limits.maxBatchBytes, 'maxBatchBytes', ' (JSON and raw vectors)')
  }
}
