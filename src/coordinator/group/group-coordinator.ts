/**
 * src/coordinator/group: the consumer-group coordinator.
 *
 * This file is the pure part: all groups of this coordinator and their
 * committed offsets, driven by calls that carry `now` and return actions
 * (answers to pending requests, records to persist). `service.ts` is the edge
 * that owns the clock, the timers, the pending request promises and the
 * __consumer_offsets log.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ClassicGroup, type GroupLimits } from './classic-group.ts';
import type { Action, CommittedOffset, GroupSnapshot, JoinArgs, SyncArgs, Token } from './types.ts';
import type { ConsumerGroups } from './consumer/consumer-groups.ts';
import { systemEnv } from '../../util/env.ts';

export interface OffsetCommitArgs {
  /** OffsetCommit version (consumer-protocol groups need v9+). */
  apiVersion?: number;
  groupId: string;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: { topic: string; partition: number; offset: number; leaderEpoch: number; metadata: string | null }[];
}

export interface OffsetRecord {
  groupId: string;
  topic: string;
  partition: number;
  /** null: a tombstone (offset deleted or expired). */
  value: CommittedOffset | null;
}

export interface CoordinatorConfig extends GroupLimits {
  offsetsRetentionMs: number;
  maxMetadataSize: number;
}

/** Whether the cluster has this partition (from the broker's metadata image). */
export type PartitionExists = (topic: string, partition: number) => boolean;

