/**
 * DescribeProducers (key 61, KIP-664): per partition this broker leads, the
 * producers in its producer state: id, epoch, last sequence, last
 * timestamp, the coordinator epoch of their last marker and the first offset
 * of their open transaction (-1: none), which is how a hanging transaction
 * is found (`kafka-transactions.sh find-hanging`). Refusals as the
 * Partition's serving rule answers them (not the leader, failed log dir),
 * UNKNOWN_TOPIC_OR_PARTITION for what does not exist.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { DescribeProducersRequest, DescribeProducersResponseInput } from '../../protocol/generated/messages.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import { notHostedError } from '../leader-hints.ts';
import { allowed, Op, Res } from '../../security/acl-check.ts';

export function describeProducersHandler(b: Broker): Handler<DescribeProducersRequest, DescribeProducersResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    topics: req.topics.map((t) => {
      const topic = b.image.topicsByName.get(t.name);
      return {
        name: t.name,
        partitions: t.partitionIndexes.map((partitionIndex) => {
          // ACLs: Read on the topic
          if (!allowed(ctx, Op.READ, Res.TOPIC, t.name))
            return {
              partitionIndex,
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
              errorMessage: null,
              activeProducers: [],
            };
          const part = topic ? b.replicas.get(topic.name, partitionIndex) : undefined;
          const errorCode = part ? part.checkLeader() : notHostedError(topic, partitionIndex);
          if (!part || errorCode !== ErrorCode.NONE)
            return { partitionIndex, errorCode, errorMessage: null, activeProducers: [] };
          const activeProducers = [];
          for (const e of part.log.producerState.entries()) {
            const last = e.batches[e.batches.length - 1];
            activeProducers.push({
              producerId: e.producerId,
              producerEpoch: e.epoch,
              lastSequence: last ? last.lastSeq : -1,
              lastTimestamp: e.lastTimestamp,
              coordinatorEpoch: e.coordinatorEpoch,
              currentTxnStartOffset: e.currentTxnFirstOffset,
            });
          }
          return { partitionIndex, errorCode, errorMessage: null, activeProducers };
        }),
      };
    }),
  });
}
