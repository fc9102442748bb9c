// Every contender behind one small interface, so each is driven by the same loop on the same
// batches:  open(dir) -> write(batch) per call -> finish() -> info() -> close().
// Libraries are imported lazily, so a child process only loads the one it measures.
import fs from 'node:fs'
import path from 'node:path'
import { countFiles, du } from './util.js'

const OURS = { memory: 'MemoryBackend', lance: 'LanceBackend', persisting: 'PersistingBackend' }

export function isOurs(contender) {
  return contender in OURS
}

async function ours(contender, allOptions, set, batchSize) {
  const pst = await import('../../dist/index.js')
  const Cls = pst[OURS[contender]]
  const { ndjson, arrow, typed, ...options } = allOptions
  // With `arrow`, each batch is handed over as Arrow IPC bytes (tableToIPC of tableFromJSON).
  const { tableFromJSON, tableToIPC } = arrow ? await import('apache-arrow') : {}
  let b
  let dir
  return {
    async open(d) {
      dir = d
      b = new Cls({ bucketId: 0, storagePath: d, ...options })
    },
    backend: () => b,
    // With `ndjson`, each batch is handed over as NDJSON bytes, encoded untimed by `prepare`.
    prepare: ndjson
      ? (batch) => Buffer.from(batch.map((r) => JSON.stringify(r)).join('\n'))
      : arrow
        ? (batch) => tableToIPC(tableFromJSON(batch), 'stream')
        : typed
          ? (batch) => batch.map((r) => ({ ...r, vector: Float32Array.from(r.vector) }))
          : undefined,
    // Batch size 1 is the single-record `await put()` loop; every other size is putBatch.
    write: ndjson
      ? (bytes) => b.putNdjson(bytes)
      : arrow
        ? (ipc) => b.putArrow(ipc)
        : batchSize === 1
          ? (batch) => b.put(batch[0])
          : (batch) => b.putBatch(batch),
    async finish() {
      await b.flush()
    },
    async info() {
      const s = await b.stats()
      const ds = path.join(dir, 'data.lance')
      const out = { totalCount: s.totalCount, persistedCount: s.persistedCount }
      if (contender !== 'memory') {
        Object.assign(out, {
          version: s.version,
          fragments: s.fragments,
          versionFiles: countFiles(path.join(ds, '_versions')),
          dataFiles: countFiles(path.join(ds, 'data')),
          diskBytes: du(dir).bytes,
          walFsyncs: s.walFsyncs,
          lastFlushError: s.lastFlushError,
        })
      }
      return out
    },
    async close() {
      await b.close()
    },
  }
}

async function lancedb() {
  const ldb = await import('@lancedb/lancedb')
  let db
  let table
  let dir
  return {
    async open(d) {
      dir = d
      db = await ldb.connect(d)
    },
    async write(batch) {
      if (!table) table = await db.createTable('bench', batch)
      else await table.add(batch)
    },
    async finish() {},
    async info() {
      const ds = path.join(dir, 'bench.lance')
      return {
        totalCount: await table.countRows(),
        version: await table.version(),
        versionFiles: countFiles(path.join(ds, '_versions')),
        dataFiles: countFiles(path.join(ds, 'data')),
        diskBytes: du(dir).bytes,
        manifestBytes: du(path.join(ds, '_versions')).bytes,
      }
    },
    async close() {
      table?.close()
      db?.close()
    },
  }
}

