/**
 * Option types, defaults and validation for writeQueue / readQueue. Validation is strict
 * (unknown names rejected) because a misspelt option such as `numBucket` would otherwise
 * silently route records with the default and scatter a topic.
 */
import * as path from 'node:path'
import { StorageError } from '../errors.js'
import { checkTopicName } from '../topic-name.js'
import { getBackendClass, isBackendClass } from '../backends/registry.js'
import type { BackendClass } from '../backends/types.js'

/** Options that decide where and how a topic's buckets are stored; fixed per topic per system. */
export interface StorageOptions {
  /** Number of buckets; default 4. */
  numBuckets?: number
  /** Passed to the backend; default 100. */
  batchSize?: number
  /** Default `./queue_storage/${topic}`; bucket i lives in `${storagePath}/bucket_${i}`. */
  storagePath?: string
  /** Registered name or class; default 'memory'. */
  backend?: string | BackendClass
  /** Spread into the backend constructor options. */
  backendOptions?: Record<string, unknown>
}

export interface WriteQueueOptions extends StorageOptions {
  /** Field whose value picks the bucket; default 'id'. */
  bucketColumn?: string
}

export interface ReadQueueOptions extends StorageOptions {
  /** Accepted so one options object can open both ends; readers do not route. */
  bucketColumn?: string
  /** With worldSize: this reader gets every bucket i with i % worldSize === rank. */
  rank?: number
  worldSize?: number
  /** Read only this bucket. */
  bucketId?: number
  /** Read only these buckets. */
  bucketIds?: readonly number[]
}

/** A topic's storage configuration after defaults, as fixed by the first writer or reader. */
export interface TopicConfig {
  topic: string
  numBuckets: number
  batchSize: number
  storagePath: string
  backend: BackendClass
  /** The registered name, or the class name when a class was given. */
  backendName: string
  backendOptions: Record<string, unknown>
}

export const DEFAULT_BUCKET_COLUMN = 'id'
export const DEFAULT_NUM_BUCKETS = 4
export const DEFAULT_BATCH_SIZE = 100
export const DEFAULT_BACKEND = 'memory'
export const defaultStoragePath = (topic: string): string => `./queue_storage/${topic}`

const STORAGE_KEYS = ['numBuckets', 'batchSize', 'storagePath', 'backend', 'backendOptions'] as const
const WRITE_KEYS = new Set<string>([...STORAGE_KEYS, 'bucketColumn'])
const READ_KEYS = new Set<string>([...STORAGE_KEYS, 'bucketColumn', 'rank', 'worldSize', 'bucketId', 'bucketIds'])
// The queue decides these per bucket; letting backendOptions override them would make
// every bucket of a topic write to the same place.
const RESERVED_BACKEND_KEYS = ['bucketId', 'storagePath']

export function invalidOption(message: string): StorageError {
  return new StorageError(message, 'INVALID_OPTION')
}

export function checkTopic(topic: unknown): asserts topic is string {
  checkTopicName(topic)
}

function checkKnownKeys(options: object, allowed: Set<string>, fn: string): void {
  for (const key of Object.keys(options)) {
    if (!allowed.has(key)) {
      throw invalidOption(`${fn}: unknown option '${key}'; expected one of ${[...allowed].join(', ')}`)
    }
  }
}

export function checkOptionsObject(options: unknown, fn: string): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidOption(`${fn}: options must be an object`)
  }
}

export function checkPositiveInt(value: unknown, name: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) <= 0) {
    throw invalidOption(`${name} must be a positive integer, got ${String(value)}`)
  }
}

export function checkNonNegativeInt(value: unknown, name: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw invalidOption(`${name} must be a non-negative integer, got ${String(value)}`)
  }
}

/** Seconds -> milliseconds; undefined/null means wait without a deadline. */
export function timeoutMs(timeout: unknown, name = 'timeout'): number | undefined {
  if (timeout === undefined || timeout === null) return undefined
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw invalidOption(`${name} must be a non-negative number of seconds, got ${String(timeout)}`)
  }
  return timeout * 1000
}

export function checkBucketColumn(value: unknown): string {
  if (value === undefined) return DEFAULT_BUCKET_COLUMN
  if (typeof value !== 'string' || value.length === 0) {
    throw invalidOption(`bucketColumn must be a non-empty string, got ${String(value)}`)
  }
  return value
}

export function resolveBackend(backend: unknown): { backend: BackendClass; backendName: string } {
  if (backend === undefined) return { backend: getBackendClass(DEFAULT_BACKEND), backendName: DEFAULT_BACKEND }
  if (typeof backend === 'string') return { backend: getBackendClass(backend), backendName: backend }
  if (isBackendClass(backend)) return { backend, backendName: backend.name || 'anonymous' }
  throw invalidOption(`backend must be a registered name or a StorageBackend class, got ${typeof backend}`)
}

