/**
 * `persisting_reader_lag_records{topic, bucket}`: how many records the readers of this process
 * have not read yet in each bucket (the bucket's head minus the reader's offset; the largest
 * over this process's readers of that bucket). Computed when metrics are scraped, from readers
 * of topics opened with `enableMetrics: true`; a reader that is garbage-collected drops out.
 */
export interface LagSource {
  readonly topic: string
  /** Lag per bucket this reader has open; buckets not yet opened are left out. */
  lagByBucket(): Map<number, number>
}

const sources = new Set<WeakRef<LagSource>>()

export function registerLagSource(source: LagSource): void {
  sources.add(new WeakRef(source))
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Prometheus text for the lag gauge, or '' when no reader reports. */
export function readerLagText(): string {
  const worst = new Map<string, number>()
  for (const ref of sources) {
    const source = ref.deref()
    if (source === undefined) {
      sources.delete(ref)
      continue
    }
    let lags: Map<number, number>
    try {
      lags = source.lagByBucket()
    } catch {
      continue // a closed bucket has no head to compare with
    }
    for (const [bucket, lag] of lags) {
      const key = `topic="${escape(source.topic)}",bucket="${bucket}"`
      worst.set(key, Math.max(worst.get(key) ?? 0, lag))
    }
  }
  if (worst.size === 0) return ''
  const lines = [
    '# HELP persisting_reader_lag_records Records the readers of this process have not read yet in a bucket (head minus offset)',
    '# TYPE persisting_reader_lag_records gauge',
  ]
  for (const [labels, lag] of [...worst].sort()) lines.push(`persisting_reader_lag_records{${labels}} ${lag}`)
  return lines.join('\n') + '\n'
}
