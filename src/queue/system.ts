/**
 * The in-process queue system (Pulsing's ActorSystem stand-in): one StorageManager holding
 * every topic's buckets, so all writers and readers created from it share storage.
 */
import type { Row } from '../backends/types.js'
import { readQueue, writeQueue } from './open.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import type { QueueReader } from './reader.js'
import { StorageManager } from './storage-manager.js'
import type { QueueWriter } from './writer.js'

export interface SystemQueueApi {
  write<T extends object = Row>(topic: string, options?: WriteQueueOptions): Promise<QueueWriter<T>>
  read<T extends object = Row>(topic: string, options?: ReadQueueOptions): Promise<QueueReader<T>>
}

export class System {
  readonly storage = new StorageManager()
  readonly queue: SystemQueueApi
  private shuttingDown: Promise<void> | undefined

  constructor() {
    // open.ts imports this module too; the cycle is safe because both sides only use the
    // other's exports inside function bodies.
    this.queue = {
      write: <T extends object = Row>(topic: string, options?: WriteQueueOptions) => writeQueue<T>(this, topic, options),
      read: <T extends object = Row>(topic: string, options?: ReadQueueOptions) => readQueue<T>(this, topic, options),
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
