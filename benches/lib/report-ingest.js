// The report's 'Records and method' section and section 1 (our backends: ingestion, compression and flush threshold, RSS while streaming).
import { cellErr, fmtMB, fmtMBs, fmtNum, fmtRate, get, int, mib, rate, ratio, table } from './report-format.js'

/** Appends, through `A`, the records-and-method section and section 1. */
export function ingestSections(A, res, ctx) {
  const { OURS, VARIANTS, OURS_B, OURS_TYPED = {} } = ctx
  const P = res.plan
  // Batch sizes come from the run itself, so --report-from rebuilds any mode's report.
  const BATCHES_A = Object.keys(P.countsA).map(Number)
  const BATCHES_B = Object.keys(P.countsB).map(Number)

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
        const label = (OURS[k] ?? OURS_TYPED[k]).label
        rows.push(oursRow(label, r, b, cellErr(res.ingest?.[k]?.[set]?.[b])))
        if (r) rrows.push(ratioRow(label, r, set, b))
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
}
