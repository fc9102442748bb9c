/**
 * In-process backend without persistence: the reference implementation of StorageBackend
 * and the queue's default.
 */
import { StorageError } from '../errors.js'
import { Notifier, waitForAny } from '../notifier.js'
import { assertRecord } from '../records.js'
import type { BackendOptions, BackendStats, Row, StorageBackend } from './types.js'
import { checkOffsetLimit } from './args.js'

/** A typo in an option name must not silently fall back to a default. */
const MEMORY_OPTIONS = new Set(['bucketId', 'storagePath', 'batchSize', 'topic'])

export class MemoryBackend implements StorageBackend {
  readonly bucketId: number
  readonly storagePath: string
  readonly batchSize: number
  // Records are kept as JSON text: the copy on put isolates us from later caller mutation,
  // and parsing on read hands every reader its own objects, like a real store would.
  private readonly rows: string[] = []
  private readonly appended = new Notifier()
  private isClosed = false

  constructor(options: BackendOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new StorageError('MemoryBackend needs an options object { bucketId, storagePath, ... }', 'INVALID_OPTION')
    }
    for (const name of Object.keys(options)) {
      if (!MEMORY_OPTIONS.has(name)) {
        throw new StorageError(
          `unknown option '${name}' for MemoryBackend; known options: ${[...MEMORY_OPTIONS].join(', ')}`,
          'INVALID_OPTION',
        )
      }
    }
    const { bucketId, storagePath = '', batchSize = 100 } = options
    if (!Number.isSafeInteger(bucketId) || bucketId < 0) {
      throw new StorageError(`bucketId must be a non-negative integer, got ${String(bucketId)}`, 'INVALID_OPTION')
    }
    if (typeof storagePath !== 'string') throw new StorageError('storagePath must be a string', 'INVALID_OPTION')
    if (!Number.isSafeInteger(batchSize) || batchSize <= 0) {
      throw new StorageError(`batchSize must be a positive integer, got ${String(batchSize)}`, 'INVALID_OPTION')
    }
    this.bucketId = bucketId
    this.storagePath = storagePath
    this.batchSize = batchSize
  }

  async put(record: Row): Promise<void> {
    this.assertOpen()
    assertRecord(record)
    this.rows.push(JSON.stringify(record))
    this.appended.notify()
  }

  async putBatch(records: Row[]): Promise<void> {
    this.assertOpen()
    if (!Array.isArray(records)) throw new StorageError('putBatch expects an array of records', 'INVALID_RECORD')
    // Validate everything before storing anything, so a rejected batch leaves no trace.
    for (let i = 0; i < records.length; i++) assertRecord(records[i], i)
    if (records.length === 0) return
    for (const r of records) this.rows.push(JSON.stringify(r))
    this.appended.notify()
  }

  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    checkOffsetLimit(offset, limit)
    const end = limit === null || limit === undefined ? this.rows.length : offset + limit
    return this.rows.slice(offset, end).map((text) => JSON.parse(text) as Row)
  }

  async *getStream(offset = 0, limit: number | null = null, block = false): AsyncGenerator<Row> {
    checkOffsetLimit(offset, limit)
    let pos = offset
    let remaining = limit ?? Infinity
    while (remaining > 0) {
      if (pos < this.rows.length) {
        remaining--
        yield JSON.parse(this.rows[pos++]) as Row
        continue
      }
      if (!block || this.isClosed) return
      // Checked and subscribed in the same tick: a put cannot slip in between.
      await waitForAny([this.appended])
    }
  }

  async flush(): Promise<void> {
    // Nothing to persist.
  }

  async stats(): Promise<BackendStats> {
    return {
      bucketId: this.bucketId,
      totalCount: this.rows.length,
      bufferCount: this.rows.length,
      persistedCount: 0,
      storagePath: this.storagePath,
      backend: 'memory',
    }
  }

  totalCount(): number {
    return this.rows.length
  }

  async close(): Promise<void> {
    this.isClosed = true
    this.appended.close()
  }

  private assertOpen(): void {
    if (this.isClosed) throw new StorageError(`memory bucket ${this.bucketId} is closed`, 'CLOSED')
  }
}
