/**
 * In-process backend without persistence: the reference implementation of StorageBackend
 * and the queue's default.
 */
import { afterArrowLoad, withArrowInput, type ArrowInput } from '../arrow.js'
import { notifierFeed, streamRows } from '../blocking-read.js'
import { DEFAULT_BATCH_SIZE } from '../defaults.js'
import { StorageError } from '../errors.js'
import { parseNdjson } from '../ndjson.js'
import { Notifier } from '../notifier.js'
import { MEMORY_SCHEMA, type MemoryBackendOptions } from '../options/backend-options.js'
import { checkOffsetLimit, checkOptions } from '../options/validate.js'
import { checkBatch, omit } from '../vectors.js'
import type { Row } from '../types.js'
import type { BackendStats, StorageBackend } from './types.js'

export type { MemoryBackendOptions } from '../options/backend-options.js'

export class MemoryBackend implements StorageBackend {
  readonly bucketId: number
  readonly storagePath: string
  readonly batchSize: number
  // Records are kept as JSON text: the copy on put isolates us from later caller mutation,
  // and parsing on read hands every reader its own objects, like a real store would. Typed-array
  // vectors are kept beside the text as copies and read back as fresh copies of the same kind.
  private readonly rows: Stored[] = []
  private readonly appended = new Notifier()
  private isClosed = false

  constructor(options: MemoryBackendOptions) {
    checkOptions(options, MEMORY_SCHEMA, 'MemoryBackend', ['bucketId'])
    this.bucketId = options.bucketId
    this.storagePath = options.storagePath ?? ''
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  }

  put(record: Row): Promise<void> {
    return afterArrowLoad(async () => {
      this.putBatchNow([record], 'record')
    })
  }

  putBatch(records: Row[]): Promise<void> {
    return afterArrowLoad(async () => this.putBatchNow(records))
  }

  private putBatchNow(records: Row[], what?: string): void {
    this.assertOpen()
    if (!Array.isArray(records)) throw new StorageError('putBatch expects an array of records', 'INVALID_RECORD')
    // Validate everything before storing anything, so a rejected batch leaves no trace.
    const vectors = [...(checkBatch(records, what)?.keys() ?? [])]
    if (records.length === 0) return
    for (const r of records) this.rows.push(stored(r, vectors))
    this.appended.notify()
  }

  /** NDJSON, one object per line, stored all or nothing (a bad line is named). */
  async putNdjson(data: Uint8Array | string): Promise<void> {
    this.assertOpen()
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new StorageError('putNdjson expects a string, a Uint8Array or a Buffer of NDJSON', 'INVALID_RECORD')
    }
    await this.putBatch(parseNdjson(data))
  }

  /** An apache-arrow Table or RecordBatch, or Arrow IPC bytes, stored like `putNdjson`. */
  async putArrow(data: ArrowInput): Promise<void> {
    this.assertOpen()
    await withArrowInput(data, (nd) => this.putNdjson(nd), true)
  }

  async get(offset = 0, limit: number | null = null): Promise<Row[]> {
    checkOffsetLimit(offset, limit)
    return this.slice(offset, limit ?? undefined)
  }

  async *getStream(offset = 0, limit: number | null = null, block = false): AsyncGenerator<Row> {
    checkOffsetLimit(offset, limit)
    yield* streamRows<Row>(
      { read: async (pos, n) => this.slice(pos, n), feed: notifierFeed([this.appended]), chunk: this.batchSize },
      offset,
      limit,
      block,
    )
  }

  private slice(offset: number, limit: number | undefined): Row[] {
    const end = limit === undefined ? this.rows.length : offset + limit
    return this.rows.slice(offset, end).map(readStored)
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

type TypedVector = Float32Array | Float64Array
type Stored = string | { json: string; vectors: [string, TypedVector][] }

function stored(r: Row, vectorNames: string[]): Stored {
  const vectors: [string, TypedVector][] = []
  for (const name of vectorNames) {
    const v = r[name]
    if (v instanceof Float32Array || v instanceof Float64Array) vectors.push([name, v.slice()])
  }
  if (vectors.length === 0) return JSON.stringify(r)
  return { json: JSON.stringify(omit(r, new Set(vectors.map(([name]) => name)))), vectors }
}

function readStored(s: Stored): Row {
  if (typeof s === 'string') return JSON.parse(s) as Row
  const row = JSON.parse(s.json) as Row
  for (const [name, v] of s.vectors) row[name] = v.slice()
  return row
}
