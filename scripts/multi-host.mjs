#!/usr/bin/env node
// Long mode: several hosts on one object store, in network namespaces (root and `ip` needed).
//   npm run test:multihost [-- --seconds 8 --rounds 2]
// Four namespaces on a private bridge (10.77.0.0/24, addresses only inside the namespaces): the
// S3 server (s3s-fs), two queue writers owning disjoint buckets (rank 0 and 1 of 2, each with
// its WAL on its own directory), and a reader tailing every bucket. Mid-run writer 0's host is
// killed (SIGKILL) and restarted from its WAL; at the end every acknowledged record must have
// reached the reader exactly once.
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import { s3ServerBinary } from './s3-server.mjs'

const ROOT = path.resolve(import.meta.dirname, '..')
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const SECONDS = arg('seconds', 6)
const ROUNDS = arg('rounds', 1)
const HOST = path.join(ROOT, 'test/fixtures/queue-host.mjs')
const server = s3ServerBinary()
if (!server) throw new Error('the S3 server is not built: bash scripts/s3-server.sh --build')
if (process.getuid?.() !== 0) throw new Error('network namespaces need root (ip netns)')

const NET = 'pst-net'
const HOSTS = ['pst-store', 'pst-w0', 'pst-w1', 'pst-r']
const ADDR = Object.fromEntries(HOSTS.map((h, i) => [h, `10.77.0.${i + 1}`]))
const ip = (...a) => execFileSync('ip', a, { stdio: ['ignore', 'ignore', 'pipe'] })
const inNs = (ns, ...a) => ip('netns', 'exec', ns, ...a)

function teardown() {
  for (const ns of [...HOSTS, NET]) {
    try {
      ip('netns', 'del', ns)
    } catch {
      /* not there */
    }
  }
}

function setupNetwork() {
  teardown()
  ip('netns', 'add', NET)
  inNs(NET, 'ip', 'link', 'add', 'br0', 'type', 'bridge')
  inNs(NET, 'ip', 'link', 'set', 'br0', 'up')
  HOSTS.forEach((ns, i) => {
    ip('netns', 'add', ns)
    inNs(NET, 'ip', 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', `h${i}`)
    inNs(NET, 'ip', 'link', 'set', `h${i}`, 'netns', ns)
    inNs(NET, 'ip', 'link', 'set', `p${i}`, 'master', 'br0', 'up')
    inNs(ns, 'ip', 'addr', 'add', `${ADDR[ns]}/24`, 'dev', `h${i}`)
    inNs(ns, 'ip', 'link', 'set', `h${i}`, 'up')
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up')
  })
}

/** A process in a namespace whose stdout lines go to `onLine`. */
function run(ns, cmd, args, onLine) {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)))
  createInterface({ input: child.stdout }).on('line', onLine)
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  return { child, exited }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function round(n, work) {
  const storeDir = path.join(work, `store-${n}`)
  fs.mkdirSync(path.join(storeDir, 'persisting'), { recursive: true })
  const endpoint = `http://${ADDR['pst-store']}:9000`
  const s3 = run('pst-store', server, ['--host', ADDR['pst-store'], '--port', '9000', '--access-key', 'k', '--secret-key', 'secret-key', storeDir], () => {})
  await sleep(500)
  const common = {
    storagePath: `s3://persisting/round-${n}`,
    storageOptions: { aws_endpoint: endpoint, aws_region: 'us-east-1', aws_access_key_id: 'k', aws_secret_access_key: 'secret-key', aws_allow_http: 'true' },
    numBuckets: 4,
    worldSize: 2,
  }
  const acked = new Set()
  const got = new Map()
  const writer = (ns, rank, runNo, extra = {}) =>
    run(ns, process.execPath, [HOST, 'writer', JSON.stringify({ ...common, rank, run: runNo, walPath: path.join(work, `${ns}-${n}-wal`), ...extra })], (line) => {
      if (line.startsWith('ack ')) for (const id of line.slice(4).split(',')) acked.add(id)
    })
  const reader = run('pst-r', process.execPath, [HOST, 'reader', JSON.stringify(common)], (line) => {
    if (line.startsWith('got ')) got.set(line.slice(4), (got.get(line.slice(4)) ?? 0) + 1)
  })
  const w1 = writer('pst-w1', 1, 0, { count: 4000, flushEvery: 400 })
  const w0 = writer('pst-w0', 0, 0)
  await sleep(SECONDS * 1000)
  w0.child.kill('SIGKILL') // the host dies mid-run, with acknowledged records only in its WAL
  const killed = await w0.exited
  const ackedBeforeKill = acked.size
  // Restarted from its WAL (same walPath): takes its buckets back at once, replays, goes on.
  const w0b = writer('pst-w0', 0, 1, { count: 1500, flushEvery: 300 })
  const [e0, e1] = await Promise.all([w0b.exited, w1.exited])
  const problems = []
  if (killed.signal !== 'SIGKILL') problems.push(`writer 0 ended before the kill: ${killed.stderr}`)
  if (e0.code !== 0) problems.push(`restarted writer 0 failed: ${e0.stderr}`)
  if (e1.code !== 0) problems.push(`writer 1 failed: ${e1.stderr}`)
  // The reader follows new commits with back-off; give it time to see the last flushes.
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline && [...acked].some((id) => !got.has(id))) await sleep(200)
  reader.child.kill('SIGTERM')
  await reader.exited
  s3.child.kill('SIGTERM')
  await s3.exited
  const lost = [...acked].filter((id) => !got.has(id))
  const doubled = [...got].filter(([, k]) => k > 1).map(([id]) => id)
  if (lost.length) problems.push(`${lost.length} acknowledged records never reached the reader, e.g. ${lost.slice(0, 5).join(' ')}`)
  if (doubled.length) problems.push(`${doubled.length} records read twice, e.g. ${doubled.slice(0, 5).join(' ')}`)
  return { round: n, acked: acked.size, ackedBeforeKill, read: got.size, lost: lost.length, doubled: doubled.length, problems }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'persisting-multihost-'))
let failed = false
try {
  setupNetwork()
  for (let n = 0; n < ROUNDS; n++) {
    const r = await round(n, work)
    console.log(JSON.stringify(r))
    if (r.problems.length) failed = true
  }
} finally {
  teardown()
  fs.rmSync(work, { recursive: true, force: true })
}
console.log(failed ? 'multi-host: FAILED' : 'multi-host: every acknowledged record was read exactly once')
process.exit(failed ? 1 : 0)
