/**
 * Record validation and encoding. Records cross into the native core as one JSON text per
 * batch, so anything JSON.stringify would drop or choke on is rejected up front with a
 * StorageError('INVALID_RECORD') instead of being silently lost or half-written. That includes
 * NaN and ±Infinity, which JSON.stringify would turn into null.
 */
import { StorageError } from './errors.js'
import type { Row } from './types.js'

const MAX_DEPTH = 1000

export function invalid(what: string, why: string): StorageError {
  return new StorageError(`${what} ${why}`, 'INVALID_RECORD')
}

function nonFinite(what: string, value: number, path: string): StorageError {
  return invalid(what, `has ${value} at ${path}, which JSON cannot carry (it would be stored as null)`)
}

export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value !== 'object') return `a ${typeof value}`
  const ctor = (value as { constructor?: { name?: string } }).constructor
  return ctor?.name ? `a ${ctor.name}` : 'an object'
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Checks one nested value. `ancestors` holds only the current path, so a shared (non-circular)
 * sub-object referenced twice is accepted, exactly like JSON.stringify.
 */
function checkNested(value: object, path: string, what: string, ancestors: object[]): void {
  if (ancestors.includes(value)) throw invalid(what, `has a circular reference at ${path}`)
  // Guard our own recursion; JSON.stringify would overflow the stack near here anyway.
  if (ancestors.length > MAX_DEPTH) throw invalid(what, `is nested more than ${MAX_DEPTH} levels deep at ${path}`)
  if (Array.isArray(value)) {
    ancestors.push(value)
    // Element paths are built only for an error or a nested value: a 128-float vector would
    // otherwise cost 128 string concatenations per record.
    for (let i = 0; i < value.length; i++) {
      const v = value[i]
      const t = typeof v
      if (t === 'number') {
        if ((v as number) - (v as number) !== 0) throw nonFinite(what, v as number, `${path}[${i}]`)
      } else if (t !== 'string' && t !== 'boolean' && v !== null) {
        checkValue(v, `${path}[${i}]`, what, ancestors)
      }
    }
    ancestors.pop()
    return
  }
  // Objects with toJSON (Date, ...) serialise to whatever they choose; trust them.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return
  if (!isPlainObject(value)) {
    // Map/Set/typed arrays would become {} or {"0":..} and silently change shape.
    throw invalid(what, `has ${describe(value)} at ${path}; use plain objects and arrays`)
  }
  ancestors.push(value)
  for (const key in value) checkValue((value as Row)[key], `${path}.${key}`, what, ancestors)
  ancestors.pop()
}

function checkValue(value: unknown, path: string, what: string, ancestors: object[]): void {
  switch (typeof value) {
    case 'number':
      if (value - value !== 0) throw nonFinite(what, value, path)
      return
    case 'string':
    case 'boolean':
    case 'undefined':
      return
    case 'object':
      if (value !== null) checkNested(value, path, what, ancestors)
      return
    default: // bigint, function, symbol
      throw invalid(what, `has ${describe(value)} at ${path}, which JSON cannot carry`)
  }
}

/** Throws StorageError('INVALID_RECORD') unless `r` is a plain object JSON can carry losslessly. */
export function assertRecord(r: unknown, what: string | number = 'record', allowVectors = false): asserts r is Row {
  checkRecord(r, what, allowVectors)
}

/**
 * `assertRecord` that also tells whether the record holds a typed-array vector at its top level
 * (allowed only with `allowVectors`; the caller then encodes the batch with raw floats).
 * Top-level fields in `checked` were checked by the caller and are skipped.
 */
export function checkRecord(
  r: unknown,
  what: string | number = 'record',
  allowVectors = false,
  checked?: ReadonlySet<string>,
): boolean {
  if (typeof r !== 'object' || r === null || Array.isArray(r) || !isPlainObject(r)) {
    throw invalid(label(what), `must be a plain object, got ${describe(r)}`)
  }
  // Flat records (the common case) cost one typeof per field, and numbers one subtraction
  // (x - x is 0 exactly when x is finite); only nested values recurse.
  let ancestors: object[] | undefined
  let vectors = false
  for (const key in r) {
    const v = (r as Row)[key]
    const t = typeof v
    if (t === 'number') {
      if ((v as number) - (v as number) !== 0) throw nonFinite(label(what), v as number, key)
      continue
    }
    if (t === 'string' || t === 'boolean' || t === 'undefined' || v === null) continue
    if (checked !== undefined && checked.has(key)) continue
    if (allowVectors && (v instanceof Float32Array || v instanceof Float64Array)) {
      vectors = true
      continue
    }
    ancestors ??= [r]
    checkValue(v, key, label(what), ancestors)
  }
  return vectors
}

/** A batch names records by index; the text is only built for an error. */
export function label(what: string | number): string {
  return typeof what === 'number' ? `record ${what}` : what
}

/** JSON.stringify of a batch; a value JSON cannot carry is INVALID_RECORD. */
export function stringify(records: Row[], replacer?: (key: string, v: unknown) => unknown): string {
  try {
    return JSON.stringify(records, replacer as (this: unknown, key: string, value: unknown) => unknown)
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      throw new StorageError(`records cannot be encoded as JSON: ${err.message}`, 'INVALID_RECORD', { cause: err })
    }
    throw err
  }
}

/** Validates every record, then encodes the whole batch with a single JSON.stringify call. */
export function encodeRecords(records: Row[]): string {
  if (!Array.isArray(records)) throw invalid('records', `must be an array, got ${describe(records)}`)
  for (let i = 0; i < records.length; i++) assertRecord(records[i], i)
  try {
    return JSON.stringify(records)
  } catch (err) {
    // Only reachable through a toJSON that throws or returns something unencodable.
    if (err instanceof TypeError || err instanceof RangeError) {
      throw new StorageError(`records cannot be encoded as JSON: ${err.message}`, 'INVALID_RECORD', { cause: err })
    }
    throw err
  }
}
