/**
 * The classic consumer-group protocol (JoinGroup / SyncGroup / Heartbeat /
 * LeaveGroup) as a pure state machine: no I/O, no clock of its own. Every
 * call takes `now`; answers that must wait (a JoinGroup until the rebalance
 * completes, a follower's SyncGroup until the leader's assignment arrives)
 * come back later as actions from another call or from `tick(now)`.
 *
 * States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and
 * Dead once deleted. Includes MEMBER_ID_REQUIRED (KIP-394), static
 * membership (KIP-345), the initial rebalance delay
 * (group.initial.rebalance.delay.ms, KIP-134), session and rebalance
 * timeouts. Assignment bytes are opaque: range, round-robin, sticky and
 * cooperative-sticky (KIP-429) all run in the clients.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Action, GroupSnapshot, GroupState, JoinArgs, JoinResult, SyncArgs, Token } from './types.ts';
import { systemEnv } from '../../util/env.ts';

export interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  /** Pending JoinGroup answer. */
  joinToken: Token | undefined;
  /** Pending SyncGroup answer. */
  syncToken: Token | undefined;
  /** Session deadline: the member is removed if no heartbeat arrives by then. */
  heartbeatDeadline: number;
}

export interface GroupLimits {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  initialRebalanceDelayMs: number;
  maxSize: number;
}

const EMPTY = Buffer.alloc(0);