/** Only the storage options the caller actually gave, validated; missing ones are left out. */
export function explicitStorageOptions(options: Record<string, unknown>): Partial<Omit<TopicConfig, 'topic'>> {
  const out: Partial<Omit<TopicConfig, 'topic'>> = {}
  if (options.numBuckets !== undefined) {
    checkPositiveInt(options.numBuckets, 'numBuckets')
    out.numBuckets = options.numBuckets
  }
  if (options.batchSize !== undefined) {
    checkPositiveInt(options.batchSize, 'batchSize')
    out.batchSize = options.batchSize
  }
  if (options.storagePath !== undefined) {
    if (typeof options.storagePath !== 'string' || options.storagePath.length === 0) {
      throw invalidOption(`storagePath must be a non-empty string, got ${String(options.storagePath)}`)
    }
    out.storagePath = trimTrailingSeparators(options.storagePath)
  }
  if (options.backend !== undefined) Object.assign(out, resolveBackend(options.backend))
  if (options.backendOptions !== undefined) {
    const bo = options.backendOptions
    if (typeof bo !== 'object' || bo === null || Array.isArray(bo)) throw invalidOption('backendOptions must be an object')
    for (const key of RESERVED_BACKEND_KEYS) {
      if (key in bo) throw invalidOption(`backendOptions.${key} is set by the queue per bucket; use the top-level option`)
    }
    out.backendOptions = { ...(bo as Record<string, unknown>) }
  }
  return out
}

export function withDefaults(topic: string, given: Partial<Omit<TopicConfig, 'topic'>>): TopicConfig {
  const backend = given.backend ? { backend: given.backend, backendName: given.backendName! } : resolveBackend(undefined)
  return {
    topic,
    numBuckets: given.numBuckets ?? DEFAULT_NUM_BUCKETS,
    batchSize: given.batchSize ?? DEFAULT_BATCH_SIZE,
    storagePath: given.storagePath ?? defaultStoragePath(topic),
    ...backend,
    backendOptions: given.backendOptions ?? {},
  }
}

/**
 * Differences between what a caller asked for and the topic's fixed configuration, as
 * human-readable fragments (empty when compatible). Only explicitly given options count,
 * so `readQueue(system, topic)` simply adopts the writer's configuration.
 */
export function configConflicts(existing: TopicConfig, given: Partial<Omit<TopicConfig, 'topic'>>): string[] {
  const out: string[] = []
  if (given.numBuckets !== undefined && given.numBuckets !== existing.numBuckets) {
    out.push(`numBuckets ${given.numBuckets} (topic has ${existing.numBuckets})`)
  }
  if (given.batchSize !== undefined && given.batchSize !== existing.batchSize) {
    out.push(`batchSize ${given.batchSize} (topic has ${existing.batchSize})`)
  }
  if (given.storagePath !== undefined && path.resolve(given.storagePath) !== path.resolve(existing.storagePath)) {
    out.push(`storagePath '${given.storagePath}' (topic has '${existing.storagePath}')`)
  }
  if (given.backend !== undefined && given.backend !== existing.backend) {
    out.push(`backend '${given.backendName}' (topic has '${existing.backendName}')`)
  }
  if (given.backendOptions !== undefined && !sameOptions(given.backendOptions, existing.backendOptions)) {
    out.push('different backendOptions')
  }
  return out
}

function sameOptions(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((k) => k in b && (Object.is(a[k], b[k]) || jsonEqual(a[k], b[k])))
}

function jsonEqual(a: unknown, b: unknown): boolean {
  try {
    return JSON.stringify(a) === JSON.stringify(b)
  } catch {
    return false
  }
}

function trimTrailingSeparators(p: string): string {
  const trimmed = p.replace(/[\\/]+$/, '')
  return trimmed.length > 0 ? trimmed : p
}

export function checkWriteOptions(options: unknown): asserts options is WriteQueueOptions {
  checkOptionsObject(options, 'writeQueue')
  checkKnownKeys(options, WRITE_KEYS, 'writeQueue')
}

export function checkReadOptions(options: unknown): asserts options is ReadQueueOptions {
  checkOptionsObject(options, 'readQueue')
  checkKnownKeys(options, READ_KEYS, 'readQueue')
}

/** Which buckets a reader owns: rank/worldSize, bucketId, bucketIds, or all of them. */
export function assignBuckets(options: ReadQueueOptions, numBuckets: number): number[] {
  const { rank, worldSize, bucketId, bucketIds } = options
  const modes = [rank !== undefined || worldSize !== undefined, bucketId !== undefined, bucketIds !== undefined]
  if (modes.filter(Boolean).length > 1) {
    throw invalidOption('readQueue: give only one of rank/worldSize, bucketId or bucketIds')
  }
  if (rank !== undefined || worldSize !== undefined) {
    if (rank === undefined || worldSize === undefined) throw invalidOption('readQueue: rank and worldSize go together')
    checkPositiveInt(worldSize, 'worldSize')
    checkNonNegativeInt(rank, 'rank')
    if (rank >= worldSize) throw invalidOption(`rank must be below worldSize (${worldSize}), got ${rank}`)
    const mine: number[] = []
    for (let i = rank; i < numBuckets; i += worldSize) mine.push(i)
    return mine
  }
  const ids = bucketId !== undefined ? [bucketId] : bucketIds !== undefined ? bucketIds : undefined
  if (ids === undefined) return Array.from({ length: numBuckets }, (_, i) => i)
  if (!Array.isArray(ids)) throw invalidOption('bucketIds must be an array of bucket numbers')
  const seen = new Set<number>()
  for (const id of ids) {
    checkNonNegativeInt(id, 'bucketId')
    if (id >= numBuckets) throw invalidOption(`bucketId ${id} is out of range for ${numBuckets} buckets`)
    if (seen.has(id)) throw invalidOption(`bucketId ${id} is listed twice`)
    seen.add(id)
  }
  return [...ids]
}
