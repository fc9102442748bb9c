/**
 * A real S3-compatible server on loopback for the object-store tests: s3s-fs (crates.io), which
 * serves a directory over the S3 protocol, conditional puts included. `scripts/setup.sh --test`
 * builds it once per machine (`scripts/s3-server.sh`); PERSISTING_S3_SERVER names another binary.
 */
import { s3ServerBinary, startS3Server as start } from '../../scripts/s3-server.mjs'
import { tmpDir } from './tmp.js'

export { s3ServerBinary }

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

/** Starts the server on a free loopback port, serving a fresh temp directory. */
export async function startS3Server(binary: string): Promise<S3Server> {
  const dir = tmpDir('persisting-s3-')
  const bucket = 'persisting'
  const server = await start(binary, dir, bucket)
  return { ...server, bucket, dir, uri: (name = 'topic') => `s3://${bucket}/${name}-${process.pid}-${++unique}` }
}
