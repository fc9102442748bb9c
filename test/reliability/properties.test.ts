/**
 * Bad input, property-based (fast-check, bounded runs).
 * - Random records (deep nesting, long strings, empty objects, unicode and lone surrogates,
 *   NaN/±Infinity/-0, huge integers, sparse arrays, Dates, typed arrays, keys with dots and
 *   spaces) through put/putBatch/flush on every native backend: each call either acknowledges
 *   or rejects with a StorageError whose code is INVALID_RECORD or SCHEMA_MISMATCH; flush never
 *   fails; what was acknowledged reads back as `readBackDiff` defines (before and after a
 *   reopen), what was rejected is absent.
 * - JSON-safe records with a stable shape (fields optional or null) are always acknowledged.
 * - Random options (valid and invalid) and random call orders (put after close, flush during
 *   flush, concurrent close, get during flush, reopen) run in child processes, which must exit
 *   normally: only typed errors, invalid options rejected with INVALID_OPTION, acknowledged
 *   records present after a reopen.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LanceBackend } from '../../src/backends/lance.js'
import { PersistingBackend } from '../../src/backends/persisting.js'
import type { Row, StorageBackend } from '../../src/backends/types.js'
import { StorageError } from '../../src/errors.js'
import { tmpDir } from '../helpers/tmp.js'
import { runFixture } from './child.js'
import { readBackDiff } from './readback.js'

// One seed for every property here, so a run is repeatable; PERSISTING_PROP_SEED=<n> explores others
// (a failure prints the seed and path that replay it).
fc.configureGlobal({ seed: Number(process.env.PERSISTING_PROP_SEED ?? 42) })

type Kind = 'persisting-wal' | 'persisting' | 'lance'
const KINDS: Kind[] = ['persisting-wal', 'persisting', 'lance']

function make(kind: Kind, dir: string): StorageBackend {
  if (kind === 'lance') return new LanceBackend({ bucketId: 0, storagePath: dir, batchSize: 4 })
  return new PersistingBackend({ bucketId: 0, storagePath: dir, batchSize: 4, enableWal: kind === 'persisting-wal', walSyncInterval: 0 })
}

// ---------------------------------------------------------------- arbitraries

const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'a.b', 'with space', ' lead', 'x.y.z', 'ü', '日本', '$x', '0', 'constructor', 'toString', 'ÄÖ ü.ß') },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
)
const loneSurrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', 'x\udfffy', 'ok\ud83d')
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'grapheme', maxLength: 16 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 1, arbitrary: loneSurrogate },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'é"\\\n'.repeat(n >> 2)) },
)
const number = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.maxSafeInteger(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 0, 2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 1e20, -1e300, Number.MAX_VALUE, Number.MIN_VALUE),
)
const typedArray = fc.oneof(
  fc.float32Array({ minLength: 1, maxLength: 4 }),
  fc.float64Array({ minLength: 1, maxLength: 4 }),
  fc.constantFrom(new Uint8Array([1, 2]), new Int32Array([7])),
)
const leaf = fc.oneof(
  { weight: 4, arbitrary: text },
  { weight: 4, arbitrary: number },
  { weight: 2, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
  { weight: 1, arbitrary: fc.date() },
  { weight: 1, arbitrary: typedArray },
)
const { value } = fc.letrec<{ value: unknown; arr: unknown[]; sparse: unknown[]; obj: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('arr'), tie('sparse'), tie('obj')),
  arr: fc.array(tie('value'), { maxLength: 4 }),
  sparse: fc.sparseArray(tie('value'), { maxLength: 6 }),
  obj: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}))
/** A chain of nested objects (past the record checker's 1000 levels sometimes). */
const deep = fc.integer({ min: 20, max: 1_100 }).map((d) => {
  let v: unknown = 'bottom'
  for (let i = 0; i < d; i++) v = i % 2 ? { n: v } : [v]
  return v
})
const record: fc.Arbitrary<Row> = fc
  .tuple(
    // Top-level names with a dot are refused (a stored column name cannot hold one; see the
    // test below), so most are left out to keep records acknowledged; nested keys keep every shape.
    fc.dictionary(key.filter((k) => !k.includes('.')), value, { maxKeys: 6 }),
    fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: deep }),
    fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: typedArray }),
  )
  .map(([r, d, t]) => ({ ...r, ...(d === null ? {} : { deep: d }), ...(t === null ? {} : { vec: t }) }))

