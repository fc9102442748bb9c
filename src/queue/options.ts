/**
 * Option types and schemas of writeQueue / readQueue, and a topic's fixed configuration.
 * Validation (options/validate.ts) is strict: a misspelt option such as `numBucket` would
 * otherwise silently route records with the default and scatter a topic.
 */
import * as path from 'node:path'
import { checkTopicName } from '../topic-name.js'
import { getBackendClass, isBackendClass } from '../backends/registry.js'
import { stringSettings } from '../options/backend-options.js'
import type { BackendClass } from '../backends/types.js'
import { DEFAULT_BACKEND, DEFAULT_BATCH_SIZE, DEFAULT_BUCKET_COLUMN, DEFAULT_NUM_BUCKETS, defaultStoragePath } from '../defaults.js'
import {
  check,
  checkOptions,
  invalidOption,
  nonEmptyString,
  nonNegativeInt,
  plainObject,
  positiveInt,
  rule,
  waitSeconds,
  type Schema,
} from '../options/validate.js'


/** Options that decide where and how a topic's buckets are stored; fixed per topic per system. */
export interface StorageOptions {
  /** Positive integer; default 4 (DEFAULT_NUM_BUCKETS). */
  numBuckets?: number
  /** Positive integer, passed to the backend; default 100 (DEFAULT_BATCH_SIZE). */
  batchSize?: number
  /**
   * Non-empty; default `./queue_storage/${topic}`; bucket i lives in `${storagePath}/bucket_${i}`.
   * A local directory or an object-store URI (`s3://bucket/prefix`, native backends).
   */
  storagePath?: string
  /**
   * Local directory for the writers' WAL, lock and writer id when `storagePath` is an object
   * store: bucket i keeps them in `${walPath}/bucket_${i}`. Required with `enableWal` on an
   * object store; default: none (they live in the bucket directory of a local `storagePath`).
   */
  walPath?: string
  /**
   * Object-store settings passed to Lance as given (`aws_endpoint`, `aws_region`,
   * `aws_access_key_id`, `aws_secret_access_key`, `aws_allow_http`, ...); the standard AWS
   * environment variables fill the rest. Default none.
   */
  storageOptions?: Record<string, string>
  /** Registered name or class; default 'memory' (DEFAULT_BACKEND). */
  backend?: string | BackendClass
  /** Spread into the backend constructor options (not `bucketId` / `storagePath`); default {}. */
  backendOptions?: Record<string, unknown>
}

export interface WriteQueueOptions extends StorageOptions {
  /** Non-empty field name whose value picks the bucket; default 'id' (DEFAULT_BUCKET_COLUMN). */
  bucketColumn?: string
  /**
   * Integer in [0, worldSize); with worldSize: this writer owns every bucket i with
   * i % worldSize === rank, opens (and on an object store leases) them at once, and rejects
   * records routed to other buckets (NOT_OWNER). Default: no split (every bucket).
   */
  rank?: number
  /** Positive integer; goes with rank. */
  worldSize?: number
}

export interface ReadQueueOptions extends StorageOptions {
  /** Accepted so one options object can open both ends; readers do not route. */
  bucketColumn?: string
  /** Integer in [0, worldSize); with worldSize: this reader gets every bucket i with i % worldSize === rank. */
  rank?: number
  /** Positive integer; goes with rank. Default: no rank split (every bucket). */
  worldSize?: number
  /** Integer in [0, numBuckets): read only this bucket. */
  bucketId?: number
  /** Distinct integers in [0, numBuckets): read only these buckets. */
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
  walPath?: string
  storageOptions?: Record<string, string>
}

const STORAGE_SCHEMA: Schema = {
  numBuckets: positiveInt,
  batchSize: positiveInt,
  storagePath: nonEmptyString,
  backend: rule<string | BackendClass>('a registered name or a StorageBackend class', (v) => typeof v === 'string' || isBackendClass(v)),
  backendOptions: plainObject,
  walPath: nonEmptyString,
  storageOptions: stringSettings,
}
const WRITE_SCHEMA: Schema = { ...STORAGE_SCHEMA, bucketColumn: nonEmptyString, rank: nonNegativeInt, worldSize: positiveInt }
const READ_SCHEMA: Schema = {
  ...STORAGE_SCHEMA,
  bucketColumn: nonEmptyString,
  rank: nonNegativeInt,
  worldSize: positiveInt,
  bucketId: nonNegativeInt,
  bucketIds: rule<readonly number[]>('an array of bucket numbers', Array.isArray),
}
// The queue decides these per bucket; letting backendOptions override them would make
// every bucket of a topic write to the same place.
const RESERVED_BACKEND_KEYS = ['bucketId', 'storagePath', 'walPath']

/** An object-store URI (`s3://...`) rather than a local directory (`file://` counts as local). */
export function isStoreUri(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) && !p.startsWith('file://')
}

/** Two storage locations are the same: URIs by text, directories by resolved path. */
function sameLocation(a: string, b: string): boolean {
  return isStoreUri(a) || isStoreUri(b) ? a === b : path.resolve(a) === path.resolve(b)
}

