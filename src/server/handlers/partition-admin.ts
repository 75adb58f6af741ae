/**
 * DeleteRecords (move the log start offset) and OffsetForLeaderEpoch (the
 * end offset of a leader epoch, used by clients to detect log truncation,
 * KIP-101 / KIP-320).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { notHostedError } from '../leader-hints.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  DeleteRecordsRequest,
  DeleteRecordsResponseInput,
  OffsetForLeaderEpochRequest,
  OffsetForLeaderEpochResponseInput,
} from '../../protocol/generated/messages.ts';
import { KafkaStorageError } from '../../storage/errors.ts';
import { allowed, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

export function deleteRecordsHandler(b: Broker): Handler<DeleteRecordsRequest, DeleteRecordsResponseInput> {
  return async (req, ctx) => {
    const topics = [];
    for (const t of req.topics) {
      const partitions = [];
      // ACLs: Delete on the topic
      const mayDelete = allowed(ctx, Op.DELETE, Res.TOPIC, t.name);
      for (const p of t.partitions) {
        if (!mayDelete) {
          partitions.push({
            partitionIndex: p.partitionIndex,
            lowWatermark: -1,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          });
          continue;
        }
        const part = b.replicas.get(t.name, p.partitionIndex);
        if (!part) {
          partitions.push({
            partitionIndex: p.partitionIndex,
            lowWatermark: -1,
            errorCode: notHostedError(b.image.topicsByName.get(t.name), p.partitionIndex),
          });
          continue;
        }
        const refused = part.checkLeader();
        if (refused !== ErrorCode.NONE) {
          partitions.push({ partitionIndex: p.partitionIndex, lowWatermark: -1, errorCode: refused });
          continue;
        }
        const log = part.log;
        const target = p.offset === -1 ? part.highWatermark : Number(p.offset);
        if (target < 0 || target > part.highWatermark) {
          partitions.push({
            partitionIndex: p.partitionIndex,
            lowWatermark: -1,
            errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
          });
          continue;
        }
        if (target > log.logStartOffset) {
          try {
            await log.deleteRecordsBefore(target);
          } catch (err) {
            // The log start offset checkpoint could not be written (full or failed log dir).
            if (!(err instanceof KafkaStorageError)) throw err;
            partitions.push({
              partitionIndex: p.partitionIndex,
              lowWatermark: -1,
              errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
            });
            continue;
          }
        }
        partitions.push({
          partitionIndex: p.partitionIndex,
          lowWatermark: log.logStartOffset,
          errorCode: ErrorCode.NONE,
        });
      }
      topics.push({ name: t.name, partitions });
    }
    return { throttleTimeMs: 0, topics };
  };
}

export function offsetForLeaderEpochHandler(
  b: Broker,
): Handler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => ({
      topic: t.topic,
      partitions: t.partitions.map((p) => {
        // ACLs: ClusterAction on the cluster (a follower), else Describe on the topic
        if (!clusterAllowed(ctx, Op.CLUSTER_ACTION) && !allowed(ctx, Op.DESCRIBE, Res.TOPIC, t.topic))
          return {
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            partition: p.partition,
            leaderEpoch: -1,
            endOffset: -1,
          };
        const topic = b.image.topicsByName.get(t.topic);
        const part = topic ? b.replicas.get(t.topic, p.partition) : undefined;
        if (!part)
          return {
            errorCode: notHostedError(topic, p.partition),
            partition: p.partition,
            leaderEpoch: -1,
            endOffset: -1,
          };
        // leader, current leader epoch, log dir not failed: the Partition's rule
        const refused = part.checkLeader(p.currentLeaderEpoch ?? -1);
        if (refused !== ErrorCode.NONE)
          return { errorCode: refused, partition: p.partition, leaderEpoch: -1, endOffset: -1 };
        const r = part.endOffsetForEpoch(p.leaderEpoch);
        return { errorCode: ErrorCode.NONE, partition: p.partition, leaderEpoch: r.epoch, endOffset: r.endOffset };
      }),
    })),
  });
}