export function offsetKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class GroupCoordinatorState {
  readonly groups = new Map<string, ClassicGroup>();
  readonly offsets = new Map<string, Map<string, CommittedOffset & { topic: string; partition: number }>>();
  /**
   * KIP-848 consumer-protocol groups, when enabled. A group id belongs to one
   * protocol at a time; committed offsets of both kinds live here.
   */
  consumerGroups: ConsumerGroups | undefined;

  constructor(
    readonly config: CoordinatorConfig,
    /** Where new member ids come from (the edge's injected environment). */
    private readonly newId: () => string = systemEnv.uuid,
  ) {}

  private isConsumerGroup(groupId: string): boolean {
    return this.consumerGroups?.hasGroup(groupId) === true;
  }

  private group(groupId: string, create: boolean): ClassicGroup | undefined {
    let g = this.groups.get(groupId);
    if (!g && create) {
      g = new ClassicGroup(groupId, this.config, this.newId);
      this.groups.set(groupId, g);
    }
    return g;
  }

  join(a: JoinArgs, token: Token, now: number): Action[] {
    if (a.groupId === '') {
      return [joinError(token, a.memberId, ErrorCode.INVALID_GROUP_ID)];
    }
    if (this.isConsumerGroup(a.groupId)) {
      return [joinError(token, a.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL)];
    }
    const existing = this.groups.get(a.groupId);
    if (!existing && a.memberId !== '') {
      return [joinError(token, a.memberId, ErrorCode.UNKNOWN_MEMBER_ID)];
    }
    return this.group(a.groupId, true)!.join(a, token, now);
  }

  sync(a: SyncArgs, token: Token, now: number): Action[] {
    const g = this.groups.get(a.groupId);
    if (!g)
      return [
        {
          kind: 'sync',
          token,
          result: {
            errorCode: ErrorCode.UNKNOWN_MEMBER_ID,
            protocolType: null,
            protocolName: null,
            assignment: Buffer.alloc(0),
          },
        },
      ];
    return g.sync(a, token, now);
  }

  heartbeat(
    groupId: string,
    memberId: string,
    groupInstanceId: string | null,
    generationId: number,
    now: number,
  ): number {
    const g = this.groups.get(groupId);
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    return g.heartbeat(memberId, groupInstanceId, generationId, now);
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[], now: number) {
    const g = this.groups.get(groupId);
    const results: number[] = [];
    const actions: Action[] = [];
    for (const m of members) {
      if (!g) {
        results.push(ErrorCode.UNKNOWN_MEMBER_ID);
        continue;
      }
      const r = g.leave(m.memberId, m.groupInstanceId, now);
      results.push(r.errorCode);
      actions.push(...r.actions);
    }
    return { groupError: g ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID, results, actions };
  }

  /**
   * Validates an offset commit; on success returns the records to persist.
   * As in Kafka, a partition the cluster does not have (`partitionExists`,
   * when given) gets UNKNOWN_TOPIC_OR_PARTITION before the group is
   * consulted, and a request with no known partition does not reach the
   * group at all.
   */
  commitOffsets(
    a: OffsetCommitArgs,
    now: number,
    partitionExists?: PartitionExists,
  ): { errorCode: number; records: OffsetRecord[]; perPartition: number[] } {
    if (partitionExists && a.offsets.length > 0) {
      const known = a.offsets.map((o) => partitionExists(o.topic, o.partition));
      if (!known.every(Boolean)) {
        const r = known.some(Boolean)
          ? this.commitOffsets({ ...a, offsets: a.offsets.filter((_, i) => known[i]) }, now)
          : { errorCode: ErrorCode.NONE, records: [], perPartition: [] };
        let j = 0;
        return {
          errorCode: r.errorCode,
          records: r.records,
          perPartition: known.map((k) => (k ? r.perPartition[j++] : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)),
        };
      }
    }
    const g = this.groups.get(a.groupId);
    const simple = a.generationId < 0 && a.memberId === '';
    let errorCode: number = ErrorCode.NONE;
    if (a.groupId === '') errorCode = ErrorCode.INVALID_GROUP_ID;
    else if (this.isConsumerGroup(a.groupId)) {
      errorCode = this.consumerGroups!.validateOffsetCommit(a.groupId, a.memberId, a.generationId, a.apiVersion ?? 9);
    } else if (!g) {
      if (!simple) errorCode = ErrorCode.ILLEGAL_GENERATION;
    } else if (g.is('Dead')) errorCode = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    else if (simple) {
      if (g.members.size > 0) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
    } else {
      const m = g.members.get(a.memberId);
      if (
        a.groupInstanceId !== null &&
        g.staticMembers.has(a.groupInstanceId) &&
        g.staticMembers.get(a.groupInstanceId) !== a.memberId
      ) {
        errorCode = ErrorCode.FENCED_INSTANCE_ID;
      } else if (!m) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
      else if (a.generationId !== g.generationId) errorCode = ErrorCode.ILLEGAL_GENERATION;
      else if (g.is('CompletingRebalance')) errorCode = ErrorCode.REBALANCE_IN_PROGRESS;
      else m.heartbeatDeadline = now + m.sessionTimeoutMs;
    }
    if (errorCode !== ErrorCode.NONE) return { errorCode, records: [], perPartition: a.offsets.map(() => errorCode) };
    if (!g && !this.isConsumerGroup(a.groupId)) this.group(a.groupId, true);
    const records: OffsetRecord[] = [];
    const perPartition = a.offsets.map((o) => {
      if (o.metadata !== null && o.metadata.length > this.config.maxMetadataSize)
        return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      records.push({
        groupId: a.groupId,
        topic: o.topic,
        partition: o.partition,
        value: {
          offset: o.offset,
          leaderEpoch: o.leaderEpoch,
          metadata: o.metadata ?? '',
          commitTimestamp: now,
          expireTimestamp: -1,
        },
      });
      return ErrorCode.NONE;
    });
    return { errorCode: ErrorCode.NONE, records, perPartition };
  }

  /** Applies a persisted offset record (after it is written, and when loading). */
  applyOffset(r: OffsetRecord): void {
    let m = this.offsets.get(r.groupId);
    if (r.value === null) {
      m?.delete(offsetKey(r.topic, r.partition));
      return;
    }
    if (!m) this.offsets.set(r.groupId, (m = new Map()));
    m.set(offsetKey(r.topic, r.partition), { ...r.value, topic: r.topic, partition: r.partition });
  }

  /** Applies a persisted group record when loading. */
  applyGroup(groupId: string, snapshot: GroupSnapshot | null, now: number): void {
    if (snapshot === null) {
      this.groups.delete(groupId);
      return;
    }
    this.groups.set(groupId, ClassicGroup.restore(snapshot, this.config, now, this.newId));
  }

  fetchOffsets(groupId: string, wanted: { topic: string; partitions: number[] }[] | null) {
    const m = this.offsets.get(groupId);
    if (wanted === null) {
      const byTopic = new Map<string, { partition: number; value: CommittedOffset }[]>();
      for (const o of m?.values() ?? []) {
        let l = byTopic.get(o.topic);
        if (!l) byTopic.set(o.topic, (l = []));
        l.push({ partition: o.partition, value: o });
      }
      return [...byTopic].map(([topic, parts]) => ({
        topic,
        partitions: parts.sort((a, b) => a.partition - b.partition),
      }));
    }
    return wanted.map((w) => ({
      topic: w.topic,
      partitions: w.partitions.map((p) => ({ partition: p, value: m?.get(offsetKey(w.topic, p)) ?? null })),
    }));
  }

  /** DeleteGroups: only empty groups can go. */
  deleteGroup(groupId: string, now: number): { errorCode: number; records: OffsetRecord[] } {
    const g = this.groups.get(groupId);
    const offsets = this.offsets.get(groupId);
    if (this.isConsumerGroup(groupId)) {
      const code = this.consumerGroups!.deleteGroup(groupId);
      if (code !== ErrorCode.NONE) return { errorCode: code, records: [] };
    } else {
      if (!g && !offsets) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, records: [] };
      if (g && !g.is('Empty') && !g.is('Dead')) return { errorCode: ErrorCode.NON_EMPTY_GROUP, records: [] };
    }
    g?.markDead(now);
    this.groups.delete(groupId);
    const records: OffsetRecord[] = [...(offsets?.values() ?? [])].map((o) => ({
      groupId,
      topic: o.topic,
      partition: o.partition,
      value: null,
    }));
    return { errorCode: ErrorCode.NONE, records };
  }

  /** OffsetDelete (KIP-496): refused for topics the group is consuming while active. */
  deleteOffsets(groupId: string, parts: { topic: string; partition: number }[], subscribedTopics: Set<string>) {
    const g = this.groups.get(groupId);
    const offsets = this.offsets.get(groupId);
    if (!g && !offsets)
      return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, perPartition: [] as number[], records: [] as OffsetRecord[] };
    const active = g !== undefined && !g.is('Empty') && !g.is('Dead');
    const records: OffsetRecord[] = [];
    const perPartition = parts.map((p) => {
      if (active && subscribedTopics.has(p.topic)) return ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
      if (offsets?.has(offsetKey(p.topic, p.partition)))
        records.push({ groupId, topic: p.topic, partition: p.partition, value: null });
      return ErrorCode.NONE;
    });
    return { errorCode: ErrorCode.NONE, perPartition, records };
  }

  /**
   * Tombstones for the committed offsets, in every group, of partitions the
   * cluster no longer has (Kafka's GroupCoordinator.onPartitionsDeleted).
   */
  offsetsOfDeletedPartitions(partitionExists: PartitionExists): OffsetRecord[] {
    const out: OffsetRecord[] = [];
    for (const [groupId, m] of this.offsets) {
      for (const o of m.values())
        if (!partitionExists(o.topic, o.partition))
          out.push({ groupId, topic: o.topic, partition: o.partition, value: null });
    }
    return out;
  }

  /** Offsets of empty groups past offsets.retention.ms, as tombstones to write (KIP-211). */
  expireOffsets(now: number): OffsetRecord[] {
    const out: OffsetRecord[] = [];
    for (const [groupId, m] of this.offsets) {
      const g = this.groups.get(groupId);
      if (g && !g.is('Empty')) continue;
      if (this.consumerGroups?.group(groupId)?.members.size) continue;
      const since = g ? g.currentStateTimestamp : 0;
      for (const o of m.values()) {
        const base = Math.max(o.commitTimestamp, since);
        const expired =
          o.expireTimestamp >= 0 ? now >= o.expireTimestamp : now >= base + this.config.offsetsRetentionMs;
        if (expired) out.push({ groupId, topic: o.topic, partition: o.partition, value: null });
      }
    }
    return out;
  }

  /** Empty groups whose offsets are all gone are dropped (Kafka's group expiry); returns their ids. */
  expireEmptyGroups(now: number): string[] {
    const gone: string[] = [];
    for (const [groupId, g] of this.groups) {
      if (!g.is('Empty')) continue;
      if ((this.offsets.get(groupId)?.size ?? 0) > 0) continue;
      g.markDead(now);
      this.groups.delete(groupId);
      gone.push(groupId);
    }
    return gone;
  }

  /**
   * Drops the classic groups and the committed offsets of every group for
   * which `belongs` holds (Kafka's unloading: their coordinator is now on
   * another broker); the requests waiting in their rebalances get
   * NOT_COORDINATOR. KIP-848 groups are the consumer coordinator's to drop.
   */
  unload(belongs: (groupId: string) => boolean, now: number): Action[] {
    const actions: Action[] = [];
    for (const [groupId, g] of this.groups) {
      if (!belongs(groupId)) continue;
      actions.push(...g.unload(now));
      this.groups.delete(groupId);
    }
    for (const groupId of this.offsets.keys()) if (belongs(groupId)) this.offsets.delete(groupId);
    return actions;
  }

  /** A group record (a snapshot of `generationId`) could not be written: see ClassicGroup.persistFailed. */
  persistFailed(groupId: string, generationId: number, now: number): Action[] {
    return this.groups.get(groupId)?.persistFailed(generationId, now) ?? [];
  }

  tick(now: number): Action[] {
    const actions: Action[] = [];
    for (const g of this.groups.values()) if (g.nextDeadline() <= now) actions.push(...g.tick(now));
    return actions;
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const g of this.groups.values()) t = Math.min(t, g.nextDeadline());
    return t;
  }
}

/** A JoinGroup answered with an error before any group is involved. */
function joinError(token: Token, memberId: string, errorCode: number): Action {
  return {
    kind: 'join',
    token,
    result: {
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      skipAssignment: false,
      memberId,
      members: [],
    },
  };
}
