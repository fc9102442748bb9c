// Sections of docs/benchmarks.md written by other scripts than benches/run.js (scale-out.js):
// each sits between `<!-- section:NAME -->` and `<!-- /section:NAME -->`, replaced by its own
// script and carried over when run.js rewrites the rest of the file.

const open = (name) => `<!-- section:${name} -->`
const close = (name) => `<!-- /section:${name} -->`
const PATTERN = /<!-- section:([\w-]+) -->[\s\S]*?<!-- \/section:\1 -->\n?/g

/** `md` with section `name` set to `content` (appended when it is not there yet). */
export function replaceSection(md, name, content) {
  const block = `${open(name)}\n${content.trimEnd()}\n${close(name)}\n`
  const re = new RegExp(`${open(name)}[\\s\\S]*?${close(name)}\\n?`)
  return re.test(md) ? md.replace(re, block) : `${md.trimEnd()}\n\n${block}`
}

/** The new report with every section of the old file appended. */
export function keepSections(oldMd, newMd) {
  const blocks = oldMd.match(PATTERN) ?? []
  return blocks.reduce((md, b) => `${md.trimEnd()}\n\n${b.endsWith('\n') ? b : b + '\n'}`, newMd)
}
