/** `persisting metrics`: serve the library's Prometheus metrics at /metrics until Ctrl-C. */
import type { Command } from 'commander'
import * as pst from '../index.js'
import { intArg, onInterrupt, openWriter, out, resolveTopic, topicOptions, withSystem, type TopicFlags } from './common.js'

interface MetricsFlags extends TopicFlags {
  port: number
  host: string
  once?: boolean
}

export function register(program: Command): void {
  const cmd = program
    .command('metrics')
    .summary('serve Prometheus metrics at /metrics (127.0.0.1 unless --host)')
    .description(
      "Serve the library's Prometheus metrics (pst.serveMetrics) at http://<host>:<port>/metrics until " +
        'Ctrl-C. It binds 127.0.0.1 (loopback only) unless --host is given, e.g. --host 0.0.0.0 to ' +
        'expose it. Metrics live in the process that writes: this command opens the topic as its ' +
        'writer with metrics on (persisting_buffer_size, persisting_wal_size_bytes, ... per bucket), ' +
        'holding the writer lock while it serves. While another process writes the topic it serves ' +
        'nothing of it; watch an ingest with `persisting ingest --metrics-port <port>` instead.',
    )
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', intArg('--port'), 9464)
    .option('--host <host>', 'address to bind; default 127.0.0.1 (loopback only)', '127.0.0.1')
    .option('--once', 'print the metrics text to stdout and exit instead of serving')
  topicOptions(cmd, { write: true, json: false }).action((flags: MetricsFlags) => metrics(flags))
}

async function metrics(flags: MetricsFlags): Promise<void> {
  const t = resolveTopic(flags, false)
  await withSystem(async (system) => {
    if (t.backend === 'persisting' && t.exists) {
      try {
        const writer = await openWriter(system, t, { enableMetrics: true })
        await writer.stats() // opens every bucket, so each exports its series
      } catch (err) {
        const code = (err as { code?: string }).code
        if (code !== 'LOCKED' && code !== 'WAL_LOCKED') throw err
        process.stderr.write(
          `persisting: topic '${t.topic}' is being written by another process; its metrics are that process's ` +
            '(serve them there, e.g. persisting ingest --metrics-port)\n',
        )
      }
    }
    if (flags.once) {
      process.stdout.write(await pst.metrics())
      return
    }
    const interrupt = onInterrupt()
    const server = await pst.serveMetrics({ port: flags.port, host: flags.host })
    out(`serving metrics at ${server.url} (Ctrl-C to stop)`)
    await new Promise((r) => interrupt.signal.addEventListener('abort', r, { once: true }))
    interrupt.dispose()
    await server.close()
  })
}
