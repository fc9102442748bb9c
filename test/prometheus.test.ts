/**
 * A real Prometheus server (the Debian `prometheus` binary; `bash scripts/setup.sh --test`
 * installs it) scrapes the library's serveMetrics endpoint every second, and the test reads
 * persisting_records_total back through Prometheus's HTTP query API.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort } from '../scripts/free-port.mjs'
import * as pst from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0


interface QueryResult {
  status: string
  data: { result: { metric: Record<string, string>; value: [number, string] }[] }
}

async function query(port: number, q: string): Promise<QueryResult | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
    return res.ok ? ((await res.json()) as QueryResult) : undefined
  } catch {
    return undefined // not listening yet
  }
}

describe('Prometheus scrapes serveMetrics', () => {
  it.skipIf(!hasPrometheus)('persisting_records_total reaches Prometheus and reads back through /api/v1/query', async () => {
    const dir = tmpDir('prometheus-')
    const system = await pst.createSystem()
    const topic = `prom_${process.pid}`
    const writer = await pst.queue.writeQueue(system, topic, {
      numBuckets: 2,
      storagePath: join(dir, 'data'),
      backend: 'persisting',
      backendOptions: { enableWal: true, enableMetrics: true },
    })
    await writer.putBatch(Array.from({ length: 30 }, (_, i) => ({ id: i, v: i * 2 })))
    await writer.put({ id: 30, v: 60 })
    const metricsServer = await pst.serveMetrics({ port: 0 })
    expect(metricsServer.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)

    const promPort = await freePort()
    const config = join(dir, 'prometheus.yml')
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: persisting',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${metricsServer.port}']`,
        '',
      ].join('\n'),
    )
    let prom: ChildProcess | undefined
    let log = ''
    try {
      prom = spawn(
        'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      prom.stdout!.on('data', (d) => (log += d))
      prom.stderr!.on('data', (d) => (log += d))
      const q = `sum(persisting_records_total{topic="${topic}"})`
      let value: number | undefined
      const deadline = Date.now() + 45_000
      while (value === undefined && Date.now() < deadline && prom.exitCode === null) {
        const r = await query(promPort, q)
        if (r?.status === 'success' && r.data.result.length > 0) value = Number(r.data.result[0].value[1])
        else await new Promise((res) => setTimeout(res, 500))
      }
      expect(value, `Prometheus never returned ${q}; its log:\n${log}`).toBe(31)
      const perBucket = await query(promPort, `persisting_records_total{topic="${topic}"}`)
      expect(perBucket!.data.result.map((r) => r.metric.bucket).sort()).toEqual(['0', '1'])
      expect(perBucket!.data.result[0].metric.job).toBe('persisting')
    } finally {
      if (prom && prom.exitCode === null) {
        const exited = new Promise((res) => prom!.once('exit', res))
        prom.kill('SIGTERM')
        await exited
      }
      await metricsServer.close()
      await system.shutdown()
    }
  })

  it.skipIf(hasPrometheus)('skipped: the prometheus binary is not on PATH (bash scripts/setup.sh --test installs it)', () => {})
})
