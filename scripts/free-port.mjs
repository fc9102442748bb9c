// A free TCP port on loopback, for the throw-away servers tests and benches start (S3, Redis,
// Prometheus). The port is released before use, so another process could take it first; good
// enough for one machine's test run.
import * as net from 'node:net'

/** A port nothing listens on at 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}
