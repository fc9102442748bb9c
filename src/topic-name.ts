/**
 * Topic names come from callers (HTTP paths, message headers), and a topic becomes a directory.
 * Kafka's rule keeps every name a single, portable path segment: 1 to 249 characters of
 * `[a-zA-Z0-9._-]`, and neither `.` nor `..`.
 */
import { StorageError } from './errors.js'

export const TOPIC_NAME_RULE = "1 to 249 characters of [a-zA-Z0-9._-], not '.' or '..'"
const VALID = /^[a-zA-Z0-9._-]{1,249}$/

export function isValidTopicName(name: unknown): name is string {
  return typeof name === 'string' && VALID.test(name) && name !== '.' && name !== '..'
}

/** Throws `INVALID_OPTION` naming the rule; `what` says where the name came from. */
export function checkTopicName(name: unknown, what = 'topic'): asserts name is string {
  if (isValidTopicName(name)) return
  const shown =
    typeof name === 'string'
      ? JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}...` : name) + (name.length > 60 ? ` (${name.length} characters)` : '')
      : String(name)
  throw new StorageError(`${what} ${shown} is not a valid topic name: ${TOPIC_NAME_RULE}`, 'INVALID_OPTION')
}
