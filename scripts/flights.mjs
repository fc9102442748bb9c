#!/usr/bin/env node
/**
 * Converts vega-datasets' flights-200k.json (an array of { delay, distance, time } rows) into
 * NDJSON records for the CLI: an `id` (the row number, the bucket column), the original fields,
 * and a `vector` [delay, distance / 100, time] so `persisting search vector ...` has something
 * to find. Usage: node scripts/flights.mjs <out.ndjson> [count]
 */
import { createWriteStream } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const out = process.argv[2] ?? './persisting-data/flights-200k.ndjson'
// The package exports only its JS entry; the data files sit next to it.
const source = join(dirname(require.resolve('vega-datasets')), '..', 'data', 'flights-200k.json')
const rows = JSON.parse(await readFile(source, 'utf8'))
const count = Math.min(Number(process.argv[3] ?? rows.length), rows.length)
await mkdir(dirname(out), { recursive: true })
const ws = createWriteStream(out)
let buf = ''
for (let i = 0; i < count; i++) {
  const { delay, distance, time } = rows[i]
  buf += JSON.stringify({ id: i, delay, distance, time, vector: [delay, distance / 100, time] }) + '\n'
  if (buf.length > 1 << 20) {
    if (!ws.write(buf)) await new Promise((r) => ws.once('drain', r))
    buf = ''
  }
}
ws.end(buf)
await new Promise((r, j) => ws.on('finish', r).on('error', j))
console.log(`flights: ${count} records from ${source} -> ${out}`)
