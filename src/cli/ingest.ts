/** `persisting ingest <file|->`: NDJSON, JSON array or CSV into a topic, in batches, with a progress bar. */
import { statSync } from 'node:fs'
import { Option, type Command } from 'commander'
import cliProgress from 'cli-progress'
import { serveMetrics, type QueueWriter } from '../index.js'
import {
  CliError,
  EXIT,
  humanBytes,
  intArg,
  onInterrupt,
  openWriter,
  out,
  printJson,
  resolveTopic,
  saveMeta,
  topicOptions,
  withSystem,
  type TopicFlags,
} from './common.js'
import { detectFormat, readInput, type Format, type InputItem } from './input.js'

interface IngestFlags extends TopicFlags {
  format?: Format
  onError: 'skip' | 'stop'
  batchSize: number
  flushThreshold: number
  progress: boolean
  metricsPort?: number
  metricsHost: string
}

interface Item {
  line: number
  record: Record<string, unknown>
  raw?: string
}

interface BadRecord {
  line: number
  error: string
}

const INPUT_CODES = new Set(['INVALID_RECORD', 'MISSING_BUCKET_COLUMN', 'SCHEMA_MISMATCH'])
const MAX_REPORTED = 20

function isInputError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && INPUT_CODES.has((err as { code?: string }).code ?? '')
}

type NdjsonWriter = QueueWriter & { putNdjson?: (text: string) => Promise<unknown> }

export function register(program: Command): void {
  const cmd = program
    .command('ingest')
    .summary('load NDJSON, a JSON array or CSV into a topic')
    .description(
      'Load records from a file (or - for stdin) into a topic through QueueWriter.putBatch. ' +
        'The format comes from the extension (.ndjson/.jsonl, .json, .csv; stdin: ndjson) or --format. ' +
        'Bad records are reported with their line numbers; --on-error decides whether to skip them ' +
        'or stop (exit 7). Skipping finishes with exit 8 when anything was skipped, 0 otherwise.',
    )
    .argument('<file>', "input file, or '-' for stdin")
    .addOption(new Option('--format <format>', 'input format').choices(['ndjson', 'json', 'csv']))
    .addOption(new Option('--on-error <mode>', 'what a bad record does').choices(['skip', 'stop']).default('stop'))
    .option('--batch-size <n>', 'records per putBatch call', intArg('--batch-size', 1), 10_000)
    .option('--flush-threshold <n>', 'records a bucket buffers before it flushes to Lance', intArg('--flush-threshold', 1), 20_000)
    .option('--no-progress', 'no progress bar (it is only drawn on a terminal anyway)')
    .option('--metrics-port <port>', 'serve this ingest\'s Prometheus metrics at http://127.0.0.1:<port>/metrics while it runs', intArg('--metrics-port'))
    .option('--metrics-host <host>', 'address for --metrics-port; default 127.0.0.1 (loopback only)', '127.0.0.1')
  topicOptions(cmd, { write: true }).action((file: string, flags: IngestFlags) => ingest(file, flags))
}

