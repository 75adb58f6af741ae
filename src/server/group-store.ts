/**
 * The group coordinator's persistence on this broker: records of
 * `__consumer_offsets` (compacted, `offsets.topic.num.partitions`
 * partitions, a group's records on partition abs(hash(group)) % n), written
 * as ordinary record batches through the partition logs and read back when
 * this node is elected leader of a partition (`followOffsetsLeadership`:
 * the coordinator hosts the groups of the partitions this node leads).
 */
import { batch, encodeBatch, iterateRecords } from '../protocol/records/index.ts';
import { splitBatches } from '../protocol/records/validate.ts';
import {
  decodeStored,
  encodeStored,
  partitionForGroup,
  type StoredRecord,
} from '../coordinator/group/offsets-records.ts';
import type { GroupStore } from '../coordinator/group/service.ts';
import type { GroupCoordinatorService } from '../coordinator/group/service.ts';
import type { Broker } from './broker.ts';
import type { Partition } from './partition.ts';
import type { TopicState } from '../metadata/image.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { TimeSlice } from '../storage/time-slice.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

/** The creation of __consumer_offsets in flight, per broker: the topic is in the image before its partitions are open, so later users wait for it. */
const creating = new WeakMap<Broker, Promise<TopicState>>();

/**
 * __consumer_offsets, created on first use (compacted, as Kafka does) by the
 * group store's first write or by FindCoordinator; one creation at a time.
 * Rejects, with the reason in the message, when the controller refuses it.
 */
export function ensureOffsetsTopic(b: Broker): Promise<TopicState> {
  const inFlight = creating.get(b);
  if (inFlight) return inFlight;
  const existing = b.image.topicsByName.get(OFFSETS_TOPIC);
  if (existing) return Promise.resolve(existing);
  const p = createOffsetsTopic(b).finally(() => creating.delete(b));
  creating.set(b, p);
  return p;
}

/**
 * The replication factor __consumer_offsets is created with:
 * offsets.topic.replication.factor, capped by the number of live brokers
 * (a warning says so; the topic keeps that factor once created).
 */
export function offsetsTopicReplicationFactor(b: Broker): number {
  const wanted = b.config.offsetsTopicReplicationFactor;
  const live = Math.max(1, b.image.liveBrokers().length);
  if (wanted <= live) return wanted;
  b.logger.warn(
    `${OFFSETS_TOPIC} is created with replication factor ${live}, the number of live brokers: offsets.topic.replication.factor=${wanted} cannot be reached`,
  );
  return live;
}

