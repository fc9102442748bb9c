// Deterministic record generator shared by every contender: the same seed and the same order
// give byte-identical records in every child process, so all contenders ingest the same data.

const WORDS = (
  'queue bucket record stream offset flush lance arrow batch commit durable replay segment ' +
  'fsync reader writer topic shard index vector schema column fragment manifest version ' +
  'north south east west alpha beta gamma delta omega red green blue amber cyan violet ' +
  'river stone cloud field forest harbor signal packet buffer window ledger ticket order ' +
  'sensor metric sample event trace span user session device region cluster node'
).split(' ')

/** mulberry32: small, fast, deterministic. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const BASE_MS = Date.UTC(2025, 0, 1)

const pad2 = (v) => (v < 10 ? '0' : '') + v
const pad3 = (v) => (v < 10 ? '00' : v < 100 ? '0' : '') + v

/** Same text as new Date(BASE_MS + i*1000 + ms).toISOString(), without the Date cost. */
function isoAt(i, ms) {
  if (i >= 28 * 86400) return new Date(BASE_MS + i * 1000 + ms).toISOString()
  const day = Math.floor(i / 86400)
  const rem = i - day * 86400
  const h = Math.floor(rem / 3600)
  const m = Math.floor((rem - h * 3600) / 60)
  const s = rem - h * 3600 - m * 60
  return `2025-01-${pad2(day + 1)}T${pad2(h)}:${pad2(m)}:${pad2(s)}.${pad3(ms)}Z`
}

function text64(rand) {
  let s = ''
  while (s.length < 64) s += (s ? ' ' : '') + WORDS[(rand() * WORDS.length) | 0]
  return s.slice(0, 64)
}

/**
 * Set A: about 140 bytes of JSON each —
 * {"id":"u0000042","n":731942,"x":412.375,"text":"<64 chars>","ts":"2025-01-01T00:00:42.123Z"}
 * Set B: the same fields plus `vector`, 128 floats in [-1, 1] with 4 decimals.
 */
export function makeRecords(set, count, seed = 42) {
  const next = recordGenerator(set, seed)
  const out = new Array(count)
  for (let i = 0; i < count; i++) out[i] = next()
  return out
}

/** The same sequence as makeRecords, one record per call (for runs that must not hold them all). */
export function recordGenerator(set, seed = 42) {
  const rand = prng(seed)
  let i = 0
  return () => {
    const r = {
      id: 'u' + String(i).padStart(7, '0'),
      n: (rand() * 1_000_000) | 0,
      x: Math.round(rand() * 1_000_000) / 1000,
      text: text64(rand),
      ts: isoAt(i, (rand() * 1000) | 0),
    }
    if (set === 'B') {
      const v = new Array(128)
      for (let j = 0; j < 128; j++) v[j] = Math.round((rand() * 2 - 1) * 10_000) / 10_000
      r.vector = v
    }
    i++
    return r
  }
}

/** Average JSON bytes per record (JSON.stringify of the record alone). */
export function jsonBytesPerRecord(records) {
  let bytes = 0
  const step = Math.max(1, Math.floor(records.length / 2000))
  let k = 0
  for (let i = 0; i < records.length; i += step) {
    bytes += Buffer.byteLength(JSON.stringify(records[i]))
    k++
  }
  return bytes / k
}

export function toBatches(records, batch) {
  const out = []
  for (let i = 0; i < records.length; i += batch) out.push(records.slice(i, i + batch))
  return out
}
