/**
 * A real S3-compatible server on loopback for the object-store tests: s3s-fs (crates.io), which
 * serves a directory over the S3 protocol, conditional puts included. `scripts/setup.sh --test`
 * builds it once per machine (`scripts/s3-server.sh`); PERSISTING_S3_SERVER names another binary.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as path from 'node:path'
import { tmpDir } from './tmp.js'

const ROOT = path.resolve(import.meta.dirname, '..', '..')

/** The server binary, or undefined when this machine could not build it. */
export function s3ServerBinary(): string | undefined {
  const given = process.env.PERSISTING_S3_SERVER
  if (given) return fs.existsSync(given) ? given : undefined
  try {
    const out = execFileSync('bash', [path.join(ROOT, 'scripts', 's3-server.sh'), '--path'], { encoding: 'utf8' }).trim()
    return out && fs.existsSync(out) ? out : undefined
  } catch {
    return undefined
  }
}

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string
  /** The S3 bucket the tests write into. */
  bucket: string
  /** The directory the server stores objects in (the bucket is `${dir}/${bucket}`). */
  dir: string
  /** Lance `storageOptions` for this server. */
  storageOptions: Record<string, string>
  /** A fresh `s3://` prefix in the bucket. */
  uri(name?: string): string
  stop(): Promise<void>
}

let unique = 0

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** Starts the server on a free loopback port, serving a fresh temp directory. */
export async function startS3Server(binary: string, options: { dir?: string; host?: string } = {}): Promise<S3Server> {
  const dir = options.dir ?? tmpDir('persisting-s3-')
  const bucket = 'persisting'
  fs.mkdirSync(path.join(dir, bucket), { recursive: true })
  const host = options.host ?? '127.0.0.1'
  const accessKey = 'persisting-test'
  const secretKey = 'persisting-test-secret'
  let child: ChildProcess | undefined
  let port = 0
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = await freePort()
    const c = spawn(binary, ['--host', host, '--port', String(port), '--access-key', accessKey, '--secret-key', secretKey, dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let exited = false
    c.once('exit', () => (exited = true))
    for (let i = 0; i < 200 && !exited; i++) {
      if (await accepts(port)) {
        child = c
        break
      }
      await new Promise((r) => setTimeout(r, 25))
    }
    if (child === undefined) c.kill('SIGKILL')
  }
  if (child === undefined) throw new Error(`the S3 server ${binary} did not start`)
  const endpoint = `http://${host}:${port}`
  const running = child
  return {
    endpoint,
    bucket,
    dir,
    storageOptions: {
      aws_endpoint: endpoint,
      aws_region: 'us-east-1',
      aws_access_key_id: accessKey,
      aws_secret_access_key: secretKey,
      aws_allow_http: 'true',
      aws_virtual_hosted_style_request: 'false',
    },
    uri: (name = 'topic') => `s3://${bucket}/${name}-${process.pid}-${++unique}`,
    stop: () =>
      new Promise<void>((resolve) => {
        if (running.exitCode !== null || running.signalCode !== null) return resolve()
        running.once('exit', () => resolve())
        running.kill('SIGTERM')
      }),
  }
}
