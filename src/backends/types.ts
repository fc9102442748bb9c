/** The backend contract: what the queue constructs per bucket and calls. */
import type { Row } from '../types.js'

export type { Row } from '../types.js'

export interface BackendStats {
  bucketId: number
  totalCount: number
  bufferCount: number
  persistedCount: number
  storagePath?: string
  backend: string
  [key: string]: unknown
}

/** What every backend constructor receives: `{ bucketId, storagePath, batchSize, ...backendOptions }`. */
export interface BackendOptions {
  bucketId: number
  storagePath: string
  batchSize?: number
  [key: string]: unknown
}

export interface StorageBackend {
  put(record: Row): Promise<void>
  putBatch(records: Row[]): Promise<void>
  get(offset?: number, limit?: number | null): Promise<Row[]>
  getStream(offset?: number, limit?: number | null, block?: boolean): AsyncIterable<Row>
  flush(): Promise<void>
  stats(): Promise<BackendStats>
  totalCount(): number
  close(): Promise<void>
  /**
   * Optional: validate, encode and size-check a batch without writing it, so the queue can refuse
   * a whole call before any bucket stores its part (native backends implement it).
   */
  prepareBatch?(records: Row[]): unknown
  /**
   * Optional: NDJSON (one JSON object per line) stored as one call, all or nothing; a bad line
   * rejects with `INVALID_RECORD` naming it. The native backends take it without building JS
   * objects; the queue parses lines for a backend without it.
   */
  putNdjson?(data: Uint8Array | string): Promise<void>
}

/**
 * Optional extras a backend class declares as `static capabilities`, so the queue knows what it
 * may pass without knowing the class. User classes get exactly the documented options by default.
 */
export interface BackendCapabilities {
  /** The constructor accepts `topic` (the topic's name, e.g. for metrics labels). */
  readonly topic?: boolean
  /** The constructor accepts `readOnly: true`: a lock-free reader of what writers flushed. */
  readonly readOnly?: boolean
}

export type BackendClass = (new (options: BackendOptions) => StorageBackend) & {
  readonly capabilities?: BackendCapabilities
}
