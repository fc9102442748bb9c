/** Real data for tests: the JSON datasets of the vega-datasets package (a devDependency). */
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as path from 'node:path'

const require = createRequire(import.meta.url)
// The package exports only its entry point; the data files sit in data/ next to build/.
const DATA = path.join(path.dirname(require.resolve('vega-datasets')), '..', 'data')

export function vegaJson<T = Record<string, unknown>>(name: string): T[] {
  return JSON.parse(fs.readFileSync(path.join(DATA, name), 'utf8')) as T[]
}
