/** `persisting stats`: one row per bucket (counts, version, disk and WAL bytes, compression). */
import { join } from 'node:path'
import type { Command } from 'commander'
import { dirBytes, humanBytes, openReader, out, printJson, resolveTopic, table, topicOptions, withSystem, type TopicFlags } from './common.js'

export function register(program: Command): void {
  const cmd = program
    .command('stats')
    .summary('per-bucket counts, versions, disk and WAL bytes')
    .description(
      'Show a table per bucket: records, records still only in the WAL (unflushed), Lance version and ' +
        'fragments, bytes on disk, WAL bytes and compression. Opens the topic read-only, so it works ' +
        'while a writer runs; counts are what has been flushed to Lance.',
    )
  topicOptions(cmd).action((flags: TopicFlags) => stats(flags))
}

export interface BucketRow {
  bucket: number
  records: number
  version: number | null
  fragments: number | null
  diskBytes: number
  walBytes: number
  compression: string | null
  path: string
}

async function stats(flags: TopicFlags): Promise<void> {
  const t = resolveTopic(flags, true)
  const rows: BucketRow[] = await withSystem(async (system) => {
    const reader = await openReader(system, t)
    return Promise.all(
      reader.bucketIds.map(async (id) => {
        const s = await reader.queue.readBucket(id).stats()
        const path = join(t.dir, `bucket_${id}`)
        const walBytes = dirBytes(join(path, 'wal'))
        return {
          bucket: id,
          records: s.totalCount,
          version: typeof s.version === 'number' ? s.version : null,
          fragments: typeof s.fragments === 'number' ? s.fragments : null,
          diskBytes: typeof s.diskBytes === 'number' ? s.diskBytes : dirBytes(path) - walBytes,
          walBytes,
          compression: (s.compression as string | null | undefined) ?? t.compression,
          path,
        }
      }),
    )
  })
  const total = {
    records: rows.reduce((a, r) => a + r.records, 0),
    diskBytes: rows.reduce((a, r) => a + r.diskBytes, 0),
    walBytes: rows.reduce((a, r) => a + r.walBytes, 0),
  }
  if (flags.json) {
    printJson({ topic: t.topic, storagePath: t.dir, backend: t.backend, numBuckets: t.numBuckets, bucketColumn: t.bucketColumn, ...total, buckets: rows })
    return
  }
  out(`topic '${t.topic}' in ${t.dir} (backend ${t.backend}, ${t.numBuckets} buckets, bucket column '${t.bucketColumn}')`)
  out(
    table([
      ['bucket', 'records', 'version', 'fragments', 'disk', 'wal', 'compression'],
      ...rows.map((r) => [r.bucket, r.records, r.version ?? '-', r.fragments ?? '-', humanBytes(r.diskBytes), humanBytes(r.walBytes), r.compression ?? 'none']),
      ['total', total.records, '', '', humanBytes(total.diskBytes), humanBytes(total.walBytes), ''],
    ]),
  )
}
