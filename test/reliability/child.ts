/** Runs a fixture script under a separate Node process and collects its JSON lines. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
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

/** An interactive child (fixtures/session.mjs): commands over stdin, replies and events over stdout. */
export class Session {
  private child: ChildProcessWithoutNullStreams
  private nextId = 1
  private replies = new Map<number, (r: Record<string, any>) => void>()
  readonly events: Array<Record<string, any>> = []
  private watchers: Array<{ pred: (e: Record<string, any>) => boolean; resolve: (e: Record<string, any>) => void }> = []
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor() {
    this.child = spawn(process.execPath, [path.join(FIXTURES, 'session.mjs')], { stdio: 'pipe' })
    let buf = ''
    this.child.stdout.setEncoding('utf8')
    this.child.stdout.on('data', (chunk: string) => {
      buf += chunk
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = JSON.parse(buf.slice(0, nl))
        buf = buf.slice(nl + 1)
        if (line.id !== undefined) {
          this.replies.get(line.id)?.(line)
          this.replies.delete(line.id)
        } else {
          this.events.push(line)
          this.watchers = this.watchers.filter((w) => (w.pred(line) ? (w.resolve(line), false) : true))
        }
      }
    })
    this.child.stderr.on('data', (d) => (this.stderr += d))
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })))
    this.exited.then(() => {
      for (const r of this.replies.values()) r({ ok: false, error: { message: `child exited: ${this.stderr.slice(-1000)}` } })
      this.replies.clear()
    })
  }

  send(cmd: Record<string, unknown>): Promise<Record<string, any>> {
    const id = this.nextId++
    return new Promise((resolve) => {
      this.replies.set(id, resolve)
      this.child.stdin.write(JSON.stringify({ ...cmd, id }) + '\n')
    })
  }

  /** The first event (past or future) matching `pred`. */
  event(pred: (e: Record<string, any>) => boolean): Promise<Record<string, any>> {
    const seen = this.events.find(pred)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.watchers.push({ pred, resolve }))
  }

  async exit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.stdin.write(JSON.stringify({ op: 'exit', id: 0 }) + '\n')
    return this.exited
  }

  kill(): void {
    this.child.kill('SIGKILL')
  }
}