export function checkTopic(topic: unknown): asserts topic is string {
  checkTopicName(topic)
}

/** Seconds -> milliseconds; undefined/null means wait without a deadline. */
export function timeoutMs(timeout: unknown, name = 'timeout'): number | undefined {
  if (timeout === undefined || timeout === null) return undefined
  check(timeout, waitSeconds, name)
  return timeout * 1000
}

export function checkBucketColumn(value: unknown): string {
  if (value === undefined) return DEFAULT_BUCKET_COLUMN
  check(value, nonEmptyString, 'bucketColumn')
  return value
}

export function resolveBackend(backend: unknown): { backend: BackendClass; backendName: string } {
  if (backend === undefined) return { backend: getBackendClass(DEFAULT_BACKEND), backendName: DEFAULT_BACKEND }
  check(backend, STORAGE_SCHEMA.backend, 'backend')
  const cls = getBackendClass(backend as string | BackendClass)
  return { backend: cls, backendName: typeof backend === 'string' ? backend : cls.name || 'anonymous' }
}

/** Only the storage options the caller actually gave (already checked); missing ones are left out. */
export function explicitStorageOptions(options: StorageOptions): Partial<Omit<TopicConfig, 'topic'>> {
  const out: Partial<Omit<TopicConfig, 'topic'>> = {}
  if (options.numBuckets !== undefined) out.numBuckets = options.numBuckets
  if (options.batchSize !== undefined) out.batchSize = options.batchSize
  if (options.storagePath !== undefined) out.storagePath = trimTrailingSeparators(options.storagePath)
  if (options.walPath !== undefined) {
    if (isStoreUri(options.walPath)) throw invalidOption(`walPath must be a local directory, got '${options.walPath}'`)
    out.walPath = trimTrailingSeparators(options.walPath)
  }
  if (options.storageOptions !== undefined) {
    if (options.backendOptions !== undefined && 'storageOptions' in options.backendOptions) {
      throw invalidOption('give storageOptions either at the top level or in backendOptions, not both')
    }
    out.storageOptions = { ...options.storageOptions }
  }
  if (options.backend !== undefined) Object.assign(out, resolveBackend(options.backend))
  if (options.backendOptions !== undefined) {
    const bo = options.backendOptions
    for (const key of RESERVED_BACKEND_KEYS) {
      if (key in bo) throw invalidOption(`backendOptions.${key} is set by the queue per bucket; use the top-level option`)
    }
    out.backendOptions = { ...bo }
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
    ...(given.walPath !== undefined ? { walPath: given.walPath } : {}),
    ...(given.storageOptions !== undefined ? { storageOptions: given.storageOptions } : {}),
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
  if (given.storagePath !== undefined && !sameLocation(given.storagePath, existing.storagePath)) {
    out.push(`storagePath '${given.storagePath}' (topic has '${existing.storagePath}')`)
  }
  if (given.walPath !== undefined && (existing.walPath === undefined || !sameLocation(given.walPath, existing.walPath))) {
    out.push(`walPath '${given.walPath}' (topic has ${existing.walPath === undefined ? 'none' : `'${existing.walPath}'`})`)
  }
  if (given.storageOptions !== undefined && !sameOptions(given.storageOptions, existing.storageOptions ?? {})) {
    out.push('different storageOptions')
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
  // Not down to a bare scheme ('s3://' stays as given, and is refused by the store).
  return trimmed.length > 0 && !trimmed.endsWith(':') ? trimmed : p
}

export function checkWriteOptions(options: unknown): asserts options is WriteQueueOptions {
  checkOptions(options, WRITE_SCHEMA, 'writeQueue')
}

export function checkReadOptions(options: unknown): asserts options is ReadQueueOptions {
  checkOptions(options, READ_SCHEMA, 'readQueue')
}

/** Which buckets a reader owns: rank/worldSize, bucketId, bucketIds, or all of them. */
export function assignBuckets(options: ReadQueueOptions, numBuckets: number, who = 'readQueue'): number[] {
  const { rank, worldSize, bucketId, bucketIds } = options
  const modes = [rank !== undefined || worldSize !== undefined, bucketId !== undefined, bucketIds !== undefined]
  if (modes.filter(Boolean).length > 1) {
    throw invalidOption(`${who}: give only one of rank/worldSize, bucketId or bucketIds`)
  }
  if (rank !== undefined || worldSize !== undefined) {
    if (rank === undefined || worldSize === undefined) throw invalidOption(`${who}: rank and worldSize go together`)
    check(worldSize, positiveInt, 'worldSize')
    check(rank, nonNegativeInt, 'rank')
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
    check(id, nonNegativeInt, 'bucketId')
    if (id >= numBuckets) throw invalidOption(`bucketId ${id} is out of range for ${numBuckets} buckets`)
    if (seen.has(id)) throw invalidOption(`bucketId ${id} is listed twice`)
    seen.add(id)
  }
  return [...ids]
}
