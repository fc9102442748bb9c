/**
 * Bucket routing: md5(String(value)) read as a 128-bit big-endian integer, modulo numBuckets.
 * This is Pulsing's `int(md5(str(v)).hexdigest(), 16) % n`, so a Node writer and a Python
 * writer put the same string / integer key in the same bucket.
 */
import { md5Digest } from './md5.js'
import { check, positiveInt } from './options/validate.js'

/** r * 256 + 255 must stay below 2^53 for the number fold to be exact. */
const MAX_FAST_MODULUS = 2 ** 44

/**
 * The key text Pulsing hashes. `None` is hashed as '' there, so null/undefined map to '' here;
 * strings and integers match Python's str() exactly (floats and booleans do not, see README).
 */
function keyText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  return String(value)
}

export function bucketFor(value: unknown, numBuckets: number): number {
  check(numBuckets, positiveInt, 'numBuckets')
  if (numBuckets === 1) return 0
  const digest = md5Digest(keyText(value))
  if (numBuckets <= MAX_FAST_MODULUS) {
    // Horner's rule mod n over the big-endian bytes: exact with doubles, no BigInt allocation.
    let r = 0
    for (let i = 0; i < 16; i++) r = (r * 256 + digest[i]) % numBuckets
    return r
  }
  let big = 0n
  for (let i = 0; i < 16; i++) big = (big << 8n) | BigInt(digest[i])
  return Number(big % BigInt(numBuckets))
}
