/**
 * What every CLI command shares: the topic flags, where a topic lives on disk, opening it for
 * writing or reading through the public queue API, exit codes and error reporting.
 */
import { checkTopicName } from '../topic-name.js'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { InvalidArgumentError, Option, type Command } from 'commander'
import * as pst from '../index.js'
import { isStoreUri } from '../queue/options.js'
import type { StorageErrorCode } from '../errors.js'

/** Process exit codes; documented in docs/cli.md and in `persisting --help`. */
export const EXIT = {
  OK: 0,
  /** Unexpected failure (INTERNAL, LANCE, ...). */
  FAILURE: 1,
  /** Bad arguments or options (also INVALID_OPTION, UNKNOWN_BACKEND). */
  USAGE: 2,
  /** The storage path or topic does not exist (also NOT_FOUND). */
  NOT_FOUND: 3,
  /** Another process writes to the bucket (LOCKED, WAL_LOCKED). */
  LOCKED: 4,
  /** The WAL is damaged and recovery refused it (WAL_CORRUPT). */
  WAL_CORRUPT: 5,
  /** I/O failure (IO, WAL_IO, BUCKET_FAILED). */
  IO: 6,
  /** Bad input stopped an ingest (--on-error stop), or input the backend refused. */
  BAD_INPUT: 7,
  /** Ingest finished but skipped bad records (--on-error skip). */
  SKIPPED: 8,
} as const

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  unexpected failure (INTERNAL, LANCE)
  2  bad arguments or options (INVALID_OPTION, UNKNOWN_BACKEND, READ_ONLY, NOT_OWNER)
  3  storage path, topic or input file not found (NOT_FOUND)
  4  bucket locked by another writer (LOCKED, WAL_LOCKED)
  5  corrupt write-ahead log (WAL_CORRUPT)
  6  I/O error (IO, WAL_IO, BUCKET_FAILED)
  7  bad input stopped an ingest (INVALID_RECORD, MISSING_BUCKET_COLUMN, SCHEMA_MISMATCH)
  8  ingest finished but skipped bad records (--on-error skip)
  130  ingest interrupted (Ctrl-C) after flushing what it had`

const CODE_EXIT: Partial<Record<StorageErrorCode, number>> = {
  INVALID_OPTION: EXIT.USAGE,
  UNKNOWN_BACKEND: EXIT.USAGE,
  NOT_FOUND: EXIT.NOT_FOUND,
  LOCKED: EXIT.LOCKED,
  WAL_LOCKED: EXIT.LOCKED,
  WAL_CORRUPT: EXIT.WAL_CORRUPT,
  IO: EXIT.IO,
  WAL_IO: EXIT.IO,
  BUCKET_FAILED: EXIT.IO,
  INVALID_RECORD: EXIT.BAD_INPUT,
  MISSING_BUCKET_COLUMN: EXIT.BAD_INPUT,
  SCHEMA_MISMATCH: EXIT.BAD_INPUT,
  READ_ONLY: EXIT.USAGE,
  NOT_OWNER: EXIT.USAGE,
}

const HINTS: Partial<Record<string, string>> = {
  LOCKED: 'another process is writing to this topic; stop it, or use a reader command (read, tail, stats, search)',
  WAL_LOCKED: 'another process is writing to this topic; stop it, or use a reader command (read, tail, stats, search)',
  WAL_CORRUPT: 'the write-ahead log is damaged; see docs/wal.md (recovery modes) before touching the files',
}

/** An error the CLI reports as is, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof CliError) return err.exitCode
  if (err instanceof pst.StorageError) return CODE_EXIT[err.code as StorageErrorCode] ?? EXIT.FAILURE
  return EXIT.FAILURE
}

/** Prints `persisting: <message>` (and a hint) to stderr and returns the exit code. */
export function reportError(err: unknown): number {
  const code = exitCodeFor(err)
  if (err instanceof pst.StorageError) {
    process.stderr.write(`persisting: error [${err.code}]: ${err.message}\n`)
    const hint = HINTS[err.code]
    if (hint) process.stderr.write(`persisting: hint: ${hint}\n`)
  } else if (err instanceof Error) {
    process.stderr.write(`persisting: error: ${err.message}\n`)
    if (code === EXIT.FAILURE && process.env.PERSISTING_DEBUG) process.stderr.write(`${err.stack}\n`)
  } else {
    process.stderr.write(`persisting: error: ${String(err)}\n`)
  }
  return code
}

// ---------------------------------------------------------------------------------------------
// Flags

export interface TopicFlags {
  topic: string
  storagePath: string
  backend: string
  buckets?: number
  bucketColumn?: string
  syncInterval: number
  compression?: string
  wal: boolean
  walRecovery?: 'pointInTime' | 'absolute'
  /** `key=value` settings of an object store (`--storage-option`, repeatable). */
  storageOption?: Record<string, string>
  walPath?: string
  rank?: number
  worldSize?: number
  json?: boolean
}

/** `--storage-option key=value`, repeatable: collected into one object. */
function storageOptionArg(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=')
  if (eq <= 0) throw new InvalidArgumentError('must be key=value (for example aws_endpoint=http://10.0.0.1:9000)')
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) }
}

export function intArg(name: string, min = 0): (value: string) => number {
  return (value) => {
    const n = Number(value)
    if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}`)
    }
    return n
  }
}

