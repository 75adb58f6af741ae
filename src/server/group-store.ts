/**
 * The group coordinator's persistence on this broker: records of
 * `__consumer_offsets` (compacted, `offsets.topic.num.partitions`
 * partitions, a group's records on partition abs(hash(group)) % n), written
 * as ordinary record batches through the partition logs and read back when
 * this node is elected leader of a partition (`followOffsetsLeadership`:
 * the coordinator hosts the groups of the partitions this node leads).
 */
import { batch, encodeBatch, iterateRecords } from '../protocol/records/index.ts';
import {
  decodeStored,
  encodeStored,
  partitionForGroup,
  type StoredRecord,
} from '../coordinator/group/offsets-records.ts';
import type { GroupStore, LoadedRecord } from '../coordinator/group/service.ts';
import type { OffsetRecord } from '../coordinator/group/group-coordinator.ts';
import { ControlRecordType, decodeControlKey } from '../protocol/records/control.ts';
import type { GroupCoordinatorService } from '../coordinator/group/service.ts';
import type { Broker } from './broker.ts';
import type { Partition } from './partition.ts';
import type { TopicState } from '../metadata/image.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import {
  acknowledged,
  cappedReplicationFactor,
  ensureInternalTopic,
  followInternalTopicLeadership,
  internalPartitionForWrite,
  internalWriteFailure,
  readInternalPartition,
} from './internal-topics.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

/**
 * __consumer_offsets, created on first use (compacted, as Kafka does) by the
 * group store's first write or by FindCoordinator; one creation at a time.
 * Rejects, with the reason in the message, when the controller refuses it.
 */
export function ensureOffsetsTopic(b: Broker): Promise<TopicState> {
  return ensureInternalTopic(b, OFFSETS_TOPIC, async () => {
    const [r] = await b.controller.createTopics(
      [
        {
          name: OFFSETS_TOPIC,
          numPartitions: b.config.offsetsTopicNumPartitions,
          replicationFactor: cappedReplicationFactor(
            b,
            OFFSETS_TOPIC,
            'offsets.topic.replication.factor',
            b.config.offsetsTopicReplicationFactor,
          ),
          configs: {
            'cleanup.policy': 'compact',
            'compression.type': 'producer',
            'segment.bytes': String(100 * 1024 * 1024),
          },
        },
      ],
      false,
    );
    return r;
  });
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
  await followInternalTopicLeadership(b, OFFSETS_TOPIC, groups, 'group coordinator');
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
    const now = Date.now();
    await this.appendPerPartition(records, (recs) =>
      encodeBatch({ records: recs.map((r) => ({ ...encodeStored(r), timestamp: now })) }),
    );
  }

  /**
   * Appends the offsets of a transaction (TxnOffsetCommit) as one
   * transactional batch of the producer per partition, as Kafka does: they
   * count once the transaction's COMMIT marker follows them in the log.
   * Acknowledged as `write` is.
   */
  async writeTxn(
    records: OffsetRecord[],
    producerId: number,
    producerEpoch: number,
    valid?: () => boolean,
  ): Promise<void> {
    const now = Date.now();
    await this.appendPerPartition(records, (recs, part) => {
      // verified (KIP-890), but a marker of the producer ended that transaction here since
      if (valid && !valid())
        throw internalWriteFailure(`the transaction of producer ${producerId} ended here`, ErrorCode.INVALID_TXN_STATE);
      // a producer fenced by a newer epoch (its markers already reached this partition)
      const known = part.log.producerState.get(producerId);
      if (known && known.epoch > producerEpoch)
        throw internalWriteFailure(
          `producer ${producerId} is fenced by epoch ${known.epoch}`,
          ErrorCode.PRODUCER_FENCED,
        );
      return encodeBatch({
        producerId,
        producerEpoch,
        baseSequence: -1,
        isTransactional: true,
        records: recs.map((r) => ({ ...encodeStored(r), timestamp: now })),
      });
    });
  }

  /**
   * Groups `records` by their group's partition, appends one batch (made by
   * `encode`) to each, and resolves once all are acknowledged within
   * offsets.commit.timeout.ms.
   */
  private async appendPerPartition<R extends { groupId: string }>(
    records: R[],
    encode: (recs: R[], part: Partition) => Buffer,
  ): Promise<void> {
    const topic = await this.ensureTopic();
    const byPartition = new Map<number, R[]>();
    for (const r of records) {
      const p = partitionForGroup(r.groupId, topic.partitions.length);
      let l = byPartition.get(p);
      if (!l) byPartition.set(p, (l = []));
      l.push(r);
    }
    const acks: Promise<void>[] = [];
    for (const [p, recs] of byPartition) {
      const part = internalPartitionForWrite(this.b, OFFSETS_TOPIC, p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const info = part.appendAsLeader(encode(recs, part));
      acks.push(acknowledged(part, info.lastOffset + 1, this.b.config.offsetsCommitTimeoutMs));
    }
    await (acks.length === 1 ? acks[0] : Promise.all(acks));
  }

  /**
   * The records of one partition (`partition` given) or of every hosted
   * partition, in log order, read up to the log end offset as it was when
   * the read of that partition began. A long read yields to the event loop
   * every ~10 ms.
   */
  async load(partition?: number): Promise<LoadedRecord[]> {
    const topic = this.b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!topic) return [];
    const out: LoadedRecord[] = [];
    for (const p of topic.partitions) {
      if (!p || (partition !== undefined && p.partition !== partition)) continue;
      const part = this.b.replicas.get(OFFSETS_TOPIC, p.partition);
      if (!part) continue;
      await readInternalPartition(part, (chunk, at, from) => {
        // a transaction's records and its marker (TxnOffsetCommit): told with the producer id
        const txnProducer = batch.isTransactional(chunk, at) ? batch.producerId(chunk, at) : undefined;
        const control = batch.isControl(chunk, at);
        for (const rec of iterateRecords(chunk, at)) {
          if (rec.offset < from) continue;
          const key = rec.key();
          if (key === null) continue;
          if (control) {
            const type = decodeControlKey(key).type;
            if (txnProducer !== undefined && (type === ControlRecordType.COMMIT || type === ControlRecordType.ABORT))
              out.push({ txnMarker: { producerId: txnProducer, commit: type === ControlRecordType.COMMIT } });
            continue;
          }
          const stored = decodeStored(key, rec.value());
          if (stored)
            out.push(txnProducer !== undefined && !('snapshot' in stored) ? { ...stored, txnProducer } : stored);
        }
      });
    }
    return out;
  }
}
