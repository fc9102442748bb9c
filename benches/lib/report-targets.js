// The headline ratios (targets table and chart) and the 'where we stand' lines of the targets section.
import { fmtMB, fmtMs, fmtNum, fmtRate, fmtRatio, get, rate, ratioValue } from './report-format.js'

// ---------------------------------------------------------------------------------------------
/** The main ratios (numbers, for the targets section and the chart). */
export function headline(res) {
  const b = 1000
  const stringify = res.json?.A?.stringify?.[b]
  const off = rate(get(res.ingest, 'p-off', 'A', b))
  const w01 = rate(get(res.ingest, 'p-0.1', 'A', b))
  const w0 = rate(get(res.ingest, 'p-0', 'A', b))
  const peer = (k, bb = b) => rate(get(res.peers, k, 'A', bb))
  const bestPeerKey = Object.keys(res.peers ?? {}).reduce(
    (best, k) => ((peer(k) ?? 0) > (peer(best) ?? 0) ? k : best),
    Object.keys(res.peers ?? {})[0],
  )
  const d = res.durable ?? {}
  const rd = res.read ?? {}
  return {
    off,
    w01,
    w0,
    stringify,
    bestPeerKey,
    bestPeer: bestPeerKey ? peer(bestPeerKey) : null,
    rows: [
      { label: 'ingest b1000, WAL off ÷ @lancedb/lancedb', value: ratioValue(off, peer('lancedb')), target: 10 },
      { label: 'ingest b1000, WAL off ÷ JSON.stringify', value: ratioValue(off, stringify), target: 0.7 },
      { label: 'ingest b1000, WAL off ÷ better-sqlite3 NORMAL', value: ratioValue(off, peer('sqlite-normal')), target: 1 },
      { label: 'ingest b1000, WAL 0.1 s ÷ better-sqlite3 NORMAL', value: ratioValue(w01, peer('sqlite-normal')), target: 1 },
      { label: 'ingest b1000, WAL 0 ÷ better-sqlite3 FULL', value: ratioValue(w0, peer('sqlite-full')), target: 1.2 },
      { label: 'ingest b1000, WAL off ÷ lmdb', value: ratioValue(off, peer('lmdb')), target: 1 },
      { label: 'putNdjson b1000, WAL off ÷ better-sqlite3 NORMAL', value: ratioValue(rate(get(res.variants, 'p-off-ndjson', 'A', b)), peer('sqlite-normal')), target: 1.5 },
      { label: 'vectors b1000, Float32Array, WAL off ÷ @lancedb/lancedb', value: ratioValue(rate(get(res.ingest, 'p-off-f32', 'B', b)), rate(get(res.peers, 'lancedb', 'B', b))), target: 5 },
      { label: 'vectors b1000, plain `vector` arrays, WAL off ÷ @lancedb/lancedb', value: ratioValue(rate(get(res.ingest, 'p-off', 'B', b)), rate(get(res.peers, 'lancedb', 'B', b))), target: 1.5 },
      { label: 'vectors b1000, plain `vector` arrays, WAL off ÷ better-sqlite3 NORMAL', value: ratioValue(rate(get(res.ingest, 'p-off', 'B', b)), rate(get(res.peers, 'sqlite-normal', 'B', b))), target: 1 },
      { label: 'ingest b1000, WAL off ÷ classic-level', value: ratioValue(off, peer('level')), target: 1 },
      { label: 'put() loop, WAL off ÷ lancedb add of 1 row', value: ratioValue(rate(get(res.ingest, 'p-off', 'A', 1)), peer('lancedb', 1)), target: null },
      { label: 'durable 64 producers ÷ sqlite FULL single-row', value: ratioValue(d.ours?.acksPerSec, d['sqlite-full']?.acksPerSec), target: 20 },
      { label: 'durable 64 producers ÷ Redis XADD always', value: ratioValue(d.ours?.acksPerSec, d.redis?.acksPerSec), target: null },
      { label: 'durable 64 producers ÷ lmdb put + flushed', value: ratioValue(d.ours?.acksPerSec, d.lmdb?.acksPerSec), target: 2 },
      { label: 'tailing p50: Redis XREAD BLOCK ÷ Persisting WAL off (lower latency > 1)', value: ratioValue(res.latency?.redis?.p50Ms, res.latency?.['p-off']?.p50Ms), target: 1 },
      { label: 'read-back getStream ÷ lancedb toArray', value: ratioValue(rd['ours-stream']?.recPerSec, rd['lancedb-toArray']?.recPerSec), target: 3 },
      { label: 'read-back getStream ÷ JSON.parse', value: ratioValue(rd['ours-stream']?.recPerSec, rd['json-parse']?.recPerSec), target: null },
      { label: 'read-back getArrow (one Table) ÷ lancedb toArray (proxies)', value: ratioValue(rd['ours-arrow']?.recPerSec, rd['lancedb-toArray']?.proxyRecPerSec), target: 2 },
    ],
  }
}

