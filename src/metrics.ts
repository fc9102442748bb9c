/**
 * Prometheus metrics from the Rust core (`persisting_records_total`, `persisting_buffer_size`,
 * `persisting_flush_duration_seconds`, `persisting_wal_size_bytes`, ...), for every backend
 * created with `enableMetrics: true`.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StorageError } from './errors.js'
import { native } from './native.js'

/** The metrics in Prometheus text exposition format. */
export async function metrics(): Promise<string> {
  return native().metricsText()
}

export interface MetricsServer {
  readonly port: number
  readonly url: string
  close(): Promise<void>
}

/** Serves `GET /metrics` on `host:port` (port 0 picks a free one). */
export async function serveMetrics(options: { port?: number; host?: string } = {}): Promise<MetricsServer> {
  const port = options.port ?? 9464
  const host = options.host ?? '127.0.0.1'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StorageError(`port must be an integer in 0..65535, got ${port}`, 'INVALID_OPTION')
  }
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
    const body = native().metricsText()
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