async function sqlite(options, set) {
  const { default: Database } = await import('better-sqlite3')
  const sync = options.synchronous ?? 'NORMAL'
  let db
  let tx
  let dir
  let pragmas
  return {
    async open(d) {
      dir = d
      db = new Database(path.join(d, 'bench.db'))
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${sync}`)
      // Read back: a WAL database silently defaults to NORMAL in better-sqlite3's build.
      pragmas = {
        journalMode: db.pragma('journal_mode', { simple: true }),
        synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true })],
      }
      if (pragmas.journalMode !== 'wal' || pragmas.synchronous !== sync) {
        throw new Error(`sqlite did not take the settings: asked WAL/${sync}, got ${JSON.stringify(pragmas)}`)
      }
      if (set === 'B') {
        db.exec('CREATE TABLE t (id TEXT, n INTEGER, x REAL, text TEXT, ts TEXT, vector BLOB)')
        const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)')
        tx = db.transaction((rows) => {
          for (const r of rows) ins.run(r.id, r.n, r.x, r.text, r.ts, Buffer.from(new Float32Array(r.vector).buffer))
        })
      } else {
        db.exec('CREATE TABLE t (id TEXT, n INTEGER, x REAL, text TEXT, ts TEXT)')
        const ins = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?)')
        tx = db.transaction((rows) => {
          for (const r of rows) ins.run(r.id, r.n, r.x, r.text, r.ts)
        })
      }
    },
    // One transaction per call (a single-row call is a single-row transaction).
    async write(batch) {
      tx(batch)
    },
    /** For the durable section: one autocommit single-row insert. */
    single(r) {
      tx([r])
    },
    async finish() {},
    async info() {
      return {
        totalCount: db.prepare('SELECT count(*) AS c FROM t').get().c,
        pragmas,
        diskBytes: du(dir).bytes,
      }
    },
    async close() {
      db.close()
    },
  }
}

async function lmdb() {
  const { open } = await import('lmdb')
  let db
  let dir
  return {
    async open(d) {
      dir = d
      db = open({ path: path.join(d, 'bench.mdb') })
    },
    // Async puts (batched into one transaction by lmdb), then wait until flushed to disk.
    async write(batch) {
      let last
      for (const r of batch) last = db.put(r.id, r)
      await last
      await db.flushed
    },
    async finish() {},
    async info() {
      let n = 0
      for (const _ of db.getKeys()) n++
      return { totalCount: n, diskBytes: du(dir).bytes }
    },
    async close() {
      await db.close()
    },
  }
}

async function level() {
  const { ClassicLevel } = await import('classic-level')
  let db
  let dir
  return {
    async open(d) {
      dir = d
      db = new ClassicLevel(path.join(d, 'bench.level'), { valueEncoding: 'json' })
      await db.open()
    },
    async write(batch) {
      await db.batch(
        batch.map((r) => ({ type: 'put', key: r.id, value: r })),
        { sync: true },
      )
    },
    async finish() {},
    async info() {
      let n = 0
      for await (const _ of db.keys()) n++
      return { totalCount: n, diskBytes: du(dir).bytes }
    },
    async close() {
      await db.close()
    },
  }
}

async function noop() {
  return {
    async open() {},
    async write() {},
    async finish() {},
    async info() {
      return {}
    },
    async close() {},
  }
}

export async function makeContender(contender, options = {}, set = 'A', batchSize = 1000) {
  if (isOurs(contender)) return ours(contender, options, set, batchSize)
  switch (contender) {
    case 'lancedb':
      return lancedb()
    case 'sqlite':
      return sqlite(options, set)
    case 'lmdb':
      return lmdb()
    case 'level':
      return level()
    case 'noop':
      return noop()
    default:
      throw new Error(`unknown contender ${contender}`)
  }
}

/** Tries to load each peer; returns { name: { ok, version?, error? } }. */
export async function probePeers(root) {
  const out = {}
  const tries = {
    lancedb: async () => {
      const m = await import('@lancedb/lancedb')
      const d = fs.mkdtempSync(path.join((await import('node:os')).tmpdir(), 'pst-bench-probe-'))
      try {
        const db = await m.connect(d)
        const t = await db.createTable('p', [{ a: 1 }])
        t.close()
        db.close()
      } finally {
        fs.rmSync(d, { recursive: true, force: true })
      }
      return '@lancedb/lancedb'
    },
    sqlite: async () => {
      const { default: D } = await import('better-sqlite3')
      new D(':memory:').close()
      return 'better-sqlite3'
    },
    lmdb: async () => {
      await import('lmdb')
      return 'lmdb'
    },
    level: async () => {
      await import('classic-level')
      return 'classic-level'
    },
  }
  const { pkgVersion } = await import('./util.js')
  for (const [name, fn] of Object.entries(tries)) {
    try {
      const pkg = await fn()
      out[name] = { ok: true, pkg, version: pkgVersion(root, pkg) }
    } catch (err) {
      out[name] = { ok: false, error: String(err?.message ?? err).split('\n')[0] }
    }
  }
  return out
}
