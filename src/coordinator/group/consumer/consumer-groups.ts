/**
 * The consumer-protocol group coordinator (KIP-848) as a pure state machine:
 * every consumer group of this coordinator, driven by ConsumerGroupHeartbeat
 * and ConsumerGroupDescribe with `now` and the topic metadata passed in, and
 * by `tick(now)` for session and revocation (rebalance) timeouts. It answers
 * with response bodies; it does no I/O and has no clock or timers of its own
 * (`service.ts` is the edge). Nothing is persisted yet: groups live in memory.
 */
import { ErrorCode } from '../../../protocol/error-codes.ts';
import { assignmentsEqual, copyAssignment, emptyAssignment, fromWire, toWire } from './assignment.ts';
import { SERVER_ASSIGNORS } from './assignors.ts';
import {
  ConsumerGroup,
  LEAVE_EPOCH,
  STATIC_LEAVE_EPOCH,
  compileTopicRegex,
  type ConsumerMember,
} from './consumer-group.ts';
import type {
  Assignment,
  ConsumerGroupConfig,
  DescribedGroup,
  DescribedTopicPartitions,
  HeartbeatRequest,
  HeartbeatResponse,
  ListedGroup,
  TopicsMetadata,
} from './types.ts';
import { systemEnv } from '../../../util/env.ts';

export const DEFAULT_CONSUMER_GROUP_CONFIG: ConsumerGroupConfig = {
  sessionTimeoutMs: 45_000,
  heartbeatIntervalMs: 5_000,
  maxSize: 2 ** 31 - 1,
  assignors: ['uniform', 'range'],
  newMemberId: systemEnv.uuid,
  classicGroupInUse: () => false,
};

/** ListGroups / DescribeGroups authorized operations when not asked for. */
const NO_AUTHORIZED_OPERATIONS = -2147483648;

function errorResponse(errorCode: number, errorMessage: string | null): HeartbeatResponse {
  return {
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    memberId: null,
    memberEpoch: 0,
    heartbeatIntervalMs: 0,
    assignment: null,
  };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  if (x.size !== y.size) return false;
  for (const n of x) if (!y.has(n)) return false;
  return true;
}

export class ConsumerGroups {
  readonly config: ConsumerGroupConfig;
  private readonly groups = new Map<string, ConsumerGroup>();
  /** The latest topic metadata handed in (used by tick and when a call passes none). */
  private topics: TopicsMetadata = new Map();

  constructor(config: Partial<ConsumerGroupConfig> = {}) {
    this.config = { ...DEFAULT_CONSUMER_GROUP_CONFIG, ...config };
    for (const a of this.config.assignors)
      if (!SERVER_ASSIGNORS.has(a)) throw new Error(`unknown server assignor ${a}`);
    if (this.config.assignors.length === 0) throw new Error('group.consumer.assignors must not be empty');
  }

  hasGroup(groupId: string): boolean {
    const g = this.groups.get(groupId);
    return g !== undefined && !g.dead;
  }

