/**
 * What a user gets from `npm install`: the root package and the linux-x64-gnu binary package are
 * packed with `npm pack`, checked file by file against the `files` policy, and installed into an
 * empty project on a PATH without cargo, rustc or protoc. Scripts there import the package as
 * ESM and as CommonJS, write a topic with the durable `persisting` backend, read it back and
 * print the metrics. The binary packed is the one this run's tests use (a release job packs
 * `npm run prebuild`'s instead), so CI never compiles Lance twice.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { tmpDir } from './helpers/tmp.js'

const root = path.resolve(import.meta.dirname, '..')
const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const platformDir = path.join(root, 'npm', 'linux-x64-gnu')
const binaryName = 'persisting.linux-x64-gnu.node'
const supported = process.platform === 'linux' && process.arch === 'x64'
const forbiddenTools = ['cargo', 'rustc', 'rustup', 'protoc']

interface Packed {
  tarball: string
  files: Map<string, number>
  size: number
  unpackedSize: number
}

function npmPack(cwd: string, dest: string): Packed {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd, encoding: 'utf8' })
  const [info] = JSON.parse(out) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string; size: number }> }>
  return {
    tarball: path.join(dest, info.filename),
    files: new Map(info.files.map((f) => [f.path, f.size])),
    size: info.size,
    unpackedSize: info.unpackedSize,
  }
}

/**
 * A PATH holding node and the usual system directories, minus every Rust or protoc tool: a
 * directory that contains one is replaced by a copy of its symlinks without it.
 */
function pathWithoutToolchain(scratch: string): string {
  const dirs = [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin']
  const out: string[] = []
  for (const [i, dir] of dirs.entries()) {
    if (!fs.existsSync(dir)) continue
    const entries = fs.readdirSync(dir)
    if (!entries.some((e) => forbiddenTools.includes(e))) {
      out.push(dir)
      continue
    }
    const shadow = path.join(scratch, `bin-${i}`)
    fs.mkdirSync(shadow)
    for (const e of entries) if (!forbiddenTools.includes(e)) fs.symlinkSync(path.join(dir, e), path.join(shadow, e))
    out.push(shadow)
  }
  return out.join(path.delimiter)
}

function cleanEnv(PATH: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(CARGO|RUSTUP|RUSTC|PROTOC|NAPI_RS|npm_|VITEST|PERSISTING_)/i.test(k)) continue
    env[k] = v
  }
  return { ...env, PATH }
}

const USE_SCRIPT = (load: string) => `
${load}
const dir = process.argv[2]
const system = await pst.createSystem()
const writer = await pst.writeQueue(system, 'installed', {
  numBuckets: 2, storagePath: dir, backend: 'persisting',
  backendOptions: { enableWal: true, walSyncInterval: 0, compression: 'zstd', enableMetrics: true },
})
const records = Array.from({ length: 300 }, (_, i) => ({ id: 'user-' + (i % 7), seq: i, text: 'event ' + i }))
await writer.putBatch(records)
await writer.flush()
await system.shutdown()
const system2 = await pst.createSystem()
let seqs = []
for (const rank of [0, 1]) {
  const reader = await pst.readQueue(system2, 'installed', {
    numBuckets: 2, storagePath: dir, backend: 'persisting', rank, worldSize: 2,
  })
  seqs.push(...(await reader.get({ limit: 1000 })).map((r) => r.seq))
}
await system2.shutdown()
seqs.sort((a, b) => a - b)
const text = await pst.metrics()
console.log(JSON.stringify({
  read: seqs.length, exact: seqs.every((s, i) => s === i),
  binary: require.resolve('@persisting/binding-linux-x64-gnu'),
  metricLines: text.split('\\n').filter((l) => l.startsWith('persisting_')).length,
  hasErrorClass: typeof pst.StorageError === 'function',
}))
console.log(text.split('\\n').filter((l) => l.startsWith('persisting_records')).join('\\n'))
`

