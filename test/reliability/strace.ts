// strace helpers for the syscall-level fault tests: run the writer child under strace (kill
// or fail the k-th call of a kind), and parse `strace -f -y` output into events.
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'

export const STRACE = ['/usr/bin/strace', '/bin/strace'].find((p) => fs.existsSync(p)) ?? 'strace'

export function straceAvailable() {
  try {
    execFileSync(STRACE, ['-o', '/dev/null', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Calls the fault tests act on, and the variants libc/Rust may use for the same step. */
export const IO_CALLS = ['write', 'pwrite64', 'fsync', 'fdatasync', 'rename', 'unlink', 'ftruncate']
export const VARIANTS: Record<string, string[]> = { rename: ['renameat', 'renameat2'], unlink: ['unlinkat'], write: ['writev'], pwrite64: ['pwritev', 'pwritev2'] }

/** strace prefix: follow threads and trace only `calls`, optionally injecting a fault. */
export function straceWrap({
  calls,
  out = '/dev/null',
  inject,
  decodeFds = false,
}: {
  calls: string[]
  out?: string
  inject?: string
  decodeFds?: boolean
}): string[] {
  const w = [STRACE, '-f', '-qq', '-o', out, '-e', `trace=${calls.join(',')}`]
  // seccomp-bpf stops only at traced calls (much faster), but strace 6.1 then never delivers
  // an injected signal: keep full ptrace for kill injection.
  if (!inject?.includes('signal=')) w.splice(2, 0, '--seccomp-bpf')
  if (decodeFds) w.push('-y')
  if (inject) w.push('-e', `inject=${inject}`)
  return w
}

export interface TraceEvent {
  pid: number
  name: string
  args: string
  ret: string
  start: number
  end: number
  injected: boolean
  fdPath: string | null
  paths: string[]
  retPath: string | null
  ok: boolean
}

const LINE = /^(\d+)\s+(.*)$/
const CALL = /^([a-z0-9_]+)\((.*)$/
const RESUMED = /^<\.\.\. ([a-z0-9_]+) resumed>(.*)$/

/**
 * Parses `strace -f -y` output. Each event: pid, name, args text, ret text, fd path of the
 * first argument, quoted path arguments, the fd path a call returned, whether strace injected
 * a fault, and `start`/`end` (line numbers where the call began and returned: a call split by
 * another thread spans several lines).
 */
export function parseTrace(text: string): TraceEvent[] {
  const events: TraceEvent[] = []
  const pending = new Map<number, TraceEvent>() // pid -> event waiting for its `resumed` line
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i])
    if (!m) continue
    const pid = Number(m[1])
    const body = m[2]
    let ev: TraceEvent | undefined
    let rest: string
    const r = RESUMED.exec(body)
    if (r) {
      ev = pending.get(pid)
      pending.delete(pid)
      if (!ev || ev.name !== r[1]) continue
      // strace pads a resumed call's result (`)              = 0`); normalise it.
      rest = r[2].replace(/^\)\s+=\s/, ') = ')
      ev.args += rest
    } else {
      const c = CALL.exec(body)
      if (!c) continue
      ev = { pid, name: c[1], args: c[2], ret: '', start: i, end: i, injected: false, fdPath: null, paths: [], retPath: null, ok: false }
      events.push(ev)
      rest = c[2]
    }
    if (/<unfinished \.\.\.>$/.test(rest)) {
      ev.args = ev.args.replace(/\s*<unfinished \.\.\.>$/, '')
      pending.set(pid, ev)
      continue
    }
    ev.end = i
    const eq = ev.args.lastIndexOf(') = ')
    const eqq = eq >= 0 ? eq : ev.args.lastIndexOf(') ')
    ev.ret = eq >= 0 ? ev.args.slice(eq + 4) : ''
    ev.args = eqq >= 0 ? ev.args.slice(0, eqq) : ev.args
    ev.injected = /\(INJECTED/.test(ev.ret)
    finish(ev)
  }
  for (const ev of pending.values()) finish(ev)
  return events
}

function finish(ev: TraceEvent): void {
  const fd = /^(-?\d+|AT_FDCWD)<([^>]*)>/.exec(ev.args)
  ev.fdPath = fd ? fd[2] : null
  ev.paths = [...ev.args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1])
  if (!['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2'].includes(ev.name)) {
    // Relative path arguments resolve against the directory fd printed before them.
    const dirs = [...ev.args.matchAll(/(?:^|, )(?:-?\d+|AT_FDCWD)<([^>]*)>, "((?:[^"\\]|\\.)*)"/g)]
    for (const [, d, p] of dirs) if (!p.startsWith('/')) ev.paths.push(`${d}/${p}`)
  } else {
    ev.paths = [] // the data written, not a path
  }
  const rf = /^(\d+)<([^>]*)>/.exec(ev.ret)
  ev.retPath = rf ? rf[2] : null
  ev.ok = ev.ret !== '' && !/^-1 /.test(ev.ret) && !ev.injected
}

/** True when the event acts on something under `dir` (an fd, a path argument, a returned fd). */
export function touches(ev: TraceEvent, dir: string): boolean {
  const under = (p: string) => p === dir || p.startsWith(dir + '/')
  return (ev.fdPath !== null && under(ev.fdPath)) || ev.paths.some(under) || (ev.retPath !== null && under(ev.retPath))
}

/**
 * Per call name: how many calls the busiest thread made (strace counts `when=k` per thread),
 * and the k values at which some thread's k-th call of that name touched `dir`.
 */
export interface CallEntry {
  max: number
  bucketKs: number[]
}

export function callIndex(events: TraceEvent[], dir: string): Record<string, CallEntry> {
  const perThread = new Map<string, number>()
  const sets: Record<string, { max: number; ks: Set<number> }> = {}
  for (const ev of events) {
    const key = `${ev.name}/${ev.pid}`
    const k = (perThread.get(key) ?? 0) + 1
    perThread.set(key, k)
    const o = (sets[ev.name] ??= { max: 0, ks: new Set() })
    o.max = Math.max(o.max, k)
    if (touches(ev, dir)) o.ks.add(k)
  }
  const out: Record<string, CallEntry> = {}
  for (const [name, o] of Object.entries(sets)) out[name] = { max: o.max, bucketKs: [...o.ks].sort((a, b) => a - b) }
  return out
}
