/** The producer handle returned by writeQueue. */
import type { ArrowInput } from '../arrow.js'
import type { Row } from '../types.js'
import type { PutBatchResult, PutResult, Queue, QueueStats } from './queue.js'

/**
 * `T` is the record type (default `Row`): `writeQueue<MyEvent>(...)` makes put/putBatch accept only
 * MyEvent records. It is a compile-time aid; records are still validated at run time.
 */
export class QueueWriter<T extends object = Row> {
  constructor(readonly queue: Queue) {}

  get topic(): string {
    return this.queue.topic
  }

  get bucketColumn(): string {
    return this.queue.bucketColumn
  }

  get numBuckets(): number {
    return this.queue.numBuckets
  }

  /** One record -> `{ bucketId, status }`; an array -> one result per record, in order. */
  put(record: T): Promise<PutResult>
  put(records: T[]): Promise<PutResult[]>
  put(input: T | T[]): Promise<PutResult | PutResult[]> {
    return this.queue.put(input as Row)
  }

  /** Fast path: one backend call per bucket. */
  putBatch(records: T[]): Promise<PutBatchResult> {
    return this.queue.putBatch(records as unknown as Row[])
  }

  /**
   * Raw NDJSON (an HTTP body, a Kafka message, a file): one JSON object per line, routed by the
   * bucket column without building JavaScript objects. All or nothing; a bad line is named.
   */
  putNdjson(data: Uint8Array | string): Promise<PutBatchResult> {
    return this.queue.putNdjson(data)
  }

  /**
   * An apache-arrow Table or RecordBatch, or Arrow IPC bytes (stream or file): rows become
   * NDJSON lines in the core and are routed like `putNdjson`; same Lance schema as `putBatch`.
   */
  putArrow(data: ArrowInput): Promise<PutBatchResult> {
    return this.queue.putArrow(data)
  }

  flush(): Promise<void> {
    return this.queue.flush()
  }

  stats(): Promise<QueueStats> {
    return this.queue.stats()
  }

  getBucketId(value: unknown): number {
    return this.queue.getBucketId(value)
  }
}
