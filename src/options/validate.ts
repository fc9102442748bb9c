/**
 * The one option validator: every backend, the queue and the reader check their options with
 * these rules, so a bad value is always `StorageError('INVALID_OPTION')` naming the option.
 * Validation is strict (unknown names rejected) because a misspelt option would otherwise
 * silently fall back to its default.
 */
import { StorageError } from '../errors.js'
import { MAX_SECONDS } from '../defaults.js'
import { isValidTopicName, TOPIC_NAME_RULE } from '../topic-name.js'

export function invalidOption(message: string): StorageError {
  return new StorageError(message, 'INVALID_OPTION')
}

/** A check of one value: `ok` accepts (and narrows) it; `expected` completes "must be …". */
export interface Rule<T> {
  readonly expected: string
  ok(value: unknown): value is T
}

export function rule<T>(expected: string, ok: (value: unknown) => boolean): Rule<T> {
  return { expected, ok: ok as (value: unknown) => value is T }
}

/** Safe integers in `[min, max]`. */
export function intRange(min = -Infinity, max = Infinity): Rule<number> {
  const expected =
    max === Infinity
      ? min === 1
        ? 'a positive integer'
        : min === 0
          ? 'a non-negative integer'
          : min === -Infinity
            ? 'an integer'
            : `an integer >= ${min}`
      : `an integer from ${min} to ${max}`
  return rule(expected, (v) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max)
}

export const integer = intRange()
export const positiveInt = intRange(1)
export const nonNegativeInt = intRange(0)

/** Finite numbers above `min` (or at it, unless `exclusive`). */
export function numberAbove(min: number, exclusive = false): Rule<number> {
  return rule(`a number ${exclusive ? '>' : '>='} ${min}`, (v) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return false
    return exclusive ? v > min : v >= min
  })
}

/** A duration option, in seconds as in the seeds: 0 to MAX_SECONDS. */
export const seconds = rule<number>(
  `a number of seconds from 0 to ${MAX_SECONDS}`,
  (v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= MAX_SECONDS,
)

/** A wait, in seconds: any number >= 0, Infinity included (waits without a deadline). */
export const waitSeconds = rule<number>(
  'a non-negative number of seconds',
  (v) => typeof v === 'number' && !Number.isNaN(v) && v >= 0,
)

export const boolean = rule<boolean>('a boolean', (v) => typeof v === 'boolean')
export const nonEmptyString = rule<string>('a non-empty string', (v) => typeof v === 'string' && v.length > 0)
export const plainObject = rule<Record<string, unknown>>(
  'an object',
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
)

/** One of a fixed set of string literals. */
export function oneOf<const T extends readonly string[]>(values: T): Rule<T[number]> {
  const names = values.map((v) => `'${v}'`)
  const expected = names.length <= 2 ? names.join(' or ') : `one of ${names.join(', ')}`
  return rule(expected, (v) => typeof v === 'string' && values.includes(v))
}

/** `inner`, or null. */
export function nullable<T>(inner: Rule<T>): Rule<T | null> {
  return rule(`${inner.expected} or null`, (v) => v === null || inner.ok(v))
}

/** How a rejected value is shown: never throws (objects without prototype, symbols). */
export function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  try {
    return String(value)
  } catch {
    return typeof value
  }
}

/**
 * Throws INVALID_OPTION naming the option unless `rule` accepts `value`.
 * `owner` (a backend or function name) is added to the message when given.
 */
export function check<T>(value: unknown, r: Rule<T>, name: string, owner?: string): asserts value is T {
  if (r.ok(value)) return
  const what = owner === undefined ? name : `option '${name}' of ${owner}`
  throw invalidOption(`${what} must be ${r.expected}, got ${show(value)}`)
}

/** Option name -> rule, for a whole options object. */
export type Schema = Readonly<Record<string, Rule<unknown>>>

/**
 * Checks an options object: it is an object, every `required` option is given, every key is
 * known to `schema`, and every value given (undefined counts as not given) passes its rule.
 */
export function checkOptions(
  options: unknown,
  schema: Schema,
  owner: string,
  required: readonly string[] = [],
): asserts options is Record<string, unknown> {
  if (!plainObject.ok(options)) throw invalidOption(`${owner} options must be an object, got ${show(options)}`)
  for (const name of required) {
    if (options[name] === undefined) throw invalidOption(`${owner} needs the option '${name}' (${schema[name]?.expected ?? 'a value'})`)
  }
  for (const [name, value] of Object.entries(options)) {
    const r = schema[name]
    if (r === undefined) {
      throw invalidOption(`unknown option '${name}' for ${owner}; known options: ${Object.keys(schema).join(', ')}`)
    }
    if (value !== undefined) check(value, r, name, owner)
  }
}

/** A read position: `offset` a non-negative integer, `limit` one or null/undefined (no limit). */
export function checkOffsetLimit(offset: unknown, limit: unknown): asserts offset is number {
  check(offset, nonNegativeInt, 'offset')
  if (limit !== undefined) check(limit, optionalLimit, 'limit')
}

const optionalLimit = nullable(nonNegativeInt)

/** Kafka's topic-name rule: a topic becomes a directory, so it must stay one path segment. */
export const topicName = rule<string>(`a topic name (${TOPIC_NAME_RULE})`, isValidTopicName)
