#!/usr/bin/env node
// Long kill -9 loop (npm run test:crash -- --rounds 1000 [--seed N] [--interval 0|0.1|both]).
// Needs the compiled package (npm run compile). Prints one summary line and exits non-zero if an
// acknowledged record was lost or duplicated (or any other check failed).
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { parseArgs } from 'node:util'
import { distBuilt, killLoop } from '../test/reliability/driver.mjs'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '100' },
    seed: { type: 'string' },
    interval: { type: 'string', default: 'both' },
  },
})
if (!distBuilt()) {
  console.error('crash-loop: dist/ is missing; run `npm run compile` (or scripts/setup.sh) first')
  process.exit(2)
}
const rounds = Number(values.rounds)
const seed = values.seed !== undefined ? Number(values.seed) : Date.now()
const intervals = values.interval === 'both' ? [0, 0.1] : [Number(values.interval)]
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'persisting-crash-loop-'))
let n = 0
const makeDir = () => fs.mkdtempSync(path.join(root, `b${n++}-`))

const total = { rounds: 0, acknowledged: 0, lost: 0, duplicated: 0, problems: [] }
try {
  for (const [i, walSyncInterval] of intervals.entries()) {
    const share = Math.floor(rounds / intervals.length) + (i < rounds % intervals.length ? 1 : 0)
    const s = await killLoop({
      rounds: share,
      walSyncInterval,
      seed: seed + i,
      makeDir,
      onRound: (round, run, verify, r) => {
        if (r.problems.length) for (const p of r.problems) console.error(`walSyncInterval ${walSyncInterval} round ${round}: ${p}`)
        if ((round + 1) % 50 === 0) console.error(`walSyncInterval ${walSyncInterval}: ${round + 1}/${share} rounds`)
      },
    })
    total.rounds += s.rounds
    total.acknowledged += s.acknowledged
    total.lost += s.lost
    total.duplicated += s.duplicated
    total.problems.push(...s.problems)
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true })
}
for (const p of total.problems.slice(0, 20)) console.error(p)
console.log(
  `crash-loop: rounds=${total.rounds} acknowledged=${total.acknowledged} lost=${total.lost} duplicated=${total.duplicated} problems=${total.problems.length} seed=${seed}`,
)
process.exit(total.lost > 0 || total.duplicated > 0 || total.problems.length > 0 ? 1 : 0)