type Call = { op: 'put'; recs: Row[] } | { op: 'putBatch'; recs: Row[] } | { op: 'flush' }
const calls = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: record.map((r): Call => ({ op: 'put', recs: [r] })) },
    { weight: 2, arbitrary: fc.array(record, { minLength: 1, maxLength: 4 }).map((recs): Call => ({ op: 'putBatch', recs })) },
    { weight: 1, arbitrary: fc.constant<Call>({ op: 'flush' }) },
  ),
  { minLength: 1, maxLength: 6 },
)

// ---------------------------------------------------------------- helpers

const REJECT_CODES = new Set(['INVALID_RECORD', 'SCHEMA_MISMATCH'])

function describeErr(e: unknown): string {
  return e instanceof StorageError ? `${e.name} ${e.code}: ${e.message}` : `untyped ${String((e as Error)?.stack ?? e)}`
}

function checkRows(rows: Row[], acked: Row[], when: string): void {
  if (rows.length !== acked.length) throw new Error(`${when}: read ${rows.length} records, acknowledged ${acked.length}`)
  for (let i = 0; i < rows.length; i++) {
    const d = readBackDiff(rows[i], acked[i], `record ${i}`)
    if (d) throw new Error(`${when}: ${d}`)
  }
}

/** Acknowledged / rejected records over all runs: a generator that only hits rejections proves little. */
const tally = { acked: 0, rejected: 0 }

/** Runs the calls on a fresh bucket; throws a description of the first failure. */
async function runCalls(kind: Kind, list: Call[]): Promise<void> {
  const dir = tmpDir()
  let b = make(kind, dir)
  const acked: Row[] = []
  try {
    for (const c of list) {
      if (c.op === 'flush') {
        try {
          await b.flush()
        } catch (e) {
          throw new Error(`flush failed after acknowledging ${acked.length} records: ${describeErr(e)}`)
        }
        continue
      }
      try {
        if (c.op === 'put') await b.put(c.recs[0])
        else await b.putBatch(c.recs)
      } catch (e) {
        if (!(e instanceof StorageError) || !REJECT_CODES.has(e.code)) throw new Error(`${c.op} rejected with ${describeErr(e)}`)
        tally.rejected += c.recs.length
        continue
      }
      // Acknowledged: every value must come back (non-JSON ones only if the library carries them).
      acked.push(...c.recs)
      tally.acked += c.recs.length
    }
    if (b.totalCount() !== acked.length) throw new Error(`totalCount ${b.totalCount()}, acknowledged ${acked.length}`)
    checkRows(await b.get(), acked, 'before reopen')
    try {
      await b.close()
    } catch (e) {
      throw new Error(`close failed: ${describeErr(e)}`)
    }
    b = make(kind, dir)
    checkRows(await b.get(), acked, 'after reopen')
  } finally {
    await b.close().catch(() => {})
  }
}

// ---------------------------------------------------------------- record properties

