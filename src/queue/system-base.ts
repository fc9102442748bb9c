/**
 * What writeQueue / readQueue need of a system: its StorageManager. System (system.ts) adds the
 * `system.queue` shortcuts on top, which call writeQueue / readQueue; keeping this base apart
 * is what lets open.ts check its argument without importing system.ts (no import cycle).
 */
import { StorageManager } from './storage-manager.js'

export class SystemBase {
  readonly storage = new StorageManager()
  private shuttingDown: Promise<void> | undefined

  get closed(): boolean {
    return this.storage.closed
  }

  /** Flushes, then closes every bucket of every topic; idempotent. Blocked readers end. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      try {
        await this.storage.flushAll()
      } finally {
        await this.storage.closeAll()
      }
    })()
    return this.shuttingDown
  }
}
