/**
 * Topic names come from outside (HTTP paths, message headers) and become directories: only
 * Kafka's names are accepted, and no bucket directory may resolve outside its storage root.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as pst from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

const BAD = [
  ['parent escape', '../../escaped-topic'],
  ['parent', '..'],
  ['current', '.'],
  ['empty', ''],
  ['absolute path', '/etc/passwd'],
  ['separator', 'a/b'],
  ['backslash', 'a\\b'],
  ['NUL', 'a\0b'],
  ['space', 'a b'],
  ['non-ASCII', 'tópico'],
  ['newline', 'a\nb'],
  ['250 characters', 'x'.repeat(250)],
] as const
const GOOD = ['a', 'x'.repeat(249), 'orders.v2_eu-west-1', '...', '-_.']

let cwd: string
let work: string
beforeEach(() => {
  cwd = process.cwd()
  work = tmpDir('persisting-topics-')
  // The default storage path is relative (./queue_storage/<topic>): run inside a scratch dir.
  fs.mkdirSync(path.join(work, 'srv', 'app'), { recursive: true })
  process.chdir(path.join(work, 'srv', 'app'))
})
afterEach(() => process.chdir(cwd))

/** Every path under `work`, so a test can show nothing was created anywhere. */
function tree(): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      out.push(path.relative(work, path.join(d, e.name)))
      if (e.isDirectory()) walk(path.join(d, e.name))
    }
  }
  walk(work)
  return out.sort()
}

describe('topic names', () => {
  for (const backend of ['memory', 'persisting', 'lance'] as const) {
    for (const [what, name] of BAD) {
      it(`${backend}: refuses a ${what} topic with INVALID_OPTION naming the rule, creating nothing`, async () => {
        const before = tree()
        const system = await pst.createSystem()
        try {
          for (const open of [pst.writeQueue, pst.readQueue]) {
            const err = await open(system, name, { backend }).then(
              () => null,
              (e: unknown) => e,
            )
            expect(err).toBeInstanceOf(pst.StorageError)
            expect((err as pst.StorageError).code).toBe('INVALID_OPTION')
            expect((err as Error).message).toContain('[a-zA-Z0-9._-]')
          }
        } finally {
          await system.shutdown()
        }
        expect(tree()).toEqual(before)
      })
    }
  }

  it('accepts every Kafka-valid name and stores it under its own directory', async () => {
    const system = await pst.createSystem()
    try {
      for (const name of GOOD) {
        const w = await pst.writeQueue(system, name, { backend: 'persisting', numBuckets: 1 })
        await w.put({ id: 'k', n: 1 })
        await w.flush()
        expect(fs.existsSync(path.join(work, 'srv', 'app', 'queue_storage', name, 'bucket_0'))).toBe(true)
      }
    } finally {
      await system.shutdown()
    }
    // Nothing escaped the working directory's storage root.
    expect(tree().filter((p) => !p.startsWith(path.join('srv', 'app', 'queue_storage')) && p !== 'srv' && p !== path.join('srv', 'app'))).toEqual([])
  })

  it('the backend option `topic` follows the same rule', async () => {
    for (const Backend of [pst.queue.getBackendClass('persisting'), pst.queue.getBackendClass('lance')]) {
      expect(
        () => new (Backend as new (o: object) => unknown)({ bucketId: 0, storagePath: path.join(work, 'b'), topic: '../x' }),
      ).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }))
    }
  })

  it('refuses a bucket directory that a symlink leads out of the storage root', async () => {
    const root = path.join(work, 'store')
    const outside = path.join(work, 'outside')
    fs.mkdirSync(root, { recursive: true })
    fs.mkdirSync(outside)
    fs.symlinkSync(outside, path.join(root, 'bucket_0'))
    const system = await pst.createSystem()
    try {
      const err = await (async () => {
        const w = await pst.writeQueue(system, 'linked', { backend: 'persisting', storagePath: root, numBuckets: 1 })
        await w.put({ id: 'k' })
      })().then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toMatchObject({ code: 'INVALID_OPTION' })
      expect((err as Error).message).toContain('outside its storage root')
    } finally {
      await system.shutdown()
    }
    expect(fs.readdirSync(outside)).toEqual([])
  })
})
