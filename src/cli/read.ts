/** `persisting read`: a topic's records as NDJSON on stdout, bucket by bucket in offset order. */
import type { Command } from 'commander'
import { checkBucket, intArg, openReader, resolveTopic, topicOptions, withSystem, type TopicFlags } from './common.js'

interface ReadFlags extends TopicFlags {
  from: number
  limit?: number
  bucket?: number
}

export function register(program: Command): void {
  const cmd = program
    .command('read')
    .summary('print records as NDJSON')
    .description(
      'Print the flushed records of a topic as NDJSON on stdout: bucket 0 first, each bucket in offset ' +
        'order. Opens the topic read-only, so it works while a writer runs in another process.',
    )
    .option('--from <offset>', 'start at this offset in every bucket read', intArg('--from'), 0)
    .option('--limit <n>', 'print at most n records in all', intArg('--limit'))
    .option('--bucket <id>', 'read only this bucket', intArg('--bucket'))
  topicOptions(cmd, { json: false }).action((flags: ReadFlags) => read(flags))
}

async function read(flags: ReadFlags): Promise<void> {
  const t = resolveTopic(flags, true)
  const only = checkBucket(t, flags.bucket)
  await withSystem(async (system) => {
    let left = flags.limit ?? Infinity
    for (const id of only ?? Array.from({ length: t.numBuckets }, (_, i) => i)) {
      if (left <= 0) break
      const reader = await openReader(system, t, [id])
      reader.setOffset(flags.from)
      let buf = ''
      for await (const row of reader.getStream({ limit: left === Infinity ? null : left })) {
        left--
        buf += JSON.stringify(row) + '\n'
        if (buf.length > 1 << 16) {
          if (!process.stdout.write(buf)) await new Promise((r) => process.stdout.once('drain', r))
          buf = ''
        }
      }
      if (buf) process.stdout.write(buf)
    }
  })
}
