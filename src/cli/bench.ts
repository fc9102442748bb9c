/** `persisting bench`: a quick write / flush / read benchmark of one backend on synthetic records. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { intArg, openReader, openWriter, out, printJson, resolveTopic, table, topicOptions, withSystem, type TopicFlags } from './common.js'

interface BenchFlags extends TopicFlags {
  records: number
  batchSize: number
  keep?: boolean
}

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .summary('quick write/flush/read benchmark')
    .description(
      'Write --records synthetic records through putBatch, flush, and read them back, printing ' +
        'records/s for each phase. Runs in a fresh temporary directory (removed afterwards unless ' +
        '--keep) unless --storage-path is given. For the full comparison with other stores see ' +
        '`npm run bench` (docs/benchmarks.md).',
    )
    .option('--records <n>', 'records to write', intArg('--records', 1), 100_000)
    .option('--batch-size <n>', 'records per putBatch call', intArg('--batch-size', 1), 5_000)
    .option('--keep', 'keep the temporary directory')
  topicOptions(cmd, { write: true }).action((flags: BenchFlags, command: Command) => bench(flags, command))
}

async function bench(flags: BenchFlags, command: Command): Promise<void> {
  const given = command.getOptionValueSource('storagePath') === 'cli'
  const root = given ? resolve(flags.storagePath) : mkdtempSync(join(tmpdir(), 'persisting-bench-'))
  const t = resolveTopic({ ...flags, storagePath: root, topic: given ? flags.topic : 'bench' }, false)
  const records = Array.from({ length: flags.records }, (_, i) => ({
    id: `key-${i % 1000}`,
    seq: i,
    value: i * 0.5,
    text: `event number ${i}`,
  }))
  const bytes = records.reduce((a, r) => a + JSON.stringify(r).length + 1, 0)
  try {
    const phases: { phase: string; seconds: number; recordsPerSecond: number; mbPerSecond: number }[] = []
    const phase = (name: string, ms: number): void => {
      const s = ms / 1000
      phases.push({ phase: name, seconds: Number(s.toFixed(3)), recordsPerSecond: Math.round(flags.records / s), mbPerSecond: Number((bytes / s / 1e6).toFixed(1)) })
    }
    await withSystem(async (system) => {
      const writer = await openWriter(system, t)
      let t0 = performance.now()
      for (let i = 0; i < records.length; i += flags.batchSize) await writer.putBatch(records.slice(i, i + flags.batchSize))
      phase('write (acknowledged)', performance.now() - t0)
      t0 = performance.now()
      await writer.flush()
      phase('flush to Lance', performance.now() - t0)
    })
    await withSystem(async (system) => {
      const reader = await openReader(system, t)
      const t0 = performance.now()
      let n = 0
      for await (const _ of reader.getStream()) n++
      phase(`read back (${n} records)`, performance.now() - t0)
    })
    if (flags.json) printJson({ backend: t.backend, wal: t.wal, syncInterval: t.syncInterval, compression: t.compression, records: flags.records, phases })
    else {
      out(`bench: ${flags.records} records (${(bytes / 1e6).toFixed(1)} MB as JSON), backend ${t.backend}, WAL ${t.wal ? `on (sync interval ${t.syncInterval} s)` : 'off'}, compression ${t.compression ?? 'none'}`)
      out(table([['phase', 'seconds', 'records/s', 'MB/s'], ...phases.map((p) => [p.phase, p.seconds, p.recordsPerSecond, p.mbPerSecond])]))
    }
  } finally {
    if (!given && !flags.keep) rmSync(root, { recursive: true, force: true })
    else if (!given) out(`data kept in ${root}`)
  }
}
