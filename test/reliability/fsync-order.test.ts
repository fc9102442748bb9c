/**
 * fsync ordering (loss path: a manifest that names a data file the disk never got). The writer
 * runs the fixed workload (several flushes, a compaction, a schema widening) under
 * `strace -f -y`, and the trace is replayed in order:
 *  - every new data file (data.lance/data/*.lance) is fsynced after its last write and before
 *    the manifest that references it (data.lance/_versions/*.manifest) is created or renamed
 *    into place;
 *  - the data file's directory entry is made durable (data/ fsynced) before that manifest;
 *  - a WAL segment is deleted only once the newest manifest and its directory entry are durable;
 *  - and only once everything in the dataset is durable: every file's contents and every file's
 *    and directory's entry (the writer fsyncs only what each commit names, not a walk of the
 *    tree, so a file Lance writes that the commit does not name would show here).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { distBuilt, lastWords, runChild } from './driver.mjs'
import { checkOrder, ORDER_CALLS } from './fsync-order.js'
import { parseTrace, straceAvailable, straceWrap } from './strace.js'
import { WORKLOAD_OPTIONS } from './workload.js'
import { tmpDir } from '../helpers/tmp.js'

describe.skipIf(!straceAvailable() || !distBuilt())('fsync ordering of data files, manifests and the WAL', () => {
  let order: ReturnType<typeof checkOrder>

  beforeAll(async () => {
    const dir = tmpDir('persisting-order-')
    const traceFile = path.join(tmpDir(), 'order.trace')
    const run = await runChild({
      dir,
      mode: 'workload',
      options: WORKLOAD_OPTIONS,
      wrap: straceWrap({ calls: ORDER_CALLS, out: traceFile, decodeFds: true }),
    })
    expect(run.done, lastWords(run)).toBe(true)
    expect(run.ops.filter((o) => !o.ok)).toEqual([])
    order = checkOrder(parseTrace(fs.readFileSync(traceFile, 'utf8')), fs.realpathSync(dir))
  }, 60_000)

  it('the trace covers the workload (data files, manifests, WAL deletions)', () => {
    // 5 flushes and a compaction: at least that many manifests and new data files.
    expect(order.manifests).toBeGreaterThanOrEqual(6)
    expect(order.dataFiles).toBeGreaterThanOrEqual(6)
    expect(order.walCuts).toBeGreaterThanOrEqual(1)
  })

  it('every data file is fsynced before the manifest that references it appears', () => {
    expect(order.dataBeforeManifest).toEqual([])
  })

  it("every data file's directory entry is fsynced before that manifest appears", () => {
    expect(order.dirBeforeManifest).toEqual([])
  })

  it('a WAL segment is deleted only after the manifest covering it is durable', () => {
    expect(order.manifestBeforeWalCut).toEqual([])
  })

  it('a WAL segment is deleted only when no file or directory of the dataset is volatile', () => {
    expect(order.volatileAtWalCut).toEqual([])
  })
})
