/**
 * The only listener the library opens is the metrics endpoint, and only on request: on
 * 127.0.0.1 unless a host is given. Checked from the kernel's socket tables, not from our own
 * report of where we listen.
 */
import * as fs from 'node:fs'
import * as net from 'node:net'
import * as os from 'node:os'
import { describe, expect, it } from 'vitest'
import * as pst from '../src/index.js'
import { tmpDir } from './helpers/tmp.js'

/** Local addresses of TCP sockets in LISTEN state owned by this process (Linux /proc). */
function listening(): string[] {
  const inodes = new Set<string>()
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`))
      if (m) inodes.add(m[1])
    } catch {
      // closed while listing
    }
  }
  const out: string[] = []
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(table)) continue
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9])) continue
      out.push(decode(f[1]))
    }
  }
  return out
}

function decode(hexAddr: string): string {
  const [ip, port] = hexAddr.split(':')
  const p = parseInt(port, 16)
  if (ip.length === 8) {
    const b = Buffer.from(ip, 'hex').reverse()
    return `${[...b].join('.')}:${p}`
  }
  return `[${ip}]:${p}`
}

function externalAddress(): string | undefined {
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

describe.skipIf(process.platform !== 'linux')('network surfaces', () => {
  it('writing, reading and metrics text open no listener', async () => {
    const before = listening()
    const system = await pst.createSystem()
    const w = await pst.writeQueue(system, 'net', {
      backend: 'persisting', storagePath: tmpDir(), numBuckets: 2,
      backendOptions: { enableWal: true, enableMetrics: true },
    })
    await w.putBatch(Array.from({ length: 50 }, (_, i) => ({ id: `k${i}`, i })))
    await w.flush()
    const r = await pst.readQueue(system, 'net', { bucketId: 0 })
    await r.get({ limit: 10 })
    expect(await pst.metrics()).toContain('persisting_records_total')
    expect(listening()).toEqual(before)
    await system.shutdown()
  })

  it('serveMetrics listens on 127.0.0.1 only, unless a host is given', async () => {
    const server = await pst.serveMetrics({ port: 0 })
    try {
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`)
      expect(listening()).toContain(`127.0.0.1:${server.port}`)
      expect(await canConnect('127.0.0.1', server.port)).toBe(true)
      const ext = externalAddress()
      if (ext) expect(await canConnect(ext, server.port)).toBe(false)
    } finally {
      await server.close()
    }
    expect(listening().some((a) => a.endsWith(`:${server.port}`))).toBe(false)

    const open = await pst.serveMetrics({ port: 0, host: '0.0.0.0' })
    try {
      expect(listening()).toContain(`0.0.0.0:${open.port}`)
      const ext = externalAddress()
      if (ext) expect(await canConnect(ext, open.port)).toBe(true)
    } finally {
      await open.close()
    }
  })
})
