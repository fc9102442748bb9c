/**
 * Layering of src/: no import cycles (type-only imports included, as madge counts them), and
 * the specific dependencies the design forbids stay absent.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { describe, expect, it } from 'vitest'

const SRC = path.resolve(__dirname, '../src')

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(p)
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : []
  })
}

/** Relative imports and re-exports of each module, as src-relative paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sourceFiles(SRC)) {
    const text = fs.readFileSync(file, 'utf8')
    const deps: string[] = []
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
      const target = path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts')
      if (target.startsWith(SRC) && fs.existsSync(target)) deps.push(path.relative(SRC, target))
    }
    graph.set(path.relative(SRC, file), deps)
  }
  return graph
}

function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (node: string): void => {
    state.set(node, 'visiting')
    stack.push(node)
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === 'visiting') found.push([...stack.slice(stack.indexOf(dep)), dep])
      else if (!state.has(dep)) visit(dep)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node)
  return found
}

describe('src layering', () => {
  const graph = importGraph()

  it('reads the real import graph', () => {
    expect(graph.get('queue/system.ts')).toContain('queue/open.ts')
    expect(graph.get('index.ts')).toContain('queue/index.ts')
  })

  it('the cycle finder finds a planted cycle', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual([['a', 'b', 'c', 'a']])
  })

  it('has no import cycles', () => {
    expect(cycles(graph).map((c) => c.join(' > '))).toEqual([])
  })

  it('keeps the forbidden edges out', () => {
    const forbidden: Array<[string, RegExp]> = [
      // The queue learns what a backend accepts from its declared capabilities, not its class.
      ['queue/storage-manager.ts', /^backends\/(lance|persisting|native-backend)\.ts$/],
      // Record checks and the shared types sit below the backends.
      ['records.ts', /^backends\//],
      ['types.ts', /./],
      ['defaults.ts', /./],
      // Group commit and blocking reads know nothing of the native handle.
      ['backends/group-commit.ts', /./],
      ['blocking-read.ts', /^(native|backends\/|queue\/)/],
      ['options/validate.ts', /^(native|backends\/|queue\/)/],
    ]
    const bad = forbidden.flatMap(([from, to]) => (graph.get(from) ?? ['<missing module>']).filter((d) => to.test(d)).map((d) => `${from} -> ${d}`))
    expect(bad).toEqual([])
  })

  it('calls the addon only through callNative (no other try/catch around fromNative)', () => {
    const offenders = sourceFiles(SRC)
      .filter((f) => !f.endsWith(path.join('src', 'native.ts')) && !f.endsWith(path.join('src', 'errors.ts')))
      .filter((f) => /\bfromNative\b/.test(fs.readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f))
    expect(offenders).toEqual([])
  })
})
