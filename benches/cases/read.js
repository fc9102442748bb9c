// Section 4 read case: reopen a prepared store (ours, lancedb) or parse JSON, into plain JS objects.
import { makeRecords, toBatches } from '../lib/records.js'
import { now, touch } from './harness.js'

function checkSample(rows, sample) {
  for (let i = 0; i < sample.length; i++) {
    const r = rows[i]
    const s = sample[i]
    if (!r || r.id !== s.id || Number(r.n) !== s.n || r.x !== s.x || r.text !== s.text || r.ts !== s.ts) {
      return `record ${i} differs: got ${JSON.stringify(r)}, wrote ${JSON.stringify(s)}`
    }
  }
  return null
}

export async function read(a) {
  const sample = makeRecords('A', 200)
  let n = 0
  let sink = 0
  const head = []
  const take = (r) => {
    if ((n & 1023) === 0) touch()
    if (head.length < sample.length) head.push(r)
    sink += r.text.length
    n++
  }
  let t0
  let tOpen
  if (a.contender === 'ours') {
    const pst = await import('../../dist/index.js')
    // apache-arrow is loaded before the clock, as lancedb's own import (before its clock) loads it.
    if (a.method === 'getArrow') await import('apache-arrow')
    t0 = now()
    const b = new pst.PersistingBackend({ bucketId: 0, storagePath: a.dir })
    if (b.totalCount() !== a.records) throw new Error(`reopened store has ${b.totalCount()} records, expected ${a.records}`)
    tOpen = now()
    if (a.method === 'getArrow') {
      // The whole range as one Arrow Table (IPC from the core, no JSON); rows checked after the clock.
      const table = await b.getArrow(0, a.records)
      const tEnd = now()
      await b.close()
      return arrowRead(a, table, t0, tOpen, tEnd, sample)
    }
    if (a.method === 'getStream') {
      for await (const r of b.getStream()) take(r)
    } else if (a.method === 'get') {
      for (let off = 0; off < a.records; off += a.chunk) {
        const rows = await b.get(off, a.chunk)
        for (const r of rows) take(r)
      }
    } else throw new Error(`unknown method ${a.method}`)
    const tEnd = now()
    await b.close()
    return finishRead(a, n, t0, tOpen, tEnd, sink, checkSample(head, sample))
  }
  if (a.contender === 'lancedb') {
    const ldb = await import('@lancedb/lancedb')
    t0 = now()
    const db = await ldb.connect(a.dir)
    const table = await db.openTable('bench')
    tOpen = now()
    let tRows
    if (a.method === 'toArray') {
      const rows = await table.query().toArray()
      tRows = now()
      // toArray() gives Arrow StructRow proxies; toJSON() makes the plain objects we compare.
      for (const row of rows) take(row.toJSON())
    } else if (a.method === 'iterator') {
      for await (const batch of table.query()) {
        for (const row of batch) take(row.toJSON())
      }
    } else throw new Error(`unknown method ${a.method}`)
    const tEnd = now()
    table.close()
    db.close()
    const res = finishRead(a, n, t0, tOpen, tEnd, sink, checkSample(head, sample))
    if (tRows) res.proxyRecPerSec = n / ((tRows - tOpen) / 1000)
    return res
  }
  if (a.contender === 'json') {
    // Reference: JSON.parse of the same records' JSON text, in 10,000-record arrays.
    const recs = makeRecords('A', a.records)
    const texts = toBatches(recs, 10_000).map((b) => JSON.stringify(b))
    recs.length = 0
    t0 = now()
    tOpen = t0
    for (const t of texts) for (const r of JSON.parse(t)) take(r)
    return finishRead(a, n, t0, tOpen, now(), sink, checkSample(head, sample))
  }
  throw new Error(`unknown read contender ${a.contender}`)
}

/** A read that ends in an Arrow Table: its row count, and its first rows as objects checked. */
function arrowRead(a, table, t0, tOpen, tEnd, sample) {
  const head = []
  for (let i = 0; i < sample.length; i++) head.push(table.get(i)?.toJSON())
  return finishRead(a, table.numRows, t0, tOpen, tEnd, 0, checkSample(head, sample))
}

function finishRead(a, n, t0, tOpen, tEnd, sink, mismatch) {
  if (n !== a.records) throw new Error(`read ${n} records, expected ${a.records}`)
  const res = {
    records: n,
    openSecs: (tOpen - t0) / 1000,
    secs: (tEnd - tOpen) / 1000,
    recPerSec: n / ((tEnd - tOpen) / 1000),
    mismatch,
    sink,
  }
  return res
}
