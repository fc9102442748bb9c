/** `persisting compact`: merge small Lance fragments of every bucket (needs the writer lock). */
import type { Command } from 'commander'
import { checkBucket, CliError, EXIT, intArg, openWriter, out, printJson, resolveTopic, table, topicOptions, withSystem, type TopicFlags } from './common.js'

type Compactable = { compact(): Promise<{ fragmentsRemoved: number; fragmentsAdded: number }> }

export function register(program: Command): void {
  const cmd = program
    .command('compact')
    .summary('merge small fragments (takes the writer lock)')
    .description(
      'Merge the small Lance fragments of each bucket into larger ones (row order is kept). It opens ' +
        'the topic as its writer, so it fails with exit 4 while another process writes to it.',
    )
    .option('--bucket <id>', 'only this bucket', intArg('--bucket'))
  topicOptions(cmd, { write: true }).action((flags: TopicFlags & { bucket?: number }) => compact(flags))
}

async function compact(flags: TopicFlags & { bucket?: number }): Promise<void> {
  const t = resolveTopic(flags, true)
  const only = checkBucket(t, flags.bucket)
  const result = await withSystem(async (system) => {
    const writer = await openWriter(system, t)
    const rows: { bucket: number; fragmentsRemoved: number; fragmentsAdded: number }[] = []
    for (const id of only ?? Array.from({ length: t.numBuckets }, (_, i) => i)) {
      const backend = writer.queue.bucket(id).backend as Partial<Compactable>
      if (typeof backend.compact !== 'function') throw new CliError(`backend '${t.backend}' cannot compact`, EXIT.USAGE)
      rows.push({ bucket: id, ...(await backend.compact()) })
    }
    return rows
  })
  if (flags.json) printJson(result)
  else out(table([['bucket', 'fragments removed', 'fragments added'], ...result.map((r) => [r.bucket, r.fragmentsRemoved, r.fragmentsAdded])]))
}
