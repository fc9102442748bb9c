import { describe, expect, it } from 'vitest'
import { StorageError } from '../src/errors.js'
import {
  boolean,
  check,
  checkOffsetLimit,
  checkOptions,
  intRange,
  nonNegativeInt,
  nullable,
  numberAbove,
  oneOf,
  positiveInt,
  seconds,
  show,
  waitSeconds,
} from '../src/options/validate.js'
import { MAX_SECONDS } from '../src/defaults.js'

function failure(fn: () => void): StorageError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(StorageError)
    expect((err as StorageError).code).toBe('INVALID_OPTION')
    return err as StorageError
  }
  throw new Error('expected INVALID_OPTION')
}

describe('option rules', () => {
  it('integer ranges accept exactly the safe integers in range', () => {
    for (const v of [1, 2, Number.MAX_SAFE_INTEGER]) expect(positiveInt.ok(v)).toBe(true)
    for (const v of [0, -1, 1.5, Number.NaN, Infinity, '1', null, undefined, 2 ** 53]) expect(positiveInt.ok(v)).toBe(false)
    expect(nonNegativeInt.ok(0)).toBe(true)
    expect(nonNegativeInt.ok(-1)).toBe(false)
    const port = intRange(0, 65535)
    expect([0, 65535].map((v) => port.ok(v))).toEqual([true, true])
    expect([-1, 65536].map((v) => port.ok(v))).toEqual([false, false])
    expect(port.expected).toBe('an integer from 0 to 65535')
    expect(positiveInt.expected).toBe('a positive integer')
  })

  it('numbers, seconds, booleans, enums and nullable', () => {
    expect(numberAbove(0, true).ok(0)).toBe(false)
    expect(numberAbove(0, true).ok(0.5)).toBe(true)
    expect(numberAbove(0).ok(0)).toBe(true)
    expect(numberAbove(0).ok(Infinity)).toBe(false)
    expect([0, 1.5, MAX_SECONDS].every((v) => seconds.ok(v))).toBe(true)
    expect([-0.1, MAX_SECONDS + 1, Number.NaN, '1'].some((v) => seconds.ok(v))).toBe(false)
    expect(waitSeconds.ok(Infinity)).toBe(true)
    expect(waitSeconds.ok(Number.NaN)).toBe(false)
    expect(boolean.ok(false)).toBe(true)
    expect(boolean.ok(0)).toBe(false)
    const codec = nullable(oneOf(['zstd', 'lz4', 'snappy'] as const))
    expect(['zstd', 'lz4', 'snappy', null].every((v) => codec.ok(v))).toBe(true)
    expect(['brotli', 'ZSTD', undefined, 1].some((v) => codec.ok(v))).toBe(false)
    expect(codec.expected).toBe("one of 'zstd', 'lz4', 'snappy' or null")
    expect(oneOf(['pointInTime', 'absolute'] as const).expected).toBe("'pointInTime' or 'absolute'")
  })

  it('check names the option (and its owner) and shows the value', () => {
    expect(failure(() => check(-2, positiveInt, 'numBuckets')).message).toBe('numBuckets must be a positive integer, got -2')
    expect(failure(() => check('x', positiveInt, 'batchSize', 'LanceBackend')).message).toBe(
      "option 'batchSize' of LanceBackend must be a positive integer, got 'x'",
    )
    expect(() => check(3, positiveInt, 'n')).not.toThrow()
    // Values String() cannot show do not turn the error into a TypeError.
    expect(show(Object.create(null))).toBe('object')
    expect(failure(() => check(Object.create(null), positiveInt, 'k')).message).toContain("k must be")
  })

  it('checkOptions rejects non-objects, unknown names (listing the known ones), bad values and missing required ones', () => {
    const schema = { a: positiveInt, b: boolean }
    expect(failure(() => checkOptions(null, schema, 'Thing')).message).toContain('Thing options must be an object')
    expect(failure(() => checkOptions([], schema, 'Thing')).message).toContain('Thing options must be an object')
    const unknown = failure(() => checkOptions({ a: 1, c: 2 }, schema, 'Thing')).message
    expect(unknown).toContain("'c'")
    expect(unknown).toContain('a, b')
    expect(failure(() => checkOptions({ b: 'yes' }, schema, 'Thing')).message).toContain("option 'b' of Thing must be a boolean")
    expect(failure(() => checkOptions({ b: true }, schema, 'Thing', ['a'])).message).toContain("Thing needs the option 'a'")
    expect(() => checkOptions({ a: undefined, b: undefined }, schema, 'Thing')).not.toThrow()
    expect(() => checkOptions({ a: 2, b: false }, schema, 'Thing', ['a'])).not.toThrow()
  })

  it('checkOffsetLimit: offset a non-negative integer, limit one or null', () => {
    expect(() => checkOffsetLimit(0, null)).not.toThrow()
    expect(() => checkOffsetLimit(5, 0)).not.toThrow()
    expect(() => checkOffsetLimit(5, undefined)).not.toThrow()
    expect(failure(() => checkOffsetLimit(-1, null)).message).toContain('offset')
    expect(failure(() => checkOffsetLimit(0, -1)).message).toContain('limit')
    expect(failure(() => checkOffsetLimit(0, 1.5)).message).toContain('limit')
  })
})