export function secondsArg(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0')
  return n
}

export const DEFAULT_STORAGE_PATH = './persisting-data'
export const DEFAULT_TOPIC = 'events'
/** Where a writer keeps its WAL when the topic lives on an object store. */
export const DEFAULT_WAL_ROOT = './persisting-wal'

/** The topic flags; `write` adds those that only matter when creating or writing a topic. */
export function topicOptions(cmd: Command, opts: { write?: boolean; json?: boolean } = {}): Command {
  cmd
    .option('-t, --topic <name>', 'topic name', DEFAULT_TOPIC)
    .option('-s, --storage-path <dir|uri>', 'root directory or object-store URI (s3://bucket/prefix); a topic lives in <root>/<topic>', DEFAULT_STORAGE_PATH)
    .option(
      '--storage-option <key=value>',
      'object-store setting passed to Lance (aws_endpoint, aws_region, aws_allow_http, ...; repeatable); AWS_* environment variables fill the rest',
      storageOptionArg,
    )
    .addOption(
      new Option('--backend <name>', 'storage backend (registered name)').default('persisting').choices(['persisting', 'lance', 'memory']),
    )
    .option('--buckets <n>', 'number of buckets (default: what the topic has, else 4)', intArg('--buckets', 1))
  if (opts.write) {
    cmd
      .option('--bucket-column <name>', "field that routes a record to its bucket (default: the topic's, else 'id')")
      .option('--sync-interval <seconds>', 'WAL fsync interval in seconds; 0 = fsync before every acknowledgement', secondsArg, 1)
      .addOption(
        new Option('--compression <codec>', "data and WAL compression (default: the topic's, else zstd)").choices(['zstd', 'lz4', 'snappy', 'none']),
      )
      .option('--no-wal', 'turn the write-ahead log off (persisting backend)')
      .option('--wal-path <dir>', `local directory of the WAL when --storage-path is an object store (default ${DEFAULT_WAL_ROOT}/<topic>)`)
      .option('--rank <n>', 'with --world-size: this writer owns buckets i with i % world-size == rank (other records are refused)', intArg('--rank', 0))
      .option('--world-size <n>', 'number of writers sharing the topic (goes with --rank)', intArg('--world-size', 1))
      .addOption(
        new Option('--wal-recovery <mode>', "on a damaged WAL: 'pointInTime' recovers up to the damage and quarantines the rest; 'absolute' refuses (exit 5)")
          .choices(['pointInTime', 'absolute'])
          .default('pointInTime'),
      )
  }
  if (opts.json !== false) cmd.option('--json', 'machine-readable JSON output')
  return cmd
}

// ---------------------------------------------------------------------------------------------
// Topics on disk

/** What the CLI remembers about a topic, next to its buckets, so later commands agree with earlier ones. */
export interface TopicMeta {
  numBuckets: number
  bucketColumn: string
  backend: string
  compression: string | null
}

const META_FILE = 'persisting-cli.json'

