// Ordering checks on a `strace -f -y` trace of a writer: data files durable before the
// manifest that references them, manifests durable before the WAL that they replace is deleted,
// and nothing in the dataset volatile (file contents or a directory entry) when the WAL is cut.
import * as path from 'node:path'
import type { TraceEvent } from './strace.js'

export const ORDER_CALLS = [
  'openat', 'creat', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'fsync', 'fdatasync',
  'write', 'pwrite64', 'writev', 'pwritev', 'close', 'unlink', 'unlinkat', 'mkdir', 'mkdirat',
]
const WRITES = new Set(['write', 'pwrite64', 'writev', 'pwritev'])
const MOVES = new Set(['rename', 'renameat', 'renameat2', 'link', 'linkat'])
const SYNCS = new Set(['fsync', 'fdatasync'])

const isData = (p: string) => /\/data\.lance\/data\/[^/]+\.lance$/.test(p)
const isManifest = (p: string) => /\/data\.lance\/_versions\/[^/]+\.manifest$/.test(p)
const isWalSegment = (p: string) => /\/wal\/wal-\d+\.log$/.test(p)
// Lance rewrites _versions/latest_version_hint.json at every commit without fsync. It is only a
// hint: readers check the version it names and list _versions/ when it is missing, unreadable
// or points to a manifest that is not there, so a power loss cannot make it lose data.
const inDataset = (p: string) => /\/data\.lance(\/|$)/.test(p) && !p.endsWith('/_versions/latest_version_hint.json')

/**
 * Replays the events in trace order (a call counts as done at the line it returned, and as
 * begun at the line it started) and reports:
 *  dataBeforeManifest   - a data file not fsynced (after its last write) when a manifest appears
 *  dirBeforeManifest    - a data file whose directory entry was not fsynced by then
 *  manifestBeforeWalCut - a WAL segment deleted while the newest manifest (or its directory
 *                         entry) was not yet fsynced
 *  volatileAtWalCut     - any file or directory of the dataset (data, manifest, transaction,
 *                         the directories themselves) whose contents or directory entry was
 *                         not yet fsynced when a WAL segment was deleted
 * plus counts of what was seen, so a test can tell the trace covered the workload.
 */
export interface OrderReport {
  dataBeforeManifest: string[]
  dirBeforeManifest: string[]
  manifestBeforeWalCut: string[]
  volatileAtWalCut: string[]
  manifests: number
  dataFiles: number
  walCuts: number
}

interface FileState {
  dirty: number | null // line of the last write not yet fsynced
  entry: number | null // line the directory entry was created
}

