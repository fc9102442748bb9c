/** `persisting tail [-f]`: the newest records; with -f, follows new ones until Ctrl-C. */
import type { Command } from 'commander'
import { checkBucket, intArg, onInterrupt, openReader, resolveTopic, topicOptions, withSystem, type TopicFlags } from './common.js'

interface TailFlags extends TopicFlags {
  follow?: boolean
  lines: number
  bucket?: number
}

export function register(program: Command): void {
  const cmd = program
    .command('tail')
    .summary('print the newest records; -f follows new ones')
    .description(
      'Print the last n records of every bucket as NDJSON. With -f, then wait for new records ' +
        '(written by any process, visible once flushed) and print them as they arrive, until ' +
        'Ctrl-C (SIGINT) or SIGTERM; it then ends cleanly with exit code 0.',
    )
    .option('-f, --follow', 'keep printing new records until interrupted')
    .option('-n, --lines <n>', 'records to print first, per bucket', intArg('--lines'), 10)
    .option('--bucket <id>', 'only this bucket', intArg('--bucket'))
  topicOptions(cmd, { json: false }).action((flags: TailFlags) => tail(flags))
}

async function tail(flags: TailFlags): Promise<void> {
  const t = resolveTopic(flags, true)
  const only = checkBucket(t, flags.bucket)
  const interrupt = onInterrupt()
  try {
    await withSystem(async (system) => {
      const reader = await openReader(system, t, only)
      for (const id of reader.bucketIds) {
        const total = reader.queue.readBucket(id).totalCount()
        reader.setOffset(Math.max(0, total - flags.lines), id)
      }
      if (flags.follow) process.stderr.write(`following topic '${t.topic}' in ${t.dir} (Ctrl-C to stop)\n`)
      const stream = reader.getStream({ block: flags.follow === true, signal: interrupt.signal })
      for await (const row of stream) {
        if (!process.stdout.write(JSON.stringify(row) + '\n')) await new Promise((r) => process.stdout.once('drain', r))
      }
    })
  } finally {
    interrupt.dispose()
  }
}