export interface ResolvedTopic {
  topic: string
  /** `<storage-path>/<topic>`: bucket i is `<dir>/bucket_i`. */
  dir: string
  numBuckets: number
  bucketColumn: string
  backend: string
  compression: string | null
  wal: boolean
  syncInterval: number
  walRecovery: 'pointInTime' | 'absolute'
  exists: boolean
  /** The topic lives on an object store (no local directory, no CLI metadata file). */
  remote: boolean
  storageOptions?: Record<string, string>
  /** The writer's local WAL directory of a remote topic. */
  walPath?: string
  rank?: number
  worldSize?: number
}

function readMeta(dir: string): Partial<TopicMeta> | undefined {
  const file = join(dir, META_FILE)
  if (!existsSync(file)) return undefined
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<TopicMeta>
  } catch {
    return undefined
  }
}

function bucketDirs(dir: string): number {
  if (!existsSync(dir)) return 0
  return readdirSync(dir).filter((n) => /^bucket_\d+$/.test(n)).length
}

/**
 * Where the topic lives and how it is configured: flags first, then what an earlier command
 * recorded, then defaults. `mustExist` (reader commands) turns a missing topic into exit 3.
 */
export function resolveTopic(flags: TopicFlags, mustExist: boolean): ResolvedTopic {
  // Before any path is built from it: a topic is one directory under the storage path.
  checkTopicName(flags.topic, '--topic')
  if ((flags.rank === undefined) !== (flags.worldSize === undefined)) throw new CliError('--rank and --world-size go together', EXIT.USAGE)
  const remote = isStoreUri(flags.storagePath)
  if (remote) return remoteTopic(flags)
  const root = resolve(flags.storagePath)
  const dir = join(root, flags.topic)
  const exists = existsSync(dir) && statSync(dir).isDirectory()
  if (mustExist && flags.backend !== 'memory') {
    if (!existsSync(root)) {
      throw new CliError(`storage path ${flags.storagePath} does not exist; ingest something first or pass --storage-path`, EXIT.NOT_FOUND)
    }
    if (!exists) {
      throw new CliError(`no topic '${flags.topic}' under ${flags.storagePath} (expected ${dir}); pass --topic`, EXIT.NOT_FOUND)
    }
  }
  const meta = exists ? readMeta(dir) : undefined
  const found = meta?.numBuckets ?? (bucketDirs(dir) || undefined)
  if (flags.buckets !== undefined && found !== undefined && flags.buckets !== found) {
    throw new CliError(`topic '${flags.topic}' has ${found} buckets; --buckets ${flags.buckets} disagrees`, EXIT.USAGE)
  }
  const compression = flags.compression !== undefined ? (flags.compression === 'none' ? null : flags.compression) : meta?.compression !== undefined ? meta.compression : 'zstd'
  return {
    topic: flags.topic,
    dir,
    numBuckets: flags.buckets ?? found ?? 4,
    bucketColumn: flags.bucketColumn ?? meta?.bucketColumn ?? 'id',
    backend: flags.backend,
    compression,
    wal: flags.wal !== false,
    syncInterval: flags.syncInterval ?? 1,
    walRecovery: flags.walRecovery ?? 'pointInTime',
    exists,
    remote: false,
    ...(flags.storageOption ? { storageOptions: flags.storageOption } : {}),
    ...(flags.walPath ? { walPath: resolve(flags.walPath) } : {}),
    ...(flags.rank !== undefined ? { rank: flags.rank, worldSize: flags.worldSize } : {}),
  }
}

/**
 * A topic on an object store: `<uri>/<topic>`. Nothing is looked up there (no listing, no
 * metadata file), so the bucket count and bucket column are the flags' or the defaults.
 */
function remoteTopic(flags: TopicFlags): ResolvedTopic {
  if (flags.backend === 'memory') throw new CliError('an object-store --storage-path needs the persisting or lance backend', EXIT.USAGE)
  const compression = flags.compression !== undefined ? (flags.compression === 'none' ? null : flags.compression) : 'zstd'
  return {
    topic: flags.topic,
    dir: `${flags.storagePath.replace(/\/+$/, '')}/${flags.topic}`,
    numBuckets: flags.buckets ?? 4,
    bucketColumn: flags.bucketColumn ?? 'id',
    backend: flags.backend,
    compression,
    wal: flags.wal !== false,
    syncInterval: flags.syncInterval ?? 1,
    walRecovery: flags.walRecovery ?? 'pointInTime',
    exists: true,
    remote: true,
    ...(flags.storageOption ? { storageOptions: flags.storageOption } : {}),
    walPath: resolve(flags.walPath ?? join(DEFAULT_WAL_ROOT, flags.topic)),
    ...(flags.rank !== undefined ? { rank: flags.rank, worldSize: flags.worldSize } : {}),
  }
}

