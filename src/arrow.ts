/**
 * The `apache-arrow` package (the one `@lancedb/lancedb` uses), loaded only when an Arrow API is
 * called: it is an optional peer dependency, so users of the record API never need it.
 */
import { StorageError } from './errors.js'

export type ArrowTable = import('apache-arrow').Table
type ArrowModule = typeof import('apache-arrow')

let loaded: Promise<ArrowModule> | undefined

export function loadArrow(): Promise<ArrowModule> {
  loaded ??= import('apache-arrow').catch((err: unknown) => {
    loaded = undefined
    throw new StorageError("the Arrow API needs the 'apache-arrow' package: npm install apache-arrow", 'INTERNAL', { cause: err })
  })
  return loaded
}
