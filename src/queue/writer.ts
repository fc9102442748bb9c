/** The producer handle returned by writeQueue. */
import type { Row } from '../types.js'
import type { PutBatchResult, PutResult, Queue, QueueStats } from './queue.js'

export class QueueWriter {
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
  put(record: Row): Promise<PutResult>
  put(records: Row[]): Promise<PutResult[]>
  put(input: Row | Row[]): Promise<PutResult | PutResult[]> {
    return this.queue.put(input as Row)
  }

  /** Fast path: one backend call per bucket. */
  putBatch(records: Row[]): Promise<PutBatchResult> {
    return this.queue.putBatch(records)
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
