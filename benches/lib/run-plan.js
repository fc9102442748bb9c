// Benchmark runner: command-line flags, the quick/full plan, and our configurations and peers by key.

// ---------------------------------------------------------------------------------------------
// Command line and plan.
export const argv = process.argv.slice(2)
export const flag = (name) => argv.includes(`--${name}`)
export const opt = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]
const QUICK = flag('quick')
const SECTION_NAMES = { 1: 'ingest', 2: 'peers', 3: 'durable', 4: 'read', 5: 'latency', 6: 'physical' }
const onlyArg = opt('only')
export const only = onlyArg
  ? new Set(onlyArg.split(',').map((s) => SECTION_NAMES[s.trim()] ?? s.trim()))
  : null
for (const s of only ?? []) {
  if (!Object.values(SECTION_NAMES).includes(s)) {
    console.error(`unknown section '${s}'; sections: ${Object.values(SECTION_NAMES).join(', ')} (or 1-6)`)
    process.exit(2)
  }
}
export const want = (s) => !only || only.has(s)
export const WRITE = !flag('no-write') && !only

export const PLAN = QUICK
  ? {
      mode: 'quick',
      timeCapSec: 1.5,
      repeats: 1,
      countsA: { 1: 20_000, 100: 30_000, 1000: 100_000, 10000: 100_000 },
      countsB: { 100: 5_000, 1000: 20_000 },
      variantBatches: [1000],
      rssStream: 100_000,
      durable: { records: 20_000, timeCapSec: 3 },
      readRecords: 200_000,
      readChunk: 10_000,
      latency: { n: 300, gapMs: 1 },
      json: { recordsA: 100_000, recordsB: 20_000 },
      disk: { fsyncSecs: 1, seqMiB: 128 },
      caseTimeoutSec: 60,
    }
  : {
      mode: 'full',
      timeCapSec: 8,
      // Set-A ingest cases at the headline batch sizes (ours and peers alike) run this many
      // times and report the median run: this shared machine has second-long disk stalls.
      repeats: 3,
      countsA: { 1: 100_000, 100: 200_000, 1000: 300_000, 10000: 500_000 },
      countsB: { 100: 20_000, 1000: 100_000, 10000: 100_000 },
      variantBatches: [1000, 10000],
      rssStream: 1_000_000,
      durable: { records: 200_000, timeCapSec: 8 },
      readRecords: 1_000_000,
      readChunk: 10_000,
      latency: { n: 2000, gapMs: 1 },
      json: { recordsA: 300_000, recordsB: 50_000 },
      disk: { fsyncSecs: 4, seqMiB: 512 },
      caseTimeoutSec: 150,
    }
export const BATCHES_A = Object.keys(PLAN.countsA).map(Number)
export const BATCHES_B = Object.keys(PLAN.countsB).map(Number)
// (the report takes its batch sizes from the saved plan)

// Our configurations (section 1) and the peers (section 2), by key.
export const OURS = {
  memory: { label: 'MemoryBackend', contender: 'memory', options: {} },
  lance: { label: 'LanceBackend', contender: 'lance', options: {} },
  'p-off': { label: 'Persisting WAL off', contender: 'persisting', options: {} },
  'p-1.0': { label: 'Persisting WAL sync 1.0 s', contender: 'persisting', options: { enableWal: true, walSyncInterval: 1.0 } },
  'p-0.1': { label: 'Persisting WAL sync 0.1 s', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1 } },
  'p-0': { label: 'Persisting WAL sync 0 (fsync per ack)', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0 } },
}
export const VARIANTS = {
  'p-off-zstd': { label: 'Persisting WAL off, zstd', contender: 'persisting', options: { compression: 'zstd' } },
  'p-off-lz4': { label: 'Persisting WAL off, lz4', contender: 'persisting', options: { compression: 'lz4' } },
  'p-off-snappy': { label: 'Persisting WAL off, snappy', contender: 'persisting', options: { compression: 'snappy' } },
  'p-0.1-zstd': { label: 'Persisting WAL 0.1 s, zstd', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'zstd' } },
  'p-0.1-lz4': { label: 'Persisting WAL 0.1 s, lz4', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'lz4' } },
  'p-0.1-snappy': { label: 'Persisting WAL 0.1 s, snappy', contender: 'persisting', options: { enableWal: true, walSyncInterval: 0.1, compression: 'snappy' } },
  'p-off-ft100k': { label: 'Persisting WAL off, flushThreshold 100k', contender: 'persisting', options: { flushThreshold: 100_000 } },
  // The batch arrives as NDJSON bytes (an HTTP body, a Kafka message): encoded before the clock starts.
  'p-off-ndjson': { label: 'Persisting WAL off, putNdjson of bytes', contender: 'persisting', options: { ndjson: true } },
  // The batch arrives as Arrow IPC bytes (from DuckDB, Polars, pyarrow): made before the clock starts.
  'p-off-arrow': { label: 'Persisting WAL off, putArrow of IPC bytes', contender: 'persisting', options: { arrow: true } },
}
// Set B only: the vectors arrive as Float32Array values (an embedding model's output), made
// before the clock starts; they cross into the core as raw bytes.
export const OURS_TYPED = {
  'lance-f32': { label: 'LanceBackend, Float32Array vectors', contender: 'lance', options: { typed: true } },
  'p-off-f32': { label: 'Persisting WAL off, Float32Array vectors', contender: 'persisting', options: { typed: true } },
}
export const OURS_B = ['memory', 'lance', 'lance-f32', 'p-off', 'p-off-f32', 'p-0.1', 'p-0']
/** Our configuration by key, in either set. */
export const oursConfig = (key) => OURS[key] ?? OURS_TYPED[key]
export const PEERS = {
  lancedb: { short: '@lancedb/lancedb', label: '@lancedb/lancedb table.add (no fsync)', contender: 'lancedb', probe: 'lancedb', options: {} },
  'sqlite-normal': { short: 'better-sqlite3 NORMAL', label: 'better-sqlite3 WAL, synchronous=NORMAL', contender: 'sqlite', probe: 'sqlite', options: { synchronous: 'NORMAL' } },
  'sqlite-full': { short: 'better-sqlite3 FULL', label: 'better-sqlite3 WAL, synchronous=FULL', contender: 'sqlite', probe: 'sqlite', options: { synchronous: 'FULL' } },
  lmdb: { short: 'lmdb', label: 'lmdb put + await flushed', contender: 'lmdb', probe: 'lmdb', options: {} },
  level: { short: 'classic-level', label: 'classic-level batch, sync: true', contender: 'level', probe: 'level', options: {} },
}
// Which of our configurations is the like-for-like durability match for each peer.
export const MATCH = { lancedb: 'p-off', 'sqlite-normal': 'p-0.1', 'sqlite-full': 'p-0', lmdb: 'p-0', level: 'p-0' }

/** Batch sizes whose set-A ingest cases are repeated (median run kept). */
export const REPEATED_BATCHES = new Set([1, 1000])
