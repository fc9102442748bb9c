/**
 * Every ```ts runnable / ```js runnable block of README.md and docs/*.md runs here against the
 * built dist (`import ... from 'persisting'` resolves to this package's own exports), each in
 * its own process and working directory, so no sample in the docs rots.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { blocks, pages, ROOT, toJs, type Block } from './docs-samples.js'

// Inside the package, so the self-reference `from 'persisting'` resolves to ./dist.
const WORK = join(ROOT, '.samples')

const all = pages().flatMap(blocks)
const runnable = all.filter((b) => b.runnable)

function run(file: string, cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, out })
    })
  })
}

function pageDir(b: Block): string {
  return join(WORK, b.page.replace(/[/.]/g, '_'), `line_${b.line}`)
}

afterAll(() => rmSync(WORK, { recursive: true, force: true }))

describe('documentation samples', () => {
  it('the built package is there and the docs have runnable samples', () => {
    expect(existsSync(join(ROOT, 'dist/index.js')), 'build first: npx tsc -p tsconfig.json').toBe(true)
    expect(runnable.length).toBeGreaterThanOrEqual(8)
    for (const b of runnable) expect(['ts', 'js', 'mjs'], `${b.page}:${b.line}`).toContain(b.lang)
  })

  it.each(runnable.map((b) => [`${b.page}:${b.line}`, b] as const))('%s runs', async (_, block) => {
    const dir = pageDir(block)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    // file= blocks of the same page are importable by name.
    for (const f of all.filter((x) => x.page === block.page && x.file)) {
      writeFileSync(join(dir, f.file!.replace(/\.ts$/, '.js')), toJs(f.code, f.lang))
    }
    writeFileSync(join(dir, 'sample.mjs'), toJs(block.code, block.lang))
    const { code, out } = await run('sample.mjs', dir)
    expect(code, `${block.page}:${block.line} failed:\n${out}`).toBe(0)
  })
})
