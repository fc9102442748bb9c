/** Runs a fixture script under a separate Node process and collects its JSON lines. */
import { spawn } from 'node:child_process'
import * as path from 'node:path'

export const FIXTURES = path.resolve('test/reliability/fixtures')

export interface ChildResult {
  code: number | null
  signal: NodeJS.Signals | null
  lines: Array<Record<string, any>>
  stdout: string
  stderr: string
  /** Killed because it outlived `limitMs` (a hang, not a slow run: limits are generous). */
  hung: boolean
}

export function runFixture(
  script: string,
  args: string[],
  opts: { limitMs?: number; env?: NodeJS.ProcessEnv; onLine?: (line: Record<string, any>, kill: () => void) => void } = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(FIXTURES, script), ...args], {
      env: { ...process.env, ...opts.env },
    })
    const lines: Array<Record<string, any>> = []
    let stdout = ''
    let stderr = ''
    let buf = ''
    let hung = false
    const timer = setTimeout(() => {
      hung = true
      child.kill('SIGKILL')
    }, opts.limitMs ?? 120_000)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      buf += chunk
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        let line: Record<string, any>
        try {
          line = JSON.parse(text)
        } catch {
          continue
        }
        lines.push(line)
        opts.onLine?.(line, () => child.kill('SIGKILL'))
      }
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, lines, stdout, stderr, hung })
    })
  })
}
