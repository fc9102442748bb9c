// The S3-compatible test server (s3s-fs, built by scripts/s3-server.sh) started on a free
// loopback port: shared by the object-store tests, the scale-out bench and anything else that
// needs a real S3 endpoint on this machine.
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { freePort } from './free-port.mjs'

const ROOT = path.resolve(import.meta.dirname, '..')

/** The server binary (PERSISTING_S3_SERVER, else the one setup built), or undefined. */
export function s3ServerBinary() {
  const given = process.env.PERSISTING_S3_SERVER
  if (given) return fs.existsSync(given) ? given : undefined
  try {
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 's3-server.sh'), '--path'], { encoding: 'utf8' }).trim()
    return out && fs.existsSync(out) ? out : undefined
  } catch {
    return undefined
  }
}

function accepts(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/**
 * Starts `binary` on a free loopback port serving `dir`, with `bucket` created in it. Resolves
 * once it accepts connections, with its endpoint, Lance storageOptions and a stop function.
 */
export async function startS3Server(binary, dir, bucket) {
  fs.mkdirSync(path.join(dir, bucket), { recursive: true })
  const accessKey = 'persisting-test'
  const secretKey = 'persisting-test-secret'
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const child = spawn(binary, ['--host', '127.0.0.1', '--port', String(port), '--access-key', accessKey, '--secret-key', secretKey, dir], {
      stdio: 'ignore',
    })
    let exited = false
    child.once('exit', () => (exited = true))
    for (let i = 0; i < 200 && !exited; i++) {
      if (await accepts(port)) {
        const endpoint = `http://127.0.0.1:${port}`
        return {
          endpoint,
          storageOptions: {
            aws_endpoint: endpoint,
            aws_region: 'us-east-1',
            aws_access_key_id: accessKey,
            aws_secret_access_key: secretKey,
            aws_allow_http: 'true',
            aws_virtual_hosted_style_request: 'false',
          },
          stop: () =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve()
              child.once('exit', () => resolve())
              child.kill('SIGTERM')
            }),
        }
      }
      await new Promise((r) => setTimeout(r, 25))
    }
    child.kill('SIGKILL') // another process took the port, or it did not come up: try again
  }
  throw new Error(`the S3 server ${binary} did not start`)
}
