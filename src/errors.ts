/**
 * Typed errors. Every error the library raises on purpose is a StorageError with a
 * stable string `code`, so callers can branch on `err.code` instead of parsing messages.
 */

/** Every `err.code` a StorageError / WALError can carry. */
export const STORAGE_ERROR_CODES = [
  'INVALID_RECORD', // not a plain object, or a value JSON cannot carry (BigInt, function, circular)
  'MISSING_BUCKET_COLUMN',
  'INVALID_OPTION', // unknown option, bad compression name, negative size, bad numBuckets
  'UNKNOWN_BACKEND',
  'SCHEMA_MISMATCH', // new field / changed type where the backend cannot evolve
  'READ_ONLY', // write on a checked-out version
  'NOT_FOUND', // unknown version, column, ...
  'CLOSED',
  'IO',
  'LANCE',
  'WAL_CORRUPT',
  'WAL_LOCKED',
  'WAL_IO',
  'LOCKED', // another writer holds the bucket (WAL off; with the WAL on: WAL_LOCKED)
  'BUCKET_FAILED', // an earlier I/O error stopped the bucket; close and reopen it
  'INTERNAL',
] as const

/** The string-literal union of error codes, so `switch (err.code)` is checked by the compiler. */
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[number]

const KNOWN_CODES: ReadonlySet<string> = new Set(STORAGE_ERROR_CODES)

export function isStorageErrorCode(code: unknown): code is StorageErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code)
}

export class StorageError extends Error {
  readonly code: StorageErrorCode
  /**
   * True on a put whose outcome is unknown: its WAL fsync failed, so the record may or may not
   * be present after a reopen. Retrying it can duplicate it; deduplicate by a key of your own.
   */
  indeterminate?: boolean

  constructor(message: string, code: StorageErrorCode = 'INTERNAL', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    this.code = code
  }
}

export class WALError extends StorageError {
  constructor(message: string, code: StorageErrorCode = 'WAL_IO', options?: { cause?: unknown }) {
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
  const [, raw, text] = m
  // A code this version does not know stays visible in the message.
  const code = isStorageErrorCode(raw) ? raw : 'INTERNAL'
  const message = code === raw ? text : err.message
  return WAL_CODES.has(code) ? new WALError(message, code, { cause: err }) : new StorageError(message, code, { cause: err })
}
