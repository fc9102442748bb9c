/**
 * Process-wide backend registry (as in Pulsing): queues name their backend with a string,
 * and users plug in their own classes with registerBackend.
 */
import { StorageError } from '../errors.js'
import { LanceBackend } from './lance.js'
import { MemoryBackend } from './memory.js'
import { PersistingBackend } from './persisting.js'
import type { BackendClass } from './types.js'

const backends = new Map<string, BackendClass>()

/** True for classes and constructible functions; arrows, methods and non-functions fail. */
export function isBackendClass(value: unknown): value is BackendClass {
  return typeof value === 'function' && typeof (value as { prototype?: unknown }).prototype === 'object'
}

export function registerBackend(name: string, cls: BackendClass): void {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`backend name must be a non-empty string, got ${typeof name === 'string' ? "''" : typeof name}`)
  }
  if (!isBackendClass(cls)) {
    throw new TypeError(`backend '${name}' must be a class (constructor) implementing StorageBackend, got ${typeof cls}`)
  }
  backends.set(name, cls)
}

/** The class registered under `name`; a class is returned as is (like Pulsing's `get_backend_class(name | cls)`). */
export function getBackendClass(nameOrClass: string | BackendClass): BackendClass {
  if (isBackendClass(nameOrClass)) return nameOrClass
  const cls = typeof nameOrClass === 'string' ? backends.get(nameOrClass) : undefined
  if (cls === undefined) {
    throw new StorageError(
      `unknown backend '${String(nameOrClass)}'; available: ${listBackends().join(', ')}`,
      'UNKNOWN_BACKEND',
    )
  }
  return cls
}

export function listBackends(): string[] {
  return [...backends.keys()]
}

registerBackend('memory', MemoryBackend)
registerBackend('lance', LanceBackend)
registerBackend('persisting', PersistingBackend)
