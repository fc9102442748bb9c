/** `persisting versions`: the Lance versions of every bucket. */
import type { Command } from 'commander'
import { checkBucket, CliError, EXIT, intArg, openReader, out, printJson, resolveTopic, table, topicOptions, withSystem, type TopicFlags } from './common.js'

type Versioned = { versions(): Promise<{ version: number; timestamp: Date }[]> }

export function register(program: Command): void {
  const cmd = program
    .command('versions')
    .summary('list the Lance versions of each bucket')
    .description('List every Lance dataset version of each bucket (a flush or compaction makes one), oldest first.')
    .option('--bucket <id>', 'only this bucket', intArg('--bucket'))
  topicOptions(cmd).action((flags: TopicFlags & { bucket?: number }) => versions(flags))
}

async function versions(flags: TopicFlags & { bucket?: number }): Promise<void> {
  const t = resolveTopic(flags, true)
  const only = checkBucket(t, flags.bucket)
  const result = await withSystem(async (system) => {
    const reader = await openReader(system, t, only)
    const all: { bucket: number; version: number; timestamp: string }[] = []
    for (const id of reader.bucketIds) {
      const backend = reader.queue.readBucket(id).backend as Partial<Versioned>
      if (typeof backend.versions !== 'function') throw new CliError(`backend '${t.backend}' keeps no versions`, EXIT.USAGE)
      for (const v of await backend.versions()) all.push({ bucket: id, version: v.version, timestamp: v.timestamp.toISOString() })
    }
    return all
  })
  if (flags.json) printJson(result)
  else out(table([['bucket', 'version', 'timestamp'], ...result.map((v) => [v.bucket, v.version, v.timestamp])]))
}
