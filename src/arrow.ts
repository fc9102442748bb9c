/**
 * The `apache-arrow` package (the one `@lancedb/lancedb` uses), loaded only when an Arrow API is
 * called: it is an optional peer dependency, so users of the record API never need it.
 */
import { StorageError } from './errors.js'
import { callNative, native } from './native.js'

export type ArrowTable = import('apache-arrow').Table
export type ArrowRecordBatch = import('apache-arrow').RecordBatch
/** What `putArrow` takes: a Table or RecordBatch of this `apache-arrow`, or Arrow IPC bytes (stream or file). */
export type ArrowInput = ArrowTable | ArrowRecordBatch | Uint8Array
type ArrowModule = typeof import('apache-arrow')

let loaded: Promise<ArrowModule> | undefined
/** The module once loaded, so Arrow input can be converted without yielding (keeps call order). */
let loadedModule: ArrowModule | undefined

export function loadArrow(): Promise<ArrowModule> {
  loaded ??= import('apache-arrow').then(
    (m) => (loadedModule = m),
    (err: unknown) => {
      loaded = undefined
      throw new StorageError("the Arrow API needs the 'apache-arrow' package: npm install apache-arrow", 'INTERNAL', { cause: err })
    },
  )
  return loaded
}

/**
 * Runs `put` now, or, while apache-arrow is being loaded, once it has: a first `putArrow` of a
 * Table must wait for the module, and puts made after it must not overtake it (every put
 * reaches the core in call order).
 */
export function afterArrowLoad<T>(put: () => Promise<T>): Promise<T> {
  return loaded !== undefined && loadedModule === undefined ? loaded.then(put, put) : put()
}

/**
 * Hands Arrow input to `put` as IPC bytes (`toIpc`), or, with `asNdjson`, as NDJSON lines made
 * in the core (for backends that take NDJSON but not Arrow). Values a record cannot hold (NaN,
 * binary, decimals, ...) reject the call naming the column.
 *
 * `put` runs synchronously whenever it can (IPC bytes, or apache-arrow already loaded), so puts
 * reach the core in call order, as `putBatch` does. Only a Table before apache-arrow is loaded
 * waits; it then runs first among the puts made meanwhile (they wait in `afterArrowLoad`).
 */
export function withArrowInput<T>(data: ArrowInput, put: (bytes: Uint8Array) => Promise<T>, asNdjson = false): Promise<T> {
  const convert = () => (asNdjson ? toNdjson(toIpc(data)) : toIpc(data))
  if (loadedModule === undefined && (loaded !== undefined || !(data instanceof Uint8Array))) {
    // Registered on the load promise itself, ahead of the puts that wait behind it.
    return loadArrow().then(() => put(convert()))
  }
  try {
    return put(convert())
  } catch (err) {
    return Promise.reject(err)
  }
}

function toIpc(data: ArrowInput): Uint8Array {
  if (data instanceof Uint8Array) return data
  const arrow = loadedModule!
  if (data instanceof arrow.Table) return arrow.tableToIPC(data, 'stream')
  if (data instanceof arrow.RecordBatch) return arrow.tableToIPC(new arrow.Table(data), 'stream')
  throw new StorageError(
    'putArrow takes an apache-arrow Table or RecordBatch (of the apache-arrow this package resolves) or Arrow IPC bytes (tableToIPC)',
    'INVALID_RECORD',
  )
}

function toNdjson(ipc: Uint8Array): Uint8Array {
  return callNative(() => native().ipcToNdjson(ipc))
}
