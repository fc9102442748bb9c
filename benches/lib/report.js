// Turns the results of one run into tables (Markdown, also printed), the targets section and
// a hand-made SVG bar chart of the main ratios. The work is in report-*.js; this module keeps
// the entry points (and the formatters run.js prints with) in one place.
export { fmtRate, fmtMs, fmtMB, ratioValue, fmtRatio, ratio, table } from './report-format.js'
export { headline } from './report-targets.js'
export { buildMarkdown } from './report-markdown.js'
export { buildSvg } from './report-svg.js'
