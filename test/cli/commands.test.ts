import { beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { assertBuilt, cli, ndjson, parseNdjson, start, until } from './run.js'

beforeAll(assertBuilt)

const points = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i, vector: [from + i, (from + i) / 2, 1] }))

describe('persisting versions / compact / search / metrics / bench', () => {
  it('versions grow with flushes; compact merges fragments and keeps the records', async () => {
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
