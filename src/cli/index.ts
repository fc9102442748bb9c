/** The `persisting` command line: one module per command, wired together on commander. */
import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { EXIT, EXIT_CODES_HELP, reportError } from './common.js'
import * as bench from './bench.js'
import * as maintenance from './maintenance.js'
import * as demo from './demo.js'
import * as ingest from './ingest.js'
import * as metrics from './metrics.js'
import * as read from './read.js'
import * as search from './search.js'
import * as stats from './stats.js'
import * as tail from './tail.js'
import * as versions from './versions.js'

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

export function buildProgram(): Command {
  const program = new Command('persisting')
    .description('Durable bucketed record queues in the Lance format: load, inspect, follow and search topics.')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      `
Topics live in <storage-path>/<topic> (default ./persisting-data/events); every command takes
--topic and --storage-path, so a later command finds what an earlier one wrote. Writers use the
'persisting' backend with the WAL on unless --backend / --no-wal say otherwise.
${EXIT_CODES_HELP}

Run 'persisting <command> --help' for a command's options.`,
    )
  for (const mod of [ingest, read, tail, stats, versions, maintenance, search, metrics, bench, demo]) mod.register(program)
  // Subcommands report usage errors the same way (exit 2, not commander's 1).
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)')
  return program
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; parse errors are already printed.
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE
      return
    }
    process.exitCode = reportError(err)
  }
}
