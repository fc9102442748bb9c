/**
 * Damaged files on disk. A template bucket holds 5 rows in Lance and 4 real WAL segments of
 * unflushed records (written by a real WAL, copied aside before each flush removed them, then
 * put back next to the Lance snapshot taken before those flushes). Each case copies it, damages
 * one thing and reopens:
 * - walRecoveryMode 'pointInTime' never throws, keeps exactly the records before the first
 *   damaged frame, reports the cut ([WAL_CORRUPT]) and moved segments ([WAL_QUARANTINE]) in
 *   stats().walEvents, leaves the moved segments intact under wal/quarantine/, and takes new
 *   puts that survive another reopen;
 * - 'absolute' refuses with WALError WAL_CORRUPT naming the segment path and byte offset,
 *   except for a torn tail of the newest segment, which it cuts like pointInTime.
 * Damaged Lance files (manifest, data file) give a typed error naming the file, in a child
 * process that must exit normally (no abort, no hang).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { PersistingBackend } from '../../src/backends/persisting.js'
import { StorageError, WALError } from '../../src/errors.js'
import { tmpDir } from '../helpers/tmp.js'
import { runFixture } from './child.js'

type Mode = 'pointInTime' | 'absolute'

const LANCE_ROWS = 5
const SEGMENTS = 4

interface Frame {
  offset: number
  size: number
  firstSeq: number
  count: number
}
interface Segment {
  name: string
  bytes: Buffer
  frames: Frame[]
}

/** Frames of a segment: `[u32 len][u32 crc][u8 version][u8 codec][u64 first_seq][u32 count][body]`. */
function parseFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = []
  let pos = 0
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32LE(pos)
    if (pos + 8 + len > buf.length) break
    frames.push({ offset: pos, size: 8 + len, firstSeq: Number(buf.readBigUInt64LE(pos + 10)), count: buf.readUInt32LE(pos + 18) })
    pos += 8 + len
  }
  return frames
}

/** Deterministic PRNG (mulberry32), so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const walFiles = (dir: string) =>
  fs.existsSync(path.join(dir, 'wal')) ? fs.readdirSync(path.join(dir, 'wal')).filter((f) => /^wal-\d{20}\.log$/.test(f)).sort() : []

let template = ''
let segments: Segment[] = []
let total = 0

/** Writes the template: Lance snapshot with LANCE_ROWS rows + SEGMENTS WAL segments after it. */
async function buildTemplate(): Promise<void> {
  const work = tmpDir()
  const snap = tmpDir()
  const b = new PersistingBackend({ bucketId: 0, storagePath: work, enableWal: true, walSyncInterval: 0, flushThreshold: 1_000_000 })
  let seq = 0
  const rec = () => ({ seq, s: `r${seq++}` })
  for (let i = 0; i < LANCE_ROWS; i++) await b.put(rec())
  await b.flush()
  fs.cpSync(path.join(work, 'data.lance'), path.join(snap, 'data.lance'), { recursive: true })
  for (let s = 0; s < SEGMENTS; s++) {
    // Mixed frame sizes; the last two frames of each segment hold one record each.
    for (let i = 0; i < 8; i++) {
      if (i % 3 === 2) await b.putBatch([rec(), rec(), rec()])
      else await b.put(rec())
    }
    const name = walFiles(work).at(-1)!
    const bytes = fs.readFileSync(path.join(work, 'wal', name))
    segments.push({ name, bytes, frames: parseFrames(bytes) })
    await b.flush() // commits to Lance, rotates, removes this segment
  }
  await b.close()
  total = seq
  template = tmpDir()
  fs.cpSync(path.join(snap, 'data.lance'), path.join(template, 'data.lance'), { recursive: true })
  fs.mkdirSync(path.join(template, 'wal'))
  for (const s of segments) fs.writeFileSync(path.join(template, 'wal', s.name), s.bytes)
}

