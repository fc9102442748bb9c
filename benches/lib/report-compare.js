// The report's sections 2 to 6 (peers, durable small writes, read-back, latency, physical references) and the skipped/failed list.
import { cellErr, fmtMB, fmtMBs, fmtMs, fmtNum, fmtRate, get, mib, rate, ratio, table } from './report-format.js'

/** Appends, through `A`, sections 2 to 6 and the skipped and failed cases. */
export function compareSections(A, res, ctx) {
  const { OURS, PEERS, MATCH } = ctx
  const P = res.plan
  // Batch sizes come from the run itself, so --report-from rebuilds any mode's report.
  const BATCHES_A = Object.keys(P.countsA).map(Number)
  const BATCHES_B = Object.keys(P.countsB).map(Number)

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
      if (rd['ours-arrow'] && !rd['ours-arrow'].error) {
        A(
          "`getArrow` is timed from the backend's open to the `Table`; apache-arrow is imported before the clock, " +
            "as lancedb's own import loads it before lancedb's (a process's first `getArrow` also pays that import, " +
            'overlapped with the read).',
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
}
