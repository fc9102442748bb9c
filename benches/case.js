// One benchmark case in its own process, so peak RSS (process.resourceUsage().maxRSS) belongs
// to one contender only.   node benches/case.js '<json args>'
// Prints progress on stderr and one line `RESULT {...}` on stdout.
// The cases themselves are in benches/cases/.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { probePeers } from './lib/contenders.js'
import { args, cpuSec, emit } from './cases/harness.js'
import { durable, ingest, readprep, rssStream } from './cases/write.js'
import { read } from './cases/read.js'
import { latency } from './cases/latency.js'
import { disk, json } from './cases/physical.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

// ---------------------------------------------------------------------------------------------
const kinds = {
  ingest,
  durable,
  readprep,
  read: async (a) => emit(await read(a)),
  latency,
  json,
  disk,
  rssStream,
  probe: async () => emit({ peers: await probePeers(ROOT) }),
}
const fn = kinds[args.kind]
if (!fn) {
  console.error(`unknown case kind ${args.kind}`)
  process.exit(2)
}
try {
  await fn(args)
} catch (err) {
  process.stdout.write(`RESULT ${JSON.stringify({ error: String(err?.stack ?? err), cpuSec: cpuSec() })}\n`)
  process.exitCode = 1
}
// Native libraries may keep worker threads alive; the result is out, so leave.
setTimeout(() => process.exit(process.exitCode ?? 0), 50).unref()
