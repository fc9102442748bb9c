/**
 * The in-process queue system (Pulsing's ActorSystem stand-in): one StorageManager holding
 * every topic's buckets, so all writers and readers created from it share storage.
 */
import type { Row } from '../backends/types.js'
import { readQueue, writeQueue } from './open.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import type { QueueReader } from './reader.js'
import { SystemBase } from './system-base.js'
import type { QueueWriter } from './writer.js'

export interface SystemQueueApi {
  write<T extends object = Row>(topic: string, options?: WriteQueueOptions): Promise<QueueWriter<T>>
  read<T extends object = Row>(topic: string, options?: ReadQueueOptions): Promise<QueueReader<T>>
}

export class System extends SystemBase {
  readonly queue: SystemQueueApi = {
    write: <T extends object = Row>(topic: string, options?: WriteQueueOptions) => writeQueue<T>(this, topic, options),
    read: <T extends object = Row>(topic: string, options?: ReadQueueOptions) => readQueue<T>(this, topic, options),
  }
}

export async function createSystem(): Promise<System> {
  return new System()
}
