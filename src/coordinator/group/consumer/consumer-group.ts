/**
 * One consumer-protocol group (KIP-848): its members, group epoch, target
 * assignment and which member holds each partition. It keeps the
 * protocol's invariant: a partition is held (assigned or pending revocation)
 * by at most one member at any moment. Request validation and error
 * answers are the caller's (`consumer-groups.ts`); this class only changes
 * state in ways the caller has already allowed.
 */
import { copyAssignment, emptyAssignment, partitionsOf } from './assignment.ts';
import { SERVER_ASSIGNORS, type AssignorMember } from './assignors.ts';
import { reconcile, type MemberState } from './reconcile.ts';
import type { Assignment, ConsumerGroupState, TopicInfo, TopicsMetadata } from './types.ts';

/** Member epoch of a static member that left temporarily (KIP-848). */
export const STATIC_LEAVE_EPOCH = -2;
export const LEAVE_EPOCH = -1;

export interface ConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  memberEpoch: number;
  previousMemberEpoch: number;
  state: MemberState;
  assigned: Assignment;
  pendingRevocation: Assignment;
  /** Removed when no heartbeat arrives by then (group.consumer.session.timeout.ms). */
  sessionDeadline: number;
  /** Fenced when it has not revoked by then (its rebalance timeout); Infinity when nothing is pending. */
  revocationDeadline: number;
}

const regexCache = new Map<string, RegExp>();

/** The subscription regex as a whole-name match; throws SyntaxError when invalid. (JavaScript syntax, not RE2.) */
export function compileTopicRegex(source: string): RegExp {
  let r = regexCache.get(source);
  if (!r) {
    r = new RegExp(`^(?:${source})$`);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(source, r);
  }
  return r;
}

const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);

export class ConsumerGroup {
  groupEpoch = 0;
  /** Epoch of the target assignment (the group epoch it was computed at). */
  targetEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** Static members: instance id -> member id. */
  readonly staticMembers = new Map<string, string>();
  /** Target assignment per member. */
  readonly target = new Map<string, Assignment>();
  /** topicId -> partition -> member id holding it (assigned or pending revocation). */
  private readonly owners = new Map<string, Map<number, string>>();
  /** Subscribed topics that exist: name -> metadata (KIP-848 "subscription metadata"). */
  subscribedTopics = new Map<string, TopicInfo>();
  dead = false;

  constructor(
    readonly groupId: string,
    private readonly assignors: readonly string[],
  ) {}