async function createOffsetsTopic(b: Broker): Promise<TopicState> {
  const [r] = await b.controller.createTopics(
    [
      {
        name: OFFSETS_TOPIC,
        numPartitions: b.config.offsetsTopicNumPartitions,
        replicationFactor: offsetsTopicReplicationFactor(b),
        configs: {
          'cleanup.policy': 'compact',
          'compression.type': 'producer',
          'segment.bytes': String(100 * 1024 * 1024),
        },
      },
    ],
    false,
  );
  const topic = b.image.topicsByName.get(OFFSETS_TOPIC);
  // e.g. refused by samsa.max.partitions: the request that needed it fails with this reason
  if (!topic)
    throw writeFailure(
      `${OFFSETS_TOPIC} could not be created: ${r.errorMessage ?? `error code ${r.errorCode}`}`,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
  return topic;
}

/**
 * Makes the group coordinator host only the groups of the __consumer_offsets
 * partitions this node leads, following the replica manager: a partition
 * that becomes leader here is loaded (its groups answer
 * COORDINATOR_LOAD_IN_PROGRESS until then), one that becomes a follower or
 * stops being hosted here is unloaded (NOT_COORDINATOR). Resolves once the
 * partitions this node leads now are loaded. Call once, before serving.
 */
export async function followOffsetsLeadership(b: Broker, groups: GroupCoordinatorService): Promise<void> {
  const offsetsTopic = () => b.image.topicsByName.get(OFFSETS_TOPIC);
  groups.hostElectedPartitionsOnly({
    partitionCount: () => offsetsTopic()?.partitions.length ?? b.config.offsetsTopicNumPartitions,
    isLeader: (partition) => offsetsTopic()?.partitions[partition]?.leader === b.nodeId,
    partitionExists: (topic, partition) => b.image.topicsByName.get(topic)?.partitions[partition] !== undefined,
  });
  const follow = (p: Partition, hosted: boolean): Promise<void> | undefined => {
    if (p.topic.name !== OFFSETS_TOPIC) return undefined;
    if (hosted && p.role === 'leader') return groups.onElection(p.index, p.leaderEpoch);
    groups.onResignation(p.index);
    return undefined;
  };
  b.replicas.onLeadershipChange((p, hosted) => {
    try {
      void follow(p, hosted);
    } catch (err) {
      b.logger.error({ err, partition: p.index }, `group coordinator: could not follow ${OFFSETS_TOPIC} leadership`);
    }
  });
  await Promise.all([...b.replicas.all()].map((p) => follow(p, true)));
}

export class OffsetsTopicStore implements GroupStore {
  constructor(private readonly b: Broker) {}

  /** Creates __consumer_offsets on first use (compacted, as Kafka does). */
  ensureTopic(): Promise<TopicState> {
    return ensureOffsetsTopic(this.b);
  }

  /**
   * Appends the records to their groups' partitions, as Kafka's coordinator
   * does with acks=all: resolves once every in-sync replica has them and
   * this node fsynced them (Partition.waitForAcks; concurrent writes share
   * one fsync). Rejects with the Kafka error in `errorCode` (service.ts
   * writeError maps it to the coordinator's answer): NOT_ENOUGH_REPLICAS
   * before the append or NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER
   * (leadership moved), KAFKA_STORAGE_ERROR, or REQUEST_TIMED_OUT when the
   * acknowledgement took longer than offsets.commit.timeout.ms. A record
   * appended by a write that failed stays in the log: as in Kafka, a later
   * leader may keep it.
   */
  async write(records: StoredRecord[]): Promise<void> {
    const topic = await this.ensureTopic();
    const byPartition = new Map<number, StoredRecord[]>();
    for (const r of records) {
      const p = partitionForGroup(r.groupId, topic.partitions.length);
      let l = byPartition.get(p);
      if (!l) byPartition.set(p, (l = []));
      l.push(r);
    }
    const now = Date.now();
    const acks: Promise<void>[] = [];
    for (const [p, recs] of byPartition) {
      const part = this.b.replicas.get(OFFSETS_TOPIC, p);
      if (!part) throw writeFailure(`${OFFSETS_TOPIC}-${p} is not hosted here`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const refused = part.checkAppend(-1);
      if (refused === ErrorCode.KAFKA_STORAGE_ERROR) throw part.log.dirHealth.refusal();
      if (refused !== ErrorCode.NONE)
        throw writeFailure(`${OFFSETS_TOPIC}-${p} refuses the write (error code ${refused})`, refused);
      const records = encodeBatch({ records: recs.map((r) => ({ ...encodeStored(r), timestamp: now })) });
      const info = part.appendAsLeader(records);
      acks.push(part.waitForAcks(info.lastOffset + 1).then((code) => this.failOn(code, part.topic.name, p)));
    }
    await this.withinCommitTimeout(acks.length === 1 ? acks[0] : Promise.all(acks));
  }

  private failOn(code: number, topic: string, partition: number): void {
    if (code === ErrorCode.NONE) return;
    throw writeFailure(`${topic}-${partition}: the write was not acknowledged (error code ${code})`, code);
  }

  /** `acked`, or a REQUEST_TIMED_OUT failure once offsets.commit.timeout.ms has passed. */
  private withinCommitTimeout(acked: Promise<unknown>): Promise<unknown> {
    const ms = this.b.config.offsetsCommitTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            writeFailure(
              `${OFFSETS_TOPIC}: the in-sync replicas did not acknowledge the write within offsets.commit.timeout.ms (${ms} ms)`,
              ErrorCode.REQUEST_TIMED_OUT,
            ),
          ),
        ms,
      );
    });
    return Promise.race([acked, timedOut]).finally(() => clearTimeout(timer));
  }

  /**
   * The records of one partition (`partition` given) or of every hosted
   * partition, in log order, read up to the log end offset as it was when
   * the read of that partition began. A long read yields to the event loop
   * every ~10 ms.
   */
  async load(partition?: number): Promise<StoredRecord[]> {
    const topic = this.b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!topic) return [];
    const out: StoredRecord[] = [];
    const slice = new TimeSlice();
    for (const p of topic.partitions) {
      if (!p || (partition !== undefined && p.partition !== partition)) continue;
      const part = this.b.replicas.get(OFFSETS_TOPIC, p.partition);
      if (!part) continue;
      const log = part.log;
      const end = log.logEndOffset;
      let offset = log.logStartOffset;
      while (offset < end) {
        const y = slice.tick();
        if (y) await y;
        // records below a log start offset moved meanwhile (DeleteRecords) are gone
        offset = Math.max(offset, log.logStartOffset);
        if (offset >= end) break;
        const { batches } = log.read(offset, 1024 * 1024, { maxOffset: end, minOneBatch: true });
        if (batches.length === 0) break;
        for (const chunk of batches) {
          for (const pos of splitBatches(chunk)) {
            for (const rec of iterateRecords(chunk, pos.at)) {
              if (rec.offset < offset) continue;
              const key = rec.key();
              if (key === null) continue;
              const stored = decodeStored(key, rec.value());
              if (stored) out.push(stored);
            }
            offset = Math.max(offset, batch.lastOffset(chunk, pos.at) + 1);
          }
        }
      }
    }
    return out;
  }
}

/** An append to __consumer_offsets that failed with a Kafka error: the coordinator maps `errorCode` to its answer (service.ts writeError). */
function writeFailure(message: string, errorCode: number): Error & { errorCode: number } {
  return Object.assign(new Error(message), { errorCode });
}
