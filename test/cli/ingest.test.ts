import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from '../helpers/tmp.js'
import { assertBuilt, byId, cli, ndjson, parseNdjson } from './run.js'

const rows = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({ id: from + i, name: `row ${from + i}`, score: (from + i) * 1.5, ok: i % 2 === 0 }))

beforeAll(assertBuilt)

describe('persisting ingest / read / stats', () => {
  it('ingests NDJSON from a file and reads back exactly the input; stats --json agrees', async () => {
    const dir = tmpDir('cli-ingest-')
    const input = rows(500)
    writeFileSync(join(dir, 'in.ndjson'), ndjson(input))
    const ing = await cli(['ingest', join(dir, 'in.ndjson'), '-s', dir, '-t', 'ev', '--sync-interval', '0', '--json'])
    expect(ing.stderr).toBe('')
    expect(ing.code).toBe(0)
    expect(JSON.parse(ing.stdout)).toMatchObject({ ingested: 500, skipped: 0, wal: true })

    const read = await cli(['read', '-s', dir, '-t', 'ev'])
    expect(read.code).toBe(0)
    expect(byId(parseNdjson(read.stdout))).toEqual(input)

    const stats = await cli(['stats', '-s', dir, '-t', 'ev', '--json'])
    expect(stats.code).toBe(0)
    const s = JSON.parse(stats.stdout)
    expect(s).toMatchObject({ topic: 'ev', numBuckets: 4, bucketColumn: 'id', records: 500 })
    expect(s.buckets).toHaveLength(4)
    for (const b of s.buckets) {
      expect(b).toMatchObject({ compression: 'zstd' })
      expect(b.diskBytes).toBeGreaterThan(0)
      expect(typeof b.walBytes).toBe('number')
      expect(b.version).toBeGreaterThan(0)
    }
    expect(s.buckets.reduce((a: number, b: { records: number }) => a + b.records, 0)).toBe(500)

    const limited = await cli(['read', '-s', dir, '-t', 'ev', '--bucket', '1', '--from', '2', '--limit', '5'])
    expect(parseNdjson(limited.stdout)).toHaveLength(5)
    const table = await cli(['stats', '-s', dir, '-t', 'ev'])
    expect(table.stdout).toMatch(/bucket\s+records\s+version\s+fragments\s+disk\s+wal\s+compression/)
  })

  it('NDJSON from stdin; a bad line stops with exit 7 and its line number, records before it kept', async () => {
    const dir = tmpDir('cli-stop-')
    const good = rows(10)
    const text = ndjson(good.slice(0, 4)) + '{"id": 4, broken\n' + ndjson(good.slice(4))
    const ing = await cli(['ingest', '-', '-s', dir, '-t', 'ev'], { input: text })
    expect(ing.code).toBe(7)
    expect(ing.stderr).toMatch(/line 5: not valid JSON/)
    const read = await cli(['read', '-s', dir, '-t', 'ev'])
    expect(byId(parseNdjson(read.stdout))).toEqual(good.slice(0, 4))
  })

  it('--on-error skip reports every bad line, stores the rest and exits 8', async () => {
    const dir = tmpDir('cli-skip-')
    const good = rows(10)
    const lines = good.map((r) => JSON.stringify(r))
    lines.splice(3, 0, '{"name": "no id"}')
    lines.splice(7, 0, '[1, 2]')
    writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n')
    const ing = await cli(['ingest', join(dir, 'in.jsonl'), '-s', dir, '-t', 'ev', '--on-error', 'skip'])
    expect(ing.code).toBe(8)
    expect(ing.stderr).toMatch(/line 4: missing the bucket column 'id'.*\(skipped\)/)
    expect(ing.stderr).toMatch(/line 8: not a record.*\(skipped\)/)
    expect(ing.stdout).toMatch(/skipped 2 bad record/)
    const read = await cli(['read', '-s', dir, '-t', 'ev'])
    expect(byId(parseNdjson(read.stdout))).toEqual(good)
  })

  it('a JSON array: bad element skipped by line, or stops', async () => {
    const dir = tmpDir('cli-json-')
    const good = rows(6)
    const elems = good.map((r) => '  ' + JSON.stringify(r))
    elems.splice(2, 0, '  "not a record"')
    writeFileSync(join(dir, 'in.json'), '[\n' + elems.join(',\n') + '\n]\n')
    const stop = await cli(['ingest', join(dir, 'in.json'), '-s', dir, '-t', 'a'])
    expect(stop.code).toBe(7)
    expect(stop.stderr).toMatch(/line 4: not a record/)
    const skip = await cli(['ingest', join(dir, 'in.json'), '-s', dir, '-t', 'b', '--on-error', 'skip', '--json'])
    expect(skip.code).toBe(8)
    expect(JSON.parse(skip.stdout)).toMatchObject({ ingested: 6, skipped: 1, badRecords: [{ line: 4 }] })
    const read = await cli(['read', '-s', dir, '-t', 'b'])
    expect(byId(parseNdjson(read.stdout))).toEqual(good)
    // Not JSON at all: nothing ingested, the position is reported.
    writeFileSync(join(dir, 'bad.json'), '[\n{"id": 1},\n{"id": 2,,}\n]')
    const broken = await cli(['ingest', join(dir, 'bad.json'), '-s', dir, '-t', 'c'])
    expect(broken.code).toBe(7)
    expect(broken.stderr).toMatch(/bad\.json:3:\d+: not valid JSON/)
  })

  it('CSV with a bad line: stop (exit 7) and skip (exit 8); values are typed', async () => {
    const dir = tmpDir('cli-csv-')
    const good = rows(5)
    const csv = ['id,name,score,ok', ...good.map((r) => `${r.id},${r.name},${r.score},${r.ok}`)]
    csv.splice(3, 0, '99,too,many,columns,here')
    writeFileSync(join(dir, 'in.csv'), csv.join('\n') + '\n')
    const stop = await cli(['ingest', join(dir, 'in.csv'), '-s', dir, '-t', 'a'])
    expect(stop.code).toBe(7)
    expect(stop.stderr).toMatch(/line 4:/)
    const skip = await cli(['ingest', join(dir, 'in.csv'), '-s', dir, '-t', 'b', '--on-error', 'skip'])
    expect(skip.code).toBe(8)
    expect(skip.stderr).toMatch(/line 4:.*\(skipped\)/)
    const read = await cli(['read', '-s', dir, '-t', 'b'])
    const back = byId(parseNdjson(read.stdout)).map((r) => ({ ...r, ok: r.ok === true || r.ok === 'true' }))
    expect(back).toEqual(good)
  })
})
