/**
 * ListOffsets: earliest (-2), latest (-1), max timestamp (-3, KIP-734),
 * earliest local (-4, KIP-405: all data is local here) and the first offset
 * whose record timestamp is at or after a given time. Under read_committed
 * (isolation level 1) latest is the last stable offset, and a timestamp
 * lookup finds only offsets below it. A new leader whose high watermark is
 * still below its epoch's start answers consumers' latest and timestamp
 * lookups that need it with OFFSET_NOT_AVAILABLE (retriable; KIP-392, see
 * replica-selector.ts).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { notHostedError } from '../leader-hints.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { ListOffsetsRequest, ListOffsetsResponseInput } from '../../protocol/generated/messages.ts';
import type { Partition } from '../partition.ts';
import { batch, iterateRecords, splitBatches } from '../../protocol/records/index.ts';
import { highWatermarkBehindEpochStart } from '../replica-selector.ts';
import { allowed, Op, Res } from '../../security/acl-check.ts';

const LATEST = -1;
const EARLIEST = -2;
const MAX_TIMESTAMP = -3;
const EARLIEST_LOCAL = -4;

export function listOffsetsHandler(b: Broker): Handler<ListOffsetsRequest, ListOffsetsResponseInput> {
  return (req, ctx) => {
    const v = ctx.apiVersion;
    const readCommitted = v >= 2 && req.isolationLevel === 1;
    const topics = req.topics.map((t) => {
      const topic = b.image.topicsByName.get(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p) => {
          // ACLs: Describe on the topic
          if (!allowed(ctx, Op.DESCRIBE, Res.TOPIC, t.name))
            return answer(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1, -1, -1, v);
          const part = topic ? b.replicas.get(topic.name, p.partitionIndex) : undefined;
          if (!part) return answer(p.partitionIndex, notHostedError(topic, p.partitionIndex), -1, -1, -1, v);
          // leader, current leader epoch, log dir not failed: the Partition's rule
          const refused = part.checkLeader(p.currentLeaderEpoch ?? -1);
          if (refused !== ErrorCode.NONE) return answer(p.partitionIndex, refused, -1, -1, -1, v);
          const found = lookup(part, Number(p.timestamp), readCommitted);
          // a consumer's request (replica id -1; Kafka's isolation level is defined for those, v1+)
          if (
            v >= 1 &&
            req.replicaId === -1 &&
            (Number(p.timestamp) === LATEST || (Number(p.timestamp) >= 0 && found.offset < 0)) &&
            highWatermarkBehindEpochStart(part)
          )
            return answer(p.partitionIndex, ErrorCode.OFFSET_NOT_AVAILABLE, -1, -1, -1, v);
          return answer(
            p.partitionIndex,
            ErrorCode.NONE,
            found.timestamp,
            found.offset,
            found.offset >= 0 ? part.leaderEpoch : -1,
            v,
          );
        }),
      };
    });
    return { throttleTimeMs: 0, topics };
  };
}

function lookup(part: Partition, timestamp: number, readCommitted: boolean): { offset: number; timestamp: number } {
  const log = part.log;
  switch (timestamp) {
    case LATEST:
      return { offset: readCommitted ? part.lastStableOffset : part.highWatermark, timestamp: -1 };
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.logStartOffset, timestamp: -1 };
    case MAX_TIMESTAMP: {
      // The segment knows the batch holding the max timestamp; Kafka answers with the record's own offset.
      const r = log.latestTimestampOffset();
      return r ? (firstRecordAtOrAfter(part, r.offset, r.timestamp) ?? r) : { offset: -1, timestamp: -1 };
    }
    default: {
      if (timestamp < 0) return { offset: -1, timestamp: -1 };
      const r = log.offsetForTimestamp(timestamp);
      if (!r || r.offset >= (readCommitted ? part.lastStableOffset : part.highWatermark))
        return { offset: -1, timestamp: -1 };
      return firstRecordAtOrAfter(part, r.offset, timestamp) ?? { offset: -1, timestamp: -1 };
    }
  }
}

/**
 * The storage engine finds the first batch whose max timestamp reaches the
 * target without decoding records; Kafka answers with the first *record* at
 * or after the timestamp, so that batch (and, if needed, the next ones) is
 * decoded here. Not a hot path.
 */
function firstRecordAtOrAfter(
  part: Partition,
  fromOffset: number,
  timestamp: number,
): { offset: number; timestamp: number } | null {
  const log = part.log;
  let offset = fromOffset;
  while (offset < part.highWatermark) {
    const { batches } = log.read(offset, 1, { maxOffset: part.highWatermark, minOneBatch: true });
    if (batches.length === 0) return null;
    let next = offset;
    for (const chunk of batches) {
      for (const { at } of splitBatches(chunk)) {
        for (const rec of iterateRecords(chunk, at)) {
          if (rec.offset >= offset && rec.timestamp >= timestamp)
            return { offset: rec.offset, timestamp: rec.timestamp };
        }
        next = Math.max(next, batch.lastOffset(chunk, at) + 1);
      }
    }
    if (next <= offset) return null;
    offset = next;
  }
  return null;
}

function answer(
  partitionIndex: number,
  errorCode: number,
  timestamp: number,
  offset: number,
  leaderEpoch: number,
  v: number,
) {
  return {
    partitionIndex,
    errorCode,
    oldStyleOffsets: v === 0 && offset >= 0 ? [offset] : [],
    timestamp,
    offset,
    leaderEpoch,
  };
}
