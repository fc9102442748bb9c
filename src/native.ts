/**
 * Loads the platform addon built by napi-rs (`index.cjs` at the package root, which picks
 * `persisting.<platform>.node` or the `@persisting/binding-<platform>` package).
 * Native classes are prefixed `Native*`; the clean names belong to the public TS API.
 */
import { createRequire } from 'node:module'
import type * as Binding from '../index.js'
import { fromNative, StorageError } from './errors.js'

const require = createRequire(import.meta.url)

let binding: typeof Binding | undefined
let loadError: unknown

export function native(): typeof Binding {
  if (binding) return binding
  if (loadError === undefined) {
    try {
      binding = require('../index.cjs') as typeof Binding
      return binding
    } catch (err) {
      loadError = err
    }
  }
  throw new StorageError(
    `the native addon could not be loaded (run \`npm run build:native\`): ${(loadError as Error)?.message ?? loadError}`,
    'INTERNAL',
    { cause: loadError },
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
