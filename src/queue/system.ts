/**
 * The in-process queue system (Pulsing's ActorSystem stand-in): one StorageManager holding
 * every topic's buckets, so all writers and readers created from it share storage.
 */
import { readQueue, writeQueue } from './open.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import type { QueueReader } from './reader.js'
import { SystemBase } from './system-base.js'
import type { QueueWriter } from './writer.js'

export interface SystemQueueApi {
  write(topic: string, options?: WriteQueueOptions): Promise<QueueWriter>
  read(topic: string, options?: ReadQueueOptions): Promise<QueueReader>
}

export class System extends SystemBase {
  readonly queue: SystemQueueApi = {
    write: (topic, options) => writeQueue(this, topic, options),
    read: (topic, options) => readQueue(this, topic, options),
  }
}

export async function createSystem(): Promise<System> {
  return new System()
}
