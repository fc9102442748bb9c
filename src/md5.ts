/**
 * MD5 for routing keys. Routing hashes one short key per record, and for short keys the
 * cost of node:crypto is the call into C++, not the hash: a single-block MD5 in plain JS is
 * about 4x faster for ASCII keys up to 55 characters (ids, numbers). Anything else takes
 * node:crypto, so the result is always the real MD5 digest.
 */
import * as crypto from 'node:crypto'

// crypto.hash (Node >= 20.12) skips the Hash object allocation; keep createHash as a fallback.
const cryptoMd5: (text: string) => Uint8Array =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (text) => crypto.hash('md5', text, 'buffer')
    : (text) => crypto.createHash('md5').update(text, 'utf8').digest()

const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0)
const S = Uint8Array.from([
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4,
  11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
])
const A0 = 0x67452301
const B0 = 0xefcdab89 | 0
const C0 = 0x98badcfe | 0
const D0 = 0x10325476

// Reused scratch: routing is synchronous, so one block and one digest buffer suffice.
const block = new Int32Array(16)
const scratch = new Uint8Array(16)

/** MD5 of a <= 55-char ASCII string (one 64-byte block) into `scratch`; false if not applicable. */
function md5ShortAscii(text: string): boolean {
  const len = text.length
  if (len > 55) return false
  block.fill(0)
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i)
    if (c > 127) return false // UTF-8 would need more than one byte
    block[i >> 2] |= c << ((i & 3) << 3)
  }
  block[len >> 2] |= 0x80 << ((len & 3) << 3)
  block[14] = len << 3

  let a = A0
  let b = B0
  let c = C0
  let d = D0
  for (let i = 0; i < 64; i++) {
    let f: number
    let g: number
    if (i < 16) {
      f = (b & c) | (~b & d)
      g = i
    } else if (i < 32) {
      f = (d & b) | (~d & c)
      g = (5 * i + 1) & 15
    } else if (i < 48) {
      f = b ^ c ^ d
      g = (3 * i + 5) & 15
    } else {
      f = c ^ (b | ~d)
      g = (7 * i) & 15
    }
    const x = (a + f + K[i] + block[g]) | 0
    const s = S[i]
    a = d
    d = c
    c = b
    b = (b + ((x << s) | (x >>> (32 - s)))) | 0
  }
  writeWordLE((a + A0) | 0, 0)
  writeWordLE((b + B0) | 0, 4)
  writeWordLE((c + C0) | 0, 8)
  writeWordLE((d + D0) | 0, 12)
  return true
}

function writeWordLE(w: number, at: number): void {
  scratch[at] = w & 0xff
  scratch[at + 1] = (w >>> 8) & 0xff
  scratch[at + 2] = (w >>> 16) & 0xff
  scratch[at + 3] = w >>> 24
}

/**
 * The 16 digest bytes of md5(UTF-8 of `text`). The returned array may be a shared buffer that
 * the next call overwrites: consume it before calling again.
 */
export function md5Digest(text: string): Uint8Array {
  return md5ShortAscii(text) ? scratch : cryptoMd5(text)
}
