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

export function loadArrow(): Promise<ArrowModule> {
  loaded ??= import('apache-arrow').catch((err: unknown) => {
    loaded = undefined
    throw new StorageError("the Arrow API needs the 'apache-arrow' package: npm install apache-arrow", 'INTERNAL', { cause: err })
  })
  return loaded
}

/**
 * Arrow input as NDJSON lines, converted in the core (no JavaScript object per row), for the
 * NDJSON put paths: same schema inference, WAL, routing and all-or-nothing checks. Values a
 * record cannot hold (NaN, binary, decimals, ...) reject the call naming the column.
 */
export async function arrowToNdjson(data: ArrowInput): Promise<Uint8Array> {
  let ipc: Uint8Array
  if (data instanceof Uint8Array) {
    ipc = data
  } else {
    const arrow = await loadArrow()
    if (data instanceof arrow.Table) ipc = arrow.tableToIPC(data, 'stream')
    else if (data instanceof arrow.RecordBatch) ipc = arrow.tableToIPC(new arrow.Table(data), 'stream')
    else {
      throw new StorageError(
        'putArrow takes an apache-arrow Table or RecordBatch (of the apache-arrow this package resolves) or Arrow IPC bytes (tableToIPC)',
        'INVALID_RECORD',
      )
    }
  }
  return callNative(() => native().ipcToNdjson(ipc))
}