export class ClassicGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** Static members: group.instance.id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  readonly pendingMembers = new Map<string, number>();
  /** Deadline of the join phase (PreparingRebalance). */
  joinDeadline = 0;
  /** Initial-delay phase for a group that was empty (KIP-134). */
  private initialDelayUntil = 0;
  private initialDelayCap = 0;
  /** Deadline for members to send SyncGroup after a rebalance. */
  syncDeadline = 0;
  currentStateTimestamp = 0;

  constructor(
    readonly groupId: string,
    private readonly limits: GroupLimits,
    /** Where new member ids come from (the edge's injected environment). */
    private readonly newId: () => string = systemEnv.uuid,
  ) {}

  is(state: GroupState): boolean {
    return this.state === state;
  }

  private transition(to: GroupState, now: number): void {
    this.state = to;
    this.currentStateTimestamp = now;
  }

  // ------------------------------------------------------------- join

  join(a: JoinArgs, token: Token, now: number): Action[] {
    const fail = (errorCode: number, memberId = a.memberId): Action[] => [
      { kind: 'join', token, result: this.joinResult(errorCode, memberId, false) },
    ];
    if (a.sessionTimeoutMs < this.limits.minSessionTimeoutMs || a.sessionTimeoutMs > this.limits.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    if (this.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!this.supportsProtocols(a.protocolType, a.protocols)) return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    if (a.memberId === '') return this.joinUnknownMember(a, token, now);

    // A known member id.
    if (a.groupInstanceId !== null) {
      const current = this.staticMembers.get(a.groupInstanceId);
      if (current !== undefined && current !== a.memberId) return fail(ErrorCode.FENCED_INSTANCE_ID);
    }
    if (this.pendingMembers.has(a.memberId)) {
      this.pendingMembers.delete(a.memberId);
      return this.addMemberAndRebalance(a, a.memberId, token, now);
    }
    const m = this.members.get(a.memberId);
    if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    return this.rejoin(m, a, token, now);
  }

  private joinUnknownMember(a: JoinArgs, token: Token, now: number): Action[] {
    const newId = `${a.clientId}-${this.newId()}`;
    if (a.groupInstanceId !== null) {
      const oldId = this.staticMembers.get(a.groupInstanceId);
      if (oldId !== undefined && this.members.has(oldId)) {
        return this.replaceStaticMember(oldId, newId, a, token, now);
      }
      return this.addMemberAndRebalance(a, newId, token, now);
    }
    if (a.requireKnownMemberId) {
      // KIP-394: hand out an id and ask the member to come back with it.
      this.pendingMembers.set(newId, now + a.sessionTimeoutMs);
      return [{ kind: 'join', token, result: this.joinResult(ErrorCode.MEMBER_ID_REQUIRED, newId, false) }];
    }
    return this.addMemberAndRebalance(a, newId, token, now);
  }

  /**
   * A static member came back with a new member id (restart): it takes over
   * the old member's place. In a Stable group with unchanged protocols this
   * needs no rebalance (KIP-345): it gets the current generation back.
   */
  private replaceStaticMember(oldId: string, newId: string, a: JoinArgs, token: Token, now: number): Action[] {
    const old = this.members.get(oldId)!;
    const actions: Action[] = [];
    // Fence the old incarnation's pending answers.
    if (old.joinToken !== undefined) {
      actions.push({
        kind: 'join',
        token: old.joinToken,
        result: this.joinResult(ErrorCode.FENCED_INSTANCE_ID, oldId, false),
      });
    }
    if (old.syncToken !== undefined) {
      actions.push({
        kind: 'sync',
        token: old.syncToken,
        result: this.syncResult(ErrorCode.FENCED_INSTANCE_ID, EMPTY),
      });
    }
    this.members.delete(oldId);
    const protocolsChanged = !sameProtocols(old.protocols, a.protocols);
    const m: Member = {
      ...old,
      memberId: newId,
      clientId: a.clientId,
      clientHost: a.clientHost,
      sessionTimeoutMs: a.sessionTimeoutMs,
      rebalanceTimeoutMs: a.rebalanceTimeoutMs,
      protocols: a.protocols,
      joinToken: undefined,
      syncToken: undefined,
      heartbeatDeadline: now + a.sessionTimeoutMs,
    };
    this.members.set(newId, m);
    this.staticMembers.set(a.groupInstanceId!, newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    if (this.state === 'Stable' && !protocolsChanged) {
      actions.push({ kind: 'join', token, result: this.currentGenerationJoin(m, false) });
      actions.push({ kind: 'persistGroup', groupId: this.groupId, snapshot: this.snapshot() });
      return actions;
    }
    m.joinToken = token;
    actions.push(...this.prepareRebalance(now));
    actions.push(...this.maybeCompleteJoin(now));
    return actions;
  }

  private addMemberAndRebalance(a: JoinArgs, memberId: string, token: Token, now: number): Action[] {
    if (this.members.size >= this.limits.maxSize) {
      return [{ kind: 'join', token, result: this.joinResult(ErrorCode.GROUP_MAX_SIZE_REACHED, memberId, false) }];
    }
    if (this.members.size === 0) this.protocolType = a.protocolType;
    const m: Member = {
      memberId,
      groupInstanceId: a.groupInstanceId,
      clientId: a.clientId,
      clientHost: a.clientHost,
      sessionTimeoutMs: a.sessionTimeoutMs,
      rebalanceTimeoutMs: a.rebalanceTimeoutMs,
      protocolType: a.protocolType,
      protocols: a.protocols,
      assignment: EMPTY,
      joinToken: token,
      syncToken: undefined,
      heartbeatDeadline: now + a.sessionTimeoutMs,
    };
    this.members.set(memberId, m);
    if (a.groupInstanceId !== null) this.staticMembers.set(a.groupInstanceId, memberId);
    if (this.state === 'PreparingRebalance') this.extendInitialDelay(now);
    return [...this.prepareRebalance(now), ...this.maybeCompleteJoin(now)];
  }

  private rejoin(m: Member, a: JoinArgs, token: Token, now: number): Action[] {
    const actions: Action[] = [];
    if (m.joinToken !== undefined) {
      // A duplicate join from the same member: the newer request wins.
      actions.push({
        kind: 'join',
        token: m.joinToken,
        result: this.joinResult(ErrorCode.REBALANCE_IN_PROGRESS, m.memberId, false),
      });
    }
    const changed = !sameProtocols(m.protocols, a.protocols);
    m.protocols = a.protocols;
    m.sessionTimeoutMs = a.sessionTimeoutMs;
    m.rebalanceTimeoutMs = a.rebalanceTimeoutMs;
    m.heartbeatDeadline = now + a.sessionTimeoutMs;
    switch (this.state) {
      case 'PreparingRebalance':
        m.joinToken = token;
        actions.push(...this.maybeCompleteJoin(now));
        return actions;
      case 'CompletingRebalance':
        if (!changed) {
          // It missed our JoinGroup answer (or, like librdkafka's leader on a metadata
          // change, joined again): send the current generation again, to the leader
          // with the members, since its SyncGroup is what completes this rebalance.
          actions.push({ kind: 'join', token, result: this.currentGenerationJoin(m, false) });
          return actions;
        }
        m.joinToken = token;
        actions.push(...this.prepareRebalance(now), ...this.maybeCompleteJoin(now));
        return actions;
      case 'Stable':
        if (m.memberId === this.leaderId || changed) {
          // The leader rejoining (e.g. a new subscription) or new metadata forces a rebalance.
          m.joinToken = token;
          actions.push(...this.prepareRebalance(now), ...this.maybeCompleteJoin(now));
          return actions;
        }
        actions.push({ kind: 'join', token, result: this.currentGenerationJoin(m, false) });
        return actions;
      default:
        m.joinToken = token;
        actions.push(...this.prepareRebalance(now), ...this.maybeCompleteJoin(now));
        return actions;
    }
  }

  private prepareRebalance(now: number): Action[] {
    const actions: Action[] = [];
    if (this.state === 'PreparingRebalance') return actions;
    if (this.state === 'CompletingRebalance') {
      // Members waiting for an assignment of the old generation must rejoin.
      for (const m of this.members.values()) {
        if (m.syncToken !== undefined) {
          actions.push({
            kind: 'sync',
            token: m.syncToken,
            result: this.syncResult(ErrorCode.REBALANCE_IN_PROGRESS, EMPTY),
          });
          m.syncToken = undefined;
        }
      }
    }
    const wasEmpty = this.state === 'Empty';
    this.transition('PreparingRebalance', now);
    const timeout = this.maxRebalanceTimeout();
    if (wasEmpty && this.limits.initialRebalanceDelayMs > 0) {
      // KIP-134: give other members of a new group a moment to join, extended
      // by each join up to the rebalance timeout.
      this.initialDelayUntil = now + Math.min(this.limits.initialRebalanceDelayMs, timeout);
      this.initialDelayCap = now + timeout;
    } else {
      this.initialDelayUntil = 0;
    }
    this.joinDeadline = now + timeout;
    return actions;
  }

  private maxRebalanceTimeout(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  /** Completes the join phase if every member has rejoined (and no initial delay is running). */
  private maybeCompleteJoin(now: number): Action[] {
    if (this.state !== 'PreparingRebalance') return [];
    if (this.initialDelayUntil > 0) {
      if (now < this.initialDelayUntil) {
        return [];
      }
      this.initialDelayUntil = 0;
    }
    for (const m of this.members.values()) if (m.joinToken === undefined) return [];
    if (this.pendingMembers.size > 0 && now < this.joinDeadline) return [];
    return this.completeJoin(now);
  }

  /** Ends the join phase: members that did not rejoin are dropped, a generation begins. */
  private completeJoin(now: number): Action[] {
    const actions: Action[] = [];
    for (const m of [...this.members.values()]) {
      if (m.joinToken === undefined) this.removeMember(m);
    }
    this.pendingMembers.clear();
    this.generationId++;
    if (this.members.size === 0) {
      this.transition('Empty', now);
      this.protocolName = null;
      this.leaderId = null;
      actions.push({ kind: 'persistGroup', groupId: this.groupId, snapshot: this.snapshot() });
      return actions;
    }
    this.protocolName = this.selectProtocol();
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!;
    this.transition('CompletingRebalance', now);
    this.syncDeadline = now + this.maxRebalanceTimeout();
    for (const m of this.members.values()) {
      actions.push({ kind: 'join', token: m.joinToken!, result: this.currentGenerationJoin(m, false) });
      m.joinToken = undefined;
      m.heartbeatDeadline = now + m.sessionTimeoutMs;
    }
    return actions;
  }

  private currentGenerationJoin(m: Member, skipAssignment: boolean): JoinResult {
    const isLeader = m.memberId === this.leaderId;
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      skipAssignment,
      memberId: m.memberId,
      members:
        isLeader && !skipAssignment
          ? [...this.members.values()].map((x) => ({
              memberId: x.memberId,
              groupInstanceId: x.groupInstanceId,
              metadata: x.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY,
            }))
          : [],
    };
  }

  private joinResult(errorCode: number, memberId: string, skipAssignment: boolean): JoinResult {
    return {
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      skipAssignment,
      memberId,
      members: [],
    };
  }

  /** The protocol every member supports with the most first-choice votes. */
  private selectProtocol(): string {
    const all = [...this.members.values()];
    const candidates = all[0].protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
    const votes = new Map<string, number>();
    for (const m of all) {
      const choice = m.protocols.find((p) => candidates.includes(p.name))!.name;
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best = candidates[0];
    for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(best) ?? 0)) best = c;
    return best;
  }

  private supportsProtocols(protocolType: string, protocols: { name: string }[]): boolean {
    if (protocols.length === 0 || protocolType === '') return false;
    if (this.members.size === 0) return true;
    if (protocolType !== this.protocolType) return false;
    for (const p of protocols) {
      if ([...this.members.values()].every((m) => m.protocols.some((q) => q.name === p.name))) return true;
    }
    return false;
  }

  // ------------------------------------------------------------- sync

  sync(a: SyncArgs, token: Token, now: number): Action[] {
    const reply = (errorCode: number, assignment: Buffer = EMPTY): Action[] => [
      { kind: 'sync', token, result: this.syncResult(errorCode, assignment) },
    ];
    if (this.state === 'Dead') return reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const m = this.members.get(a.memberId);
    if (!m) return reply(ErrorCode.UNKNOWN_MEMBER_ID);
    if (a.groupInstanceId !== null && this.staticMembers.get(a.groupInstanceId) !== a.memberId) {
      return reply(ErrorCode.FENCED_INSTANCE_ID);
    }
    if (a.generationId !== this.generationId) return reply(ErrorCode.ILLEGAL_GENERATION);
    if (
      (a.protocolType !== null && a.protocolType !== this.protocolType) ||
      (a.protocolName !== null && a.protocolName !== this.protocolName)
    ) {
      return reply(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    }
    m.heartbeatDeadline = now + m.sessionTimeoutMs;
    switch (this.state) {
      case 'PreparingRebalance':
        return reply(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
        return reply(ErrorCode.NONE, m.assignment);
      case 'CompletingRebalance': {
        m.syncToken = token;
        if (a.memberId !== this.leaderId) return [];
        // The leader's assignment completes the rebalance.
        const given = new Map(a.assignments.map((x) => [x.memberId, x.assignment]));
        const actions: Action[] = [];
        for (const member of this.members.values()) member.assignment = given.get(member.memberId) ?? EMPTY;
        this.transition('Stable', now);
        for (const member of this.members.values()) {
          if (member.syncToken !== undefined) {
            actions.push({
              kind: 'sync',
              token: member.syncToken,
              result: this.syncResult(ErrorCode.NONE, member.assignment),
            });
            member.syncToken = undefined;
          }
        }
        actions.push({ kind: 'persistGroup', groupId: this.groupId, snapshot: this.snapshot() });
        return actions;
      }
      default:
        return reply(ErrorCode.UNKNOWN_MEMBER_ID);
    }
  }

  private syncResult(errorCode: number, assignment: Buffer) {
    return { errorCode, protocolType: this.protocolType, protocolName: this.protocolName, assignment };
  }

  // ------------------------------------------------------------- heartbeat / leave

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number, now: number): number {
    if (this.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const m = this.members.get(memberId);
    if (
      groupInstanceId !== null &&
      this.staticMembers.has(groupInstanceId) &&
      this.staticMembers.get(groupInstanceId) !== memberId
    ) {
      return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    m.heartbeatDeadline = now + m.sessionTimeoutMs;
    if (this.state === 'PreparingRebalance') return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /** LeaveGroup for one member (by member id, or by group.instance.id for static members). */
  leave(memberId: string, groupInstanceId: string | null, now: number): { errorCode: number; actions: Action[] } {
    if (this.state === 'Dead') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, actions: [] };
    let id = memberId;
    if (groupInstanceId !== null) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current === undefined) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, actions: [] };
      if (memberId !== '' && current !== memberId) return { errorCode: ErrorCode.FENCED_INSTANCE_ID, actions: [] };
      id = current;
    }
    if (this.pendingMembers.delete(id)) return { errorCode: ErrorCode.NONE, actions: this.maybeCompleteJoin(now) };
    const m = this.members.get(id);
    if (!m) return { errorCode: ErrorCode.UNKNOWN_MEMBER_ID, actions: [] };
    return { errorCode: ErrorCode.NONE, actions: this.memberGone(m, now, ErrorCode.UNKNOWN_MEMBER_ID) };
  }

  /** A member left or its session expired: answer its pending requests and rebalance. */
  private memberGone(m: Member, now: number, errorCode: number): Action[] {
    const actions: Action[] = [];
    if (m.joinToken !== undefined)
      actions.push({ kind: 'join', token: m.joinToken, result: this.joinResult(errorCode, m.memberId, false) });
    if (m.syncToken !== undefined)
      actions.push({ kind: 'sync', token: m.syncToken, result: this.syncResult(errorCode, EMPTY) });
    m.joinToken = undefined;
    m.syncToken = undefined;
    this.removeMember(m);
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') {
      actions.push(...this.prepareRebalance(now));
    }
    if (this.state === 'PreparingRebalance') {
      if (this.members.size === 0 && this.pendingMembers.size === 0) actions.push(...this.completeJoin(now));
      else actions.push(...this.maybeCompleteJoin(now));
    }
    return actions;
  }

  private removeMember(m: Member): void {
    this.members.delete(m.memberId);
    if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === m.memberId) {
      this.staticMembers.delete(m.groupInstanceId);
    }
    if (this.leaderId === m.memberId) this.leaderId = null;
  }

  // ------------------------------------------------------------- time

  /** The earliest time at which `tick` has something to do. */
  nextDeadline(): number {
    let t = Infinity;
    if (this.state === 'PreparingRebalance') {
      t = Math.min(t, this.initialDelayUntil > 0 ? this.initialDelayUntil : this.joinDeadline);
    }
    if (this.state === 'CompletingRebalance') t = Math.min(t, this.syncDeadline);
    for (const m of this.members.values()) {
      if (!this.keepAlive(m)) t = Math.min(t, m.heartbeatDeadline);
    }
    for (const d of this.pendingMembers.values()) t = Math.min(t, d);
    return t;
  }

  /** A member waiting for its JoinGroup answer is alive by definition. */
  private keepAlive(m: Member): boolean {
    return m.joinToken !== undefined && this.state === 'PreparingRebalance';
  }

  tick(now: number): Action[] {
    const actions: Action[] = [];
    for (const [id, deadline] of this.pendingMembers) if (now >= deadline) this.pendingMembers.delete(id);
    if (this.state === 'PreparingRebalance') {
      if (this.initialDelayUntil > 0 && now >= this.initialDelayUntil) {
        actions.push(...this.maybeCompleteJoin(now));
      }
      if (this.state === 'PreparingRebalance' && now >= this.joinDeadline) {
        this.initialDelayUntil = 0;
        actions.push(...this.completeJoin(now));
      }
    }
    if (this.state === 'CompletingRebalance' && now >= this.syncDeadline) {
      // Members that never sent SyncGroup are removed; the others rejoin.
      for (const m of [...this.members.values()]) {
        if (m.syncToken === undefined) actions.push(...this.memberGone(m, now, ErrorCode.UNKNOWN_MEMBER_ID));
      }
    }
    for (const m of [...this.members.values()]) {
      if (this.members.get(m.memberId) !== m) continue;
      if (!this.keepAlive(m) && now >= m.heartbeatDeadline) {
        actions.push(...this.memberGone(m, now, ErrorCode.UNKNOWN_MEMBER_ID));
      }
    }
    return actions;
  }

  /** Called when a join arrives during the initial delay: extend it (KIP-134). */
  extendInitialDelay(now: number): void {
    if (this.initialDelayUntil > 0) {
      this.initialDelayUntil = Math.min(now + this.limits.initialRebalanceDelayMs, this.initialDelayCap);
    }
  }

  // ------------------------------------------------------------- persistence

  snapshot(): GroupSnapshot {
    return {
      groupId: this.groupId,
      protocolType: this.protocolType,
      generationId: this.generationId,
      protocolName: this.protocolName,
      leader: this.leaderId,
      currentStateTimestamp: this.currentStateTimestamp,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        subscription: m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY,
        assignment: m.assignment,
      })),
    };
  }

  /** Rebuilds a group from its persisted snapshot (after a restart members must heartbeat again). */
  static restore(s: GroupSnapshot, limits: GroupLimits, now: number, newId?: () => string): ClassicGroup {
    const g = new ClassicGroup(s.groupId, limits, newId);
    g.protocolType = s.protocolType;
    g.generationId = s.generationId;
    g.protocolName = s.protocolName;
    g.leaderId = s.leader;
    g.currentStateTimestamp = s.currentStateTimestamp;
    for (const m of s.members) {
      g.members.set(m.memberId, {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocolType: s.protocolType ?? '',
        protocols: [{ name: s.protocolName ?? '', metadata: m.subscription }],
        assignment: m.assignment,
        joinToken: undefined,
        syncToken: undefined,
        heartbeatDeadline: now + m.sessionTimeoutMs,
      });
      if (m.groupInstanceId !== null) g.staticMembers.set(m.groupInstanceId, m.memberId);
    }
    g.state = g.members.size > 0 ? 'Stable' : 'Empty';
    return g;
  }

  /**
   * The group's metadata of `generationId` could not be written: as in Kafka,
   * its assignment is dropped and the group rebalances (members rejoin).
   * Nothing changes if the group has moved on meanwhile.
   */
  persistFailed(generationId: number, now: number): Action[] {
    if (generationId !== this.generationId || (this.state !== 'Stable' && this.state !== 'CompletingRebalance'))
      return [];
    for (const m of this.members.values()) m.assignment = EMPTY;
    return this.prepareRebalance(now);
  }

  markDead(now: number): void {
    this.transition('Dead', now);
  }

  /**
   * This coordinator no longer hosts the group (its __consumer_offsets
   * partition is led elsewhere now): as Kafka's unloading, the requests
   * waiting in a rebalance are answered NOT_COORDINATOR, so the members find
   * the new coordinator, and the group is Dead here.
   */
  unload(now: number): Action[] {
    const actions: Action[] = [];
    for (const m of this.members.values()) {
      if (m.joinToken !== undefined)
        actions.push({
          kind: 'join',
          token: m.joinToken,
          result: this.joinResult(ErrorCode.NOT_COORDINATOR, m.memberId, false),
        });
      if (m.syncToken !== undefined)
        actions.push({ kind: 'sync', token: m.syncToken, result: this.syncResult(ErrorCode.NOT_COORDINATOR, EMPTY) });
      m.joinToken = undefined;
      m.syncToken = undefined;
    }
    this.transition('Dead', now);
    return actions;
  }
}

function sameProtocols(
  a: { name: string; metadata: Uint8Array }[],
  b: { name: string; metadata: Uint8Array }[],
): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || !Buffer.from(a[i].metadata).equals(b[i].metadata)) return false;
  }
  return true;
}
