/** writeQueue / readQueue: open a topic of a system for producing or consuming. */
import { DEFAULT_NUM_BUCKETS } from '../defaults.js'
import type { Row } from '../types.js'
import { StorageError } from '../errors.js'
import { assignBuckets, checkBucketColumn, checkReadOptions, checkTopic, checkWriteOptions, explicitStorageOptions } from './options.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import { Queue } from './queue.js'
import { QueueReader } from './reader.js'
import { settleAll } from './storage-manager.js'
import { SystemBase } from './system-base.js'
import { QueueWriter } from './writer.js'

function checkSystem(system: unknown, fn: string): asserts system is SystemBase {
  if (!(system instanceof SystemBase)) throw new TypeError(`${fn}: the first argument must be a System from createSystem()`)
  if (system.closed) throw new StorageError(`${fn}: the system has been shut down`, 'CLOSED')
}

export async function writeQueue<T extends object = Row>(system: SystemBase, topic: string, options: WriteQueueOptions = {}): Promise<QueueWriter<T>> {
  checkSystem(system, 'writeQueue')
  checkTopic(topic)
  checkWriteOptions(options)
  const bucketColumn = checkBucketColumn(options.bucketColumn)
  const given = explicitStorageOptions(options)
  const existing = system.storage.topicConfig(topic)
  if (existing) system.storage.openTopic(topic, given, 'writeQueue')
  const split = options.rank !== undefined || options.worldSize !== undefined
  const owned = split ? new Set(assignBuckets(options, given.numBuckets ?? existing?.numBuckets ?? DEFAULT_NUM_BUCKETS, 'writeQueue')) : undefined
  const config = system.storage.openTopic(topic, given, 'writeQueue')
  const queue = new Queue(system.storage, config, bucketColumn, owned)
  // A writer that owns a share claims it now: a second writer of the same buckets (here or on
  // another host) fails here, not at its first put.
  if (owned) {
    const before = new Set(system.storage.openBuckets(topic).map((b) => b.bucketId))
    try {
      await settleAll([...owned].map((id) => queue.bucket(id).claim()))
    } catch (err) {
      // Nothing this call opened stays open: the buckets it did claim are released too.
      await system.storage.discard(topic, [...owned].filter((id) => !before.has(id)))
      throw err
    }
  }
  return new QueueWriter<T>(queue)
}

export async function readQueue<T extends object = Row>(system: SystemBase, topic: string, options: ReadQueueOptions = {}): Promise<QueueReader<T>> {
  checkSystem(system, 'readQueue')
  checkTopic(topic)
  checkReadOptions(options)
  const bucketColumn = checkBucketColumn(options.bucketColumn)
  const given = explicitStorageOptions(options)
  // Report a disagreement with an open topic first; and check the bucket assignment before a
  // new topic is registered, so a bad rank does not leave a configured topic behind.
  const existing = system.storage.topicConfig(topic)
  if (existing) system.storage.openTopic(topic, given, 'readQueue')
  const bucketIds = assignBuckets(options, given.numBuckets ?? existing?.numBuckets ?? DEFAULT_NUM_BUCKETS)
  const config = system.storage.openTopic(topic, given, 'readQueue')
  return new QueueReader<T>(new Queue(system.storage, config, bucketColumn), bucketIds)
}