/** A copy of the template, damaged by `damage(walDir)`. */
function damaged(damage: (walDir: string) => void): string {
  const dir = tmpDir()
  fs.cpSync(template, dir, { recursive: true })
  damage(path.join(dir, 'wal'))
  return dir
}

function open(dir: string, mode: Mode): PersistingBackend {
  return new PersistingBackend({
    bucketId: 0,
    storagePath: dir,
    enableWal: true,
    walSyncInterval: 0,
    flushThreshold: 1_000_000,
    walRecoveryMode: mode,
  })
}

/** Opens, reads everything and the WAL events, closes. Throws what the open threw. */
async function recover(dir: string, mode: Mode): Promise<{ seqs: number[]; events: string[] }> {
  const b = open(dir, mode)
  try {
    const rows = (await b.get()) as Array<{ seq: number; s: string }>
    for (const r of rows) expect(r.s).toBe(`r${r.seq}`)
    const events = ((await b.stats()).walEvents ?? []) as string[]
    return { seqs: rows.map((r) => r.seq), events }
  } finally {
    await b.close().catch(() => {})
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A promise's outcome as a value, so an assertion failure is never mistaken for the rejection. */
async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

/** Records before frame `f` of segment `s` (Lance rows + earlier segments + earlier frames). */
const keptBefore = (s: number, f: number) => segments[s].frames[f].firstSeq

async function expectRefused(dir: string, segName: string, offset: number | null): Promise<void> {
  let err: unknown
  try {
    await recover(dir, 'absolute')
  } catch (e) {
    err = e
  }
  expect(err, 'absolute recovery must refuse').toBeInstanceOf(WALError)
  const e = err as WALError
  expect(e.code).toBe('WAL_CORRUPT')
  expect(e.message).toContain(path.join(dir, 'wal', segName))
  if (offset !== null) expect(e.message).toMatch(new RegExp(`\\b${offset}\\b`))
  expect(e.message).toMatch(/offset|byte/i)
}

/** After a pointInTime recovery: new puts continue the sequence and survive a reopen without new events. */
async function expectWritableAfter(dir: string, kept: number): Promise<void> {
  const b = open(dir, 'pointInTime')
  expect(b.totalCount()).toBe(kept)
  await b.putBatch([{ seq: kept, s: `r${kept}` }, { seq: kept + 1, s: `r${kept + 1}` }])
  await b.put({ seq: kept + 2, s: `r${kept + 2}` })
  await b.close()
  const again = await recover(dir, 'pointInTime')
  expect(again.seqs).toEqual(range(kept + 3))
  expect(again.events.filter((e) => e.startsWith('[WAL_CORRUPT]') || e.startsWith('[WAL_QUARANTINE]'))).toEqual([])
}

function expectQuarantined(dir: string, events: string[], names: string[]): void {
  const qdir = path.join(dir, 'wal', 'quarantine')
  const moved = fs.existsSync(qdir) ? fs.readdirSync(qdir) : []
  for (const name of names) {
    const file = moved.find((f) => f.includes(name))
    expect(file, `${name} in wal/quarantine (has: ${moved.join(', ')})`).toBeDefined()
    const original = segments.find((s) => s.name === name)!.bytes
    expect(fs.readFileSync(path.join(qdir, file!)).equals(original), `${name} moved unchanged`).toBe(true)
    expect(walFiles(dir)).not.toContain(name)
    expect(events.some((e) => e.startsWith('[WAL_QUARANTINE]') && e.includes(name)), `[WAL_QUARANTINE] event for ${name}: ${events.join(' | ')}`).toBe(true)
  }
}

describe('WAL damage', () => {
  beforeAll(buildTemplate, 60_000)

  it('template: real segments with contiguous frames; clean recovery in both modes keeps everything', async () => {
    expect(segments).toHaveLength(SEGMENTS)
    let next = LANCE_ROWS
    for (const s of segments) {
      expect(s.frames.length).toBe(8)
      expect(s.frames.at(-1)!.offset + s.frames.at(-1)!.size).toBe(s.bytes.length)
      for (const f of s.frames) {
        expect(f.firstSeq).toBe(next)
        next += f.count
      }
    }
    expect(next).toBe(total)
    for (const mode of ['pointInTime', 'absolute'] as const) {
      const r = await recover(damaged(() => {}), mode)
      expect(r.seqs).toEqual(range(total))
      expect(r.events.filter((e) => e.startsWith('[WAL_'))).toEqual([])
    }
  })

  it('torn tail: the newest segment cut at every byte of its last two frames', async () => {
    const last = segments[SEGMENTS - 1]
    const from = last.frames.at(-2)!.offset
    for (let cut = from; cut < last.bytes.length; cut++) {
      const whole = last.frames.filter((f) => f.offset + f.size <= cut)
      const kept = whole.length ? whole.at(-1)!.firstSeq + whole.at(-1)!.count : last.frames[0].firstSeq
      const atBoundary = last.frames.some((f) => f.offset === cut)
      for (const mode of ['pointInTime', 'absolute'] as const) {
        const dir = damaged((w) => fs.truncateSync(path.join(w, last.name), cut))
        const r = await recover(dir, mode)
        expect(r.seqs, `${mode}, cut at ${cut}`).toEqual(range(kept))
        if (!atBoundary) {
          expect(
            r.events.some((e) => e.startsWith('[WAL_CORRUPT]') && e.includes(last.name)),
            `${mode}, cut at ${cut}: a [WAL_CORRUPT] event naming ${last.name}: ${r.events.join(' | ')}`,
          ).toBe(true)
        }
      }
    }
    const mid = last.frames.at(-1)!.offset + 5
    const dir = damaged((w) => fs.truncateSync(path.join(w, last.name), mid))
    await recover(dir, 'pointInTime')
    await expectWritableAfter(dir, last.frames.at(-1)!.firstSeq)
  }, 120_000)

  it('bit flips in the last two frames of the newest segment drop the damaged frame and all after it', async () => {
    const s = SEGMENTS - 1
    const last = segments[s]
    const rand = rng(0x5eed01)
    for (let i = 0; i < 24; i++) {
      // The frame that ends the file counts as a torn tail (a checksum failure there is what an
      // interrupted write leaves); the one before it is corruption.
      const endsFile = i % 2 === 0
      const frame = last.frames.at(endsFile ? -1 : -2)!
      const byte = frame.offset + Math.floor(rand() * frame.size)
      const bit = Math.floor(rand() * 8)
      const flip = (w: string) => {
        const p = path.join(w, last.name)
        const b = fs.readFileSync(p)
        b[byte] ^= 1 << bit
        fs.writeFileSync(p, b)
      }
      const label = `${endsFile ? 'last' : 'second-to-last'} frame, byte ${byte} bit ${bit}`
      const dir = damaged(flip)
      const r = await recover(dir, 'pointInTime')
      expect(r.seqs, label).toEqual(range(frame.firstSeq))
      expect(r.events.some((e) => e.startsWith('[WAL_CORRUPT]') && e.includes(last.name)), label).toBe(true)
      if (i < 2) await expectWritableAfter(dir, frame.firstSeq)
      // A flipped length field may make the frame look incomplete (torn) or run into the next one.
      const inLength = byte < frame.offset + 4
      const abs = damaged(flip)
      if (endsFile || inLength) {
        const outcome = await settle(recover(abs, 'absolute'))
        if (outcome.ok) expect(outcome.value.seqs, label).toEqual(range(frame.firstSeq))
        else expect((outcome.error as StorageError).code, label).toBe('WAL_CORRUPT')
      } else {
        await expectRefused(abs, last.name, frame.offset)
      }
    }
  }, 120_000)

  it('a bit flip in a middle segment cuts there and quarantines every later segment', async () => {
    const rand = rng(0x5eed02)
    for (let i = 0; i < 6; i++) {
      const s = 1 + (i % 2) // segments 1 and 2 of 0..3
      const f = i < 2 ? 0 : Math.floor(rand() * segments[s].frames.length)
      const frame = segments[s].frames[f]
      const byte = frame.offset + 8 + Math.floor(rand() * (frame.size - 8)) // payload: the checksum must catch it
      const bit = Math.floor(rand() * 8)
      const flip = (w: string) => {
        const p = path.join(w, segments[s].name)
        const b = fs.readFileSync(p)
        b[byte] ^= 1 << bit
        fs.writeFileSync(p, b)
      }
      const label = `segment ${s} frame ${f} byte ${byte} bit ${bit}`
      const dir = damaged(flip)
      const r = await recover(dir, 'pointInTime')
      const kept = keptBefore(s, f)
      expect(r.seqs, label).toEqual(range(kept))
      // Cut ([WAL_CORRUPT]), or moved whole ([WAL_QUARANTINE]) when the damage is at its byte 0.
      expect(r.events.some((e) => /^\[WAL_(CORRUPT|QUARANTINE)\]/.test(e) && e.includes(segments[s].name)), `${label}: ${r.events.join(' | ')}`).toBe(true)
      expectQuarantined(dir, r.events, segments.slice(s + 1).map((x) => x.name))
      if (i < 2) await expectWritableAfter(dir, kept)
      await expectRefused(damaged(flip), segments[s].name, frame.offset)
    }
  }, 120_000)

  it('garbage appended to the newest segment is cut; every record is kept', async () => {
    const last = segments[SEGMENTS - 1]
    const rand = rng(0x5eed03)
    for (let i = 0; i < 10; i++) {
      const garbage = Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)))
      const append = (w: string) => fs.appendFileSync(path.join(w, last.name), garbage)
      const label = `${garbage.length} bytes of garbage`
      const dir = damaged(append)
      const r = await recover(dir, 'pointInTime')
      expect(r.seqs, label).toEqual(range(total))
      expect(r.events.some((e) => e.startsWith('[WAL_CORRUPT]') && e.includes(last.name)), label).toBe(true)
      if (i === 0) await expectWritableAfter(dir, total)
      // Garbage may look like a torn frame (tolerated) or like a corrupt one (refused).
      const outcome = await settle(recover(damaged(append), 'absolute'))
      if (outcome.ok) {
        expect(outcome.value.seqs, label).toEqual(range(total))
      } else {
        const e = outcome.error as WALError
        expect(e, label).toBeInstanceOf(WALError)
        expect(e.code, label).toBe('WAL_CORRUPT')
        expect(e.message, label).toContain(last.name)
        expect(e.message, label).toMatch(new RegExp(`\\b${last.bytes.length}\\b`))
      }
    }
  }, 120_000)

  it('a deleted middle segment is a sequence gap: cut there, later segments quarantined', async () => {
    const remove = (w: string) => fs.rmSync(path.join(w, segments[1].name))
    const dir = damaged(remove)
    const r = await recover(dir, 'pointInTime')
    const kept = keptBefore(1, 0)
    expect(r.seqs).toEqual(range(kept))
    expect(r.events.some((e) => /^\[WAL_(CORRUPT|QUARANTINE)\]/.test(e) && /gap/.test(e)), r.events.join(' | ')).toBe(true)
    expectQuarantined(dir, r.events, [segments[2].name, segments[3].name])
    await expectWritableAfter(dir, kept)
    await expectRefused(damaged(remove), segments[2].name, 0)
  })

  it('a deleted first segment is a gap between Lance and the WAL: only Lance rows are kept', async () => {
    const remove = (w: string) => fs.rmSync(path.join(w, segments[0].name))
    const dir = damaged(remove)
    const r = await recover(dir, 'pointInTime')
    expect(r.seqs).toEqual(range(LANCE_ROWS))
    expectQuarantined(dir, r.events, segments.slice(1).map((s) => s.name))
    await expectWritableAfter(dir, LANCE_ROWS)
    await expectRefused(damaged(remove), segments[1].name, 0)
  })
})

