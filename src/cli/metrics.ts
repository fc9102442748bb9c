/** `persisting metrics`: serve the library's Prometheus metrics at /metrics until Ctrl-C. */
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import * as pst from '../index.js'
import { intArg, onInterrupt, openReader, out, resolveTopic, topicOptions, withSystem, type TopicFlags } from './common.js'

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
        "expose it. When the topic exists its buckets are opened read-only with metrics on, so their " +
        'gauges are exported; counters such as persisting_records_total count the writes of the ' +
        'process that serves them (use the library in the writer to export those).',
    )
    .option('-p, --port <port>', 'TCP port (0 picks a free one)', intArg('--port'), 9464)
    .option('--host <host>', 'address to bind; default loopback only', '127.0.0.1')
    .option('--once', 'print the metrics text to stdout and exit instead of serving')
  topicOptions(cmd, { json: false }).action((flags: MetricsFlags) => metrics(flags))
}

async function metrics(flags: MetricsFlags): Promise<void> {
  const t = resolveTopic(flags, false)
  await withSystem(async (system) => {
    if (t.backend === 'persisting' && existsSync(t.dir)) {
      const reader = await openReader(system, t, undefined, { enableMetrics: true })
      await Promise.all(reader.bucketIds.map((id) => reader.queue.readBucket(id).stats()))
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
