/**
 * Loads the platform addon through the napi-rs loader (`binding.cjs` at the package root), which
 * picks `persisting.<platform>.node` next to it (a source build) or the prebuilt
 * `@persisting/binding-<platform>` package installed as an optional dependency.
 * Native classes are prefixed `Native*`; the clean names belong to the public TS API.
 */
import { createRequire } from 'node:module'
import type * as Binding from '../binding.cjs'
import { fromNative, StorageError } from './errors.js'

const require = createRequire(import.meta.url)

let binding: typeof Binding | undefined
let loadError: unknown

export function native(): typeof Binding {
  if (binding) return binding
  if (loadError === undefined) {
    try {
      // A given addon file (the benchmarks point this at the release build in npm/<platform>/).
      // napi-rs's NAPI_RS_NATIVE_LIBRARY_PATH would also redirect every other napi-rs package
      // in the process, @lancedb/lancedb included.
      const file = process.env.PERSISTING_NATIVE_LIBRARY_PATH
      binding = require(file ? file : '../binding.cjs') as typeof Binding
      return binding
    } catch (err) {
      loadError = err
    }
  }
  throw new StorageError(missingBinaryMessage(loadError), 'INTERNAL', { cause: loadError })
}

/** The napi-rs platform suffix of this process, e.g. `linux-x64-gnu`, `darwin-arm64`. */
export function platformSuffix(): string {
  const base = `${process.platform}-${process.arch}`
  if (process.platform === 'win32') return `${base}-msvc`
  if (process.platform !== 'linux') return base
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header
  return `${base}-${header?.glibcVersionRuntime ? 'gnu' : 'musl'}`
}

function missingBinaryMessage(err: unknown): string {
  const pkg = `@persisting/binding-${platformSuffix()}`
  const cause = (err as Error)?.message ?? String(err)
  return (
    `the native addon could not be loaded: no prebuilt binary for ${platformSuffix()} ` +
    `(looked for persisting.${platformSuffix()}.node next to binding.cjs and the package ${pkg}). ` +
    `If ${pkg} exists for your platform, reinstall without --omit=optional / --no-optional; ` +
    `otherwise build from source: clone the repository, install Rust (rustup.rs), run \`npm run setup\`, ` +
    `and set PERSISTING_NATIVE_LIBRARY_PATH to the built .node file. Loader error: ${cause}`
  )
}

export type NativeBucketStore = Binding.NativeBucketStore
export type NativeStoreOptions = Binding.NativeStoreOptions
export type NativeStats = Binding.NativeStats

/**
 * The one way to call into the binding: a native failure (thrown, or a rejected promise)
 * becomes the typed StorageError / WALError of `fromNative`.
 */
export function callNative<T>(fn: () => T): T {
  let out: T
  try {
    out = fn()
  } catch (err) {
    throw fromNative(err)
  }
  if (out instanceof Promise) {
    return out.catch((err: unknown) => {
      throw fromNative(err)
    }) as T
  }
  return out
}
