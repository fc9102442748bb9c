/**
 * The example backend of docs/custom-backends.md, extracted from the page, passes the
 * StorageBackend contract suite and works under the queue. Its `from 'persisting'` import is
 * pointed at src/ so its errors are the very classes the suite checks with instanceof.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as pst from '../src/index.js'
import { backendContract } from './backend-contract.js'
import { blocks, ROOT } from './docs-samples.js'
import { tmpDir } from './helpers/tmp.js'

const block = blocks('docs/custom-backends.md').find((b) => b.file === 'jsonl-backend.ts')
if (!block) throw new Error('docs/custom-backends.md has no ```ts file=jsonl-backend.ts block')
const generated = join(ROOT, 'test', '.generated')
mkdirSync(generated, { recursive: true })
const file = join(generated, 'jsonl-backend.ts')
writeFileSync(file, block.code.replace(/from 'persisting'/g, `from ${JSON.stringify(join(ROOT, 'src', 'index.js'))}`))
const { JsonlBackend } = (await import(file)) as { JsonlBackend: pst.BackendClass }

backendContract('jsonl-docs-example', (dir) => new JsonlBackend({ bucketId: 0, storagePath: dir }), {
  backendName: 'jsonl',
  persistent: true,
})

describe('the documented custom backend under the queue', () => {
  it('registers, routes, flushes to files and reads back in a new system', async () => {
    const dir = tmpDir('custom-backend-')
    pst.queue.registerBackend('jsonl-doc', JsonlBackend)
    const system = await pst.createSystem()
    const w = await pst.queue.writeQueue(system, 't', { backend: 'jsonl-doc', numBuckets: 3, storagePath: dir })
    await w.putBatch(Array.from({ length: 30 }, (_, i) => ({ id: i, v: i / 2 })))
    await system.shutdown()
    const again = await pst.createSystem()
    const r = await pst.queue.readQueue(again, 't', { backend: 'jsonl-doc', numBuckets: 3, storagePath: dir })
    const rows = await r.get({ limit: 100 })
    expect(rows.map((x) => x.id).sort((a, b) => (a as number) - (b as number))).toEqual(Array.from({ length: 30 }, (_, i) => i))
    await again.shutdown()
  })
})
