// Section 5 case: producer -> blocking consumer latency in one process (JS floor, our backends, Redis Streams).
import { makeRecords } from '../lib/records.js'
import { RespClient } from '../lib/redis.js'
import { percentile, rmrf, sleep } from '../lib/util.js'
import { emit, now, touch, workDir } from './harness.js'

// ---------------------------------------------------------------------------------------------
// Section 5: producer -> blocking consumer latency in one process.
export async function latency(a) {
  const records = makeRecords('A', a.n)
  const dir = workDir(`latency-${a.contender}`)
  const lat = []
  try {
    if (a.contender === 'floor') {
      // The JS floor: a pending promise resolved by the producer (what any in-process handoff costs).
      const q = []
      let wake = null
      const consumer = (async () => {
        let got = 0
        while (got < a.n) {
          if (q.length === 0) await new Promise((r) => (wake = r))
          while (q.length) {
            const r = q.shift()
            lat.push(now() - r.t0)
            touch()
            got++
          }
        }
      })()
      for (const r of records) {
        q.push({ ...r, t0: now() })
        if (wake) {
          const w = wake
          wake = null
          w()
        }
        await sleep(a.gapMs)
      }
      await consumer
    } else if (a.contender === 'redis') {
      const prod = await RespClient.connect(a.redisPort)
      const cons = await RespClient.connect(a.redisPort)
      await prod.cmd('DEL', 'lat')
      const consumer = (async () => {
        let last = '0-0'
        let got = 0
        while (got < a.n) {
          const res = await cons.cmd('XREAD', 'BLOCK', '0', 'COUNT', '1000', 'STREAMS', 'lat', last)
          const tRecv = now()
          for (const [id, fields] of res[0][1]) {
            last = id
            lat.push(tRecv - Number(fields[fields.indexOf('t0') + 1]))
            touch()
            got++
          }
        }
      })()
      for (const r of records) {
        await prod.cmd('XADD', 'lat', '*', 'id', r.id, 'n', r.n, 'x', r.x, 'text', r.text, 'ts', r.ts, 't0', now())
        await sleep(a.gapMs)
      }
      await consumer
      await prod.cmd('DEL', 'lat')
      prod.close()
      cons.close()
    } else {
      const pst = await import('../../dist/index.js')
      const Cls = { memory: pst.MemoryBackend, lance: pst.LanceBackend, persisting: pst.PersistingBackend }[a.contender]
      const b = new Cls({ bucketId: 0, storagePath: dir, ...(a.options ?? {}) })
      const consumer = (async () => {
        for await (const r of b.getStream(0, a.n, true)) {
          lat.push(now() - r.t0)
          touch()
        }
      })()
      for (const r of records) {
        await b.put({ ...r, t0: now() })
        await sleep(a.gapMs)
      }
      await consumer
      await b.close()
    }
    lat.sort((x, y) => x - y)
    emit({ n: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat[lat.length - 1] })
  } finally {
    rmrf(dir)
  }
}