/** The lines of the targets section, from the run's results and its headline ratios. */
export function targetLines(res, ctx, H) {
  const { PEERS } = ctx
  const P = res.plan
  const targets = []
  {
    const b = 1000
    const offR = H.off
    const best = Math.max(H.off ?? 0, H.w01 ?? 0, rate(get(res.ingest, 'p-1.0', 'A', b)) ?? 0) || null
    const peersAt = Object.keys(res.peers ?? {}).map((k) => [k, rate(get(res.peers, k, 'A', b))]).filter(([, v]) => v != null)
    const beaten = peersAt.filter(([, v]) => (offR ?? 0) > v).map(([k]) => k)
    const notBeaten = peersAt.filter(([, v]) => !((offR ?? 0) > v)).map(([k]) => k)
    const lance = rate(get(res.peers, 'lancedb', 'A', b))
    const st = (ok) => (ok == null ? '**not measured**' : ok ? '**met**' : '**MISSED**')
    targets.push(
      `- Ingestion, 1000-record batches, WAL off or walSyncInterval ≥ 0.1: **≥ 1.2M records/s** → WAL off ${fmtRate(H.off)}/s, ` +
        `WAL 1.0 s ${fmtRate(rate(get(res.ingest, 'p-1.0', 'A', b)))}/s, WAL 0.1 s ${fmtRate(H.w01)}/s: ${st(best == null ? null : best >= 1.2e6)}` +
        (best != null && best < 1.2e6 ? ` (best ${fmtRatio(best / 1.2e6)} of the target)` : '') + '.',
      `  - ahead of every peer: ${peersAt.length ? st(notBeaten.length === 0) : st(null)}` +
        (peersAt.length ? ` (WAL off is ahead of ${beaten.map((k) => PEERS[k].short).join(', ') || 'none'}; behind ${notBeaten.map((k) => `${PEERS[k].short} ${fmtRate(rate(get(res.peers, k, 'A', b)))}/s`).join(', ') || 'none'})` : '') + '.',
      `  - ≥ 10× @lancedb/lancedb: ${fmtRatio(ratioValue(offR, lance))}: ${st(lance == null || offR == null ? null : offR / lance >= 10)}.`,
      `  - ≥ 70 % of JSON.stringify on the same records: ${fmtRatio(ratioValue(offR, H.stringify))}: ${st(H.stringify == null || offR == null ? null : offR / H.stringify >= 0.7)}.`,
    )
    const put1 = get(res.ingest, 'p-off', 'A', 1)
    const ft = 1000
    targets.push(
      `- Single-record \`await put()\` loop, WAL off: **≥ 300k records/s** → ${fmtRate(rate(put1))}/s: ${st(put1 ? rate(put1) >= 3e5 : null)}. ` +
        (put1
          ? `After ${put1.records} calls: ${put1.info?.version} Lance versions, ${put1.info?.fragments} fragments, ${put1.info?.dataFiles} data files, ${put1.info?.versionFiles} manifest files ` +
            `(flush threshold ${ft}: about ${Math.ceil(put1.records / ft)} flush(es) expected, plus compactions): versions bounded by the threshold, not the calls: ` +
            `${st((put1.info?.version ?? Infinity) <= 2 * Math.ceil(put1.records / ft) + 2)} (bounded = at most 2 × calls ÷ threshold + 2 versions).`
          : ''),
    )
    const d = res.durable ?? {}
    targets.push(
      `- Durable single-record writes, 64 producers, fsync before ack: **≥ 150k acks/s** → ${fmtRate(d.ours?.acksPerSec)}/s ` +
        `(${fmtNum(d.ours?.recordsPerFsync)} records per fsync): ${st(d.ours?.acksPerSec == null ? null : d.ours.acksPerSec >= 1.5e5)}; ` +
        `**≥ 20× better-sqlite3 FULL single-row** → ${fmtRatio(ratioValue(d.ours?.acksPerSec, d['sqlite-full']?.acksPerSec))}: ` +
        `${st(d.ours?.acksPerSec == null || d['sqlite-full']?.acksPerSec == null ? null : d.ours.acksPerSec / d['sqlite-full'].acksPerSec >= 20)}.` +
        (res.disk?.fdatasync
          ? ` The disk did ${fmtRate(res.disk.fdatasync)} append+fdatasync/s in this run, so 64 producers with at most one record each per fsync ` +
            `round are bounded near 64 × ${fmtRate(res.disk.fdatasync)} ≈ ${fmtRate(64 * res.disk.fdatasync)} acks/s` +
            (64 * res.disk.fdatasync < 1.5e5 ? ': **the 150k target is out of reach on this disk whatever the library does**.' : '.')
          : ''),
    )
    const rd = res.read ?? {}
    const rs = rd['ours-stream']?.recPerSec
    const lr = Math.max(rd['lancedb-toArray']?.recPerSec ?? 0, rd['lancedb-iter']?.recPerSec ?? 0) || null
    targets.push(
      `- Read-back into plain JS objects: **≥ 1M records/s** → getStream ${fmtRate(rs)}/s, get() chunks ${fmtRate(rd['ours-get']?.recPerSec)}/s: ` +
        `${st(rs == null ? null : Math.max(rs, rd['ours-get']?.recPerSec ?? 0) >= 1e6)}; **≥ 3× @lancedb/lancedb** (its faster way) → ${fmtRatio(ratioValue(rs, lr))}: ${st(rs == null || lr == null ? null : rs / lr >= 3)}.`,
    )
    const fl = res.readPrep?.ours?.flush
    const rss = res.rssStream
    const rssGrowth = rss?.samples?.length >= 2 ? rss.samples[rss.samples.length - 1].rssMB - rss.samples[0].rssMB : null
    targets.push(
      `- Flush cost flat in dataset size → flush of a 10k batch: median ${fmtMs(fl?.firstTenthMedianMs)} in the first tenth of ${fmtRate(P.readRecords)} records, ` +
        `${fmtMs(fl?.lastTenthMedianMs)} in the last tenth (max ${fmtMs(fl?.maxMs)}): ${st(fl ? fl.lastTenthMedianMs <= 2 * fl.firstTenthMedianMs : null)}` +
        ` (flat = last ≤ 2× first).`,
      `- RSS bounded by the buffer thresholds, not by the data written → while streaming ${fmtRate(rss?.records)} records in 1000-record batches, RSS went from ` +
        `${fmtMB(rss?.samples?.[0]?.rssMB)} (after ${fmtRate(rss?.samples?.[0]?.records)}) to ${fmtMB(rss?.samples?.at(-1)?.rssMB)}: ` +
        `${st(rssGrowth == null ? null : rssGrowth < 64)} (bounded = grew < 64 MiB after the first tenth).`,
    )
  }
  return targets
}