describe('random records', () => {
  for (const kind of KINDS) {
    it(`${kind}: acknowledged records read back (before and after a reopen); rejections are typed`, async () => {
      tally.acked = tally.rejected = 0
      await fc.assert(
        fc.asyncProperty(calls, (list) => runCalls(kind, list)),
        { numRuns: 40 },
      )
      console.log(`${kind}: ${tally.acked} records acknowledged, ${tally.rejected} rejected`)
      // Most random records are refused, typed (NaN, empty or dotted names, empty objects, arrays
      // with no typed element, a first record without a typed value): the property is that every
      // record was either acknowledged and read back equal, or refused with a code. The
      // stable-shape property below covers acknowledged volume.
      expect(tally.acked + tally.rejected, 'records put over all runs').toBeGreaterThan(20)
    }, 120_000)
  }

  it('a top-level field name Lance cannot name (dot, backtick, row-address column) is refused at put with INVALID_RECORD naming it, and nothing of the call is stored', async () => {
    for (const kind of ['persisting-wal', 'lance'] as const) {
      for (const name of ['dotted.key', '`', 'tick`ed', '`quoted`', '_rowid', '_rowaddr']) {
        const dir = tmpDir()
        const b = make(kind, dir)
        await b.put({ id: 1 })
        const err = await b.putBatch([{ id: 2 }, { id: 3, [name]: 1 }]).catch((e: unknown) => e)
        expect(err, `${kind} ${name}`).toMatchObject({ code: 'INVALID_RECORD' })
        expect(String((err as Error).message)).toContain(`'${name}'`)
        await b.flush()
        expect(await b.get()).toEqual([{ id: 1 }])
        await b.close()
      }
    }
  })

  it('persisting: JSON-safe records of a stable shape are always acknowledged', async () => {
    const safeText = fc.string({ unit: 'grapheme', maxLength: 30 })
    const stable = fc.record(
      {
        id: fc.maxSafeInteger(),
        name: fc.option(safeText),
        score: fc.double({ noNaN: true, noDefaultInfinity: true }),
        big: fc.constantFrom(1, 2 ** 60, 1e20, -(2 ** 63), 0.5),
        flag: fc.boolean(),
        when: fc.date({ noInvalidDate: true }),
        tags: fc.array(safeText, { minLength: 1, maxLength: 3 }),
        meta: fc.record({ a: safeText, b: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
        'spaced key': fc.option(safeText),
      },
      { requiredKeys: ['id'] },
    )
    const ops = fc.array(
      fc.oneof(
        stable.map((r): Call => ({ op: 'put', recs: [r] })),
        fc.array(stable, { minLength: 1, maxLength: 5 }).map((recs): Call => ({ op: 'putBatch', recs })),
        fc.constant<Call>({ op: 'flush' }),
      ),
      { minLength: 1, maxLength: 8 },
    )
    await fc.assert(
      fc.asyncProperty(ops, async (list) => {
        const dir = tmpDir()
        let b = make('persisting-wal', dir)
        const acked: Row[] = []
        try {
          for (const c of list) {
            try {
              if (c.op === 'flush') await b.flush()
              else if (c.op === 'put') await b.put(c.recs[0])
              else await b.putBatch(c.recs)
            } catch (e) {
              throw new Error(`${c.op} failed after ${acked.length} records: ${describeErr(e)}`)
            }
            if (c.op !== 'flush') acked.push(...c.recs)
          }
          await b.close()
          b = make('persisting-wal', dir)
          checkRows(await b.get(), acked, 'after reopen')
        } finally {
          await b.close().catch(() => {})
        }
      }),
      { numRuns: 25 },
    )
  }, 120_000)
})

// ---------------------------------------------------------------- options (child process)

/** valid: must work; invalid: must fail INVALID_OPTION; 'either': huge values a range check may refuse. */
type OptionValue = { v: unknown; valid: boolean | 'either' }
const opt = (valid: unknown[], invalid: unknown[], either: unknown[] = []): fc.Arbitrary<OptionValue> =>
  fc.oneof(
    ...(valid.length ? [{ weight: 3, arbitrary: fc.constantFrom(...valid).map((v) => ({ v, valid: true })) }] : []),
    ...(invalid.length ? [{ weight: 1, arbitrary: fc.constantFrom(...invalid).map((v) => ({ v, valid: false })) }] : []),
    ...(either.length ? [{ weight: 1, arbitrary: fc.constantFrom(...either).map((v) => ({ v, valid: 'either' as const })) }] : []),
  )
const LANCE_SPEC: Record<string, fc.Arbitrary<OptionValue>> = {
  bucketId: opt([0, 3, -1], [1.5, 'x', 2 ** 60]),
  batchSize: opt([1, 7, 100], [0, -1, 1.5, 1e20, NaN, '10'], [2 ** 53 - 1]),
  flushThreshold: opt([1, 2, 1000], [0, -5, Infinity, 1e20, null], [2 ** 53 - 1]),
  compactionThreshold: opt([0, 1, 3], [-1, 0.5, 1e20], [2 ** 53 - 1]),
  compression: opt(['zstd', 'lz4', 'snappy', null], ['gzip', 5, '']),
  topic: opt(['t', 'orders.v2_eu-1', 'x'.repeat(249)], ['', 5, 'a b', '..', 'a/b', 'x'.repeat(250)]),
  maxRecordBytes: opt([1_000_000, 16 * 2 ** 20], [0, -1, 1.5, 'x']),
  maxBatchBytes: opt([1_000_000, 2 ** 28], [0, -1, 1.5, null]),
  unknownOption: opt([], [1, 'x']),
}
const PERSISTING_SPEC: Record<string, fc.Arbitrary<OptionValue>> = {
  ...LANCE_SPEC,
  enableWal: opt([true, false], ['yes', 1]),
  enableMetrics: opt([true, false], ['no']),
  walSyncInterval: opt([0, 0.001, 1, 5e-324], [-1, Infinity, NaN, '1'], [1e10, 1e20, Number.MAX_VALUE]),
  maxWalSize: opt([1, 100, 2 ** 40], [0, -1, Infinity, 'big'], [1e20, 2 ** 53]),
  walRecoveryMode: opt(['pointInTime', 'absolute'], ['bogus', 5]),
  readOnly: opt([false, true], ['yes', 0]),
}
const optionCase = fc.constantFrom('persisting', 'lance').chain((backend) => {
  const spec = backend === 'lance' ? { ...LANCE_SPEC, enableWal: opt([], [true]) } : PERSISTING_SPEC
  const names = Object.keys(spec)
  return fc.subarray(names, { maxLength: 5 }).chain((chosen) =>
    fc.tuple(...chosen.map((n) => spec[n])).map((vals) => ({
      backend,
      options: Object.fromEntries(chosen.map((n, i) => [n, vals[i].v])),
      valid: vals.some((x) => x.valid === false) ? false : vals.some((x) => x.valid === 'either') ? 'either' : true,
    })),
  )
})

const encodeNumbers = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? { $num: String(v) } : v)

describe('random options (child process)', () => {
  it('never abort the process; invalid ones fail INVALID_OPTION; valid ones store and read back', async () => {
    const cases = fc.sample(optionCase, { numRuns: 60, seed: Number(process.env.PERSISTING_PROP_SEED ?? 42) })
    for (const c of cases) (c.options as Record<string, unknown>).storagePath = tmpDir()
    const file = path.join(tmpDir(), 'cases.json')
    fs.writeFileSync(file, JSON.stringify(cases, encodeNumbers))
    const run = await runFixture('option-cases.mjs', [file], { limitMs: 300_000 })
    const last = [...run.lines].reverse().find((l) => l.case !== undefined)
    const culprit = last ? JSON.stringify(cases[last.case], encodeNumbers) : 'none'
    expect(run.hung, `hung at case ${culprit}`).toBe(false)
    expect(run.signal, `process died at case ${culprit}: ${run.stderr.slice(-2000)}`).toBeNull()
    expect(run.code, `exit code; last case ${culprit}: ${run.stderr.slice(-2000)}`).toBe(0)
    expect(run.lines.at(-1)?.op).toBe('end')
    const problems: string[] = []
    cases.forEach((c, i) => {
      const lines = run.lines.filter((l) => l.case === i)
      const by = (op: string) => lines.find((l) => l.op === op)
      const label = `case ${i} ${JSON.stringify(c, encodeNumbers)}`
      for (const l of lines) {
        if (l.ok === false && !(l.error.typed && typeof l.error.code === 'string')) problems.push(`${label}: ${l.op} threw untyped ${l.error.message}`)
        if (l.ok === false && l.error.code === 'INTERNAL') problems.push(`${label}: ${l.op} INTERNAL ${l.error.message}`)
      }
      const opts = c.options as Record<string, unknown>
      const firstFailure = lines.find((l) => l.ok === false)
      if (c.valid === 'either' && firstFailure?.error.code === 'INVALID_OPTION' && ['open', 'putBatch'].includes(firstFailure.op)) return
      if (!c.valid) {
        const first = lines.find((l) => l.ok === false)
        if (!first || first.error.code !== 'INVALID_OPTION' || !['open', 'putBatch'].includes(first.op)) {
          problems.push(`${label}: invalid options not rejected with INVALID_OPTION at open (${JSON.stringify(first ?? lines[1])})`)
        }
        return
      }
      const expected = opts.readOnly === true ? [] : [0, 1, 2, 3].map((k) => ({ k, s: `v${k}` }))
      for (const op of ['open', 'get', 'stream', 'close', 'reopen', 'get2']) {
        const l = by(op)
        if (!l?.ok) problems.push(`${label}: ${op} failed: ${JSON.stringify(l)}`)
      }
      for (const op of opts.readOnly === true ? [] : ['putBatch', 'put', 'flush']) {
        const l = by(op)
        if (!l?.ok) problems.push(`${label}: ${op} failed: ${JSON.stringify(l)}`)
      }
      if (opts.readOnly === true) {
        for (const op of ['putBatch', 'put', 'flush']) {
          if (by(op)?.error?.code !== 'READ_ONLY') problems.push(`${label}: ${op} on a read-only backend: ${JSON.stringify(by(op))}`)
        }
      }
      for (const op of ['get', 'stream', 'get2']) {
        const l = by(op)
        if (l?.ok && JSON.stringify(l.value) !== JSON.stringify(expected)) problems.push(`${label}: ${op} read ${JSON.stringify(l.value)}`)
      }
    })
    expect(problems.slice(0, 15), `${problems.length} problems`).toEqual([])
  }, 300_000)
})

// ---------------------------------------------------------------- call orders (child process)

const step = fc.record({
  op: fc.constantFrom('put', 'putBatch', 'put', 'putBatch', 'get', 'stream', 'flush', 'flush', 'compact', 'close', 'reopen', 'stats', 'totalCount'),
  n: fc.integer({ min: 1, max: 9 }),
  concurrent: fc.boolean(),
})
// A reopen waits for everything before it: two reopened backends at once would be a test artefact.
const scenario = fc.record({
  backend: fc.constantFrom(...KINDS),
  steps: fc.array(step.map((x) => (x.op === 'reopen' ? { ...x, concurrent: false } : x)), { minLength: 3, maxLength: 25 }),
})

describe('random call orders (child process)', () => {
  it('no abort, typed errors only, every acknowledged put present after a reopen, reads are prefixes', async () => {
    const scenarios = fc.sample(scenario, { numRuns: 30, seed: Number(process.env.PERSISTING_PROP_SEED ?? 7) })
    const file = path.join(tmpDir(), 'scenarios.json')
    fs.writeFileSync(file, JSON.stringify(scenarios))
    const run = await runFixture('call-orders.mjs', [file], { limitMs: 300_000 })
    const last = [...run.lines].reverse().find((l) => l.scenario !== undefined)
    const culprit = last ? JSON.stringify(scenarios[last.scenario]) : 'none'
    expect(run.hung, `hung in scenario ${culprit}`).toBe(false)
    expect(run.signal, `process died in scenario ${culprit}: ${run.stderr.slice(-2000)}`).toBeNull()
    expect(run.code, `exit code; scenario ${culprit}: ${run.stderr.slice(-2000)}`).toBe(0)
    expect(run.lines.at(-1)?.op).toBe('end')
    const problems: string[] = []
    scenarios.forEach((sc, s) => {
      const lines = run.lines.filter((l) => l.scenario === s)
      const label = `scenario ${s} ${JSON.stringify(sc)}`
      const acked: string[] = []
      const order = (a: string, b: string) => {
        const [, ai, aj] = a.split('-').map(Number)
        const [, bi, bj] = b.split('-').map(Number)
        return ai - bi || aj - bj
      }
      for (const l of lines) {
        if (l.sync) problems.push(`${label}: step ${l.step} ${l.op} threw synchronously instead of rejecting`)
        if (l.ok === false && !(l.error.typed && typeof l.error.code === 'string')) problems.push(`${label}: step ${l.step} ${l.op} untyped: ${l.error.message}`)
        if (l.ok === false && ['INTERNAL', 'BUCKET_FAILED'].includes(l.error.code)) problems.push(`${label}: step ${l.step} ${l.op}: ${l.error.code} ${l.error.message}`)
        if (l.ok && (l.op === 'put' || l.op === 'putBatch')) acked.push(...l.ids)
      }
      acked.sort(order)
      const final = lines.find((l) => l.op === 'final')
      if (!final?.ok) return problems.push(`${label}: final read failed: ${JSON.stringify(final)}`)
      if (JSON.stringify(final.value) !== JSON.stringify(acked)) {
        problems.push(`${label}: read back ${JSON.stringify(final.value)}, acknowledged ${JSON.stringify(acked)}`)
      }
      for (const l of lines) {
        if (l.ok && (l.op === 'get' || l.op === 'stream')) {
          const seen = l.value as string[]
          if (JSON.stringify(seen) !== JSON.stringify(final.value.slice(0, seen.length))) {
            problems.push(`${label}: step ${l.step} ${l.op} read ${JSON.stringify(seen)}, not a prefix of the final ${JSON.stringify(final.value)}`)
          }
        }
        // After a sequential close (not reopened), later sequential puts must fail CLOSED.
      }
      const closedAt = sc.steps.findIndex((x, i) => x.op === 'close' && !sc.steps.slice(i + 1).some((y) => y.op === 'reopen'))
      if (closedAt >= 0) {
        for (const l of lines) {
          const st = sc.steps[l.step]
          if (l.step > closedAt && !st.concurrent && (l.op === 'put' || l.op === 'putBatch')) {
            if (l.ok || l.error.code !== 'CLOSED') problems.push(`${label}: step ${l.step} ${l.op} after close: ${JSON.stringify(l)}`)
          }
        }
      }
    })
    expect(problems.slice(0, 10), `${problems.length} problems`).toEqual([])
  }, 300_000)
})
