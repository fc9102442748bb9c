/**
 * The in-process queue system (Pulsing's ActorSystem stand-in): one StorageManager holding
 * every topic's buckets, so all writers and readers created from it share storage.
 */
import { readQueue, writeQueue } from './open.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import type { QueueReader } from './reader.js'
import { StorageManager } from './storage-manager.js'
import type { QueueWriter } from './writer.js'

export interface SystemQueueApi {
  write(topic: string, options?: WriteQueueOptions): Promise<QueueWriter>
  read(topic: string, options?: ReadQueueOptions): Promise<QueueReader>
}

export class System {
  readonly storage = new StorageManager()
  readonly queue: SystemQueueApi
  private shuttingDown: Promise<void> | undefined

  constructor() {
    // open.ts imports this module too; the cycle is safe because both sides only use the
    // other's exports inside function bodies.
    this.queue = {
      write: (topic, options) => writeQueue(this, topic, options),
      read: (topic, options) => readQueue(this, topic, options),
    }
  }

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

export async function createSystem(): Promise<System> {
  return new System()
}
