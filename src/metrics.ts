/**
 * Prometheus metrics from the Rust core (`persisting_records_total`, `persisting_buffer_size`,
 * `persisting_flush_duration_seconds`, `persisting_wal_size_bytes`, ...), for every backend
 * created with `enableMetrics: true`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { DEFAULT_METRICS_HOST, DEFAULT_METRICS_PORT } from './defaults.js'
import { StorageError } from './errors.js'
import { callNative, native } from './native.js'
import { check, intRange } from './options/validate.js'
import { readerLagText } from './reader-lag.js'

const PORT = intRange(0, 65535)

/** The metrics in Prometheus text exposition format. */
export async function metrics(): Promise<string> {
  return metricsText()
}

/** The core's metrics and the readers' lag, in one exposition. */
function metricsText(): string {
  return callNative(() => native().metricsText()) + readerLagText()
}

export interface MetricsServer {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

export interface ServeMetricsOptions {
  /** Integer 0..65535 (0 picks a free one); default 9464 (DEFAULT_METRICS_PORT). */
  port?: number
  /** Interface to listen on; default '127.0.0.1' (DEFAULT_METRICS_HOST). */
  host?: string
}

/** Serves `GET /metrics` on `host:port`. */
export async function serveMetrics(options: ServeMetricsOptions = {}): Promise<MetricsServer> {
  const port = options.port ?? DEFAULT_METRICS_PORT
  const host = options.host ?? DEFAULT_METRICS_HOST
  check(port, PORT, 'port')
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end()
      return
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n')
      return
    }
    let body: string
    try {
      body = metricsText()
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`)
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    res.end(req.method === 'HEAD' ? undefined : body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new StorageError(`cannot serve metrics on ${host}:${port}: ${err.message}`, 'IO', { cause: err })))
    server.listen(port, host, () => resolve())
  })
  const actual = (server.address() as AddressInfo).port
  return {
    port: actual,
    url: `http://${host}:${actual}/metrics`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  }
}
