// Types for s3-server.mjs (plain JavaScript so benches and scripts import it with node).
export interface StartedS3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string
  /** Lance `storageOptions` for this server. */
  storageOptions: Record<string, string>
  stop(): Promise<void>
}
export declare function s3ServerBinary(): string | undefined
export declare function startS3Server(binary: string, dir: string, bucket: string): Promise<StartedS3Server>
