/**
 * Typed errors. Every error the library raises on purpose is a StorageError with a
 * stable string `code`, so callers can branch on `err.code` instead of parsing messages.
 */

export type StorageErrorCode =
  | 'INVALID_RECORD' // not a plain object, or a value JSON cannot carry (BigInt, function, circular)
  | 'MISSING_BUCKET_COLUMN'
  | 'INVALID_OPTION' // unknown option, bad compression name, negative size, bad numBuckets
  | 'UNKNOWN_BACKEND'
  | 'SCHEMA_MISMATCH' // new field / changed type where the backend cannot evolve
  | 'READ_ONLY' // write on a checked-out version
  | 'NOT_FOUND' // unknown version, column, ...
  | 'CLOSED'
  | 'IO'
  | 'LANCE'
  | 'WAL_CORRUPT'
  | 'WAL_LOCKED'
  | 'WAL_IO'
  | 'LOCKED' // another writer holds the bucket (WAL off; with the WAL on: WAL_LOCKED)
  | 'BUCKET_FAILED' // an earlier I/O error stopped the bucket; close and reopen it
  | 'INTERNAL'

export class StorageError extends Error {
  readonly code: StorageErrorCode | string
  /**
   * True on a put whose outcome is unknown: its WAL fsync failed, so the record may or may not
   * be present after a reopen. Retrying it can duplicate it; deduplicate by a key of your own.
   */
  indeterminate?: boolean

  constructor(message: string, code: StorageErrorCode | string = 'INTERNAL', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    this.code = code
  }
}

export class WALError extends StorageError {
  constructor(message: string, code: StorageErrorCode | string = 'WAL_IO', options?: { cause?: unknown }) {
    super(message, code, options)
    this.name = 'WALError'
  }
}

const WAL_CODES = new Set(['WAL_CORRUPT', 'WAL_LOCKED', 'WAL_IO'])

/**
 * Native errors arrive as plain Errors whose message starts with `[CODE] `
 * (see crates/persisting-node/src/error.rs); rebuild the typed error, keeping the original as cause.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof StorageError) return err
  if (!(err instanceof Error)) return err
  const m = /^\[([A-Z_]+)\] ([\s\S]*)$/.exec(err.message)
  // Argument conversion failures of the binding itself carry no code of ours.
  if (!m) return new StorageError(err.message, 'INTERNAL', { cause: err })
  const [, code, message] = m
  return WAL_CODES.has(code) ? new WALError(message, code, { cause: err }) : new StorageError(message, code, { cause: err })
}