async function ingest(file: string, flags: IngestFlags): Promise<void> {
  const format = detectFormat(file, flags.format)
  let totalBytes = 0
  if (file !== '-') {
    try {
      totalBytes = statSync(file).size
    } catch {
      throw new CliError(`cannot read ${file}: no such file`, EXIT.NOT_FOUND)
    }
  }
  const t = resolveTopic(flags, false)
  const skip = flags.onError === 'skip'
  const bad: BadRecord[] = []
  let written = 0
  /** Records of buckets another rank owns (`--rank`/`--world-size`): left to that writer. */
  let others = 0
  let stopped = false
  const started = performance.now()
  let bytesRead = 0

  const reportBad = (line: number, error: string): void => {
    bad.push({ line, error })
    if (bad.length <= MAX_REPORTED) {
      bar?.stop()
      process.stderr.write(`persisting: line ${line}: ${error}${skip ? ' (skipped)' : ''}\n`)
      bar?.start(barTotal, bytesRead, payload())
    }
    if (!skip) stopped = true
  }

  const showBar = flags.progress && process.stderr.isTTY === true
  const barTotal = totalBytes
  const payload = () => {
    const secs = Math.max((performance.now() - started) / 1000, 1e-3)
    return {
      records: written.toLocaleString('en-US'),
      rps: Math.round(written / secs).toLocaleString('en-US'),
      mbps: (bytesRead / secs / 1e6).toFixed(1),
      done: humanBytes(bytesRead),
    }
  }
  const bar = showBar
    ? new cliProgress.SingleBar(
        {
          format:
            file === '-'
              ? 'ingest {records} records | {rps} records/s | {mbps} MB/s | {done}'
              : 'ingest [{bar}] {percentage}% | {records} records | {rps} records/s | {mbps} MB/s | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 50,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined

  const interrupt = onInterrupt()
  // Ctrl-C while stdin is idle: end the input, so the records so far are still flushed.
  interrupt.signal.addEventListener('abort', () => {
    if (file === '-') process.stdin.push(null)
  })
  let interrupted = false
  let flushMs = 0
  await withSystem(async (system) => {
    const metered = flags.metricsPort !== undefined && t.backend === 'persisting'
    const extra = t.backend === 'memory' ? {} : { flushThreshold: flags.flushThreshold, ...(metered ? { enableMetrics: true } : {}) }
    const writer = (await openWriter(system, t, extra)) as NdjsonWriter
    saveMeta(t)
    const metricsServer = flags.metricsPort !== undefined ? await serveMetrics({ port: flags.metricsPort, host: flags.metricsHost }) : undefined
    if (metricsServer) process.stderr.write(`persisting: metrics at ${metricsServer.url}\n`)
    const col = t.bucketColumn
    const useNdjson = format === 'ndjson' && typeof writer.putNdjson === 'function'

    const putGroup = async (group: Item[]): Promise<void> => {
      if (useNdjson && group.every((i) => i.raw !== undefined)) await writer.putNdjson!(group.map((i) => i.raw).join('\n'))
      else await writer.putBatch(group.map((i) => i.record))
    }
    const writeGroup = async (group: Item[]): Promise<void> => {
      try {
        await putGroup(group)
        written += group.length
        return
      } catch (err) {
        if (!isInputError(err)) throw err
      }
      // One call per bucket is all or nothing: find the culprits one record at a time.
      for (const item of group) {
        if (stopped) return
        try {
          await writer.put(item.record)
          written++
        } catch (err) {
          if (!isInputError(err)) throw err
          reportBad(item.line, (err as Error).message)
        }
      }
    }
    const writeBatch = async (items: Item[]): Promise<void> => {
      const groups = new Map<number, Item[]>()
      for (const item of items) {
        const id = writer.getBucketId(item.record[col])
        if (t.rank !== undefined && item.record[col] !== undefined && id % t.worldSize! !== t.rank) {
          others++
          continue
        }
        const g = groups.get(id)
        if (g) g.push(item)
        else groups.set(id, [item])
      }
      const results = await Promise.allSettled([...groups.values()].map(writeGroup))
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed) throw failed.reason
      bar?.update(bytesRead, payload())
    }

    bar?.start(barTotal, 0, payload())
    let batch: Item[] = []
    let inFlight: Promise<void> | undefined
    try {
      for await (const item of readInput(file, format, skip) as AsyncGenerator<InputItem>) {
        bytesRead = item.bytes
        if (interrupt.signal.aborted) break
        const why = item.error ?? invalid(item.record, col)
        if (why !== undefined) {
          reportBad(item.line, why)
          if (stopped) break
          continue
        }
        batch.push({ line: item.line, record: item.record as Record<string, unknown>, raw: item.raw })
        if (batch.length >= flags.batchSize) {
          // One batch in flight while the next one is parsed.
          await inFlight
          if (stopped) break
          inFlight = writeBatch(batch)
          inFlight.catch(() => undefined)
          batch = []
        }
      }
      interrupted = interrupt.signal.aborted
      await inFlight
      // Stopping keeps what came before the bad record (a bad line stops before its batch is written).
      const rest = stopped ? batch.filter((i) => i.line < Math.min(...bad.map((b) => b.line))) : batch
      if (rest.length > 0) await writeBatch(rest)
      if (file !== '-') bytesRead = totalBytes
      bar?.update(bytesRead, payload())
    } finally {
      bar?.stop()
      interrupt.dispose()
      await metricsServer?.close()
    }
    const f0 = performance.now()
    await writer.flush()
    flushMs = performance.now() - f0
  })

  const secs = (performance.now() - started) / 1000
  const summary = {
    topic: t.topic,
    storagePath: t.dir,
    format,
    ingested: written,
    ...(t.rank !== undefined ? { rank: t.rank, worldSize: t.worldSize, otherRanks: others } : {}),
    skipped: skip ? bad.length : 0,
    stoppedAt: !skip && bad.length > 0 ? bad[0].line : null,
    interrupted,
    badRecords: bad.slice(0, 1000),
    seconds: Number(secs.toFixed(3)),
    flushSeconds: Number((flushMs / 1000).toFixed(3)),
    recordsPerSecond: Math.round(written / Math.max(secs, 1e-3)),
    mbPerSecond: Number((bytesRead / Math.max(secs, 1e-3) / 1e6).toFixed(2)),
    wal: t.backend === 'persisting' ? t.wal : false,
  }
  if (flags.json) printJson(summary)
  else {
    if (bad.length > MAX_REPORTED) process.stderr.write(`persisting: ... and ${bad.length - MAX_REPORTED} more bad records\n`)
    out(
      `ingested ${written.toLocaleString('en-US')} records into topic '${t.topic}' in ${secs.toFixed(2)} s ` +
        `(${summary.recordsPerSecond.toLocaleString('en-US')} records/s, ${summary.mbPerSecond} MB/s; final flush ${summary.flushSeconds} s)`,
    )
    if (t.rank !== undefined) out(`rank ${t.rank} of ${t.worldSize}: left ${others.toLocaleString('en-US')} records of other ranks' buckets to their writers`)
    if (skip && bad.length > 0) out(`skipped ${bad.length} bad record(s)`)
    if (!skip && bad.length > 0) out(`stopped at line ${bad[0].line}: records after it were not ingested (use --on-error skip to skip bad records)`)
    out(`data: ${t.dir} (${t.numBuckets} buckets, backend ${t.backend}${t.backend === 'persisting' ? `, WAL ${t.wal ? 'on' : 'off'}` : ''}, compression ${t.compression ?? 'none'})`)
  }
  if (interrupted) process.exitCode = 130
  else if (bad.length > 0) process.exitCode = skip ? EXIT.SKIPPED : EXIT.BAD_INPUT
}

/** Why a parsed value cannot be a record of this topic (checked before batching, so one bad line cannot fail a batch). */
function invalid(record: unknown, col: string): string | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return `not a record: expected a JSON object, got ${record === null ? 'null' : Array.isArray(record) ? 'an array' : typeof record}`
  }
  const v = (record as Record<string, unknown>)[col]
  if (v === undefined || v === null) return `missing the bucket column '${col}' (set it with --bucket-column)`
  if (typeof v === 'object') return `bucket column '${col}' must be a string or number`
  return undefined
}