export function saveMeta(t: ResolvedTopic): void {
  if (t.backend === 'memory' || t.remote) return
  mkdirSync(t.dir, { recursive: true })
  const meta: TopicMeta = { numBuckets: t.numBuckets, bucketColumn: t.bucketColumn, backend: t.backend, compression: t.compression }
  writeFileSync(join(t.dir, META_FILE), JSON.stringify(meta, null, 2) + '\n')
}

function writerBackendOptions(t: ResolvedTopic, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (t.backend === 'persisting') {
    return { enableWal: t.wal, walSyncInterval: t.syncInterval, walRecoveryMode: t.walRecovery, compression: t.compression, ...extra }
  }
  if (t.backend === 'lance') return { compression: t.compression }
  return {}
}

export async function openWriter(system: pst.System, t: ResolvedTopic, extra: Record<string, unknown> = {}): Promise<pst.QueueWriter> {
  return pst.queue.writeQueue(system, t.topic, {
    numBuckets: t.numBuckets,
    bucketColumn: t.bucketColumn,
    storagePath: t.dir,
    backend: t.backend,
    backendOptions: writerBackendOptions(t, extra),
    ...(t.storageOptions ? { storageOptions: t.storageOptions } : {}),
    ...(t.walPath ? { walPath: t.walPath } : {}),
    ...(t.rank !== undefined ? { rank: t.rank, worldSize: t.worldSize } : {}),
  })
}

/** A lock-free reader (native backends open read-only), so it works while a writer runs elsewhere. */
export async function openReader(
  system: pst.System,
  t: ResolvedTopic,
  bucketIds?: number[],
  extra: Record<string, unknown> = {},
): Promise<pst.QueueReader> {
  const backendOptions = t.backend === 'memory' ? {} : { compression: t.compression, ...extra }
  return pst.queue.readQueue(system, t.topic, {
    numBuckets: t.numBuckets,
    storagePath: t.dir,
    backend: t.backend,
    backendOptions,
    ...(t.storageOptions ? { storageOptions: t.storageOptions } : {}),
    ...(bucketIds ? { bucketIds } : {}),
  })
}

export function checkBucket(t: ResolvedTopic, bucket: number | undefined): number[] | undefined {
  if (bucket === undefined) return undefined
  if (bucket >= t.numBuckets) throw new CliError(`--bucket ${bucket} is out of range: topic '${t.topic}' has ${t.numBuckets} buckets`, EXIT.USAGE)
  return [bucket]
}

// ---------------------------------------------------------------------------------------------
// Output

export function out(line: string): void {
  process.stdout.write(line + '\n')
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

export function humanBytes(n: number): string {
  if (!Number.isFinite(n)) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

/** A plain text table: the first row is the header; numbers right-aligned. */
export function table(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map(String))
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)))
  return cells
    .map((r, i) =>
      r
        .map((cell, c) => (typeof rows[i][c] === 'number' ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** Bytes of every file under `dir` (0 when it does not exist). */
export function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += dirBytes(p)
    else if (e.isFile()) total += statSync(p).size
  }
  return total
}

/** Resolves on the first SIGINT/SIGTERM; later signals fall through to the default (exit). */
export function onInterrupt(): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController()
  const handler = (): void => {
    ac.abort()
    process.off('SIGINT', handler)
    process.off('SIGTERM', handler)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}

/** Runs `fn` with a fresh queue system that is always shut down (flushing writers). */
export async function withSystem<T>(fn: (system: pst.System) => Promise<T>): Promise<T> {
  const system = await pst.createSystem()
  try {
    return await fn(system)
  } finally {
    await system.shutdown()
  }
}
