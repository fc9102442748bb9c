/**
 * Typed errors. Every error the library raises on purpose is a StorageError with a
 * stable string `code`, so callers can branch on `err.code` instead of parsing messages.
 */

/**
 * Every code the native core raises, in the core's order (`errorCodes()` of the binding lists
 * the same; a test checks it).
 */
export const NATIVE_ERROR_CODES = [
  'INVALID_RECORD', // not a plain object, or a value JSON cannot carry (BigInt, function, circular)
  'INVALID_OPTION', // unknown option, bad compression name, negative size, bad numBuckets
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
  'MISSING_BUCKET_COLUMN', // a queue record lacks the bucket column (also raised in TypeScript)
  'INTERNAL',
] as const

/** Codes only the TypeScript layer raises. */
export const TS_ONLY_ERROR_CODES = ['UNKNOWN_BACKEND', 'NOT_OWNER'] as const

/** Every `err.code` a StorageError / WALError can carry. */
export const STORAGE_ERROR_CODES = [...NATIVE_ERROR_CODES, ...TS_ONLY_ERROR_CODES] as const

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

const NATIVE_CODES: ReadonlySet<string> = new Set(NATIVE_ERROR_CODES)

/**
 * Native errors arrive as Errors whose `code` is the core's error code and whose message is the
 * core message with its causes (see crates/persisting-node/src/error.rs); rebuild the typed
 * error, keeping the native one as cause. Errors without one of the core's codes (argument
 * conversion failures of napi itself) become INTERNAL.
 */
export function fromNative(err: unknown): unknown {
  if (err instanceof StorageError) return err
  if (!(err instanceof Error)) return err
  const raw = (err as { code?: unknown }).code
  const code: StorageErrorCode = typeof raw === 'string' && NATIVE_CODES.has(raw) ? (raw as StorageErrorCode) : 'INTERNAL'
  return WAL_CODES.has(code)
    ? new WALError(err.message, code, { cause: err })
    : new StorageError(err.message, code, { cause: err })
}
