// Types for driver.mjs (plain JavaScript so the long-run scripts can import it with node).
export declare const ROOT: string
export declare const WRITER: string
export declare function distBuilt(): boolean

export interface Reject {
  first: number
  n: number
  code: string
  indeterminate: boolean
  message: string
}
export interface Op {
  name: string
  ok: boolean
  code: string | null
  message: string
}
export interface Verify {
  error?: string
  count: number
  totalCount: number
  ranges: Array<[number, number]>
  bad: string[]
  walEvents: string[]
}
/** A put (acknowledged or rejected) or an operation, in the order the child printed them. */
export interface ChildEvent {
  name: string
  ok: boolean
  code: string | null
  message: string
  first?: number
  indeterminate?: boolean
}
export interface ChildRun {
  events: ChildEvent[]
  acks: Array<[number, number]>
  rejects: Reject[]
  ops: Op[]
  start: number | null
  verify: Verify | null
  done: boolean
  code: number | null
  signal: NodeJS.Signals | null
  stderr: string
  timedOut: boolean
}
export interface ChildOptions {
  dir: string
  mode: 'stream' | 'workload' | 'flush' | 'verify'
  options?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
  wrap?: string[]
  killAfterMs?: number
  killFrom?: 'start' | 'spawn'
  timeoutMs?: number
}
export declare function runChild(o: ChildOptions): Promise<ChildRun>
export declare function verifyBucket(dir: string, options?: Record<string, unknown>): Promise<Verify>

export declare class Ledger {
  acked: Array<[number, number]>
  ackedCount: number
  definite: Array<[number, number]>
  indeterminate: Array<[number, number]>
  add(run: ChildRun): void
  get maxAcked(): number
}
export interface CheckResult {
  lost: number
  duplicated: number
  problems: string[]
}
export declare function check(ledger: Ledger, verify: Verify): CheckResult
export declare function fmtRanges(ranges: Array<[number, number]>, max?: number): string
export declare function prng(seed: number): () => number
export declare function lastWords(run: ChildRun): string

export interface KillLoopSummary {
  rounds: number
  acknowledged: number
  lost: number
  duplicated: number
  problems: string[]
  seed: number
}
export declare function killLoop(o: {
  rounds: number
  walSyncInterval: number
  /** Producers put batches as NDJSON bytes (putNdjson). */
  ndjson?: boolean
  /** Producers put batches as apache-arrow Tables (putArrow). */
  arrow?: boolean
  /** Every record carries a Float32Array (raw floats through the WAL); the verifier checks it. */
  vectors?: boolean
  seed?: number
  roundsPerDir?: number
  makeDir: () => string
  /** Extra constructor options of the writer and the verifier for a bucket (walPath, storageOptions). */
  backendOptions?: (dir: string) => Record<string, unknown>
  onRound?: (round: number, run: ChildRun, verify: Verify, r: CheckResult) => void
}): Promise<KillLoopSummary>