  /** The group's state object (read-only use: the edge, tests). */
  group(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  // ------------------------------------------------------------ heartbeat

  heartbeat(req: HeartbeatRequest, now: number, topics?: TopicsMetadata): HeartbeatResponse {
    if (topics) this.topics = topics;
    const invalid = this.validate(req);
    if (invalid) return invalid;
    if (this.config.classicGroupInUse(req.groupId)) {
      return errorResponse(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${req.groupId} is not a consumer group.`);
    }
    if (req.memberEpoch === LEAVE_EPOCH || req.memberEpoch === STATIC_LEAVE_EPOCH) return this.leave(req, now);
    return req.memberEpoch === 0 ? this.join(req, now) : this.beat(req, now);
  }

  /** Request checks of KIP-848 that need no group state: the error response, or null for a valid request. */
  validate(req: HeartbeatRequest): HeartbeatResponse | null {
    const bad = (msg: string) => errorResponse(ErrorCode.INVALID_REQUEST, msg);
    const version = req.apiVersion ?? 1;
    const instanceId = req.instanceId ?? null;
    if (req.groupId === '') return bad("GroupId can't be empty.");
    if (instanceId === '') return bad("InstanceId can't be empty.");
    if (req.rackId === '') return bad("RackId can't be empty.");
    if (req.memberId === '' && (version >= 1 || req.memberEpoch !== 0)) return bad("MemberId can't be empty.");
    if (req.memberEpoch === 0) {
      if (req.rebalanceTimeoutMs === undefined || req.rebalanceTimeoutMs < 0)
        return bad('RebalanceTimeoutMs must be provided in first request.');
      if (!req.topicPartitions || req.topicPartitions.length > 0)
        return bad('TopicPartitions must be empty when (re-)joining.');
      if ((req.subscribedTopicNames ?? null) === null && (req.subscribedTopicRegex ?? null) === null) {
        return bad('Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.');
      }
    } else if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (instanceId === null) return bad("InstanceId can't be null.");
    } else if (req.memberEpoch < STATIC_LEAVE_EPOCH) {
      return bad('MemberEpoch is invalid.');
    }
    const assignor = req.serverAssignor ?? null;
    if (assignor !== null && !this.config.assignors.includes(assignor)) {
      return errorResponse(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${assignor} is not supported. Supported assignors: ${this.config.assignors.join(', ')}.`,
      );
    }
    const regex = req.subscribedTopicRegex ?? null;
    if (regex !== null && regex !== '') {
      try {
        compileTopicRegex(regex);
      } catch {
        return errorResponse(
          ErrorCode.INVALID_REGULAR_EXPRESSION,
          `SubscribedTopicRegex ${regex} is not a valid regular expression.`,
        );
      }
    }
    return null;
  }

  private join(req: HeartbeatRequest, now: number): HeartbeatResponse {
    const memberId = req.memberId === '' ? this.config.newMemberId() : req.memberId;
    const instanceId = req.instanceId ?? null;
    let group = this.groups.get(req.groupId);
    if (group?.dead) group = undefined;
    let member = group?.members.get(memberId);
    let replaces: string | null = null;
    if (instanceId !== null) {
      const holder = group?.staticMembers.get(instanceId);
      if (holder !== undefined && holder !== memberId) {
        if (group!.members.get(holder)!.memberEpoch !== STATIC_LEAVE_EPOCH) {
          return errorResponse(
            ErrorCode.UNRELEASED_INSTANCE_ID,
            `Static member ${holder} with instance id ${instanceId} is still in the group and must leave first.`,
          );
        }
        if (member) return errorResponse(ErrorCode.INVALID_REQUEST, `MemberId ${memberId} is already in use.`);
        replaces = holder;
      }
    }
    if (member && member.instanceId !== instanceId) {
      return errorResponse(
        ErrorCode.FENCED_INSTANCE_ID,
        `Member ${memberId} joined with instance id ${member.instanceId ?? 'null'}.`,
      );
    }
    if (!member && replaces === null && group && group.members.size >= this.config.maxSize) {
      return errorResponse(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${this.config.maxSize} members.`,
      );
    }

    // Accepted: from here on, state changes.
    if (!group) {
      group = new ConsumerGroup(req.groupId, this.config.assignors);
      this.groups.set(req.groupId, group);
    }
    let changed = false;
    if (replaces !== null) member = group.replaceMember(replaces, memberId);
    else if (!member) {
      member = {
        memberId,
        instanceId,
        rackId: null,
        clientId: '',
        clientHost: '',
        rebalanceTimeoutMs: req.rebalanceTimeoutMs!,
        subscribedTopicNames: [],
        subscribedTopicRegex: null,
        serverAssignor: null,
        memberEpoch: 0,
        previousMemberEpoch: -1,
        state: 'stable',
        assigned: emptyAssignment(),
        pendingRevocation: emptyAssignment(),
        sessionDeadline: 0,
        revocationDeadline: Infinity,
      };
      group.addMember(member);
      changed = true;
    }
    return this.update(group, member, req, changed, now, true);
  }

  private beat(req: HeartbeatRequest, now: number): HeartbeatResponse {
    const group = this.groups.get(req.groupId);
    const instanceId = req.instanceId ?? null;
    const unknown = () =>
      errorResponse(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
    if (!group || group.dead) return unknown();
    if (instanceId !== null) {
      const holder = group.staticMembers.get(instanceId);
      if (holder === undefined) return unknown();
      if (holder !== req.memberId)
        return errorResponse(ErrorCode.FENCED_INSTANCE_ID, `Instance id ${instanceId} is held by another member.`);
    }
    const member = group.members.get(req.memberId);
    if (!member) return unknown();
    const owned = req.topicPartitions ? fromWire(req.topicPartitions) : null;
    if (req.memberEpoch > member.memberEpoch) {
      return errorResponse(
        ErrorCode.FENCED_MEMBER_EPOCH,
        `The member has a greater epoch (${req.memberEpoch}) than the coordinator's (${member.memberEpoch}); it must give up its partitions and rejoin.`,
      );
    }
    if (req.memberEpoch < member.memberEpoch) {
      // The previous epoch is accepted when the member owns no more than it is assigned: the answer that moved it on may be lost.
      const subset =
        owned !== null && [...owned].every(([t, ps]) => [...ps].every((p) => member.assigned.get(t)?.has(p)));
      if (req.memberEpoch !== member.previousMemberEpoch || !subset) {
        return errorResponse(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The member has a smaller epoch (${req.memberEpoch}) than the coordinator's (${member.memberEpoch}); it must give up its partitions and rejoin.`,
        );
      }
    }
    return this.update(group, member, req, false, now, false);
  }

  /** Applies an accepted join or heartbeat: subscription, metadata, target assignment, reconciliation, answer. */
  private update(
    group: ConsumerGroup,
    member: ConsumerMember,
    req: HeartbeatRequest,
    changed: boolean,
    now: number,
    joining: boolean,
  ): HeartbeatResponse {
    member.sessionDeadline = now + this.config.sessionTimeoutMs;
    if (req.clientId !== undefined) member.clientId = req.clientId;
    if (req.clientHost !== undefined) member.clientHost = req.clientHost;
    if (req.rebalanceTimeoutMs !== undefined && req.rebalanceTimeoutMs >= 0)
      member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    const rack = req.rackId ?? null;
    if (rack !== null && rack !== member.rackId) {
      member.rackId = rack;
      changed = true;
    }
    const names = req.subscribedTopicNames ?? null;
    if (names !== null && !sameNames(names, member.subscribedTopicNames)) {
      member.subscribedTopicNames = [...new Set(names)];
      changed = true;
    }
    const regex = req.subscribedTopicRegex ?? null;
    if (regex !== null && (regex === '' ? null : regex) !== member.subscribedTopicRegex) {
      member.subscribedTopicRegex = regex === '' ? null : regex;
      changed = true;
    }
    const assignor = req.serverAssignor ?? null;
    if (assignor !== null && assignor !== member.serverAssignor) {
      member.serverAssignor = assignor;
      changed = true;
    }
    if (changed) group.subscriptionsChanged();
    if (group.refreshMetadata(this.topics)) changed = true;
    if (changed) group.bumpEpoch();
    if (group.groupEpoch !== group.targetEpoch) group.computeTargetAssignment();

    const before = copyAssignment(member.assigned);
    const owned = req.topicPartitions ? fromWire(req.topicPartitions) : null;
    group.reconcileMember(member, owned, now);

    const full =
      joining ||
      ((req.rebalanceTimeoutMs ?? -1) >= 0 &&
        ((req.subscribedTopicNames ?? null) !== null || (req.subscribedTopicRegex ?? null) !== null) &&
        owned !== null);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      assignment:
        full || !assignmentsEqual(before, member.assigned) ? { topicPartitions: toWire(member.assigned) } : null,
    };
  }

