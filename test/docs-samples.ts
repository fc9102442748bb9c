/**
 * Code blocks of README.md and docs/*.md. A fence's info string is `<lang> [runnable] [file=NAME]`:
 * - `runnable` blocks (ts/js) are run by test/docs-samples.test.ts against the built dist;
 * - `file=NAME` blocks are written as NAME (transpiled to .js) next to the page's runnable
 *   samples, so those can import them (custom-backends.md does).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'

export const ROOT = new URL('..', import.meta.url).pathname

export interface Block {
  page: string
  line: number
  lang: string
  runnable: boolean
  file?: string
  code: string
}

export function pages(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`)
  return ['README.md', ...docs.sort()]
}

export function blocks(page: string): Block[] {
  const lines = readFileSync(join(ROOT, page), 'utf8').split('\n')
  const out: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\S*)\s*(.*)$/.exec(lines[i])
    if (!open) continue
    const [, fence, lang, info] = open
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !lines[i].startsWith(fence); i++) body.push(lines[i])
    const words = info.split(/\s+/).filter(Boolean)
    out.push({
      page,
      line: start + 1,
      lang,
      runnable: words.includes('runnable'),
      file: words.find((w) => w.startsWith('file='))?.slice(5),
      code: body.join('\n') + '\n',
    })
  }
  return out
}

/** TypeScript to an ES module (types dropped; no type check here: `npm run docs` and tsc cover the API). */
export function toJs(code: string, lang: string): string {
  if (lang !== 'ts' && lang !== 'typescript') return code
  return ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
  }).outputText
}
