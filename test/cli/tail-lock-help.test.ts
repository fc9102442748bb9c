import { spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { assertBuilt, byId, cli, ndjson, parseNdjson, ROOT, start, until } from './run.js'

const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i, text: `event ${from + i}` }))

beforeAll(assertBuilt)

describe('persisting tail -f', () => {
  it('receives records another process ingests, and ends with exit 0 on SIGINT', async () => {
    const dir = tmpDir('cli-tail-')
    const first = rows(20)
    expect((await cli(['ingest', '-', '-s', dir, '-t', 'live'], { input: ndjson(first) })).code).toBe(0)

    const tail = start(['tail', '-f', '-n', '0', '-s', dir, '-t', 'live'])
    await until(() => tail.err().includes('following'), 'tail -f to start')

    // A second CLI process writes more; the follower sees them once that writer flushes.
    const more = rows(50, 1000)
    writeFileSync(join(dir, 'more.ndjson'), ndjson(more))
    const ing = await cli(['ingest', join(dir, 'more.ndjson'), '-s', dir, '-t', 'live'])
    expect(ing.code).toBe(0)
    await until(() => parseNdjson(tail.out()).length >= more.length, 'tail -f to print the new records')

    tail.child.kill('SIGINT')
    const res = await tail.done
    expect(res.signal).toBeNull()
    expect(res.code).toBe(0)
    expect(byId(parseNdjson(res.stdout))).toEqual(more)
  })

  it('without -f prints the last n records of each bucket and exits', async () => {
    const dir = tmpDir('cli-tail-n-')
    expect((await cli(['ingest', '-', '-s', dir, '-t', 'x', '--buckets', '2'], { input: ndjson(rows(30)) })).code).toBe(0)
    const res = await cli(['tail', '-n', '3', '-s', dir, '-t', 'x'])
    expect(res.code).toBe(0)
    expect(parseNdjson(res.stdout)).toHaveLength(6)
  })
})

