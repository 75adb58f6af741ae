/**
 * What the coordinators' internal topics (`__consumer_offsets` for groups,
 * `__transaction_state` for transactions) share on a broker: creation on
 * first use, one creation at a time; a replication factor capped by the
 * live brokers; following the leadership of their partitions (a coordinator
 * hosts what the partitions this node leads hold); appends acknowledged as
 * Kafka's coordinators write them (acks=all: every in-sync replica and this
 * node's fsync) within a timeout; and reading a partition back in log order.
 */
import { batch } from '../protocol/records/index.ts';
import { splitBatches } from '../protocol/records/validate.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { TopicState } from '../metadata/image.ts';
import { TimeSlice } from '../storage/time-slice.ts';
import type { Broker } from './broker.ts';
import type { Partition } from './partition.ts';

/** A failure with the Kafka error the coordinator maps to its answer. */
export type InternalWriteFailure = Error & { errorCode: number };

export function internalWriteFailure(message: string, errorCode: number): InternalWriteFailure {
  return Object.assign(new Error(message), { errorCode });
}

/** Creations in flight, per broker and topic: the topic is in the image before its partitions are open. */
const creating = new WeakMap<Broker, Map<string, Promise<TopicState>>>();

/**
 * `name`, created by `create` on first use; concurrent callers share one
 * creation. `create` resolves once the controller answered; the topic is
 * then read from the image, and a refusal rejects with its reason
 * (UNKNOWN_TOPIC_OR_PARTITION).
 */
export function ensureInternalTopic(
  b: Broker,
  name: string,
  create: () => Promise<{ errorCode: number; errorMessage?: string | null }>,
): Promise<TopicState> {
  let mine = creating.get(b);
  if (!mine) creating.set(b, (mine = new Map()));
  const inFlight = mine.get(name);
  if (inFlight) return inFlight;
  const existing = b.image.topicsByName.get(name);
  if (existing) return Promise.resolve(existing);
  const p = create()
    .then((r) => {
      const topic = b.image.topicsByName.get(name);
      // e.g. refused by samsa.max.partitions: the request that needed it fails with this reason
      if (!topic)
        throw internalWriteFailure(
          `${name} could not be created: ${r.errorMessage ?? `error code ${r.errorCode}`}`,
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        );
      return topic;
    })
    .finally(() => mine.delete(name));
  mine.set(name, p);
  return p;
}

/**
 * The replication factor an internal topic is created with: `wanted`
 * (its *.replication.factor), capped by the number of live brokers, with a
 * warning naming `property` (the topic keeps that factor once created).
 */
export function cappedReplicationFactor(b: Broker, topic: string, property: string, wanted: number): number {
  const live = Math.max(1, b.image.liveBrokers().length);
  if (wanted <= live) return wanted;
  b.logger.warn(
    `${topic} is created with replication factor ${live}, the number of live brokers: ${property}=${wanted} cannot be reached`,
  );
  return live;
}

export interface PartitionCoordinator {
  /** This node became leader of partition `partition` of the topic (epoch `leaderEpoch`): load it. */
  onElection(partition: number, leaderEpoch: number): Promise<void>;
  /** This node no longer leads it (or no longer hosts it). */
  onResignation(partition: number): void;
}

/**
 * Makes `coordinator` follow the leadership of `topic`'s partitions on this
 * broker, from now on; resolves once the partitions this node leads now are
 * loaded. `what` names the coordinator in log lines.
 */
export async function followInternalTopicLeadership(
  b: Broker,
  topic: string,
  coordinator: PartitionCoordinator,
  what: string,
): Promise<void> {
  const follow = (p: Partition, hosted: boolean): Promise<void> | undefined => {
    if (p.topic.name !== topic) return undefined;
    if (hosted && p.role === 'leader') return coordinator.onElection(p.index, p.leaderEpoch);
    coordinator.onResignation(p.index);
    return undefined;
  };
  b.replicas.onLeadershipChange((p, hosted) => {
    try {
      void follow(p, hosted);
    } catch (err) {
      b.logger.error({ err, partition: p.index }, `${what}: could not follow ${topic} leadership`);
    }
  });
  await Promise.all([...b.replicas.all()].map((p) => follow(p, true)));
}

/**
 * The hosted partition `partition` of `topic`, ready for a coordinator's
 * acks=all append: throws (with `notHostedCode` when this node does not
 * host it, the log dir's refusal, or the leader's refusal such as
 * NOT_ENOUGH_REPLICAS) otherwise.
 */
export function internalPartitionForWrite(
  b: Broker,
  topic: string,
  partition: number,
  notHostedCode: number,
): Partition {
  const part = b.replicas.get(topic, partition);
  if (!part) throw internalWriteFailure(`${topic}-${partition} is not hosted here`, notHostedCode);
  const refused = part.checkAppend(-1);
  if (refused === ErrorCode.KAFKA_STORAGE_ERROR) throw part.log.dirHealth.refusal();
  if (refused !== ErrorCode.NONE)
    throw internalWriteFailure(`${topic}-${partition} refuses the write (error code ${refused})`, refused);
  return part;
}

/**
 * Resolves once every offset below `endOffset` of `part` is acknowledged
 * (Partition.waitForAcks); rejects with the error it failed with, or
 * REQUEST_TIMED_OUT after `timeoutMs` (offsets.commit.timeout.ms).
 */
export function acknowledged(part: Partition, endOffset: number, timeoutMs: number): Promise<void> {
  const name = `${part.topic.name}-${part.index}`;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          internalWriteFailure(
            `${name}: the in-sync replicas did not acknowledge the write within ${timeoutMs} ms`,
            ErrorCode.REQUEST_TIMED_OUT,
          ),
        ),
      timeoutMs,
    );
  });
  const acked = part.waitForAcks(endOffset).then((code) => {
    if (code !== ErrorCode.NONE)
      throw internalWriteFailure(`${name}: the write was not acknowledged (error code ${code})`, code);
  });
  return Promise.race([acked, timedOut]).finally(() => clearTimeout(timer));
}

/**
 * Calls `each` with every batch of `part`'s log (its buffer, the batch's
 * position in it, and the offset below which records were already read), in
 * log order, up to the log end offset as it was when the read began. Records
 * below a log start offset that moves meanwhile (DeleteRecords) are skipped;
 * a long read yields to the event loop every ~10 ms.
 */
export async function readInternalPartition(
  part: Partition,
  each: (chunk: Buffer, at: number, from: number) => void,
): Promise<void> {
  const log = part.log;
  const end = log.logEndOffset;
  const slice = new TimeSlice();
  let offset = log.logStartOffset;
  while (offset < end) {
    const y = slice.tick();
    if (y) await y;
    offset = Math.max(offset, log.logStartOffset);
    if (offset >= end) break;
    const { batches } = log.read(offset, 1024 * 1024, { maxOffset: end, minOneBatch: true });
    if (batches.length === 0) break;
    for (const chunk of batches) {
      for (const pos of splitBatches(chunk)) {
        each(chunk, pos.at, offset);
        offset = Math.max(offset, batch.lastOffset(chunk, pos.at) + 1);
      }
    }
  }
}
