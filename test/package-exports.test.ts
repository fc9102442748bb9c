/**
 * The package's public surface is a contract: the names `import * as pst from 'persisting'`
 * offers (and `pst.queue`) equal the documented list below, so an accidental export or a
 * removal fails here. (In the spirit of rolldown's exports-consistency test.)
 *
 * The list follows the product contract's "Public TypeScript API" (system and queue, backends,
 * registry, errors, metrics) plus the building blocks the design documents (docs/design.md).
 * Changing it is an API change: update README/docs with it.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

/** `pst.queue.*`: the seeds' `pul.queue.*` ported one to one, and the queue's pieces. */
const QUEUE_VALUES = [
  // system and queue
  'createSystem',
  'System',
  'writeQueue',
  'readQueue',
  'QueueWriter',
  'QueueReader',
  'Queue',
  'DEFAULT_GET_LIMIT',
  'StorageManager',
  'BucketStorage',
  // routing
  'bucketFor',
  // backends and their registry
  'registerBackend',
  'getBackendClass',
  'listBackends',
  'MemoryBackend',
  'LanceBackend',
  'PersistingBackend',
]

/** The package root: everything of `pst.queue`, the namespace itself, errors, metrics, helpers. */
const ROOT_VALUES = [
  ...QUEUE_VALUES,
  'queue',
  // errors
  'StorageError',
  'WALError',
  'STORAGE_ERROR_CODES',
  'isStorageErrorCode',
  // metrics
  'metrics',
  'serveMetrics',
  // records, waiting, crash-test support
  'assertRecord',
  'encodeRecords',
  'Notifier',
  'waitForAny',
  'faultPoints',
]

/** Type-only exports of the root. */
const ROOT_TYPES = [
  'Row',
  'BackendStats',
  'BackendOptions',
  'StorageBackend',
  'BackendClass',
  'BackendCapabilities',
  'CleanupOptions',
  'CleanupResult',
  'MemoryBackendOptions',
  'LanceBackendOptions',
  'PersistingBackendOptions',
  'Compression',
  'WalRecoveryMode',
  'StorageOptions',
  'WriteQueueOptions',
  'ReadQueueOptions',
  'TopicConfig',
  'ReaderGetOptions',
  'ReaderStreamOptions',
  'PutResult',
  'PutBatchResult',
  'QueueStats',
  'SystemQueueApi',
  'StorageErrorCode',
  'WaitOptions',
  'WaitOutcome',
  'MetricsServer',
  'ServeMetricsOptions',
  'ArrowInput',
  'ArrowRecordBatch',
  'ArrowTable',
]

const sorted = (names: Iterable<string>) => [...names].sort()
const ROOT = path.resolve(__dirname, '..')

/** Every export of a module as the type checker sees it: `{ values, types }`. */
function declaredExports(file: string): { values: string[]; types: string[] } {
  const program = ts.createProgram([file], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
    noEmit: true,
    types: [],
  })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(file)
  if (!source) throw new Error(`cannot read ${file}`)
  const module = checker.getSymbolAtLocation(source)
  if (!module) throw new Error(`${file} is not a module`)
  const values: string[] = []
  const types: string[] = []
  for (const s of checker.getExportsOfModule(module)) {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s
    ;(target.flags & ts.SymbolFlags.Value ? values : types).push(s.name)
  }
  return { values: sorted(values), types: sorted(types) }
}

describe('package exports', () => {
  it('the built package root (dist/index.js) exports exactly the documented values', async () => {
    const pst = (await import(path.join(ROOT, 'dist/index.js'))) as Record<string, unknown>
    expect(sorted(Object.keys(pst))).toEqual(sorted(ROOT_VALUES))
    expect(sorted(Object.keys(pst.queue as object))).toEqual(sorted(QUEUE_VALUES))
    for (const name of QUEUE_VALUES) expect((pst.queue as Record<string, unknown>)[name], name).toBe(pst[name])
  })

  it('the sources export the same values (dist is not stale)', async () => {
    const src = (await import('../src/index.js')) as Record<string, unknown>
    expect(sorted(Object.keys(src))).toEqual(sorted(ROOT_VALUES))
  })

  it('the typings (dist/index.d.ts) declare exactly the documented values and types', () => {
    const { values, types } = declaredExports(path.join(ROOT, 'dist/index.d.ts'))
    expect(values).toEqual(sorted(ROOT_VALUES))
    expect(types).toEqual(sorted(ROOT_TYPES))
  })

  it('every pst.* / pst.queue.* name the README uses is exported', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
    const used = new Set<string>()
    for (const m of readme.matchAll(/\bpst\.(queue\.)?([A-Za-z_$][\w$]*)/g)) {
      if (m[1]) used.add(`queue.${m[2]}`)
      else if (m[2] !== 'queue') used.add(m[2])
    }
    expect(used.size).toBeGreaterThan(5)
    const missing = [...used].filter((n) =>
      n.startsWith('queue.') ? !QUEUE_VALUES.includes(n.slice(6)) : !ROOT_VALUES.includes(n) && !ROOT_TYPES.includes(n),
    )
    expect(missing).toEqual([])
  })
})
