/** writeQueue / readQueue: open a topic of a system for producing or consuming. */
import { DEFAULT_NUM_BUCKETS } from '../defaults.js'
import type { Row } from '../types.js'
import { StorageError } from '../errors.js'
import { assignBuckets, checkBucketColumn, checkReadOptions, checkTopic, checkWriteOptions, explicitStorageOptions } from './options.js'
import type { ReadQueueOptions, WriteQueueOptions } from './options.js'
import { Queue } from './queue.js'
import { QueueReader } from './reader.js'
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
  const config = system.storage.openTopic(topic, explicitStorageOptions(options), 'writeQueue')
  return new QueueWriter<T>(new Queue(system.storage, config, bucketColumn))
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
