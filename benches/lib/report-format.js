// Number and cell formatting, ratios and the Markdown table helper shared by the benchmark report.

export function fmtRate(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 1 : 2)}M`
  if (x >= 1e4) return `${(x / 1e3).toFixed(0)}k`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  if (x >= 10) return x.toFixed(0)
  return x.toFixed(1)
}

export function fmtMs(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  if (x < 1) return `${(x * 1000).toFixed(0)} µs`
  if (x < 10) return `${x.toFixed(2)} ms`
  return `${x.toFixed(0)} ms`
}

export function fmtMB(x) {
  if (x == null || !Number.isFinite(x)) return '–'
  return x >= 100 ? `${x.toFixed(0)} MiB` : `${x.toFixed(1)} MiB`
}

export const fmtNum = (x, d = 1) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d))
/** MB/s with at least two significant digits for small values. */
export const fmtMBs = (x) => (x == null || !Number.isFinite(x) ? '–' : x >= 10 ? x.toFixed(1) : x.toPrecision(2))
export const mib = (bytes) => (bytes == null ? null : bytes / 1048576)
export const int = (x) => (x == null ? '–' : String(x))

export function ratioValue(a, b) {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  return a / b
}

export function fmtRatio(r) {
  if (r == null) return '–'
  if (r >= 100) return `${r.toFixed(0)}×`
  if (r >= 10) return `${r.toFixed(1)}×`
  if (r >= 0.1) return `${r.toFixed(2)}×`
  return `${r.toPrecision(2)}×`
}

export const ratio = (a, b) => fmtRatio(ratioValue(a, b))

export function table(headers, rows) {
  const esc = (c) => String(c ?? '–').replace(/\|/g, '\\|')
  const lines = [`| ${headers.map(esc).join(' | ')} |`, `|${headers.map((h, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const r of rows) lines.push(`| ${r.map(esc).join(' | ')} |`)
  return lines.join('\n')
}

export const get = (obj, key, set, batch) => {
  const r = obj?.[key]?.[set]?.[batch]
  return r && !r.error ? r : null
}
export const rate = (r) => r?.recPerSec ?? null
export const cellErr = (r) => (r?.error ? `error: ${r.error.split('\n')[0].slice(0, 80)}` : null)