  get state(): ConsumerGroupState {
    if (this.dead) return 'Dead';
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch !== this.targetEpoch) return 'Assigning';
    for (const m of this.members.values())
      if (m.state !== 'stable' || m.memberEpoch !== this.targetEpoch) return 'Reconciling';
    return 'Stable';
  }

  /** The assignor most members ask for, else the configured default. */
  get assignorName(): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values())
      if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = this.assignors[0];
    let n = 0;
    for (const a of this.assignors) {
      const v = votes.get(a) ?? 0;
      if (v > n) [best, n] = [a, v];
    }
    return best;
  }

  ownerOf(topicId: string, partition: number): string | undefined {
    return this.owners.get(topicId)?.get(partition);
  }

  bumpEpoch(): void {
    this.groupEpoch++;
  }

  addMember(m: ConsumerMember): void {
    this.subscriptionsChanged();
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
  }

  /** A static member comes back under a new member id: it takes over the old one's assignment (KIP-848 static membership). */
  replaceMember(oldId: string, newId: string): ConsumerMember {
    const old = this.members.get(oldId)!;
    const m: ConsumerMember = { ...old, memberId: newId, memberEpoch: 0, previousMemberEpoch: 0 };
    this.members.delete(oldId);
    this.members.set(newId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, newId);
    const t = this.target.get(oldId);
    this.target.delete(oldId);
    if (t) this.target.set(newId, t);
    for (const [topicId, p] of [...partitionsOf(m.assigned), ...partitionsOf(m.pendingRevocation)])
      this.owners.get(topicId)!.set(p, newId);
    return m;
  }

  /** Removes a member, frees what it held and bumps the group epoch. */
  removeMember(memberId: string): void {
    const m = this.members.get(memberId);
    if (!m) return;
    this.subscriptionsChanged();
    this.release(m);
    this.members.delete(memberId);
    this.target.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId)
      this.staticMembers.delete(m.instanceId);
    this.bumpEpoch();
  }

  private release(m: ConsumerMember): void {
    for (const [t, p] of [...partitionsOf(m.assigned), ...partitionsOf(m.pendingRevocation)]) {
      const o = this.owners.get(t);
      if (o?.get(p) === m.memberId) {
        o.delete(p);
        if (o.size === 0) this.owners.delete(t);
      }
    }
  }

  private hold(m: ConsumerMember): void {
    for (const [t, p] of [...partitionsOf(m.assigned), ...partitionsOf(m.pendingRevocation)]) {
      let o = this.owners.get(t);
      if (!o) this.owners.set(t, (o = new Map()));
      const prev = o.get(p);
      if (prev !== undefined && prev !== m.memberId)
        throw new Error(`consumer group ${this.groupId}: partition ${t}-${p} held by ${prev} given to ${m.memberId}`);
      o.set(p, m.memberId);
    }
  }

  /** Names of existing topics a member subscribes to (names and regex). */
  private memberTopicNames(m: ConsumerMember, names: Iterable<string>): string[] {
    const out = new Set<string>();
    const known = new Set(names);
    for (const n of m.subscribedTopicNames) if (known.has(n)) out.add(n);
    if (m.subscribedTopicRegex !== null) {
      const re = compileTopicRegex(m.subscribedTopicRegex);
      for (const n of known) if (!INTERNAL_TOPICS.has(n) && re.test(n)) out.add(n);
    }
    return [...out];
  }

  /** Bumped when a member joins, leaves or changes its subscription (metadata refresh cache key). */
  private subscriptionsVersion = 0;
  private refreshed: { topics: TopicsMetadata; version: number } | null = null;

  subscriptionsChanged(): void {
    this.subscriptionsVersion++;
  }

  /**
   * Recomputes the subscription metadata from `topics`; returns whether it
   * changed (the caller bumps the group epoch). Skipped when neither the
   * topics object nor the subscriptions changed since the last refresh, so
   * callers must hand in a new map when metadata changes.
   */
  refreshMetadata(topics: TopicsMetadata): boolean {
    if (this.refreshed && this.refreshed.topics === topics && this.refreshed.version === this.subscriptionsVersion)
      return false;
    this.refreshed = { topics, version: this.subscriptionsVersion };
    const next = new Map<string, TopicInfo>();
    const regexes = new Set<string>();
    for (const m of this.members.values()) {
      for (const n of m.subscribedTopicNames) {
        const info = topics.get(n);
        if (info) next.set(n, { topicId: info.topicId, partitions: info.partitions });
      }
      if (m.subscribedTopicRegex !== null) regexes.add(m.subscribedTopicRegex);
    }
    for (const r of regexes) {
      const re = compileTopicRegex(r);
      for (const [n, info] of topics)
        if (!INTERNAL_TOPICS.has(n) && re.test(n)) next.set(n, { topicId: info.topicId, partitions: info.partitions });
    }
    let same = next.size === this.subscribedTopics.size;
    if (same) {
      for (const [n, i] of next) {
        const o = this.subscribedTopics.get(n);
        if (!o || o.topicId !== i.topicId || o.partitions !== i.partitions) {
          same = false;
          break;
        }
      }
    }
    if (same) return false;
    this.subscribedTopics = next;
    return true;
  }

  /** Computes a new target assignment at the group epoch with the group's assignor. */
  computeTargetAssignment(): void {
    const assignor = SERVER_ASSIGNORS.get(this.assignorName) ?? SERVER_ASSIGNORS.get('uniform')!;
    const topics = new Map<string, { name: string; partitions: number }>();
    for (const [name, info] of this.subscribedTopics) topics.set(info.topicId, { name, partitions: info.partitions });
    const names = [...this.subscribedTopics.keys()];
    const members: AssignorMember[] = [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      rackId: m.rackId,
      topicIds: new Set(this.memberTopicNames(m, names).map((n) => this.subscribedTopics.get(n)!.topicId)),
      current: this.target.get(m.memberId) ?? emptyAssignment(),
    }));
    const result = assignor.assign({ members, topics });
    this.target.clear();
    for (const m of this.members.values()) this.target.set(m.memberId, result.get(m.memberId) ?? emptyAssignment());
    this.targetEpoch = this.groupEpoch;
  }

  /**
   * Moves a member one step towards its target (see reconcile.ts), keeping
   * the ownership map and the revocation deadline up to date.
   */
  reconcileMember(m: ConsumerMember, owned: Assignment | null, now: number): void {
    const next = reconcile(
      m,
      this.targetEpoch,
      this.target.get(m.memberId) ?? emptyAssignment(),
      (t, p) => {
        const o = this.ownerOf(t, p);
        return o === undefined || o === m.memberId;
      },
      owned,
    );
    if (next === m) return;
    const wasRevoking = m.state === 'unrevoked';
    this.release(m);
    m.memberEpoch = next.memberEpoch;
    m.previousMemberEpoch = next.previousMemberEpoch;
    m.state = next.state;
    m.assigned = copyAssignment(next.assigned);
    m.pendingRevocation = copyAssignment(next.pendingRevocation);
    this.hold(m);
    if (m.state !== 'unrevoked') m.revocationDeadline = Infinity;
    else if (!wasRevoking) m.revocationDeadline = now + m.rebalanceTimeoutMs;
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const m of this.members.values()) t = Math.min(t, m.sessionDeadline, m.revocationDeadline);
    return t;
  }

  /** Removes members whose session expired or who did not revoke in time; recomputes the target if that changed the group. */
  tick(now: number): string[] {
    const removed: string[] = [];
    for (const m of [...this.members.values()]) {
      if (m.sessionDeadline <= now || m.revocationDeadline <= now) {
        this.removeMember(m.memberId);
        removed.push(m.memberId);
      }
    }
    if (removed.length > 0 && this.groupEpoch !== this.targetEpoch) this.computeTargetAssignment();
    return removed;
  }
}
