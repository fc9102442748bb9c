/** A record: a plain JSON object. */
export type Row = Record<string, unknown>

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
}

export type BackendClass = new (options: BackendOptions) => StorageBackend
