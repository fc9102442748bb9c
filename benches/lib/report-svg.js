// A hand-made SVG bar chart of the headline ratios (log scale, targets marked).
import { fmtRatio } from './report-format.js'
import { headline } from './report-targets.js'

// ---------------------------------------------------------------------------------------------
export function buildSvg(res, ctx) {
  const H = headline(res, ctx)
  const rows = H.rows.filter((r) => r.value != null)
  const W = 960
  const left = 360
  const right = 90
  const rowH = 30
  const top = 64
  const plotW = W - left - right
  const height = top + rows.length * rowH + 50
  // Log scale from 0.01× to 1000×.
  const lo = Math.log10(0.01)
  const hi = Math.log10(1000)
  const x = (v) => left + ((Math.log10(Math.min(Math.max(v, 0.01), 1000)) - lo) / (hi - lo)) * plotW
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const parts = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">`)
  parts.push(`<rect width="${W}" height="${height}" fill="#ffffff"/>`)
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">persisting: ours ÷ peer, same run (${esc(res.plan.mode)} mode, ${esc(res.date.slice(0, 10))})</text>`)
  parts.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">log scale; right of the 1× line = we are faster; ▲ = target from issue 5; set A, 1000-record batches unless noted</text>`)
  for (const t of [0.01, 0.1, 1, 10, 100, 1000]) {
    const gx = x(t)
    parts.push(`<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="${t === 1 ? '#333' : '#ddd'}" stroke-width="${t === 1 ? 1.5 : 1}"/>`)
    parts.push(`<text x="${gx}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${t}×</text>`)
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH
    const v = r.value
    const x0 = x(1)
    const x1 = x(v)
    const met = r.target == null ? null : v >= r.target
    const color = met == null ? (v >= 1 ? '#4c78a8' : '#9ecae9') : met ? '#54a24b' : '#e45756'
    parts.push(`<text x="${left - 8}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`)
    parts.push(`<rect x="${Math.min(x0, x1)}" y="${y + 6}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 12}" fill="${color}"/>`)
    parts.push(`<text x="${Math.max(x0, x1) + 6}" y="${y + rowH / 2 + 4}" fill="#222">${esc(fmtRatio(v))}</text>`)
    if (r.target != null) {
      const tx = x(r.target)
      parts.push(`<path d="M ${tx} ${y + rowH - 6} l -5 7 l 10 0 z" fill="#222"><title>target ${esc(fmtRatio(r.target))}</title></path>`)
    }
  })
  const ly = top + rows.length * rowH + 34
  parts.push(`<rect x="${left}" y="${ly - 9}" width="10" height="10" fill="#54a24b"/><text x="${left + 14}" y="${ly}">target met</text>`)
  parts.push(`<rect x="${left + 100}" y="${ly - 9}" width="10" height="10" fill="#e45756"/><text x="${left + 114}" y="${ly}">target missed</text>`)
  parts.push(`<rect x="${left + 220}" y="${ly - 9}" width="10" height="10" fill="#4c78a8"/><text x="${left + 234}" y="${ly}">no target (faster)</text>`)
  parts.push(`<rect x="${left + 370}" y="${ly - 9}" width="10" height="10" fill="#9ecae9"/><text x="${left + 384}" y="${ly}">no target (slower)</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
