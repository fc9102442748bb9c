// One process of benches/scale-out.js: a writer of a rank's share, a ticker (one record and a
// flush every 100 ms) or a tailing reader. Prints a JSON summary line at the end (writers), or
// `lat <ms>` per record (reader).
import { createSystem, readQueue, writeQueue } from '../dist/index.js'
import { makeRecords, toBatches } from './lib/records.js'

const o = JSON.parse(process.argv[2])
const topic = 'scale'
const common = { numBuckets: 4, storagePath: o.storagePath, storageOptions: o.storageOptions, backend: 'persisting' }

async function writer() {
  // Records are made before the clock starts; it runs from opening the queue (leases included).
  const records = makeRecords('A', o.count)
  const system = await createSystem()
  const start = Date.now()
  const w = await writeQueue(system, topic, {
    ...common,
    walPath: o.walPath,
    rank: o.rank,
    worldSize: o.worldSize,
    backendOptions: { enableWal: true, walSyncInterval: 1, flushThreshold: 10_000 },
  })
  // Set-A records, given ids of this writer's buckets.
  let n = 0
  for (const r of records) {
    do r.id = `w${o.rank}-${n++}`
    while (w.getBucketId(r.id) % o.worldSize !== o.rank)
  }
  for (const batch of toBatches(records, 1000)) await w.putBatch(batch)
  await system.shutdown()
  console.log(JSON.stringify({ start, end: Date.now() }))
}

async function ticker() {
  const system = await createSystem()
  const w = await writeQueue(system, topic, { ...common, walPath: o.walPath, backendOptions: { enableWal: true, walSyncInterval: 1 } })
  for (let i = 0; i < o.count; i++) {
    await w.put({ id: `t${i}`, at: Date.now() })
    await w.flush()
    await new Promise((r) => setTimeout(r, 100))
  }
  await system.shutdown()
  console.log(JSON.stringify({ done: true }))
}

async function reader() {
  const system = await createSystem()
  const r = await readQueue(system, topic, common)
  process.on('SIGTERM', () => process.exit(0))
  console.log('ready')
  for await (const row of r.getStream({ block: true })) console.log(`lat ${Date.now() - row.at}`)
}

await { writer, ticker, reader }[o.role]()
