/** `persisting search <column> <vector>`: nearest records across all buckets. */
import { InvalidArgumentError, type Command } from 'commander'
import type { Row } from '../index.js'
import { CliError, EXIT, intArg, openReader, printJson, resolveTopic, topicOptions, withSystem, type TopicFlags } from './common.js'

type Searchable = { search(column: string, vector: number[], k: number): Promise<Row[]> }

function vectorArg(value: string): number[] {
  let v: unknown
  try {
    v = JSON.parse(value)
  } catch {
    throw new InvalidArgumentError('the vector must be a JSON array of numbers, e.g. [0.1,2,3]')
  }
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new InvalidArgumentError('the vector must be a non-empty JSON array of finite numbers')
  }
  return v as number[]
}

export function register(program: Command): void {
  const cmd = program
    .command('search')
    .summary('k nearest records to a vector')
    .description(
      'Print the k records nearest to <vector> in the vector field <column> (e.g. a field named ' +
        "'vector' holding number arrays), nearest first, as NDJSON with " +
        '_distance and _bucket fields. Searches every bucket read-only and merges the results.',
    )
    .argument('<column>', 'vector field')
    .argument('<vector>', 'query vector as a JSON array, e.g. "[10, 500, 1.5]"', vectorArg)
    .option('-k, --k <n>', 'number of results', intArg('-k', 1), 10)
  topicOptions(cmd).action((column: string, vector: number[], flags: TopicFlags & { k: number }) => search(column, vector, flags))
}

async function search(column: string, vector: number[], flags: TopicFlags & { k: number }): Promise<void> {
  const t = resolveTopic(flags, true)
  const hits = await withSystem(async (system) => {
    const reader = await openReader(system, t)
    const per = await Promise.all(
      reader.bucketIds.map(async (id) => {
        const backend = reader.queue.readBucket(id).backend as Partial<Searchable>
        if (typeof backend.search !== 'function') throw new CliError(`backend '${t.backend}' cannot search`, EXIT.USAGE)
        if (backend && reader.queue.readBucket(id).totalCount() === 0) return []
        const rows = await backend.search(column, vector, flags.k)
        return rows.map((r): Row => ({ ...r, _bucket: id }))
      }),
    )
    return per.flat().sort((a, b) => (a._distance as number) - (b._distance as number)).slice(0, flags.k)
  })
  if (flags.json) printJson(hits)
  else for (const h of hits) process.stdout.write(JSON.stringify(h) + '\n')
}
