#!/usr/bin/env node
/**
 * `npm start` after setup: the README's main job on real data. Converts vega-datasets'
 * flights-200k into NDJSON, ingests it into a local topic through the CLI (persisting backend,
 * WAL on), reads it back and checks the count, and prints throughput, stats and where the data is.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'

const root = './persisting-data'
const topic = 'flights'
const data = join(root, 'flights-200k.ndjson')
const cli = resolve('dist/cli.js')
const common = ['--topic', topic, '--storage-path', root]

function run(cmd, args, { capture = false } = {}) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cmd, ...args], { stdio: ['inherit', capture ? 'pipe' : 'inherit', 'inherit'] })
    let lines = 0
    let bytes = 0
    let tail = ''
    child.stdout?.on('data', (d) => {
      bytes += d.length
      const s = tail + d.toString('utf8')
      const parts = s.split('\n')
      tail = parts.pop()
      lines += parts.length
    })
    child.on('error', rej)
    child.on('close', (code) => (code === 0 ? res({ lines, bytes }) : rej(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))))
  })
}

const quote = (a) => (/[\s\[\]|]/.test(a) && a !== '| wc -l' ? `'${a}'` : a)
const show = (args) => console.log(`\n$ persisting ${args.map(quote).join(' ')}`)

if (!existsSync(data)) await run('scripts/flights.mjs', [data])
const expected = 200_000
await rm(join(root, topic), { recursive: true, force: true })

const ingestArgs = ['ingest', data, ...common, '--bucket-column', 'id']
show(ingestArgs)
await run(cli, ingestArgs)

const readArgs = ['read', ...common]
show([...readArgs, '| wc -l'])
const t0 = performance.now()
const { lines, bytes } = await run(cli, readArgs, { capture: true })
const secs = (performance.now() - t0) / 1000
console.log(`read back ${lines.toLocaleString('en-US')} records in ${secs.toFixed(2)} s (${Math.round(lines / secs).toLocaleString('en-US')} records/s, ${(bytes / secs / 1e6).toFixed(1)} MB/s incl. process start)`)
if (lines !== expected) {
  console.error(`count mismatch: expected ${expected}, read ${lines}`)
  process.exit(1)
}
console.log(`count check: ${lines} === ${expected} ok`)

show(['stats', ...common])
await run(cli, ['stats', ...common])

const searchArgs = ['search', 'vector', '[10, 5, 1.5]', '-k', '3', ...common]
show(searchArgs)
await run(cli, searchArgs)

console.log(`\ndata: ${join(root, topic)} (4 buckets: bucket_0 .. bucket_3, each a Lance dataset + WAL)`)
console.log(`try:  node dist/cli.js tail -f ${common.join(' ')}   # then ingest more from another terminal`)
console.log(`      node dist/cli.js --help`)
