/** Argument checks shared by backends, so every backend rejects bad reads the same way. */
import { StorageError } from '../errors.js'

export function checkOffsetLimit(offset: unknown, limit: unknown): asserts offset is number {
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
    throw new StorageError(`offset must be a non-negative integer, got ${String(offset)}`, 'INVALID_OPTION')
  }
  if (limit !== null && limit !== undefined && (!Number.isSafeInteger(limit) || (limit as number) < 0)) {
    throw new StorageError(`limit must be a non-negative integer or null, got ${String(limit)}`, 'INVALID_OPTION')
  }
}