export function checkOrder(events: TraceEvent[], root: string): OrderReport {
  const under = (p: string | null): p is string => !!p && p.startsWith(root + '/')
  const points: Array<{ at: number; ev: TraceEvent; kind: 'begin' | 'done'; target?: string }> = []
  for (const ev of events) {
    if (!ev.ok) continue
    points.push({ at: ev.end, ev, kind: 'done' })
    const target = createdPath(ev)
    if (target && under(target) && isManifest(target)) points.push({ at: ev.start, ev, kind: 'begin', target })
    if ((ev.name === 'unlink' || ev.name === 'unlinkat') && ev.paths.some(isWalSegment)) {
      points.push({ at: ev.start, ev, kind: 'begin', target: ev.paths.find(isWalSegment)! })
    }
  }
  points.sort((a, b) => a.at - b.at || (a.kind === 'begin' ? -1 : 1))

  const files = new Map<string, FileState>()
  const dirSynced = new Map<string, number>() // dir -> line an fsync of it returned
  const file = (p: string): FileState => files.get(p) ?? files.set(p, { dirty: null, entry: null }).get(p)!
  const out: OrderReport = { dataBeforeManifest: [], dirBeforeManifest: [], manifestBeforeWalCut: [], volatileAtWalCut: [], manifests: 0, dataFiles: 0, walCuts: 0 }
  let lastManifest: string | null = null
  const entryDurable = (p: string, f: FileState) => f.entry === null || (dirSynced.get(path.dirname(p)) ?? -1) > f.entry

  for (const { ev, kind, target } of points) {
    if (kind === 'begin' && target) {
      if (isManifest(target)) {
        out.manifests++
        for (const [p, f] of files) {
          if (!isData(p)) continue
          if (f.dirty !== null) out.dataBeforeManifest.push(`${path.basename(p)} (written at trace line ${f.dirty + 1}) not fsynced before ${path.basename(target)} (line ${ev.start + 1})`)
          if (!entryDurable(p, f)) out.dirBeforeManifest.push(`${path.basename(p)} (created at line ${(f.entry ?? 0) + 1}): data/ not fsynced before ${path.basename(target)} (line ${ev.start + 1})`)
        }
        lastManifest = target
      } else if (ev.name.startsWith('unlink') && lastManifest) {
        out.walCuts++
        const f = files.get(lastManifest)
        if (f && (f.dirty !== null || !entryDurable(lastManifest, f))) {
          out.manifestBeforeWalCut.push(`${path.basename(target)} deleted (line ${ev.start + 1}) before ${path.basename(lastManifest)} was durable (${f.dirty !== null ? 'file' : '_versions/ entry'} not fsynced)`)
        }
        for (const [p, f] of files) {
          if (!inDataset(p) || (f.dirty === null && entryDurable(p, f))) continue
          out.volatileAtWalCut.push(`${path.relative(root, p)} ${f.dirty !== null ? 'contents' : 'directory entry'} not fsynced when ${path.basename(target)} was deleted (line ${ev.start + 1})`)
        }
      }
      continue
    }
    if (kind === 'begin') continue
    const fd = ev.fdPath
    if (WRITES.has(ev.name) && under(fd)) {
      file(fd!).dirty = ev.end
    } else if (SYNCS.has(ev.name) && (under(fd) || fd === root)) {
      const f = files.get(fd!)
      if (f && f.dirty !== null && f.dirty < ev.start) f.dirty = null
      dirSynced.set(fd!, ev.end)
    } else if (ev.name === 'mkdir' || ev.name === 'mkdirat') {
      const p = absolute(ev)[0]
      if (under(p)) file(p).entry = ev.end
    } else if (ev.name === 'unlink' || ev.name === 'unlinkat') {
      for (const p of absolute(ev)) files.delete(p)
    } else if (ev.name === 'openat' || ev.name === 'creat') {
      const p = createdPath(ev)
      if (p && under(p)) {
        file(p).entry = ev.end
        if (isData(p)) out.dataFiles++
      }
    } else if (MOVES.has(ev.name)) {
      const [from, to] = movePaths(ev)
      if (under(to)) {
        const src = files.get(from) ?? { dirty: null, entry: null }
        files.set(to, { dirty: src.dirty, entry: ev.end })
        if (ev.name.startsWith('rename')) files.delete(from)
        if (isData(to)) out.dataFiles++
      }
    }
  }
  return out
}

/** The path a call brings into existence: an O_CREAT open, or the target of a rename/link. */
function createdPath(ev: TraceEvent): string | null {
  if (ev.name === 'creat') return ev.retPath ?? absolute(ev)[0]
  if (ev.name === 'openat') return /O_CREAT/.test(ev.args) ? (ev.retPath ?? absolute(ev)[0]) : null
  if (MOVES.has(ev.name)) return movePaths(ev)[1]
  return null
}

function movePaths(ev: TraceEvent): [string, string] {
  const abs = absolute(ev)
  return [abs[0], abs[abs.length - 1]]
}

/** Path arguments made absolute (relative ones resolve against the dir fd printed before). */
function absolute(ev: TraceEvent): string[] {
  const out: string[] = []
  for (const m of ev.args.matchAll(/(?:(?:-?\d+|AT_FDCWD)<([^>]*)>, )?"((?:[^"\\]|\\.)*)"/g)) {
    const [, dir, p] = m
    out.push(p.startsWith('/') || !dir ? p : `${dir}/${p}`)
  }
  return out
}
