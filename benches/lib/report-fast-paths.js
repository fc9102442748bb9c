// The targets of issue 12 (fast paths), each measured in this run, met or missed and by how much.
import { fmtMs, fmtRate, fmtRatio, get, rate, ratioValue } from './report-format.js'

/** `at least`: met when value ≥ target; otherwise the shortfall in percent of the target. */
function atLeast(value, target, fmt) {
  if (value == null) return `${fmt(target)}: **not measured**`
  if (value >= target) return `${fmt(value)} (≥ ${fmt(target)}): **met**`
  return `${fmt(value)} (≥ ${fmt(target)}): **MISSED** by ${((1 - value / target) * 100).toFixed(0)} %`
}

/** `at most` (latencies): met when value ≤ target; otherwise how far above it. */
function atMost(value, target, fmt) {
  if (value == null) return `${fmt(target)}: **not measured**`
  if (value <= target) return `${fmt(value)} (≤ ${fmt(target)}): **met**`
  return `${fmt(value)} (≤ ${fmt(target)}): **MISSED**, ${((value / target - 1) * 100).toFixed(0)} % over`
}

export function fastPathLines(res, H) {
  const b = 1000
  const peerB = (k) => rate(get(res.peers, k, 'B', b))
  const peerA = (k) => rate(get(res.peers, k, 'A', b))
  const f32 = rate(get(res.ingest, 'p-off-f32', 'B', b))
  const plain = rate(get(res.ingest, 'p-off', 'B', b))
  const ndjson = rate(get(res.variants, 'p-off-ndjson', 'A', b))
  const rd = res.read ?? {}
  const d = res.durable ?? {}
  const lat = res.latency ?? {}
  const x = fmtRatio
  const perSec = (v) => `${fmtRate(v)}/s`
  const native = ['lance', 'p-off'].filter((k) => lat[k]).map((k) => [k === 'lance' ? 'LanceBackend' : 'PersistingBackend WAL off', lat[k]])
  return [
    `- 128-d vectors, \`putBatch\` 1000, \`Float32Array\` ÷ @lancedb/lancedb: ${atLeast(ratioValue(f32, peerB('lancedb')), 5, x)}.`,
    `- 128-d vectors, \`putBatch\` 1000, plain arrays in \`vector\`: ÷ @lancedb/lancedb ${atLeast(ratioValue(plain, peerB('lancedb')), 1.5, x)}; ` +
      `÷ better-sqlite3 NORMAL (Float32 blob) ${atLeast(ratioValue(plain, peerB('sqlite-normal')), 1, x)}.`,
    `- \`putNdjson\`, set A, 1000-line chunks, WAL off: ${atLeast(ndjson, 1.5e6, perSec)}; ÷ better-sqlite3 NORMAL ${atLeast(ratioValue(ndjson, peerA('sqlite-normal')), 1.5, x)}.`,
    `- \`getArrow\` full read of ${fmtRate(res.plan?.readRecords)} records ÷ lancedb \`query().toArray()\`: ` +
      `${atLeast(ratioValue(rd['ours-arrow']?.recPerSec, rd['lancedb-toArray']?.proxyRecPerSec), 2, x)}.`,
    `- Durable \`putBatch\` 1000, \`walSyncInterval: 0\` ÷ better-sqlite3 FULL (1000-row transactions): ${atLeast(ratioValue(H.w0, peerA('sqlite-full')), 1.2, x)}.`,
    `- 64 producers, single \`put\`, \`walSyncInterval: 0\`: ${atLeast(d.ours?.acksPerSec, 2e5, perSec)}; ÷ lmdb \`put\` + \`flushed\` ${atLeast(ratioValue(d.ours?.acksPerSec, d.lmdb?.acksPerSec), 2, x)}.`,
    ...native.map(
      ([name, l]) =>
        `- Blocking consumer, ${name}: p50 ${atMost(l.p50Ms, 0.1, fmtMs)}; p99 ${atMost(l.p99Ms, 1, fmtMs)}; ` +
        `below Redis XREAD BLOCK (p50 ${fmtMs(lat.redis?.p50Ms)}): ${lat.redis ? (l.p50Ms < lat.redis.p50Ms ? '**met**' : '**MISSED**') : '**not measured**'}.`,
    ),
    `- Plain-object \`putBatch\` 1000, WAL off ÷ \`JSON.stringify\`: ${atLeast(ratioValue(H.off, H.stringify), 0.7, x)}.`,
    '',
    'Where the missed ones spend their time, measured: [performance.md](performance.md).',
  ]
}