describe('exit codes', () => {
  it('a bucket locked by a writer in another process: exit 4 (WAL_LOCKED), the writer unharmed', async () => {
    const dir = tmpDir('cli-lock-')
    const topicDir = join(dir, 'locked')
    const script = `
      import * as pst from ${JSON.stringify(join(ROOT, 'dist/index.js'))}
      const system = await pst.createSystem()
      const w = await pst.queue.writeQueue(system, 'locked', { storagePath: ${JSON.stringify(topicDir)}, backend: 'persisting',
        backendOptions: { enableWal: true } })
      await w.putBatch(Array.from({ length: 40 }, (_, i) => ({ id: i })))
      process.stdout.write('ready\\n')
      process.stdin.on('data', async () => { await system.shutdown(); process.exit(0) })
    `
    const holder = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
    let ready = ''
    holder.stdout.on('data', (d) => (ready += d))
    try {
      await until(() => ready.includes('ready'), 'the writer to hold its buckets')
      const res = await cli(['ingest', '-', '-s', dir, '-t', 'locked'], { input: ndjson(rows(5)) })
      expect(res.code).toBe(4)
      expect(res.stderr).toMatch(/\[WAL_LOCKED\]/)
      expect(res.stderr).toMatch(/hint: another process is writing/)
      // Readers take no lock.
      const stats = await cli(['stats', '-s', dir, '-t', 'locked', '--json'])
      expect(stats.code).toBe(0)
    } finally {
      holder.stdin.write('x')
      await new Promise((r) => holder.on('close', r))
    }
  })

  it('a corrupt WAL: --wal-recovery absolute refuses with exit 5 (WAL_CORRUPT); pointInTime recovers', async () => {
    const dir = tmpDir('cli-walcorrupt-')
    const topicDir = join(dir, 'w')
    // A writer acknowledges two WAL frames and is killed before any flush.
    const script = `
      import * as pst from ${JSON.stringify(join(ROOT, 'dist/index.js'))}
      const b = new pst.PersistingBackend({ bucketId: 0, storagePath: ${JSON.stringify(join(topicDir, 'bucket_0'))}, enableWal: true, walSyncInterval: 0 })
      await b.putBatch([{ id: 1, v: 'first frame' }])
      await b.putBatch([{ id: 2, v: 'second frame' }])
      process.kill(process.pid, 'SIGKILL')
    `
    spawnSync(process.execPath, ['--input-type=module', '-e', script], { stdio: 'inherit' })
    const walDir = join(topicDir, 'bucket_0', 'wal')
    const segment = readdirSync(walDir).find((f) => f.endsWith('.log') && statSync(join(walDir, f)).size > 0)!
    const bytes = readFileSync(join(walDir, segment))
    bytes[12] ^= 0xff // inside the first frame's payload: a CRC failure with a frame after it
    writeFileSync(join(walDir, segment), bytes)

    const flags = ['-s', dir, '-t', 'w', '--buckets', '1']
    const refused = await cli(['ingest', '-', ...flags, '--wal-recovery', 'absolute'], { input: ndjson([{ id: 3, v: 'x' }]) })
    expect(refused.code).toBe(5)
    expect(refused.stderr).toMatch(/\[WAL_CORRUPT\]/)
    expect(refused.stderr).toMatch(/hint: the write-ahead log is damaged/)
    const recovered = await cli(['ingest', '-', ...flags], { input: ndjson([{ id: 3, v: 'x' }]) })
    expect(recovered.code).toBe(0)
  })

  it('bad arguments exit 2; a missing storage path or topic exits 3', async () => {
    expect((await cli(['read', '--limit', 'many'])).code).toBe(2)
    expect((await cli(['ingest'])).code).toBe(2)
    expect((await cli(['no-such-command'])).code).toBe(2)
    expect((await cli(['search', 'vector', 'not-json', '-s', '/nonexistent'])).code).toBe(2)
    expect((await cli(['ingest', '-', '--format', 'xml'])).code).toBe(2)
    const missing = await cli(['read', '-s', '/nonexistent/persisting'])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/does not exist/)
    const dir = tmpDir('cli-missing-')
    expect((await cli(['stats', '-s', dir, '-t', 'nothing'])).code).toBe(3)
    expect((await cli(['ingest', join(dir, 'absent.ndjson'), '-s', dir])).code).toBe(3)
  })

  it('a topic outside Kafka\'s rule exits 2 before any path is touched', async () => {
    const root = tmpDir('cli-topic-')
    const store = join(root, 'store')
    const input = join(root, 'in.ndjson')
    writeFileSync(input, ndjson(rows(3)))
    for (const topic of ['../escaped', '/abs', 'a/b', '..', 'x'.repeat(250), 'sp ace']) {
      for (const args of [['ingest', input], ['read'], ['stats'], ['tail']]) {
        const r = await cli([...args, '-s', store, '-t', topic])
        expect(r.code, `${args[0]} ${topic}: ${r.stderr}`).toBe(2)
        expect(r.stderr).toContain('[a-zA-Z0-9._-]')
      }
    }
    expect(readdirSync(root)).toEqual(['in.ndjson'])
  })
})

describe('--help', () => {
  const commands = ['ingest', 'read', 'tail', 'stats', 'versions', 'compact', 'cleanup', 'search', 'metrics', 'bench', 'demo']

  it('the top level lists every command and the exit codes', async () => {
    const res = await cli(['--help'])
    expect(res.code).toBe(0)
    for (const c of commands) expect(res.stdout).toContain(c)
    expect(res.stdout).toMatch(/Exit codes:/)
  })

  it.each(commands)('%s --help', async (c) => {
    const res = await cli([c, '--help'])
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(new RegExp(`^Usage: persisting ${c}`))
    if (c !== 'demo') expect(res.stdout).toContain('--storage-path')
    if (c === 'metrics') expect(res.stdout).toMatch(/127\.0\.0\.1/)
  })
})
