/**
 * `persisting compact` (merge small Lance fragments) and `persisting cleanup` (remove old Lance
 * versions) of every bucket: both open the topic as its writer, so they need the writer lock.
 */
import type { Command } from 'commander'
import type { CleanupOptions, CleanupResult } from '../backends/native-backend.js'
import { DEFAULT_CLEANUP_OLDER_THAN } from '../defaults.js'
import {
  checkBucket, CliError, EXIT, intArg, openWriter, out, printJson, resolveTopic, secondsArg, table, topicOptions, withSystem, type TopicFlags,
} from './common.js'

type Maintained = {
  compact(): Promise<{ fragmentsRemoved: number; fragmentsAdded: number }>
  cleanupOldVersions(options: CleanupOptions): Promise<CleanupResult>
}

export function register(program: Command): void {
  const compact = program
    .command('compact')
    .summary('merge small fragments (takes the writer lock)')
    .description(
      'Merge the small Lance fragments of each bucket into larger ones (row order is kept). It opens ' +
        'the topic as its writer, so it fails with exit 4 while another process writes to it.',
    )
    .option('--bucket <id>', 'only this bucket', intArg('--bucket'))
  topicOptions(compact, { write: true }).action(async (flags: TopicFlags & { bucket?: number }) => {
    const rows = await eachBucket(flags, 'compact', (b) => b.compact())
    if (flags.json) printJson(rows)
    else out(table([['bucket', 'fragments removed', 'fragments added'], ...rows.map((r) => [r.bucket, r.fragmentsRemoved, r.fragmentsAdded])]))
  })

  const cleanup = program
    .command('cleanup')
    .summary('remove old Lance versions and their files (takes the writer lock)')
    .description(
      'Remove the Lance versions of each bucket committed more than --older-than seconds ago (never the ' +
        'latest) and the files no kept version names; the records stay. Removed versions can no longer ' +
        'be checked out. It opens the topic as its writer, so it fails with exit 4 while another process writes to it.',
    )
    .option('--older-than <seconds>', 'age of the versions to remove (0 keeps only the latest)', secondsArg, DEFAULT_CLEANUP_OLDER_THAN)
    .option('--bucket <id>', 'only this bucket', intArg('--bucket'))
  topicOptions(cleanup, { write: true }).action(async (flags: TopicFlags & { bucket?: number; olderThan: number }) => {
    const rows = await eachBucket(flags, 'cleanupOldVersions', (b) => b.cleanupOldVersions({ olderThan: flags.olderThan }))
    if (flags.json) printJson(rows)
    else out(table([['bucket', 'versions removed', 'bytes removed'], ...rows.map((r) => [r.bucket, r.versionsRemoved, r.bytesRemoved])]))
  })
}

/** Runs `fn` on each bucket's backend (or the one `--bucket` names) as the topic's writer; the backend must have `method`. */
async function eachBucket<R extends object>(
  flags: TopicFlags & { bucket?: number },
  method: keyof Maintained,
  fn: (backend: Maintained) => Promise<R>,
): Promise<({ bucket: number } & R)[]> {
  const t = resolveTopic(flags, true)
  const only = checkBucket(t, flags.bucket)
  return withSystem(async (system) => {
    const writer = await openWriter(system, t)
    const rows: ({ bucket: number } & R)[] = []
    for (const id of only ?? Array.from({ length: t.numBuckets }, (_, i) => i)) {
      const backend = writer.queue.bucket(id).backend as Partial<Maintained>
      if (typeof backend[method] !== 'function') throw new CliError(`backend '${t.backend}' has no ${method}()`, EXIT.USAGE)
      rows.push({ bucket: id, ...(await fn(backend as Maintained)) })
    }
    return rows
  })
}
