// Turns the results of one run into tables (Markdown, also printed), the targets section and
// a hand-made SVG bar chart of the main ratios.

export function fmtRate(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 1 : 2)}M`
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  if (x >= 10) return x.toFixed(0)
  return x.toFixed(1)
}

export function fmtMs(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  if (x < 1) return `${(x * 1000).toFixed(0)} µs`
  if (x < 10) return `${x.toFixed(2)} ms`
  return `${x.toFixed(0)} ms`
}

export function fmtMB(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  return x >= 100 ? `${x.toFixed(0)} MiB` : `${x.toFixed(1)} MiB`
}

const fmtNum = (x, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d))
/** MB/s with at least two significant digits for small values. */
const fmtMBs = (x) => (x == null || !Number.isFinite(x) ? '–' : x >= 10 ? x.toFixed(1) : x.toPrecision(2))
const mib = (bytes) => (bytes == null ? null : bytes / 1048576)
const int = (x) => (x == null ? '–' : String(x))

export function ratioValue(a, b) {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  return a / b
}

export function fmtRatio(r) {
  if (r == null) return '–'
  if (r >= 100) return `${r.toFixed(0)}×`
  if (r >= 10) return `${r.toFixed(1)}×`
  if (r >= 0.1) return `${r.toFixed(2)}×`
  return `${r.toPrecision(2)}×`
}

export const ratio = (a, b) => fmtRatio(ratioValue(a, b))

export function table(headers, rows) {
  const esc = (c) => String(c ?? '–').replace(/\|/g, '\\|')
  const lines = [`| ${headers.map(esc).join(' | ')} |`, `|${headers.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`)
  return lines.join('\n')
}

const get = (obj, key, set, batch) => {
  const r = obj?.[key]?.[set]?.[batch]
  return r && !r.error ? r : null
}
const rate = (r) => r?.recPerSec ?? null
const cellErr = (r) => (r?.error ? `error: ${r.error.split('\n')[0].slice(0, 80)}` : null)

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
      { label: 'ingest b1000, WAL 0 ÷ better-sqlite3 FULL', value: ratioValue(w0, peer('sqlite-full')), target: null },
      { label: 'ingest b1000, WAL off ÷ lmdb', value: ratioValue(off, peer('lmdb')), target: 1 },
      { label: 'ingest b1000, WAL off ÷ classic-level', value: ratioValue(off, peer('level')), target: 1 },
      { label: 'put() loop, WAL off ÷ lancedb add of 1 row', value: ratioValue(rate(get(res.ingest, 'p-off', 'A', 1)), peer('lancedb', 1)), target: null },
      { label: 'durable 64 producers ÷ sqlite FULL single-row', value: ratioValue(d.ours?.acksPerSec, d['sqlite-full']?.acksPerSec), target: 20 },
      { label: 'durable 64 producers ÷ Redis XADD always', value: ratioValue(d.ours?.acksPerSec, d.redis?.acksPerSec), target: null },
      { label: 'read-back getStream ÷ lancedb toArray', value: ratioValue(rd['ours-stream']?.recPerSec, rd['lancedb-toArray']?.recPerSec), target: 3 },
      { label: 'read-back getStream ÷ JSON.parse', value: ratioValue(rd['ours-stream']?.recPerSec, rd['json-parse']?.recPerSec), target: null },
    ],
  }
}

// ---------------------------------------------------------------------------------------------
export function buildMarkdown(res, ctx) {
  const { OURS, VARIANTS, PEERS, MATCH, OURS_B } = ctx
  const m = res.machine
  const P = res.plan
  // Batch sizes come from the run itself, so --report-from rebuilds any mode's report.
  const BATCHES_A = Object.keys(P.countsA).map(Number)
  const BATCHES_B = Object.keys(P.countsB).map(Number)
  const out = []
  const body = []
  const H = headline(res, ctx)
  const A = (s) => body.push(s)

  // ---- targets
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

  // ---- header
  out.push('# Benchmarks')
  out.push('')
  out.push(
    'Generated by `npm run bench` (`node benches/run.js`); every figure below comes from the same run, on the ' +
      'same generated records and batch sizes. Rerun to refresh — this file is rewritten by each run. Speed is measured here, never asserted in tests.',
  )
  out.push('')
  out.push(`- mode: **${P.mode}**; command: \`${res.command}\`; date: ${res.date}; total time ${(res.totalSecs / 60).toFixed(1)} min`)
  out.push(`- machine: ${m.cpu}, \`nproc\` = ${m.nproc}, kernel ${m.kernel}; temp dirs on \`${m.tmpFs}\``)
  if (res.loadAvgStart) {
    const la = (v) => v.map((x) => x.toFixed(2)).join(' / ')
    out.push(
      `- load average (1 / 5 / 15 min) at start ${la(res.loadAvgStart)}, at end ${la(res.loadAvgEnd ?? res.loadAvgStart)}` +
        (res.cpuBusyStart != null ? `; CPU busy with other processes just before the run: ${(res.cpuBusyStart * 100).toFixed(0)} %` : '') +
        (res.cpuOthers != null
          ? `; during the run other processes used ${(res.cpuOthers * 100).toFixed(0)} % of the machine's CPU (ours ${(res.cpuOurs * 100).toFixed(0)} %)`
          : '') +
        (res.cpuBusyStart > 0.25 || res.cpuOthers > 0.1
          ? ' — **other processes were competing for the 2 cores; absolute figures are depressed and noisy: rerun on an idle machine**'
          : ''),
    )
  }
  out.push('- `free -g`:')
  out.push('')
  out.push('```')
  out.push(m.free)
  out.push('```')
  out.push('')
  out.push(
    `- versions: node ${m.node}; ` +
      Object.entries(m.versions)
        .filter(([, v]) => v)
        .map(([k, v]) => `${k} ${v}`)
        .join('; '),
  )
  out.push(
    m.build
      ? `- native addon measured: ${m.build} (\`npm run prebuild\`, Cargo \`release\` profile).`
      : '- native addon measured: the dev build of `scripts/setup.sh` (Cargo `dev` profile, opt-level 2); `npm run bench` measures the release build.',
  )
  out.push('')
  out.push('## Headline ratios (ours ÷ peer, same run, set A, 1000-record batches unless noted)')
  out.push('')
  out.push('![main throughput ratios](benchmarks.svg)')
  out.push('')
  out.push(
    table(
      ['measure', 'ours ÷ peer', 'target'],
      H.rows.map((r) => [r.label, fmtRatio(r.value), r.target == null ? '' : `≥ ${fmtRatio(r.target)}`]),
    ),
  )
  out.push('')
  out.push('## Targets from issue 5: where we stand')
  out.push('')
  out.push(...targets)
  out.push('')

  // ---- records
  const bpA = res.json?.A?.bytesPerRecord ?? get(res.ingest, 'p-off', 'A', 1000)?.bytesPerRecord
  const bpB = res.json?.B?.bytesPerRecord ?? get(res.ingest, 'p-off', 'B', 1000)?.bytesPerRecord
  A('## Records and method')
  A('')
  A(
    `- Set A: \`{id, n, x, text, ts}\` — an id string, an integer, a float, a 64-character text and an ISO timestamp, ` +
      `${fmtNum(bpA)} bytes of JSON per record on average. Set B: the same plus \`vector\`, 128 floats (${fmtNum(bpB, 0)} bytes of JSON). ` +
      'Generated deterministically (seeded), identical in every process.',
  )
  A(
    `- Records per case (set A): ${BATCHES_A.map((b) => `batch ${b}: ${P.countsA[b]}`).join(', ')}; set B: ${BATCHES_B.map((b) => `batch ${b}: ${P.countsB[b]}`).join(', ')}. ` +
      `A case stops issuing calls after ${P.timeCapSec} s (marked *capped*; the rate is over what was done).`,
  )
  A(
    '- Each case runs in its own child process (`node benches/case.js <json>`); peak RSS is that process\'s `process.resourceUsage().maxRSS`, ' +
      'which includes the generated records it holds (see the *baseline* rows). Temp dirs are under `os.tmpdir()` and deleted after each case.',
  )
  A(
    '- Our rate counts from the first call to the end of a final `flush()` (data in Lance and fsynced); *acked* counts up to the last acknowledged put. ' +
      'Batch size 1 for our backends is the single-record `await put()` loop; other sizes are `putBatch`.',
  )
  A(
    '- Durability classes: @lancedb/lancedb never fsyncs (compare with WAL off); SQLite WAL NORMAL syncs only at checkpoints and our WAL 0.1/1.0 s ' +
      'sync in the background (both survive a process crash, may lose the last moments on power loss); SQLite FULL, lmdb `flushed`, classic-level ' +
      '`sync: true` and our WAL 0 fsync before acknowledging.',
  )
  if (P.repeats > 1) {
    A(
      `- Set-A ingestion at batch sizes 1 and 1000 (ours and the peers alike) ran ${P.repeats} times each; the tables show the median run ` +
        '(the raw results keep every run\'s rate as `runRates`). This shared machine has occasional second-long disk stalls.',
    )
  }
  A(
    '- The Rust core alone (WAL append per sync policy, JSON → Arrow decode, Lance append, read by offset, WAL recovery) is measured with ' +
      'criterion in [benchmarks-core.md](benchmarks-core.md) (`npm run bench:core`); where the time goes is in [performance.md](performance.md).',
  )
  A('')

  // ---- section 1
  A('## 1. Ingestion: our backends')
  A('')
  const lanceCols = (r) =>
    r?.info?.version != null
      ? [int(r.info.version), int(r.info.dataFiles), fmtMB(mib(r.info.diskBytes))]
      : ['', '', r?.info?.diskBytes != null ? fmtMB(mib(r.info.diskBytes)) : '']
  const oursRow = (label, r, batch, err) => {
    if (!r) return [label, batch, err ?? 'not run', '', '', '', '', '', '', '', '']
    return [
      label,
      batch,
      `${r.records}${r.capped ? ' (capped)' : ''}`,
      fmtRate(r.recPerSec),
      fmtMBs(r.mbPerSec),
      fmtRate(r.ackRecPerSec),
      fmtNum(r.finishSecs, 2),
      fmtMB(r.maxRssMB),
      ...lanceCols(r),
    ]
  }
  const ratioRow = (label, r, set, batch) => [
    label,
    batch,
    ...['lancedb', 'sqlite-normal', 'sqlite-full', 'lmdb', 'level'].map((k) => ratio(rate(r), rate(get(res.peers, k, set, batch)))),
    ratio(rate(r), res.json?.[set]?.stringify?.[batch]),
  ]
  const H1 = ['backend', 'batch', 'records', 'rec/s', 'MB/s JSON', 'acked rec/s', 'final flush s', 'peak RSS', 'Lance versions', 'data files', 'disk']
  const H1r = ['backend', 'batch', '÷ lancedb', '÷ sqlite NORMAL', '÷ sqlite FULL', '÷ lmdb', '÷ classic-level', '÷ JSON.stringify']
  for (const [set, batches, keys] of [['A', BATCHES_A, Object.keys(OURS)], ['B', BATCHES_B, OURS_B]]) {
    const rows = []
    const rrows = []
    for (const k of keys) {
      for (const b of batches) {
        const r = get(res.ingest, k, set, b)
        rows.push(oursRow(OURS[k].label, r, b, cellErr(res.ingest?.[k]?.[set]?.[b])))
        if (r) rrows.push(ratioRow(OURS[k].label, r, set, b))
      }
    }
    const base = res.baseline?.[set]
    if (base && !base.error) rows.push([`baseline (records generated, nothing stored)`, '', base.records, '', '', '', '', fmtMB(base.maxRssMB), '', '', ''])
    if (!rows.some((r) => r[2] !== 'not run')) continue
    A(`### Set ${set}${set === 'B' ? ' (128-dim vectors)' : ''}`)
    A('')
    A(table(H1, rows))
    A('')
    if (rrows.length) {
      A(`Ratios, set ${set}: our rate ÷ the peer's rate at the same batch size (> 1× = we are faster).`)
      A('')
      A(table(H1r, rrows))
      A('')
    }
  }
  {
    const rows = []
    for (const [k, v] of Object.entries(VARIANTS)) {
      for (const b of P.variantBatches) {
        const r = get(res.variants, k, 'A', b)
        const base = get(res.ingest, v.options.enableWal ? 'p-0.1' : 'p-off', 'A', b)
        if (!r) {
          rows.push([v.label, b, cellErr(res.variants?.[k]?.A?.[b]) ?? 'not run', '', '', '', '', '', ''])
          continue
        }
        rows.push([
          v.label,
          b,
          fmtRate(r.recPerSec),
          ratio(r.recPerSec, base?.recPerSec),
          fmtMB(mib(r.info?.diskBytes)),
          ratio(r.info?.diskBytes, base?.info?.diskBytes),
          fmtMB(r.maxRssMB),
          int(r.info?.version),
          ratio(r.recPerSec, rate(get(res.peers, 'lancedb', 'A', b))),
        ])
      }
    }
    if (rows.length && rows.some((r) => r[2] !== 'not run')) {
      A('### Compression and flush threshold (set A)')
      A('')
      A('Ratios are to the same configuration without the option (WAL off or WAL 0.1 s, no compression, flushThreshold 1000).')
      A('')
      A(table(['configuration', 'batch', 'rec/s', '÷ uncompressed', 'disk', 'disk ÷ uncompressed', 'peak RSS', 'Lance versions', '÷ lancedb'], rows))
      A('')
    }
  }
  if (res.rssStream && !res.rssStream.error) {
    const s = res.rssStream.samples ?? []
    const l = res.rssStreamLancedb && !res.rssStreamLancedb.error ? res.rssStreamLancedb.samples : null
    A(`### RSS while writing ${res.rssStream.records} records generated batch by batch (1000-record putBatch, WAL off)`)
    A('')
    A(
      table(
        ['records written', 'ours RSS', ...(l ? ['lancedb RSS', 'ours ÷ lancedb'] : [])],
        s.map((x, i) => {
          const lr = l?.find((y) => y.records === x.records)
          return [x.records, fmtMB(x.rssMB), ...(l ? [lr ? fmtMB(lr.rssMB) : 'not reached (time cap)', ratio(x.rssMB, lr?.rssMB)] : [])]
        }),
      ),
    )
    A('')
    A(
      `Ours: ${fmtRate(res.rssStream.recPerSec)} rec/s, ${res.rssStream.info?.version} Lance versions, ${res.rssStream.info?.fragments} fragments at the end` +
        (l ? `; lancedb: ${fmtRate(res.rssStreamLancedb.recPerSec)} rec/s, ${res.rssStreamLancedb.info?.version} versions.` : '.'),
    )
    A('')
  }

  // ---- section 2
  const peerRows = []
  for (const [k, p] of Object.entries(PEERS)) {
    for (const [set, batches] of [['A', BATCHES_A], ['B', BATCHES_B]]) {
      for (const b of batches) {
        const raw = res.peers?.[k]?.[set]?.[b]
        if (!raw) continue
        const r = get(res.peers, k, set, b)
        if (!r) {
          peerRows.push([p.label, set, b, cellErr(raw), '', '', '', '', '', '', ''])
          continue
        }
        const match = MATCH[k]
        const oursMatch = rate(get(res.ingest, match, set, b))
        const extra = k === 'lancedb' ? `${r.info?.version} versions, ${fmtMB(mib(r.info?.manifestBytes))} manifests` : k.startsWith('sqlite') ? `read back: ${r.info?.pragmas?.journalMode}/${r.info?.pragmas?.synchronous}` : ''
        peerRows.push([
          p.label,
          set,
          b,
          `${r.records}${r.capped ? ' (capped)' : ''}`,
          fmtRate(r.recPerSec),
          fmtMBs(r.mbPerSec),
          fmtMB(r.maxRssMB),
          fmtMB(mib(r.info?.diskBytes)),
          extra,
          `${ratio(oursMatch, r.recPerSec)} (${OURS[match].label.replace('Persisting ', '')})`,
          ratio(rate(get(res.ingest, 'p-off', set, b)), r.recPerSec),
        ])
      }
    }
  }
  A('## 2. Peers on the same batches')
  A('')
  for (const s of res.skipped ?? []) if (s.startsWith('peer')) A(`- ${s}`)
  if (peerRows.length) {
    A(
      'Last two columns: our like-for-like durability mode ÷ the peer, and our WAL-off mode ÷ the peer (> 1× = we are faster). ' +
        'lmdb uses its default msgpack encoding; classic-level stores JSON values; better-sqlite3 stores one column per field ' +
        '(vectors as Float32 blobs) through one prepared INSERT and one transaction per call.',
    )
    A('')
    A(table(['peer', 'set', 'batch', 'records', 'rec/s', 'MB/s JSON', 'peak RSS', 'disk', 'notes', 'ours like-for-like ÷ peer', 'ours WAL off ÷ peer'], peerRows))
  } else A('Not run.')
  A('')

  // ---- section 3
  A('## 3. Durable small writes: 64 concurrent producers, one record per call, fsync before ack')
  A('')
  {
    const d = res.durable ?? {}
    const rows = Object.entries(d).map(([k, r]) =>
      r.error
        ? [r.label ?? k, cellErr(r), '', '', '', '', '', '']
        : [
            r.label ?? k,
            `${fmtRate(r.acksPerSec)}${r.capped ? ' (capped)' : ''}`,
            fmtMs(r.p50Ms),
            fmtMs(r.p99Ms),
            r.recordsPerFsync != null ? `${fmtNum(r.recordsPerFsync)} (${r.fsyncs} fsyncs)` : '',
            fmtMB(r.maxRssMB),
            k === 'ours' ? '1×' : ratio(d.ours?.acksPerSec, r.acksPerSec),
            ratio(r.acksPerSec, res.disk?.fdatasync),
          ],
    )
    for (const s of res.skipped ?? []) if (s.startsWith('Redis')) A(`- ${s}`)
    if (rows.length) {
      A(table(['writer', 'acks/s', 'p50 ack', 'p99 ack', 'records per fsync', 'peak RSS', 'ours ÷ this', 'this ÷ raw fdatasync/s'], rows))
      A('')
      A(
        'Ours is `PersistingBackend({ enableWal: true, walSyncInterval: 0 })`, each producer `await put(record)`; records per fsync from `stats().walFsyncs`. ' +
          'better-sqlite3 is synchronous, so its 64 producers take turns on the one thread (one autocommit INSERT each). ' +
          'Redis: one connection per producer, `XADD` with the record fields, server started for this run on a loopback port with `appendonly yes`, `appendfsync always`.',
      )
    } else A('Not run.')
  }
  A('')

  // ---- section 4
  A(`## 4. Read-back: ${P.readRecords} stored records streamed into plain JS objects`)
  A('')
  {
    const rd = res.read ?? {}
    const rows = Object.entries(rd).map(([k, r]) =>
      r.error
        ? [r.label ?? k, cellErr(r), '', '', '', '', '']
        : [
            r.label ?? k,
            fmtRate(r.recPerSec),
            fmtNum(r.openSecs, 2),
            fmtMB(r.maxRssMB),
            ratio(rd['ours-stream']?.recPerSec, r.recPerSec),
            ratio(rd['ours-get']?.recPerSec, r.recPerSec),
            r.mismatch ? `MISMATCH: ${r.mismatch}` : 'first 200 match',
          ],
    )
    if (rows.length) {
      A(table(['reader', 'rec/s', 'open s', 'peak RSS', 'ours getStream ÷ this', 'ours get() ÷ this', 'check'], rows))
      A('')
      const ta = rd['lancedb-toArray']
      if (ta?.proxyRecPerSec) {
        A(
          `lancedb's \`toArray()\` alone (Arrow StructRow proxies, before \`toJSON()\`) ran at ${fmtRate(ta.proxyRecPerSec)} rec/s; ` +
            'ours returns plain objects, so the table compares plain objects with plain objects.',
        )
        A('')
      }
      const prep = res.readPrep ?? {}
      if (prep.ours && !prep.ours.error) {
        const f = prep.ours.flush
        A(
          `Preparation: ours wrote ${prep.ours.records} records in 10k batches with a flush after each in ${fmtNum(prep.ours.secs)} s ` +
            `(${prep.ours.info?.version} versions, ${prep.ours.info?.fragments} fragments, ${fmtMB(mib(prep.ours.info?.diskBytes))}); ` +
            (f ? `flush of one 10k batch: median ${fmtMs(f.medianMs)}, first tenth ${fmtMs(f.firstTenthMedianMs)}, last tenth ${fmtMs(f.lastTenthMedianMs)}, max ${fmtMs(f.maxMs)}. ` : '') +
            (prep.lancedb && !prep.lancedb.error
              ? `lancedb wrote the same in ${fmtNum(prep.lancedb.secs)} s (${prep.lancedb.info?.version} versions, ${fmtMB(mib(prep.lancedb.info?.diskBytes))}).`
              : ''),
        )
        A('')
      }
    } else {
      A('Not run.')
      A('')
    }
  }

  // ---- section 5
  A('## 5. Producer → blocking consumer latency (one process)')
  A('')
  {
    const l = res.latency ?? {}
    const rows = Object.entries(l).map(([k, r]) =>
      r.error
        ? [r.label ?? k, cellErr(r), '', '', '', '']
        : [r.label ?? k, fmtMs(r.p50Ms), fmtMs(r.p99Ms), fmtMs(r.maxMs), ratio(r.p50Ms, l.redis?.p50Ms), ratio(r.p50Ms, l.floor?.p50Ms)],
    )
    if (rows.length) {
      A(
        `${P.latency.n} records put one at a time with a ${P.latency.gapMs} ms gap; a reader blocked in \`getStream(0, n, true)\` receives them; ` +
          'latency = receive time − time stamped just before `put` (so it includes the put itself; for WAL 0 the reader may see a record before its fsync completes). ' +
          'Ratios are of p50 latencies (< 1× = lower latency than the reference).',
      )
      A('')
      A(table(['consumer', 'p50', 'p99', 'max', 'p50 ÷ Redis p50', 'p50 ÷ JS floor p50'], rows))
    } else A('Not run.')
  }
  A('')

  // ---- section 6
  A('## 6. Physical references (same run)')
  A('')
  {
    const rows = []
    for (const [set, batches] of [['A', BATCHES_A], ['B', BATCHES_B]]) {
      const j = res.json?.[set]
      if (!j || j.error) continue
      for (const b of batches) {
        const off = rate(get(res.ingest, 'p-off', set, b))
        rows.push([set, b, fmtRate(j.stringify?.[b]), fmtRate(j.parse?.[b]), fmtRate(off), ratio(off, j.stringify?.[b])])
      }
    }
    if (rows.length) {
      A('JSON of the same records, in arrays of the batch size (records/s):')
      A('')
      A(table(['set', 'batch', 'JSON.stringify', 'JSON.parse', 'ours WAL off ingest', 'ours ÷ JSON.stringify'], rows))
      A('')
    }
    const dk = res.disk
    if (dk && !dk.error) {
      const offMB = get(res.ingest, 'p-off', 'A', 1000)?.mbPerSec
      A(
        table(
          ['disk (temp dir)', 'value', 'ours', 'ours ÷ disk'],
          [
            ['append ~146 B + fdatasync, per second', fmtRate(dk.fdatasync), `${fmtRate(res.durable?.ours?.acksPerSec)} durable acks/s`, ratio(res.durable?.ours?.acksPerSec, dk.fdatasync)],
            ['append ~146 B + fsync, per second', fmtRate(dk.fsync), '', ''],
            ['write ~146 B into a preallocated file + fdatasync, per second', fmtRate(dk.preallocFdatasync), '', ratio(res.durable?.ours?.acksPerSec, dk.preallocFdatasync)],
            [`sequential write, 1 MiB writes + fdatasync (${dk.seqMiB} MiB), MB/s`, fmtNum(dk.seqMBps, 0), `${fmtNum(offMB)} MB/s JSON ingested (WAL off, b1000)`, ratio(offMB, dk.seqMBps)],
          ],
        ),
      )
      A('')
    }
    if (!rows.length && !dk) A('Not run.')
  }
  A('')

  if ((res.skipped ?? []).length || (res.errors ?? []).length) {
    A('## Skipped and failed cases')
    A('')
    for (const s of res.skipped ?? []) A(`- skipped: ${s}`)
    for (const e of res.errors ?? []) A(`- error: ${e}`)
    A('')
  }

  const markdown = [...out, ...body].join('\n') + '\n'
  return { markdown }
}