describe.skipIf(!supported)('npm install of the packed package', () => {
  let scratch: string
  let rootPack: Packed
  let binPack: Packed
  let app: string
  let env: NodeJS.ProcessEnv
  let installMs = 0

  beforeAll(() => {
    scratch = tmpDir('persisting-install-')
    rootPack = npmPack(root, scratch)
    // The platform package as published: its manifest and README, plus the binary of this build.
    const bin = path.join(scratch, 'linux-x64-gnu')
    fs.mkdirSync(bin)
    for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(platformDir, f), path.join(bin, f))
    fs.copyFileSync(path.join(root, binaryName), path.join(bin, binaryName))
    binPack = npmPack(bin, scratch)

    app = path.join(scratch, 'app')
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }))
    env = cleanEnv(pathWithoutToolchain(scratch))
    const started = performance.now()
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', rootPack.tarball, binPack.tarball], {
      cwd: app, env, encoding: 'utf8', timeout: 240_000,
    })
    installMs = performance.now() - started
    if (r.status !== 0) throw new Error(`npm install failed (${r.status}): ${r.stderr}`)
    console.log(
      `packed: persisting ${(rootPack.size / 1024).toFixed(0)} KiB (${(rootPack.unpackedSize / 1024).toFixed(0)} KiB unpacked, ` +
        `${rootPack.files.size} files); binding-linux-x64-gnu ${(binPack.size / 1048576).toFixed(1)} MiB ` +
        `(${(binPack.unpackedSize / 1048576).toFixed(1)} MiB unpacked); npm install ${(installMs / 1000).toFixed(1)} s`,
    )
  }, 300_000)

  it('packs the root package by the files policy: the loader, its typings, compiled JS and declarations', () => {
    const files = [...rootPack.files.keys()]
    const allowed = (f: string) =>
      ['package.json', 'README.md', 'binding.cjs', 'binding.d.cts'].includes(f) ||
      /^LICENSE/.test(f) ||
      /^dist\/.+\.(js|d\.ts)$/.test(f)
    expect(files.filter((f) => !allowed(f))).toEqual([])
    for (const f of ['binding.cjs', 'binding.d.cts', 'dist/index.js', 'dist/index.d.ts', rootPkg.bin.persisting.replace(/^\.\//, '')]) {
      expect(files).toContain(f)
    }
    // Every compiled module has its declarations, and nothing of the sources, tests or crates.
    for (const f of files.filter((f) => f.endsWith('.js') && f.startsWith('dist/'))) expect(files).toContain(f.replace(/\.js$/, '.d.ts'))
    expect(files.some((f) => /(^|\/)(src|test|crates|target|node_modules)\//.test(f) || f.endsWith('.node') || f.endsWith('.map'))).toBe(false)
  })

  it('ships the committed typings and the compiled declarations of this build', () => {
    const shipped = path.join(app, 'node_modules', 'persisting')
    for (const f of ['binding.d.cts', 'binding.cjs']) {
      // The working copy equals the committed file: scripts/check-dts.sh fails the run otherwise.
      expect(fs.readFileSync(path.join(shipped, f), 'utf8')).toBe(fs.readFileSync(path.join(root, f), 'utf8'))
    }
    expect(fs.readFileSync(path.join(shipped, 'dist/index.d.ts'), 'utf8')).toBe(fs.readFileSync(path.join(root, 'dist/index.d.ts'), 'utf8'))
  })

  it('packs the platform package with the binary only', () => {
    expect([...binPack.files.keys()].sort()).toEqual(['README.md', binaryName, 'package.json'].sort())
    const pkg = JSON.parse(fs.readFileSync(path.join(platformDir, 'package.json'), 'utf8'))
    expect(pkg).toMatchObject({ os: ['linux'], cpu: ['x64'], libc: ['glibc'], main: binaryName, version: rootPkg.version })
    expect(rootPkg.optionalDependencies[pkg.name]).toBe(rootPkg.version)
  })

  it('declares every napi target as an optional dependency with its npm package', () => {
    const names = fs.readdirSync(path.join(root, 'npm')).map((d) => JSON.parse(fs.readFileSync(path.join(root, 'npm', d, 'package.json'), 'utf8')).name)
    expect(Object.keys(rootPkg.optionalDependencies).sort()).toEqual(names.sort())
    expect(names.length).toBe(rootPkg.napi.targets.length)
    expect(names).toEqual(expect.arrayContaining(['@persisting/binding-linux-x64-gnu', '@persisting/binding-linux-arm64-gnu',
      '@persisting/binding-darwin-x64', '@persisting/binding-darwin-arm64', '@persisting/binding-win32-x64-msvc']))
  })

  it('has no Rust toolchain or protoc on the install PATH', () => {
    for (const tool of forbiddenTools) {
      const r = spawnSync('sh', ['-c', `command -v ${tool}`], { env, encoding: 'utf8' })
      expect(r.stdout.trim()).toBe('')
    }
  })

  for (const kind of ['esm', 'cjs'] as const) {
    it(`works for a ${kind === 'esm' ? 'ES module (import)' : 'CommonJS (require)'} consumer`, () => {
      const file = path.join(app, kind === 'esm' ? 'use.mjs' : 'use.cjs')
      const load =
        kind === 'esm'
          ? `import * as pst from 'persisting'\nimport { createRequire } from 'node:module'\nconst require = createRequire(import.meta.url)`
          : `const pst = require('persisting')`
      const body = kind === 'esm' ? USE_SCRIPT(load) : `${load}\n;(async () => {${USE_SCRIPT('')}})().catch((e) => { console.error(e); process.exit(1) })`
      fs.writeFileSync(file, body)
      const dir = path.join(scratch, `data-${kind}`)
      const r = spawnSync(process.execPath, [file, dir], { cwd: app, env, encoding: 'utf8', timeout: 120_000 })
      expect(r.stderr.replace(/^.*ExperimentalWarning.*$\n?|^\(Use `node --trace-warnings.*$\n?/gm, '')).toBe('')
      expect(r.status).toBe(0)
      const summary = JSON.parse(r.stdout.split('\n')[0])
      expect(summary).toMatchObject({ read: 300, exact: true, hasErrorClass: true })
      expect(summary.binary).toBe(path.join(app, 'node_modules', '@persisting', 'binding-linux-x64-gnu', binaryName))
      expect(summary.metricLines).toBeGreaterThan(0)
      const perBucket = [...r.stdout.matchAll(/^persisting_records_total\{[^}]*topic="installed"[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]))
      expect(perBucket.length).toBe(2)
      expect(perBucket.reduce((a, b) => a + b, 0)).toBe(300)
      // The stored data is real Lance on disk.
      expect(fs.readdirSync(dir).length).toBeGreaterThan(0)
    }, 180_000)
  }

  it('the CLI is on the bin path', () => {
    const r = spawnSync(path.join(app, 'node_modules', '.bin', 'persisting'), ['--help'], { cwd: app, env, encoding: 'utf8' })
    expect(r.stdout + r.stderr).toMatch(/persisting/)
    expect(r.stderr).not.toMatch(/Cannot find|ERR_MODULE_NOT_FOUND/)
  })

  it('names the missing platform package and how to build from source when no binary matches', () => {
    fs.rmSync(path.join(app, 'node_modules', '@persisting'), { recursive: true, force: true })
    const file = path.join(app, 'missing.mjs')
    fs.writeFileSync(
      file,
      `import * as pst from 'persisting'
const system = await pst.createSystem()
try {
  const w = await pst.writeQueue(system, 't', { numBuckets: 1, storagePath: process.argv[2], backend: 'persisting' })
  await w.put({ id: 'k' })
  console.log('loaded')
} catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })) }`,
    )
    const r = spawnSync(process.execPath, [file, path.join(scratch, 'missing')], { cwd: app, env, encoding: 'utf8', timeout: 60_000 })
    expect(r.status, r.stderr).toBe(0)
    const err = JSON.parse(r.stdout.trim().split('\n').pop()!)
    expect(err).toMatchObject({ name: 'StorageError', code: 'INTERNAL' })
    expect(err.message).toContain('@persisting/binding-linux-x64-gnu')
    expect(err.message).toContain('build from source')
  })
})
