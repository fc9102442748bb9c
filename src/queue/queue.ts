/**
 * A topic as seen by one writer or reader: routing by bucket column plus access to the
 * shared BucketStorage objects of the system's StorageManager.
 */
import { withArrowInput, type ArrowInput } from '../arrow.js'
import { DEFAULT_MAX_BATCH_BYTES, DEFAULT_MAX_RECORD_BYTES } from '../defaults.js'
import { StorageError } from '../errors.js'
import { callNative, native } from '../native.js'
import { assertRecord, label } from '../records.js'
import { checkArrow, checkNdjson } from '../size-limits.js'
import { bucketFor } from '../routing.js'
import type { BackendStats } from '../backends/types.js'
import type { Row } from '../types.js'
import type { BucketStorage } from './bucket-storage.js'
import type { TopicConfig } from './options.js'
import { settleAll, type StorageManager } from './storage-manager.js'

export interface PutResult {
  bucketId: number
  status: 'ok'
}

export interface PutBatchResult {
  status: 'ok'
  count: number
  /** Records written per bucket id. */
  buckets: Record<number, number>
}

export interface QueueStats {
  topic: string
  bucketColumn: string
  numBuckets: number
  totalCount: number
  bufferCount: number
  persistedCount: number
  buckets: Record<number, BackendStats>
}

export class Queue {
  constructor(
    readonly storage: StorageManager,
    readonly config: TopicConfig,
    readonly bucketColumn: string,
    /** The buckets a writer with rank/worldSize owns; undefined: every bucket. */
    readonly owned?: ReadonlySet<number>,
  ) {}

  get topic(): string {
    return this.config.topic
  }

  get numBuckets(): number {
    return this.config.numBuckets
  }

  getBucketId(value: unknown): number {
    return bucketFor(value, this.config.numBuckets)
  }

  /** The bucket for writing (this process becomes its writer). */
  bucket(bucketId: number): BucketStorage {
    this.assertOwned([bucketId])
    return this.storage.bucket(this.config.topic, bucketId, 'write')
  }

  /** Before anything of a call is written: every bucket it routes to must be this writer's. */
  assertOwned(bucketIds: Iterable<number>): void {
    if (this.owned === undefined) return
    for (const id of bucketIds) {
      if (!this.owned.has(id)) {
        throw new StorageError(
          `a record routes to bucket ${id} of topic '${this.topic}', which this writer does not own (it owns ` +
            `${[...this.owned].join(', ') || 'none'} of ${this.numBuckets}: rank/worldSize); send it to the writer ` +
            `whose rank is ${id} % worldSize, or nothing was written`,
          'NOT_OWNER',
        )
      }
    }
  }

  /** The bucket for reading: a writer's bucket in this system, else a lock-free reader of what writers flushed. */
  readBucket(bucketId: number): BucketStorage {
    return this.storage.bucket(this.config.topic, bucketId, 'read')
  }

  /** Validates a record for this topic and returns its bucket. */
  route(record: unknown, at: string | number = 'record'): number {
    assertRecord(record, at, true)
    const value = record[this.bucketColumn]
    if (value === undefined) {
      throw new StorageError(
        `${label(at)} is missing the bucket column '${this.bucketColumn}' (topic '${this.topic}')`,
        'MISSING_BUCKET_COLUMN',
      )
    }
    if (typeof value === 'object' && value !== null) {
      // String() of any object is '[object Object]' (or a join), which would pile them in one bucket.
      throw new StorageError(
        `${label(at)} has a non-scalar value in bucket column '${this.bucketColumn}'; use a string or number`,
        'INVALID_RECORD',
      )
    }
    return bucketFor(value, this.config.numBuckets)
  }

  async put(record: Row): Promise<PutResult>
  async put(records: Row[]): Promise<PutResult[]>
  async put(input: Row | Row[]): Promise<PutResult | PutResult[]> {
    if (Array.isArray(input)) {
      const ids = await this.writeGrouped(input)
      return ids.map((bucketId) => ({ bucketId, status: 'ok' as const }))
    }
    const bucketId = this.route(input)
    await this.bucket(bucketId).put(input)
    return { bucketId, status: 'ok' }
  }

  async putBatch(records: Row[]): Promise<PutBatchResult> {
    const ids = await this.writeGrouped(records)
    const buckets: Record<number, number> = {}
    for (const id of ids) buckets[id] = (buckets[id] ?? 0) + 1
    return { status: 'ok', count: ids.length, buckets }
  }

