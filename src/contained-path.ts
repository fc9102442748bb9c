/**
 * A bucket directory must stay inside its storage root even when a component on the way is a
 * symlink or the root itself is odd (`..`, a relative path): checked on the resolved real paths,
 * after the directories exist, so nothing can be written through an escaping link.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { StorageError } from './errors.js'

/** The real path of `p`, or of its nearest existing ancestor joined with the rest. */
function realish(p: string): string {
  const abs = path.resolve(p)
  let head = abs
  const tail: string[] = []
  for (;;) {
    try {
      return path.join(fs.realpathSync(head), ...tail.reverse())
    } catch {
      const parent = path.dirname(head)
      if (parent === head) return abs
      tail.push(path.basename(head))
      head = parent
    }
  }
}

/** Throws `INVALID_OPTION` unless `child` resolves to a directory strictly inside `root`. */
export function checkContained(root: string, child: string): void {
  const r = realish(root)
  const c = realish(child)
  const rel = path.relative(r, c)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new StorageError(
      `bucket path '${child}' resolves to '${c}', outside its storage root '${r}'; a symlink or an odd path may not lead out of storagePath`,
      'INVALID_OPTION',
    )
  }
}
