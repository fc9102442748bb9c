import { beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { assertBuilt, cli, ndjson, parseNdjson, start, until } from './run.js'

beforeAll(assertBuilt)

const points = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i, vector: [from + i, (from + i) / 2, 1] }))

describe('persisting versions / compact / cleanup / search / metrics / bench', () => {
  it('versions grow with flushes; compact merges fragments, cleanup removes old versions; the records stay', async () => {
    const dir = tmpDir('cli-cmds-')
    const args = ['-s', dir, '-t', 'pts', '--buckets', '2']
    expect((await cli(['ingest', '-', ...args], { input: ndjson(points(50)) })).code).toBe(0)
    expect((await cli(['ingest', '-', ...args], { input: ndjson(points(50, 50)) })).code).toBe(0)
    const versions = JSON.parse((await cli(['versions', ...args, '--json'])).stdout) as { bucket: number; version: number }[]
    expect(versions.filter((v) => v.bucket === 0).length).toBeGreaterThanOrEqual(2)

    const compact = await cli(['compact', ...args, '--json'])
    expect(compact.code).toBe(0)
    const merged = JSON.parse(compact.stdout) as { bucket: number; fragmentsRemoved: number }[]
    expect(merged.map((m) => m.bucket)).toEqual([0, 1])
    const stats = JSON.parse((await cli(['stats', ...args, '--json'])).stdout)
    expect(stats.records).toBe(100)
    for (const b of stats.buckets) expect(b.fragments).toBe(1)

    // The default keeps a week of versions; --older-than 0 keeps only the latest, and the records.
    const kept = JSON.parse((await cli(['cleanup', ...args, '--json'])).stdout) as { versionsRemoved: number }[]
    expect(kept.map((k) => k.versionsRemoved)).toEqual([0, 0])
    const cleanup = await cli(['cleanup', '--older-than', '0', ...args, '--json'])
    expect(cleanup.code).toBe(0)
    const removed = JSON.parse(cleanup.stdout) as { bucket: number; versionsRemoved: number; bytesRemoved: number }[]
    expect(removed.map((r) => r.bucket)).toEqual([0, 1])
    for (const r of removed) expect(r.versionsRemoved).toBeGreaterThanOrEqual(2)
    const left = JSON.parse((await cli(['versions', ...args, '--json'])).stdout) as { bucket: number }[]
    expect(left.filter((v) => v.bucket === 0)).toHaveLength(1)
    expect(JSON.parse((await cli(['stats', ...args, '--json'])).stdout).records).toBe(100)
    expect((await cli(['read', ...args])).stdout.trim().split('\n')).toHaveLength(100)
    const bad = await cli(['cleanup', '--older-than', '-5', ...args])
    expect(bad.code).not.toBe(0)

    const search = await cli(['search', 'vector', '[10, 5, 1]', '-k', '3', ...args])
    expect(search.code).toBe(0)
    const hits = parseNdjson(search.stdout)
    expect(hits).toHaveLength(3)
    expect(hits[0]).toMatchObject({ id: 10, _distance: 0 })
    expect((hits[1]._distance as number) >= (hits[0]._distance as number)).toBe(true)
    const notVector = await cli(['search', 'id', '[1]', ...args])
    expect(notVector.code).not.toBe(0)
    expect(notVector.stderr).toMatch(/persisting: error/)
  })

  it('metrics serves /metrics on 127.0.0.1 until SIGINT, then exits 0', async () => {
    const dir = tmpDir('cli-metrics-')
    expect((await cli(['ingest', '-', '-s', dir, '-t', 'm'], { input: ndjson(points(20)) })).code).toBe(0)
    const server = start(['metrics', '--port', '0', '-s', dir, '-t', 'm'])
    await until(() => /serving metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/.test(server.out()), 'the metrics server')
    const url = /(http:\/\/\S+\/metrics)/.exec(server.out())![1]
    const text = await (await fetch(url)).text()
    expect(text).toMatch(/persisting_buffer_size\{bucket="0",topic="m"\} 0/)
    expect(text).toMatch(/# TYPE persisting_wal_size_bytes gauge/)
    server.child.kill('SIGINT')
    const res = await server.done
    expect(res.code).toBe(0)
  })

  it('bench runs a small benchmark in a temp dir and reports each phase', async () => {
    const res = await cli(['bench', '--records', '2000', '--json'])
    expect(res.code).toBe(0)
    const out = JSON.parse(res.stdout)
    expect(out.phases.map((p: { phase: string }) => p.phase)).toEqual(['write (acknowledged)', 'flush to Lance', 'read back (2000 records)'])
  })
})