// ---------------------------------------------------------------------------------------------
export function buildSvg(res, ctx) {
  const H = headline(res, ctx)
  const rows = H.rows.filter((r) => r.value != null)
  const W = 960
  const left = 360
  const right = 90
  const rowH = 30
  const top = 64
  const plotW = W - left - right
  const height = top + rows.length * rowH + 50
  // Log scale from 0.01× to 1000×.
  const lo = Math.log10(0.01)
  const hi = Math.log10(1000)
  const x = (v) => left + ((Math.log10(Math.min(Math.max(v, 0.01), 1000)) - lo) / (hi - lo)) * plotW
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const parts = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${height}" fill="#ffffff"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">persisting: ours ÷ peer, same run (${esc(res.plan.mode)} mode, ${esc(res.date.slice(0, 10))})</text>`)
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">log scale; right of the 1× line = we are faster; ▲ = target from issue 5; set A, 1000-record batches unless noted</text>`)
  for (const t of [0.01, 0.1, 1, 10, 100, 1000]) {
    const gx = x(t)
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`)
    parts.push(`<text x="${gx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t}×</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const v = r.value
    const x0 = x(1)
    const x1 = x(v)
    const met = r.target == null ? null : v >= r.target
    const color = met == null ? (v >= 1 ? '#4c78a8' : '#9ecae9') : met ? '#54a24b' : '#e45756'
    parts.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`)
    parts.push(`<rect x="${Math.min(x0, x1)}" y="${y + 6}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 12}" fill="${color}"/>`)
    parts.push(`<text x="${Math.max(x0, x1) + 6}" y="${y + rowH / 2 + 4}" fill="#222">${esc(fmtRatio(v))}</text>`)
    if (r.target != null) {
      const tx = x(r.target)
      parts.push(`<path d="M ${tx} ${y + rowH - 6} l -5 7 l 10 0 z" fill="#222"><title>target ${esc(fmtRatio(r.target))}</title></path>`)
    }
  })
  const ly = top + rows.length * rowH + 34
  parts.push(`<rect x="${left}" y="${ly - 9}" width="10" height="10" fill="#54a24b"/><text x="${left + 14}" y="${ly}">target met</text>`)
  parts.push(`<rect x="${left + 100}" y="${ly - 9}" width="10" height="10" fill="#e45756"/><text x="${left + 114}" y="${ly}">target missed</text>`)
  parts.push(`<rect x="${left + 220}" y="${ly - 9}" width="10" height="10" fill="#4c78a8"/><text x="${left + 234}" y="${ly}">no target (faster)</text>`)
  parts.push(`<rect x="${left + 370}" y="${ly - 9}" width="10" height="10" fill="#9ecae9"/><text x="${left + 384}" y="${ly}">no target (slower)</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