  /**
   * NDJSON (one JSON object per line), routed by the bucket column in the core with the same
   * md5 routing as `put`: no JavaScript object is built for a native backend. All or nothing
   * like `putBatch`: a bad line (not an object, no bucket column, over `maxRecordBytes`)
   * rejects the call, naming its line, before any bucket stores anything.
   */
  async putNdjson(data: Uint8Array | string): Promise<PutBatchResult> {
    const bo = this.config.backendOptions
    const maxRecordBytes = (bo.maxRecordBytes as number | undefined) ?? DEFAULT_MAX_RECORD_BYTES
    checkNdjson(data, { maxRecordBytes, maxBatchBytes: (bo.maxBatchBytes as number | undefined) ?? DEFAULT_MAX_BATCH_BYTES })
    const parts = callNative(() => native().routeNdjson(data, this.bucketColumn, this.config.numBuckets, maxRecordBytes))
    return this.putParts(parts, (bucket, part) => bucket.putNdjson(part.ndjson))
  }

  /** Stores each bucket's part of a routed call (in parallel) and sums what went where. */
  private async putParts<P extends { bucket: number; rows: number }>(parts: P[], put: (bucket: BucketStorage, part: P) => Promise<void>): Promise<PutBatchResult> {
    this.assertOwned(parts.map((p) => p.bucket))
    const buckets: Record<number, number> = {}
    let count = 0
    const writes: Promise<void>[] = []
    for (const part of parts) {
      buckets[part.bucket] = part.rows
      count += part.rows
      writes.push(put(this.bucket(part.bucket), part))
    }
    await settleAll(writes)
    return { status: 'ok', count, buckets }
  }

  /**
   * An apache-arrow Table or RecordBatch, or Arrow IPC bytes: rows routed by the bucket column
   * in the core (the same md5 routing as `put`), each bucket's share stored as Arrow where the
   * backend takes Arrow, else as NDJSON. All or nothing for routing errors, like `putNdjson`.
   */
  putArrow(data: ArrowInput): Promise<PutBatchResult> {
    return withArrowInput(data, async (ipc) => {
      const bo = this.config.backendOptions
      checkArrow(ipc, { maxRecordBytes: Infinity, maxBatchBytes: (bo.maxBatchBytes as number | undefined) ?? DEFAULT_MAX_BATCH_BYTES })
      const parts = callNative(() => native().routeIpc(ipc, this.bucketColumn, this.config.numBuckets))
      return this.putParts(parts, (bucket, part) => bucket.putArrow(part.ipc))
    })
  }

  /**
   * Validates and routes the whole batch first (a bad record rejects the batch before anything
   * is written), then issues one backend putBatch per bucket, all buckets concurrently.
   * Returns each record's bucket in input order.
   */
  private async writeGrouped(records: Row[]): Promise<number[]> {
    if (!Array.isArray(records)) throw new StorageError('expected an array of records', 'INVALID_RECORD')
    const ids = new Array<number>(records.length)
    const groups = new Map<number, Row[]>()
    for (let i = 0; i < records.length; i++) {
      const id = this.route(records[i], i)
      ids[i] = id
      const group = groups.get(id)
      if (group === undefined) groups.set(id, [records[i]])
      else group.push(records[i])
    }
    // Every bucket's part is encoded and size-checked before any is written: all or nothing.
    this.assertOwned(groups.keys())
    const parts = [...groups].map(([id, group]) => [this.bucket(id), group] as const)
    for (const [bucket, group] of parts) bucket.prepareBatch(group)
    const writes: Promise<void>[] = []
    for (const [bucket, group] of parts) writes.push(bucket.putBatch(group))
    await settleAll(writes)
    return ids
  }

  async flush(): Promise<void> {
    await settleAll(this.storage.openBuckets(this.topic).map((b) => b.flush()))
  }

  /**
   * Covers every bucket, opening untouched ones, so a persistent topic reports what is on disk;
   * a writer with rank/worldSize covers the buckets it owns.
   */
  async stats(): Promise<QueueStats> {
    const ids = this.owned ? [...this.owned] : Array.from({ length: this.numBuckets }, (_, id) => id)
    const all = await Promise.all(ids.map((id) => this.bucket(id).stats()))
    const result: QueueStats = {
      topic: this.topic,
      bucketColumn: this.bucketColumn,
      numBuckets: this.numBuckets,
      totalCount: 0,
      bufferCount: 0,
      persistedCount: 0,
      buckets: {},
    }
    all.forEach((s, i) => {
      const id = ids[i]
      result.totalCount += s.totalCount
      result.bufferCount += s.bufferCount
      result.persistedCount += s.persistedCount
      result.buckets[id] = s
    })
    return result
  }
}
