/**
 * The group coordinator's persistence on this broker: records of
 * `__consumer_offsets` (compacted, `offsets.topic.num.partitions`
 * partitions, a group's records on partition abs(hash(group)) % n), written
 * as ordinary record batches through the partition logs and read back at
 * startup.
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
import type { Broker } from './broker.ts';
import type { TopicState } from '../metadata/image.ts';
import { ErrorCode } from '../protocol/error-codes.ts';

export const OFFSETS_TOPIC = '__consumer_offsets';

export class OffsetsTopicStore implements GroupStore {
  /** The creation in flight: the topic is in the image before its partitions are open, so later writers wait for it. */
  private creating: Promise<TopicState> | null = null;

  constructor(private readonly b: Broker) {}

  /** Creates __consumer_offsets on first use (compacted, as Kafka does). */
  ensureTopic(): Promise<TopicState> {
    if (this.creating) return this.creating;
    const existing = this.b.image.topicsByName.get(OFFSETS_TOPIC);
    if (existing) return Promise.resolve(existing);
    this.creating = this.create().finally(() => {
      this.creating = null;
    });
    return this.creating;
  }

  private async create(): Promise<TopicState> {
    const [r] = await this.b.controller.createTopics(
      [
        {
          name: OFFSETS_TOPIC,
          numPartitions: this.b.config.offsetsTopicNumPartitions,
          replicationFactor: 1,
          configs: {
            'cleanup.policy': 'compact',
            'compression.type': 'producer',
            'segment.bytes': String(100 * 1024 * 1024),
          },
        },
      ],
      false,
    );
    const topic = this.b.image.topicsByName.get(OFFSETS_TOPIC);
    // e.g. refused by samsa.max.partitions: the request that needed it fails with this reason
    if (!topic)
      throw writeFailure(
        `${OFFSETS_TOPIC} could not be created: ${r.errorMessage ?? `error code ${r.errorCode}`}`,
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
    return topic;
  }

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
    for (const [p, recs] of byPartition) {
      const part = this.b.replicas.get(OFFSETS_TOPIC, p);
      if (!part) throw writeFailure(`${OFFSETS_TOPIC}-${p} is not hosted here`, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      const refused = part.checkAppend(1);
      if (refused === ErrorCode.KAFKA_STORAGE_ERROR) throw part.log.dirHealth.refusal();
      if (refused !== ErrorCode.NONE)
        throw writeFailure(`${OFFSETS_TOPIC}-${p} refuses the write (error code ${refused})`, refused);
      const records = encodeBatch({ records: recs.map((r) => ({ ...encodeStored(r), timestamp: now })) });
      part.appendAsLeader(records);
    }
  }

  async load(): Promise<StoredRecord[]> {
    const topic = this.b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!topic) return [];
    const out: StoredRecord[] = [];
    for (const p of topic.partitions) {
      const part = this.b.replicas.get(OFFSETS_TOPIC, p.partition);
      if (!part) continue;
      const log = part.log;
      let offset = log.logStartOffset;
      while (offset < log.logEndOffset) {
        const { batches } = log.read(offset, 1024 * 1024, { maxOffset: log.logEndOffset, minOneBatch: true });
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