  private leave(req: HeartbeatRequest, now: number): HeartbeatResponse {
    const group = this.groups.get(req.groupId);
    const instanceId = req.instanceId ?? null;
    const unknown = () =>
      errorResponse(ErrorCode.UNKNOWN_MEMBER_ID, `Member ${req.memberId} is not a member of group ${req.groupId}.`);
    if (!group || group.dead) return unknown();
    if (instanceId !== null) {
      const holder = group.staticMembers.get(instanceId);
      if (holder === undefined) return unknown();
      if (holder !== req.memberId)
        return errorResponse(ErrorCode.FENCED_INSTANCE_ID, `Instance id ${instanceId} is held by another member.`);
    }
    const member = group.members.get(req.memberId);
    if (!member) return unknown();
    if (req.memberEpoch === STATIC_LEAVE_EPOCH) {
      // A static member leaving for a while keeps its place and assignment until its session expires.
      if (member.memberEpoch !== STATIC_LEAVE_EPOCH) member.previousMemberEpoch = member.memberEpoch;
      member.memberEpoch = STATIC_LEAVE_EPOCH;
      member.sessionDeadline = now + this.config.sessionTimeoutMs;
    } else {
      group.removeMember(member.memberId);
      group.computeTargetAssignment();
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  // ------------------------------------------------------------- metadata

  /** New topic metadata (topics created, deleted or grown): groups whose subscribed topics changed get a new target assignment. */
  onMetadata(topics: TopicsMetadata): void {
    this.topics = topics;
    for (const g of this.groups.values()) {
      if (g.dead || g.members.size === 0) continue;
      if (!g.refreshMetadata(topics)) continue;
      g.bumpEpoch();
      g.computeTargetAssignment();
    }
  }

  // --------------------------------------------------------------- timers

  /** Expires sessions and fences members that did not revoke within their rebalance timeout. Returns the removed members. */
  tick(now: number): { groupId: string; memberId: string }[] {
    const out: { groupId: string; memberId: string }[] = [];
    for (const g of this.groups.values()) {
      if (g.nextDeadline() > now) continue;
      for (const memberId of g.tick(now)) out.push({ groupId: g.groupId, memberId });
    }
    return out;
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const g of this.groups.values()) t = Math.min(t, g.nextDeadline());
    return t;
  }

  // ------------------------------------------------------ describe / list

  describe(groupIds: readonly string[], topics?: TopicsMetadata): DescribedGroup[] {
    if (topics) this.topics = topics;
    return groupIds.map((groupId) => {
      const g = this.groups.get(groupId);
      if (!g || g.dead || this.config.classicGroupInUse(groupId)) {
        return {
          errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
          errorMessage: `Group ${groupId} not found.`,
          groupId,
          groupState: '',
          groupEpoch: 0,
          assignmentEpoch: 0,
          assignorName: '',
          members: [],
          authorizedOperations: NO_AUTHORIZED_OPERATIONS,
        };
      }
      const names = new Map<string, string>();
      for (const [name, info] of this.topics) names.set(info.topicId, name);
      for (const [name, info] of g.subscribedTopics) names.set(info.topicId, name);
      const describe = (a: Assignment): { topicPartitions: DescribedTopicPartitions[] } => ({
        topicPartitions: toWire(a).map((t) => ({
          topicId: t.topicId,
          topicName: names.get(t.topicId) ?? '',
          partitions: t.partitions,
        })),
      });
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: g.state,
        groupEpoch: g.groupEpoch,
        assignmentEpoch: g.targetEpoch,
        assignorName: g.assignorName,
        members: [...g.members.values()].map((m) => ({
          memberId: m.memberId,
          memberType: 1,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: [...m.subscribedTopicNames],
          subscribedTopicRegex: m.subscribedTopicRegex ?? '',
          assignment: describe(m.assigned),
          targetAssignment: describe(g.target.get(m.memberId) ?? emptyAssignment()),
        })),
        authorizedOperations: NO_AUTHORIZED_OPERATIONS,
      };
    });
  }

