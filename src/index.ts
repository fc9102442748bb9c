/** Package root: `import * as pst from 'persisting'`. The queue pieces are also under `pst.queue`. */
export * from './queue/index.js'
export * as queue from './queue/index.js'
export { StorageError, WALError, STORAGE_ERROR_CODES, isStorageErrorCode, type StorageErrorCode } from './errors.js'
export { assertRecord, encodeRecords } from './records.js'
export { Notifier, waitForAny, type WaitOptions, type WaitOutcome } from './notifier.js'
export { metrics, serveMetrics, type MetricsServer, type ServeMetricsOptions } from './metrics.js'
export { faultPoints } from './faults.js'
export type { ArrowInput, ArrowRecordBatch, ArrowTable } from './arrow.js'
