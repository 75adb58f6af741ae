/**
 * Consumer-group APIs on the classic protocol: FindCoordinator, JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
 * DescribeGroups, ListGroups, DeleteGroups, OffsetDelete. The decisions are
 * the group coordinator's (src/coordinator/group); this file maps wire
 * versions to and from it. A group's coordinator is the broker that leads
 * its __consumer_offsets partition (FindCoordinator answers it); this
 * node's coordinator answers NOT_COORDINATOR for the groups of partitions
 * it does not lead, COORDINATOR_LOAD_IN_PROGRESS while it loads them.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { GroupCoordinatorService } from '../../coordinator/group/service.ts';
import type { PartitionExists } from '../../coordinator/group/group-coordinator.ts';
import { partitionForGroup } from '../../coordinator/group/offsets-records.ts';
import type { BrokerState, MetadataImage, TopicState } from '../../metadata/image.ts';
import { type Broker, brokerAddress } from '../broker.ts';
import { ensureOffsetsTopic, OFFSETS_TOPIC } from '../group-store.ts';
import { ensureTxnTopic, TXN_TOPIC } from '../txn-store.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponseInput,
  DescribeGroupsRequest,
  DescribeGroupsResponseInput,
  FindCoordinatorRequest,
  FindCoordinatorResponseInput,
  HeartbeatRequest,
  HeartbeatResponseInput,
  JoinGroupRequest,
  JoinGroupResponseInput,
  LeaveGroupRequest,
  LeaveGroupResponseInput,
  ListGroupsRequest,
  ListGroupsResponseInput,
  OffsetCommitRequest,
  OffsetCommitResponseInput,
  OffsetDeleteRequest,
  OffsetDeleteResponseInput,
  OffsetFetchRequest,
  OffsetFetchResponseInput,
  SyncGroupRequest,
  SyncGroupResponseInput,
} from '../../protocol/generated/messages.ts';
import { allowed, type AuthzContext, authorizedOperations, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

const GROUP_KEY = 0;
const TXN_KEY = 1;

/**
 * Whether clients may be sent to this broker: not fenced (KIP-631). Takes
 * the image's registration; a registration without the flag is unfenced.
 */
export function isServingBroker(reg: BrokerState): boolean {
  return (reg as { fenced?: boolean }).fenced !== true;
}

/** Where a group's coordinator is, or why none is available. */
export type CoordinatorAnswer =
  | { errorCode: typeof ErrorCode.NONE; nodeId: number; host: string; port: number }
  | { errorCode: number; errorMessage: string };

/**
 * The coordinator of `groupId`: the leader of its __consumer_offsets
 * partition (`offsetsTopic`), at the address it registered for the
 * listener this node serves clients on (this node: its advertised
 * address). COORDINATOR_NOT_AVAILABLE when the partition has no leader,
 * or the leader is fenced or has no registered address.
 */
export function groupCoordinator(
  b: Broker,
  offsetsTopic: TopicState,
  groupId: string,
  listener?: string,
): CoordinatorAnswer {
  const p = partitionForGroup(groupId, offsetsTopic.partitions.length);
  const leader = offsetsTopic.partitions[p]?.leader ?? -1;
  const unavailable = (why: string) => ({
    errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
    errorMessage: `The coordinator is not available: ${why}`,
  });
  if (leader < 0) return unavailable(`${offsetsTopic.name}-${p} has no leader`);
  const reg = b.image.brokers.get(leader);
  if (reg && !isServingBroker(reg))
    return unavailable(`broker ${leader}, the leader of ${offsetsTopic.name}-${p}, is fenced`);
  if (leader === b.nodeId && (listener === undefined || !b.advertisedListeners?.has(listener)))
    return { errorCode: ErrorCode.NONE, nodeId: leader, ...b.advertised };
  let l: { host: string; port: number } | undefined;
  if (listener !== undefined && b.advertisedListeners?.has(listener)) {
    l = reg ? brokerAddress(b, reg, listener) : leader === b.nodeId ? b.advertisedListeners.get(listener) : undefined;
  } else {
    const name = b.config.listeners[0]?.name;
    l = reg?.listeners.find((x) => x.name === name) ?? reg?.listeners[0];
  }
  if (!l) return unavailable(`broker ${leader}, the leader of ${offsetsTopic.name}-${p}, has no registered address`);
  return { errorCode: ErrorCode.NONE, nodeId: leader, host: l.host, port: l.port };
}

