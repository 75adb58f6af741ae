/**
 * The consumer-protocol group APIs of KIP-848: ConsumerGroupHeartbeat (68)
 * and ConsumerGroupDescribe (69). The decisions are the consumer group
 * coordinator's (src/coordinator/group/consumer); this file maps wire
 * versions to and from it.
 */
import type { DescribedGroup, HeartbeatRequest, HeartbeatResponse } from '../../coordinator/group/consumer/types.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponseInput,
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponseInput,
} from '../../protocol/generated/messages.ts';

/** What the handlers need of the coordinator (ConsumerGroupService provides it). */
export interface ConsumerGroupApi {
  heartbeat(req: HeartbeatRequest): HeartbeatResponse;
  describe(groupIds: readonly string[]): DescribedGroup[];
}

function clientHost(ctx: { conn: { socket: { remoteAddress?: string } } }): string {
  return `/${ctx.conn.socket.remoteAddress ?? 'unknown'}`;
}

export function consumerGroupHeartbeatHandler(
  groups: ConsumerGroupApi,
): Handler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponseInput> {
  return (req, ctx) => {
    const v = ctx.apiVersion;
    return groups.heartbeat({
      groupId: req.groupId,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      instanceId: req.instanceId ?? null,
      rackId: req.rackId ?? null,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs ?? -1,
      subscribedTopicNames: req.subscribedTopicNames ?? null,
      // v0 has no regex field.
      subscribedTopicRegex: v >= 1 ? (req.subscribedTopicRegex ?? null) : null,
      serverAssignor: req.serverAssignor ?? null,
      topicPartitions: req.topicPartitions ?? null,
      apiVersion: v,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx),
    });
  };
}

export function consumerGroupDescribeHandler(
  groups: ConsumerGroupApi,
): Handler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponseInput> {
  return (req) => ({ throttleTimeMs: 0, groups: groups.describe(req.groupIds) });
}
