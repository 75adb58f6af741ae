/**
 * WriteTxnMarkers (key 27): the transaction coordinator asks this broker, as
 * leader, to append COMMIT or ABORT markers. Per marker, per partition, the
 * error code of Partition.writeTxnMarker (acknowledged as acks=all), or
 * notHostedError's when the partition does not exist or is not hosted
 * here. A marker written is reported to
 * `onMarkerWritten` (the group coordinator completes transactional offset
 * commits on `__consumer_offsets` partitions).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { WriteTxnMarkersRequest, WriteTxnMarkersResponseInput } from '../../protocol/generated/messages.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import { notHostedError } from '../leader-hints.ts';
import { clusterAllowed, Op } from '../../security/acl-check.ts';

export type TxnMarkerListener = (
  topic: string,
  partition: number,
  producerId: number,
  producerEpoch: number,
  commit: boolean,
) => void;

export function writeTxnMarkersHandler(
  b: Broker,
  onMarkerWritten?: TxnMarkerListener,
): Handler<WriteTxnMarkersRequest, WriteTxnMarkersResponseInput> {
  return async (req, ctx) => {
    // ACLs: ClusterAction on the cluster (transaction coordinators send it)
    if (!clusterAllowed(ctx, Op.CLUSTER_ACTION))
      return {
        markers: req.markers.map((m) => ({
          producerId: Number(m.producerId),
          topics: m.topics.map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((partitionIndex) => ({
              partitionIndex,
              errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            })),
          })),
        })),
      };
    const markers = await Promise.all(
      req.markers.map(async (m) => {
        const producerId = Number(m.producerId);
        const topics = await Promise.all(
          m.topics.map(async (t) => {
            const topic = b.image.topicsByName.get(t.name);
            const partitions = await Promise.all(
              t.partitionIndexes.map(async (partitionIndex) => {
                const part = topic ? b.replicas.get(topic.name, partitionIndex) : undefined;
                if (!part) return { partitionIndex, errorCode: notHostedError(topic, partitionIndex) };
                const errorCode = await part.writeTxnMarker(
                  producerId,
                  m.producerEpoch,
                  m.transactionResult,
                  m.coordinatorEpoch,
                );
                if (errorCode === ErrorCode.NONE)
                  onMarkerWritten?.(t.name, partitionIndex, producerId, m.producerEpoch, m.transactionResult);
                return { partitionIndex, errorCode };
              }),
            );
            return { name: t.name, partitions };
          }),
        );
        return { producerId, topics };
      }),
    );
    return { markers };
  };
}
