// Section 6 cases: physical references (JSON.stringify / JSON.parse rates, disk fsync and bandwidth).
import fs from 'node:fs'
import path from 'node:path'
import { makeRecords, jsonBytesPerRecord, toBatches } from '../lib/records.js'
import { rmrf } from '../lib/util.js'
import { emit, now, workDir } from './harness.js'

// ---------------------------------------------------------------------------------------------
// Section 6: physical references.
export async function json(a) {
  const records = makeRecords(a.set, a.records)
  const bytesPerRecord = jsonBytesPerRecord(records)
  const out = { bytesPerRecord, stringify: {}, parse: {} }
  for (const bs of a.batches) {
    const batches = toBatches(records, bs)
    const texts = new Array(batches.length)
    // Warm-up on a slice, then one timed pass.
    for (let i = 0; i < Math.min(batches.length, 20); i++) JSON.stringify(batches[i])
    let t0 = now()
    for (let i = 0; i < batches.length; i++) texts[i] = JSON.stringify(batches[i])
    out.stringify[bs] = records.length / ((now() - t0) / 1000)
    let sink = 0
    t0 = now()
    for (let i = 0; i < texts.length; i++) sink += JSON.parse(texts[i]).length
    out.parse[bs] = sink / ((now() - t0) / 1000)
  }
  emit(out)
}

export async function disk(a) {
  const dir = workDir('disk')
  try {
    // Small appends, each followed by fdatasync (what a WAL commit costs at the least).
    const rec = Buffer.from(JSON.stringify(makeRecords('A', 1)[0]) + '\n')
    const fsyncs = {}
    for (const [name, sync] of [['fdatasync', fs.fdatasyncSync], ['fsync', fs.fsyncSync]]) {
      const fd = fs.openSync(path.join(dir, `append-${name}`), 'w')
      let n = 0
      const t0 = now()
      const end = t0 + a.fsyncSecs * 1000
      while (now() < end) {
        fs.writeSync(fd, rec)
        sync(fd)
        n++
      }
      fsyncs[name] = n / ((now() - t0) / 1000)
      fs.closeSync(fd)
    }
    // The same into a preallocated file (no size change, so fdatasync need not commit metadata):
    // what a WAL that preallocates its segments would pay.
    {
      const fd = fs.openSync(path.join(dir, 'prealloc'), 'w')
      const zero = Buffer.alloc(1 << 20)
      for (let i = 0; i < 16; i++) fs.writeSync(fd, zero)
      fs.fsyncSync(fd)
      let n = 0
      let pos = 0
      const t0 = now()
      const end = t0 + a.fsyncSecs * 1000
      while (now() < end && pos + rec.length < 16 << 20) {
        fs.writeSync(fd, rec, 0, rec.length, pos)
        pos += rec.length
        fs.fdatasyncSync(fd)
        n++
      }
      fsyncs.preallocFdatasync = n / ((now() - t0) / 1000)
      fs.closeSync(fd)
    }
    // Sequential write bandwidth: 1 MiB writes, one fdatasync at the end (counted).
    const chunk = Buffer.alloc(1 << 20, 0x61)
    for (let i = 0; i < chunk.length; i += 97) chunk[i] = (i * 31) & 0xff
    const fd = fs.openSync(path.join(dir, 'seq'), 'w')
    const t0 = now()
    for (let i = 0; i < a.seqMiB; i++) fs.writeSync(fd, chunk)
    fs.fdatasyncSync(fd)
    const secs = (now() - t0) / 1000
    fs.closeSync(fd)
    emit({ ...fsyncs, seqMBps: (a.seqMiB * 1.048576) / secs, seqMiB: a.seqMiB })
  } finally {
    rmrf(dir)
  }
}