describe('Lance file damage', () => {
  let lanceTemplate = ''

  beforeAll(async () => {
    lanceTemplate = tmpDir()
    const b = new PersistingBackend({ bucketId: 0, storagePath: lanceTemplate, enableWal: true, flushThreshold: 1_000_000 })
    for (let v = 0; v < 3; v++) {
      await b.putBatch(Array.from({ length: 50 }, (_, i) => ({ seq: v * 50 + i, s: 'x'.repeat(40) })))
      await b.flush()
    }
    await b.close()
  }, 60_000)

  /** The newest file of `sub` in the template (copies do not keep mtimes), at its place in `dir`. */
  const newest = (dir: string, sub: string, ext: string) => {
    const d = path.join(lanceTemplate, 'data.lance', sub)
    const files = fs.readdirSync(d).filter((f) => f.endsWith(ext))
    files.sort((a, b) => fs.statSync(path.join(d, b)).mtimeMs - fs.statSync(path.join(d, a)).mtimeMs)
    return path.join(dir, 'data.lance', sub, files[0])
  }
  const truncateHalf = (p: string) => fs.truncateSync(p, Math.floor(fs.statSync(p).size / 2))
  const garbageTail = (p: string) => {
    const b = fs.readFileSync(p)
    const rand = rng(0x5eed04)
    for (let i = Math.max(0, b.length - 64); i < b.length; i++) b[i] = Math.floor(rand() * 256)
    fs.writeFileSync(p, b)
  }
  const cases: Array<[string, string, string, (p: string) => void]> = [
    ['newest manifest truncated', '_versions', '.manifest', truncateHalf],
    ['newest manifest overwritten with garbage', '_versions', '.manifest', (p) => fs.writeFileSync(p, Buffer.alloc(fs.statSync(p).size, 0xa5))],
    ['a data file truncated', 'data', '.lance', truncateHalf],
    ['a data file with a garbage footer', 'data', '.lance', garbageTail],
  ]
  for (const backend of ['persisting', 'lance'] as const) {
    for (const [what, sub, ext, damage] of cases) {
      it(`${backend}: ${what} gives a typed error naming the file, in a process that exits normally`, async () => {
        const dir = tmpDir()
        fs.cpSync(lanceTemplate, dir, { recursive: true })
        fs.rmSync(path.join(dir, 'wal'), { recursive: true, force: true })
        const file = newest(dir, sub, ext)
        damage(file)
        const options = backend === 'persisting' ? { bucketId: 0, storagePath: dir, enableWal: true } : { bucketId: 0, storagePath: dir }
        const run = await runFixture('run-ops.mjs', [JSON.stringify({ backend, options, ops: [{ op: 'get' }, { op: 'totalCount' }, { op: 'close' }] })], { limitMs: 60_000 })
        expect(run.hung, 'the child hung').toBe(false)
        expect(run.signal, run.stderr).toBeNull()
        expect(run.code, run.stderr).toBe(0)
        expect(run.lines.at(-1)?.op, run.stdout + run.stderr).toBe('end')
        const failures = run.lines.filter((l) => l.ok === false)
        expect(failures.length, `no operation reported the damage: ${run.stdout}`).toBeGreaterThan(0)
        for (const f of failures) {
          expect(f.error.typed, JSON.stringify(f)).toBe(true)
          expect(typeof f.error.code, JSON.stringify(f)).toBe('string')
        }
        const get = run.lines.find((l) => l.op === 'get')!
        expect(get.ok, 'get must not return data from a damaged file').toBe(false)
        expect(get.error.message, JSON.stringify(get)).toContain(path.basename(file))
      })
    }
  }
})
