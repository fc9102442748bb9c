// A minimal RESP2 client over node:net and a helper that runs a throw-away redis-server on a
// loopback port. Used only by the benchmarks (no Redis client package is needed).
import net from 'node:net'
import fs from 'node:fs'
import path from 'node:path'
import { spawn, spawnSync } from 'node:child_process'
import { freePort } from '../../scripts/free-port.mjs'

function encode(args) {
  let out = `*${args.length}\r\n`
  for (const a of args) {
    const s = String(a)
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`
  }
  return out
}

/** Parses one RESP value at `pos`; returns [value, next] or undefined when more bytes are needed. */
function parse(buf, pos) {
  if (pos >= buf.length) return undefined
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) return undefined
  const type = buf[pos]
  const line = buf.toString('utf8', pos + 1, eol)
  switch (type) {
    case 0x2b: // +
      return [line, eol + 2]
    case 0x2d: // -
      return [new Error(line), eol + 2]
    case 0x3a: // :
      return [Number(line), eol + 2]
    case 0x24: { // $
      const n = Number(line)
      if (n < 0) return [null, eol + 2]
      if (buf.length < eol + 2 + n + 2) return undefined
      return [buf.toString('utf8', eol + 2, eol + 2 + n), eol + 2 + n + 2]
    }
    case 0x2a: { // *
      const n = Number(line)
      if (n < 0) return [null, eol + 2]
      const arr = new Array(n)
      let p = eol + 2
      for (let i = 0; i < n; i++) {
        const r = parse(buf, p)
        if (!r) return undefined
        arr[i] = r[0]
        p = r[1]
      }
      return [arr, p]
    }
    default:
      throw new Error(`bad RESP type byte ${type}`)
  }
}

export class RespClient {
  constructor(socket) {
    this.socket = socket
    this.pending = []
    this.buf = Buffer.alloc(0)
    socket.setNoDelay(true)
    socket.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d
      let pos = 0
      for (;;) {
        const r = parse(this.buf, pos)
        if (!r) break
        pos = r[1]
        const p = this.pending.shift()
        if (!p) continue
        if (r[0] instanceof Error) p.reject(r[0])
        else p.resolve(r[0])
      }
      this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos)
    })
    socket.on('error', (e) => {
      for (const p of this.pending.splice(0)) p.reject(e)
    })
    socket.on('close', () => {
      for (const p of this.pending.splice(0)) p.reject(new Error('connection closed'))
    })
  }

  static connect(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ port, host }, () => {
        s.off('error', reject)
        resolve(new RespClient(s))
      })
      s.once('error', reject)
    })
  }

  cmd(...args) {
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket.write(encode(args))
    })
  }

  close() {
    this.socket.end()
    this.socket.destroy()
  }
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/**
 * Makes sure redis-server exists (installing Debian's package when we are root and it is
 * missing). Returns { path } or { skip: reason }.
 */
export function ensureRedisServer({ install = true, log = console.log } = {}) {
  let bin = which('redis-server')
  if (bin) return { path: bin }
  if (!install) return { skip: 'redis-server is not installed (--no-install given)' }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return { skip: 'redis-server is not installed and we are not root (install Debian package redis-server)' }
  }
  log('  redis-server missing: installing Debian package redis-server with apt-get ...')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const opts = { encoding: 'utf8', env, timeout: 300_000 }
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], opts)
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], opts)
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], opts)
  }
  bin = which('redis-server')
  if (bin) return { path: bin }
  return { skip: `apt-get could not install redis-server: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}` }
}

/** Starts redis-server on a free loopback port with AOF `appendfsync always` in `dir`. */
export async function startRedis(bin, dir) {
  const port = await freePort()
  fs.mkdirSync(dir, { recursive: true })
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes',
    '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
    '--daemonize', 'no', '--logfile', path.join(dir, 'redis.log'),
  ]
  const proc = spawn(bin, args, { stdio: 'ignore' })
  let exited = null
  proc.once('exit', (code) => (exited = code ?? 'signal'))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (exited !== null) throw new Error(`redis-server exited (${exited}); see ${path.join(dir, 'redis.log')}`)
    try {
      const c = await RespClient.connect(port)
      const pong = await c.cmd('PING')
      const v = await c.cmd('INFO', 'server')
      c.close()
      if (pong === 'PONG') {
        const version = /redis_version:(\S+)/.exec(v)?.[1] ?? '?'
        return {
          port,
          version,
          pid: proc.pid,
          /** Synchronous last resort (signal handlers). */
          kill() {
            if (exited === null) proc.kill('SIGKILL')
          },
          async stop() {
            try {
              const c2 = await RespClient.connect(port)
              c2.cmd('SHUTDOWN', 'NOSAVE').catch(() => {})
              setTimeout(() => c2.close(), 200)
            } catch {}
            const t = Date.now()
            while (exited === null && Date.now() - t < 3000) await new Promise((r) => setTimeout(r, 50))
            if (exited === null) proc.kill('SIGKILL')
          },
        }
      }
    } catch {}
    if (Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error('redis-server did not answer PING within 10 s')
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