  listGroups(): ListedGroup[] {
    const out: ListedGroup[] = [];
    for (const g of this.groups.values()) {
      if (g.dead) continue;
      out.push({ groupId: g.groupId, protocolType: 'consumer', groupState: g.state, groupType: 'consumer' });
    }
    return out;
  }

  // --------------------------------------------------- offsets / deletion

  /**
   * OffsetCommit against a consumer group: v9+ carries the member epoch in
   * generationIdOrMemberEpoch. A negative epoch with no member id commits
   * only while the group is empty (admin tools, manual commits).
   */
  validateOffsetCommit(groupId: string, memberId: string, memberEpoch: number, apiVersion = 9): number {
    const g = this.groups.get(groupId);
    if (memberEpoch < 0 && (!g || g.members.size === 0)) return ErrorCode.NONE;
    const m = g?.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  /** OffsetFetch v9+ against a consumer group: a member id and epoch, when given, must be current. */
  validateOffsetFetch(groupId: string, memberId: string | null, memberEpoch: number): number {
    if (memberId === null && memberEpoch < 0) return ErrorCode.NONE;
    const m = this.groups.get(groupId)?.members.get(memberId ?? '');
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return ErrorCode.NONE;
  }

  /** Topic names the group consumes (OffsetDelete refuses those while the group has members). */
  subscribedTopicNames(groupId: string): Set<string> {
    return new Set(this.groups.get(groupId)?.subscribedTopics.keys() ?? []);
  }

  /** Drops the groups for which `belongs` holds: their coordinator is now on another broker (Kafka's unloading). */
  unload(belongs: (groupId: string) => boolean): void {
    for (const [groupId, g] of this.groups) {
      if (!belongs(groupId)) continue;
      g.dead = true;
      this.groups.delete(groupId);
    }
  }

  /** DeleteGroups: only an empty group can go. */
  deleteGroup(groupId: string): number {
    const g = this.groups.get(groupId);
    if (!g || g.dead) return ErrorCode.GROUP_ID_NOT_FOUND;
    if (g.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    g.dead = true;
    this.groups.delete(groupId);
    return ErrorCode.NONE;
  }
}