/** __consumer_offsets, created first if it does not exist (as the first write would), or why it is not there. */
async function offsetsTopicOf(b: Broker): Promise<TopicState | string> {
  const t = b.image.topicsByName.get(OFFSETS_TOPIC);
  if (t) return t;
  try {
    return await ensureOffsetsTopic(b);
  } catch (err) {
    return (err as Error).message;
  }
}

/** __transaction_state, created first if it does not exist, or why it is not there. */
async function txnTopicOf(b: Broker): Promise<TopicState | string> {
  const t = b.image.topicsByName.get(TXN_TOPIC);
  if (t) return t;
  try {
    return await ensureTxnTopic(b);
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * FindCoordinator for transactions (key type 1) answers, the same way, the
 * leader of the id's __transaction_state partition.
 *
 * FindCoordinator for groups answers the leader of the group's
 * __consumer_offsets partition. When the topic does not exist yet it is
 * created first and the answer waits for it (Kafka answers
 * COORDINATOR_NOT_AVAILABLE meanwhile and the client retries after a
 * backoff); a creation that fails answers COORDINATOR_NOT_AVAILABLE.
 */
export function findCoordinatorHandler(b: Broker): Handler<FindCoordinatorRequest, FindCoordinatorResponseInput> {
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    const keyType = req.keyType ?? GROUP_KEY;
    const keys: string[] = v >= 4 ? req.coordinatorKeys : [req.key];
    const internal = keyType === TXN_KEY ? TXN_TOPIC : OFFSETS_TOPIC;
    const topic =
      keys.length === 0
        ? null
        : keyType === GROUP_KEY
          ? await offsetsTopicOf(b)
          : keyType === TXN_KEY
            ? await txnTopicOf(b)
            : null;
    const answer = (key: string) => {
      if (keyType !== GROUP_KEY && keyType !== TXN_KEY) {
        return {
          key,
          nodeId: -1,
          host: '',
          port: -1,
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Unknown key type ${keyType}`,
        };
      }
      // ACLs: Describe on the group or the transactional id
      if (
        keyType === GROUP_KEY
          ? !allowed(ctx, Op.DESCRIBE, Res.GROUP, key)
          : !allowed(ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, key)
      ) {
        const errorCode =
          keyType === GROUP_KEY
            ? ErrorCode.GROUP_AUTHORIZATION_FAILED
            : ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage: 'Authorization failed.' };
      }
      const c: CoordinatorAnswer =
        topic !== null && typeof topic !== 'string'
          ? groupCoordinator(b, topic, key, ctx.conn?.listenerName)
          : {
              errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
              errorMessage: `The coordinator is not available: ${topic ?? `${internal} does not exist`}`,
            };
      if ('nodeId' in c)
        return { key, nodeId: c.nodeId, host: c.host, port: c.port, errorCode: c.errorCode, errorMessage: null };
      return { key, nodeId: -1, host: '', port: -1, errorCode: c.errorCode, errorMessage: c.errorMessage };
    };
    if (v >= 4) return { throttleTimeMs: 0, coordinators: keys.map(answer) };
    const a = answer(keys[0]);
    return {
      throttleTimeMs: 0,
      errorCode: a.errorCode,
      errorMessage: a.errorMessage,
      nodeId: a.nodeId,
      host: a.host,
      port: a.port,
    };
  };
}

function clientHost(ctx: { conn: { socket: { remoteAddress?: string } } }): string {
  return `/${ctx.conn.socket.remoteAddress ?? 'unknown'}`;
}

export function joinGroupHandler(groups: GroupCoordinatorService): Handler<JoinGroupRequest, JoinGroupResponseInput> {
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    // ACLs: Read on the group
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        generationId: -1,
        protocolType: null,
        protocolName: v >= 7 ? null : '',
        leader: '',
        skipAssignment: false,
        memberId: '',
        members: [],
      };
    const r = await groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: v >= 1 ? req.rebalanceTimeoutMs : req.sessionTimeoutMs,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) })),
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx),
      requireKnownMemberId: v >= 4,
      reason: req.reason ?? null,
    });
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      generationId: r.generationId,
      protocolType: r.protocolType,
      protocolName: v >= 7 ? r.protocolName : (r.protocolName ?? ''),
      leader: r.leader,
      skipAssignment: r.skipAssignment,
      memberId: r.memberId,
      members: r.members,
    };
  };
}

export function syncGroupHandler(groups: GroupCoordinatorService): Handler<SyncGroupRequest, SyncGroupResponseInput> {
  return async (req, ctx) => {
    // ACLs: Read on the group
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        protocolType: null,
        protocolName: null,
        assignment: Buffer.alloc(0),
      };
    const r = await groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId ?? null,
      protocolType: req.protocolType ?? null,
      protocolName: req.protocolName ?? null,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: Buffer.from(a.assignment) })),
    });
    // A failed sync names no protocol, as Kafka answers.
    const ok = r.errorCode === ErrorCode.NONE;
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      protocolType: ok ? r.protocolType : null,
      protocolName: ok ? r.protocolName : null,
      assignment: r.assignment,
    };
  };
}

export function heartbeatHandler(groups: GroupCoordinatorService): Handler<HeartbeatRequest, HeartbeatResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    // ACLs: Read on the group
    errorCode: !allowed(ctx, Op.READ, Res.GROUP, req.groupId)
      ? ErrorCode.GROUP_AUTHORIZATION_FAILED
      : groups.heartbeat(req.groupId, req.memberId, req.groupInstanceId ?? null, req.generationId),
  });
}

export function leaveGroupHandler(
  groups: GroupCoordinatorService,
): Handler<LeaveGroupRequest, LeaveGroupResponseInput> {
  return (req, ctx) => {
    const v = ctx.apiVersion;
    const members: { memberId: string; groupInstanceId: string | null }[] =
      v >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null }))
        : [{ memberId: req.memberId, groupInstanceId: null }];
    // ACLs: Read on the group
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] };
    const r = groups.leave(req.groupId, members);
    // not this node's group: the error comes without per-member results
    const perMember = r.results.length === members.length;
    return {
      throttleTimeMs: 0,
      errorCode: v >= 3 || !perMember ? r.groupError : r.results[0],
      members: perMember
        ? members.map((m, i) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            errorCode: r.results[i],
          }))
        : [],
    };
  };
}

/** Whether the metadata image has the partition: what OffsetCommit accepts and deleted-topic cleanup keeps. */
export function partitionExistsIn(image: MetadataImage): PartitionExists {
  return (topic, partition) => image.topicsByName.get(topic)?.partitions[partition] !== undefined;
}

/** OffsetCommit; a partition the cluster does not have gets UNKNOWN_TOPIC_OR_PARTITION (`partitionExists`), as in Kafka. */
export function offsetCommitHandler(
  groups: GroupCoordinatorService,
  partitionExists?: PartitionExists,
): Handler<OffsetCommitRequest, OffsetCommitResponseInput> {
  return async (req, ctx) => {
    // ACLs: Read on the group (else every partition is refused), Read on each topic
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
          })),
        })),
      };
    const topicDenied = req.topics.map((t) => !allowed(ctx, Op.READ, Res.TOPIC, t.name));
    const flat: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[] =
      [];
    for (const [ti, t] of req.topics.entries()) {
      if (topicDenied[ti]) continue;
      for (const p of t.partitions) {
        flat.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: Number(p.committedOffset),
          leaderEpoch: p.committedLeaderEpoch,
          metadata: p.committedMetadata ?? null,
        });
      }
    }
    const r =
      flat.length === 0 && topicDenied.some((d) => d)
        ? { errorCode: ErrorCode.NONE, perPartition: [] as number[] }
        : await groups.commitOffsets(
            {
              apiVersion: ctx.apiVersion,
              groupId: req.groupId,
              generationId: req.generationIdOrMemberEpoch,
              memberId: req.memberId ?? '',
              groupInstanceId: req.groupInstanceId ?? null,
              offsets: flat,
            },
            partitionExists,
          );
    let i = 0;
    return {
      throttleTimeMs: 0,
      // A group-level error (unknown group, group in use) comes without partitions, as in Kafka.
      topics:
        r.errorCode !== ErrorCode.NONE && r.perPartition.length === 0
          ? []
          : req.topics.map((t, ti) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partitionIndex,
                errorCode: topicDenied[ti] ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : r.perPartition[i++],
              })),
            })),
    };
  };
}

export function offsetFetchHandler(
  groups: GroupCoordinatorService,
): Handler<OffsetFetchRequest, OffsetFetchResponseInput> {
  // requireStable (v7+, KIP-447): a partition with offsets of a transaction not ended yet answers UNSTABLE_OFFSET_COMMIT
  const fetchOne = (
    ctx: AuthzContext,
    groupId: string,
    topics: { name: string; partitionIndexes: number[] }[] | null,
    requireStable = false,
  ) => {
    // ACLs: Describe on each topic; all topics: those the principal may describe
    const mayDescribe = (topic: string) => allowed(ctx, Op.DESCRIBE, Res.TOPIC, topic);
    const denied = topics === null ? [] : topics.filter((t) => !mayDescribe(t.name));
    const wanted =
      topics === null
        ? null
        : topics.filter((t) => mayDescribe(t.name)).map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
    const found = groups.state.fetchOffsets(groupId, wanted).filter((t) => topics !== null || mayDescribe(t.topic));
    const refused = denied.map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => ({
        partitionIndex: p,
        committedOffset: -1,
        committedLeaderEpoch: -1,
        metadata: '' as string | null,
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED as number,
      })),
    }));
    const served: { name: string; partitions: (typeof refused)[number]['partitions'] }[] = found.map((t) => ({
      name: t.topic,
      partitions: t.partitions.map((p) =>
        requireStable && groups.hasPendingTxnOffsets(groupId, t.topic, p.partition)
          ? {
              partitionIndex: p.partition,
              committedOffset: -1,
              committedLeaderEpoch: -1,
              metadata: '',
              errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT,
            }
          : {
              partitionIndex: p.partition,
              committedOffset: p.value ? p.value.offset : -1,
              committedLeaderEpoch: p.value ? p.value.leaderEpoch : -1,
              metadata: p.value ? p.value.metadata : '',
              errorCode: ErrorCode.NONE,
            },
      ),
    }));
    return [...served, ...refused];
  };
  // ACLs: Describe on the group
  const groupError = (ctx: AuthzContext, groupId: string) =>
    allowed(ctx, Op.DESCRIBE, Res.GROUP, groupId)
      ? groups.coordinatorError(groupId)
      : ErrorCode.GROUP_AUTHORIZATION_FAILED;
  return (req, ctx) => {
    const v = ctx.apiVersion;
    if (v >= 8) {
      return {
        throttleTimeMs: 0,
        groups: req.groups.map((g) => {
          const refused = groupError(ctx, g.groupId);
          return {
            groupId: g.groupId,
            topics: refused === ErrorCode.NONE ? fetchOne(ctx, g.groupId, g.topics, req.requireStable) : [],
            errorCode: refused,
          };
        }),
      };
    }
    const refused = groupError(ctx, req.groupId);
    if (refused !== ErrorCode.NONE) {
      // v0-v1 carry no group-level error: each requested partition gets it, as in Kafka
      const topics =
        v >= 2
          ? []
          : (req.topics ?? []).map((t) => ({
              name: t.name,
              partitions: t.partitionIndexes.map((p) => ({
                partitionIndex: p,
                committedOffset: -1,
                committedLeaderEpoch: -1,
                metadata: '',
                errorCode: refused,
              })),
            }));
      return { throttleTimeMs: 0, topics, errorCode: refused };
    }
    return {
      throttleTimeMs: 0,
      topics: fetchOne(ctx, req.groupId, req.topics, v >= 7 && req.requireStable),
      errorCode: ErrorCode.NONE,
    };
  };
}

export function describeGroupsHandler(
  groups: GroupCoordinatorService,
): Handler<DescribeGroupsRequest, DescribeGroupsResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    groups: req.groups.map((groupId: string) => {
      // ACLs: Describe on the group
      const refused = allowed(ctx, Op.DESCRIBE, Res.GROUP, groupId)
        ? groups.coordinatorError(groupId)
        : ErrorCode.GROUP_AUTHORIZATION_FAILED;
      if (refused !== ErrorCode.NONE) {
        return {
          errorCode: refused,
          groupId,
          groupState: '',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: -2147483648,
        };
      }
      const g = groups.state.groups.get(groupId);
      if (groups.state.consumerGroups?.hasGroup(groupId)) {
        return {
          errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
          errorMessage: `Group ${groupId} is not a classic group.`,
          groupId,
          groupState: '',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: -2147483648,
        };
      }
      if (!g) {
        // v6+ (Kafka 4.0, KIP-1043) reports an unknown group as an error; older versions as Dead.
        const notFound = ctx.apiVersion >= 6;
        return {
          errorCode: notFound ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.NONE,
          ...(notFound ? { errorMessage: `Group ${groupId} not found.` } : {}),
          groupId,
          groupState: 'Dead',
          protocolType: '',
          protocolData: '',
          members: [],
          authorizedOperations: -2147483648,
        };
      }
      return {
        errorCode: ErrorCode.NONE,
        groupId,
        groupState: g.state,
        protocolType: g.protocolType ?? '',
        // As Kafka: the protocol and the members' metadata only once the group is Stable.
        protocolData: g.is('Stable') ? (g.protocolName ?? '') : '',
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          memberMetadata: g.is('Stable')
            ? (m.protocols.find((p) => p.name === g.protocolName)?.metadata ?? Buffer.alloc(0))
            : Buffer.alloc(0),
          memberAssignment: g.is('Stable') ? m.assignment : Buffer.alloc(0),
        })),
        authorizedOperations:
          ctx.apiVersion >= 3 && req.includeAuthorizedOperations && ctx.authorizer
            ? authorizedOperations(ctx, Res.GROUP, groupId)
            : -2147483648,
      };
    }),
  });
}

export function listGroupsHandler(
  groups: GroupCoordinatorService,
): Handler<ListGroupsRequest, ListGroupsResponseInput> {
  return (req, ctx) => {
    // the groups of partitions still loading cannot be listed yet (the client retries)
    if (groups.loading) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, groups: [] };
    const filter: string[] = req.statesFilter ?? [];
    const types: string[] = req.typesFilter ?? [];
    const out = [];
    for (const g of groups.state.groups.values()) {
      if (g.is('Dead')) continue;
      if (filter.length > 0 && !filter.some((s) => s.toLowerCase() === g.state.toLowerCase())) continue;
      if (types.length > 0 && !types.some((t) => t.toLowerCase() === 'classic')) continue;
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state, groupType: 'classic' });
    }
    for (const cg of groups.state.consumerGroups?.listGroups() ?? []) {
      if (filter.length > 0 && !filter.some((s) => s.toLowerCase() === cg.groupState.toLowerCase())) continue;
      if (types.length > 0 && !types.some((t) => t.toLowerCase() === 'consumer')) continue;
      out.push(cg);
    }
    // Groups that only have committed offsets (simple consumers) are listed as Empty.
    for (const groupId of groups.state.offsets.keys()) {
      if (groups.state.groups.has(groupId) || groups.state.consumerGroups?.hasGroup(groupId)) continue;
      if (filter.length > 0 && !filter.some((s) => s.toLowerCase() === 'empty')) continue;
      out.push({ groupId, protocolType: '', groupState: 'Empty', groupType: 'classic' });
    }
    // ACLs: all groups with Describe on the cluster, else those the principal may describe
    const visible = clusterAllowed(ctx, Op.DESCRIBE)
      ? out
      : out.filter((g) => allowed(ctx, Op.DESCRIBE, Res.GROUP, g.groupId));
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, groups: visible };
  };
}

export function deleteGroupsHandler(
  groups: GroupCoordinatorService,
): Handler<DeleteGroupsRequest, DeleteGroupsResponseInput> {
  return async (req, ctx) => {
    const results = [];
    for (const groupId of req.groupsNames)
      results.push({
        groupId,
        // ACLs: Delete on the group
        errorCode: allowed(ctx, Op.DELETE, Res.GROUP, groupId)
          ? await groups.deleteGroup(groupId)
          : ErrorCode.GROUP_AUTHORIZATION_FAILED,
      });
    return { throttleTimeMs: 0, results };
  };
}

export function offsetDeleteHandler(
  groups: GroupCoordinatorService,
): Handler<OffsetDeleteRequest, OffsetDeleteResponseInput> {
  return async (req, ctx) => {
    // ACLs: Delete on the group, Read on each topic
    if (!allowed(ctx, Op.DELETE, Res.GROUP, req.groupId))
      return { errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, throttleTimeMs: 0, topics: [] };
    const topicDenied = req.topics.map((t) => !allowed(ctx, Op.READ, Res.TOPIC, t.name));
    const parts: { topic: string; partition: number }[] = [];
    for (const [ti, t] of req.topics.entries())
      if (!topicDenied[ti]) for (const p of t.partitions) parts.push({ topic: t.name, partition: p.partitionIndex });
    const r = await groups.deleteOffsets(req.groupId, parts);
    let i = 0;
    return {
      errorCode: r.errorCode,
      throttleTimeMs: 0,
      // A group-level error (unknown group, group in use) comes without partitions, as in Kafka.
      topics:
        r.errorCode !== ErrorCode.NONE && r.perPartition.length === 0
          ? []
          : req.topics.map((t, ti) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({
                partitionIndex: p.partitionIndex,
                errorCode: topicDenied[ti]
                  ? ErrorCode.TOPIC_AUTHORIZATION_FAILED
                  : (r.perPartition[i++] ?? r.errorCode),
              })),
            })),
    };
  };
}
