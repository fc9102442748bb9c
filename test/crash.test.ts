/**
 * Durability under real crashes: a child process writes with enableWal + walSyncInterval 0,
 * reports each acknowledgement, and is killed with SIGKILL at random moments (or aborts at an
 * injected fault point inside flush). After reopening, every acknowledged record must be
 * present exactly once and in order.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'
import { PersistingBackend } from '../src/backends/persisting.js'
import { tmpDir } from './helpers/tmp.js'

const FIXTURE = path.resolve('test/fixtures/crash-writer.mjs')
const ROUNDS = Number(process.env.PERSISTING_CRASH_ROUNDS ?? 20)

interface ChildRun {
  acked: Array<[number, number]>
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
}

function runChild(dir: string, args: string[], env: NodeJS.ProcessEnv, killAfterMs?: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir, ...args], { env: { ...process.env, ...env } })
    const acked: Array<[number, number]> = []
    let buf = ''
    let stderr = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buf += chunk
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const [kind, a, b] = line.split(' ')
        if (kind === 'ack') acked.push([Number(a), Number(b)])
        if (kind === 'start' && killAfterMs !== undefined) {
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
        }
      }
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ acked, code, signal, stderr })
    })
  })
}

async function readAll(dir: string): Promise<Array<{ seq: number }>> {
  const b = new PersistingBackend({ bucketId: 0, storagePath: dir, enableWal: true })
  const rows = (await b.get()) as Array<{ seq: number }>
  await b.close()
  return rows
}

describe('crash recovery (kill -9)', () => {
  it('dist is built (the child process runs the compiled package)', () => {
    expect(fs.existsSync(path.resolve('dist/backends/persisting.js'))).toBe(true)
  })

  it(`every acknowledged record survives ${ROUNDS} SIGKILLs exactly once and in order`, async () => {
    const dir = tmpDir()
    let maxAcked = -1
    let totalAcks = 0
    for (let round = 0; round < ROUNDS; round++) {
      const run = await runChild(dir, ['stream'], {}, 150 + Math.floor(Math.random() * 400))
      expect(run.signal, run.stderr).toBe('SIGKILL')
      for (const [first, n] of run.acked) maxAcked = Math.max(maxAcked, first + n - 1)
      totalAcks += run.acked.length
      const rows = await readAll(dir)
      // contiguous 0..len-1: nothing lost, nothing duplicated, order kept
      const seqs = rows.map((r) => r.seq)
      const firstBad = seqs.findIndex((s, i) => s !== i)
      expect(firstBad, `round ${round}: row ${firstBad} has seq ${seqs[firstBad]}`).toBe(-1)
      expect(rows.length, `round ${round}: acknowledged up to ${maxAcked}`).toBeGreaterThan(maxAcked)
    }
    expect(totalAcks).toBeGreaterThan(ROUNDS)
  }, Math.max(60_000, ROUNDS * 2_000)) // a round is ~0.6 s: longer runs get a longer limit
})

describe('crash windows inside flush (fault injection)', () => {
  const POINTS = ['before_lance_commit', 'after_lance_commit', 'after_lance_fsync', 'after_buffer_drain', 'after_wal_truncate']
  for (const point of POINTS) {
    it(`abort at ${point}: no loss, no duplicates`, async () => {
      const dir = tmpDir()
      const first = await runChild(dir, ['flush', '30'], { PERSISTING_FAULT: point })
      expect(first.signal ?? first.code, first.stderr).toBe('SIGABRT')
      expect(first.stderr).toContain(`fault injected at ${point}`)
      expect(first.acked).toEqual([[0, 30]])
      let rows = await readAll(dir)
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i))
      // a second round on top of the recovered state
      const second = await runChild(dir, ['flush', '10'], { PERSISTING_FAULT: point })
      expect(second.acked).toEqual([[30, 10]])
      rows = await readAll(dir)
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i))
    })
  }
})
