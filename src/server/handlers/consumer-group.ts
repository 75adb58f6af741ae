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
import { allowed, authorizedOperations, Op, Res } from '../../security/acl-check.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';

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
    // ACLs: Read on the group
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        errorMessage: 'Authorization failed.',
        memberId: null,
        memberEpoch: -1,
        heartbeatIntervalMs: 0,
        assignment: null,
      };
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
  return (req, ctx) => {
    // ACLs: Describe on each group
    const denied = (g: string) => !allowed(ctx, Op.DESCRIBE, Res.GROUP, g);
    const described = groups.describe(req.groupIds.filter((g) => !denied(g)));
    if (req.includeAuthorizedOperations && ctx.authorizer)
      for (const g of described)
        if (g.errorCode === ErrorCode.NONE) g.authorizedOperations = authorizedOperations(ctx, Res.GROUP, g.groupId);
    const refused = req.groupIds.filter(denied).map((groupId) => ({
      errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
      errorMessage: 'Authorization failed.',
      groupId,
      groupState: '',
      groupEpoch: -1,
      assignmentEpoch: -1,
      assignorName: '',
      members: [],
    }));
    return { throttleTimeMs: 0, groups: [...described, ...refused] };
  };
}
