/**
 * GroupConsumer: membership of a classic consumer group (protocol type
 * "consumer") on KafkaClient's group calls, so Samsa's CLI can share a
 * group with kafkajs, librdkafka or Java members:
 *
 *   join()     JoinGroup (re-sent with the member id on MEMBER_ID_REQUIRED),
 *              the leader runs the range / round-robin assignor over the
 *              members' subscriptions, SyncGroup hands out the assignment;
 *   heartbeats on a timer; REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION or
 *              UNKNOWN_MEMBER_ID set `rejoinNeeded` (the owner calls join());
 *   commit()   offsets committed with the generation and member id;
 *   close()    stops heartbeating and leaves the group.
 */
import type { KafkaClient } from './client.ts';
import { ConnectionError } from './connection.ts';
import { ErrorCode, KafkaError, errorName } from '../protocol/error-codes.ts';
import type { OffsetCommitRequestPartitionInput } from '../protocol/generated/messages.ts';
import {
  type AssignorName,
  type TopicPartitions,
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
  roundRobinAssign,
  toTopicPartitions,
} from './consumer-protocol.ts';

export interface GroupConsumerOptions {
  groupId: string;
  topics: string[];
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Offered in this order of preference (default range, roundrobin, then kafkajs' RoundRobinAssigner). */
  assignors?: AssignorName[];
  /** Called (not awaited) when a heartbeat learns the group is rebalancing. */
  onRebalance?: () => void;
}

const REJOIN = new Set<number>([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
  ErrorCode.FENCED_INSTANCE_ID,
]);
const COORDINATOR_MOVED = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class GroupConsumer {
  readonly groupId: string;
  memberId = '';
  generationId = -1;
  leaderId = '';
  protocolName: string | null = null;
  /** The partitions this member owns in the current generation. */
  assignment: TopicPartitions[] = [];
  /** Set when the group rebalances under us; join() again. */
  rejoinNeeded = true;

  private readonly opts: Required<Omit<GroupConsumerOptions, 'onRebalance'>> &
    Pick<GroupConsumerOptions, 'onRebalance'>;
  private timer: NodeJS.Timeout | undefined;
  private joining = false;
  private beating = false;
  private closed = false;

  constructor(
    private readonly client: KafkaClient,
    opts: GroupConsumerOptions,
  ) {
    this.groupId = opts.groupId;
    this.opts = {
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      heartbeatIntervalMs: 1_000,
      assignors: ['range', 'roundrobin', 'RoundRobinAssigner'],
      ...opts,
    };
  }

  /** Partitions of one topic in the current assignment. */
  partitionsOf(topic: string): number[] {
    return (this.assignment.find((t) => t.topic === topic)?.partitions ?? []).slice().sort((a, b) => a - b);
  }

  /** Joins (or rejoins) the group and waits for this member's assignment. */
  async join(): Promise<TopicPartitions[]> {
    if (this.closed) throw new Error('group consumer is closed');
    this.joining = true;
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt > 50)
          throw new KafkaError(
            ErrorCode.REBALANCE_IN_PROGRESS,
            `group '${this.groupId}': could not complete a rebalance`,
          );
        const metadata = encodeSubscription({ version: 0, topics: this.opts.topics });
        const res = await this.tolerant(attempt, () =>
          this.client.groupRequestRaw(this.groupId, 'JoinGroup', {
            groupId: this.groupId,
            sessionTimeoutMs: this.opts.sessionTimeoutMs,
            rebalanceTimeoutMs: this.opts.rebalanceTimeoutMs,
            memberId: this.memberId,
            groupInstanceId: null,
            protocolType: 'consumer',
            protocols: this.opts.assignors.map((name) => ({ name, metadata })),
            reason: null,
          }),
        );
        if (res === undefined) continue;
        if (res.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
          this.memberId = res.memberId;
          continue;
        }
        if (res.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
          this.memberId = '';
          continue;
        }
        if (res.errorCode === ErrorCode.REBALANCE_IN_PROGRESS || COORDINATOR_MOVED.has(res.errorCode)) {
          await sleep(100);
          continue;
        }
        if (res.errorCode !== ErrorCode.NONE)
          throw new KafkaError(res.errorCode, `join group '${this.groupId}': ${errorName(res.errorCode)}`);
        this.memberId = res.memberId;
        this.generationId = res.generationId;
        this.leaderId = res.leader;
        this.protocolName = res.protocolName ?? null;

        const assignments =
          this.memberId === res.leader && !res.skipAssignment
            ? await this.assign(res.protocolName ?? '', res.members)
            : [];
        const sync = await this.tolerant(attempt, () =>
          this.client.groupRequestRaw(this.groupId, 'SyncGroup', {
            groupId: this.groupId,
            generationId: this.generationId,
            memberId: this.memberId,
            groupInstanceId: null,
            protocolType: 'consumer',
            protocolName: res.protocolName,
            assignments,
          }),
        );
        if (sync === undefined) continue;
        if (sync.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
          this.memberId = '';
          continue;
        }
        if (REJOIN.has(sync.errorCode) || COORDINATOR_MOVED.has(sync.errorCode)) {
          await sleep(100);
          continue;
        }
        if (sync.errorCode !== ErrorCode.NONE)
          throw new KafkaError(sync.errorCode, `sync group '${this.groupId}': ${errorName(sync.errorCode)}`);
        this.assignment = decodeAssignment(sync.assignment).partitions.filter((t) =>
          this.opts.topics.includes(t.topic),
        );
        this.rejoinNeeded = false;
        this.startHeartbeats();
        return this.assignment;
      }
    } finally {
      this.joining = false;
    }
  }

  /**
   * A join or sync that times out (the coordinator waits for slow members up
   * to the largest rebalance timeout in the group) or loses its connection is
   * sent again, a few times: undefined means "try again".
   */
  private async tolerant<T>(attempt: number, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConnectionError) || attempt >= 5 || this.closed) throw err;
      await sleep(200);
      return undefined;
    }
  }

  /** The leader's work: every member's subscription -> its assignment bytes. */
  private async assign(
    protocol: string,
    members: { memberId: string; groupInstanceId?: string | null; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const subs = members.map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      topics: decodeSubscription(m.metadata).topics,
    }));
    const topics = [...new Set(subs.flatMap((s) => s.topics))].sort();
    const partitionsPerTopic = new Map<string, number[]>();
    if (topics.length > 0) {
      const md = await this.client.metadata(topics);
      for (const t of md.topics)
        if (t.errorCode === ErrorCode.NONE)
          partitionsPerTopic.set(
            t.name,
            t.partitions.map((p) => p.partition),
          );
    }
    const plan =
      protocol === 'roundrobin' || protocol === 'RoundRobinAssigner'
        ? roundRobinAssign(subs, partitionsPerTopic)
        : rangeAssign(subs, partitionsPerTopic);
    return subs.map((s) => ({
      memberId: s.memberId,
      assignment: encodeAssignment({ version: 0, partitions: toTopicPartitions(plan.get(s.memberId)!) }),
    }));
  }

  private startHeartbeats(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.heartbeatOnce(), this.opts.heartbeatIntervalMs);
    this.timer.unref();
  }

  /** One heartbeat; a rebalance or a lost membership sets rejoinNeeded. */
  async heartbeatOnce(): Promise<void> {
    if (this.joining || this.beating || this.closed || this.rejoinNeeded || this.generationId < 0) return;
    this.beating = true;
    try {
      const res = await this.client.groupRequestRaw(this.groupId, 'Heartbeat', {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
      });
      this.noteError(res.errorCode);
    } catch {
      // a lost connection: the next beat tries again; the session timeout decides
    } finally {
      this.beating = false;
    }
  }

  private noteError(code: number): boolean {
    if (!REJOIN.has(code)) return false;
    if (code === ErrorCode.UNKNOWN_MEMBER_ID || code === ErrorCode.FENCED_INSTANCE_ID) this.memberId = '';
    if (!this.rejoinNeeded) {
      this.rejoinNeeded = true;
      this.opts.onRebalance?.();
    }
    return true;
  }

  /**
   * Commits offsets (the next offset to read) in this generation. Returns
   * false, with rejoinNeeded set, when the group has moved on (the offsets
   * of partitions we may no longer own are then not committed).
   */
  async commit(offsets: { topic: string; partition: number; offset: number }[]): Promise<boolean> {
    if (offsets.length === 0) return true;
    const topics = new Map<string, OffsetCommitRequestPartitionInput[]>();
    for (const o of offsets) {
      const list = topics.get(o.topic) ?? [];
      list.push({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: -1,
        commitTimestamp: -1,
        committedMetadata: null,
      });
      topics.set(o.topic, list);
    }
    const res = await this.client.groupRequestRaw(this.groupId, 'OffsetCommit', {
      groupId: this.groupId,
      generationIdOrMemberEpoch: this.generationId,
      memberId: this.memberId,
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const t of res.topics) {
      for (const p of t.partitions) {
        if (p.errorCode === ErrorCode.NONE) continue;
        if (this.noteError(p.errorCode)) return false;
        throw new KafkaError(
          p.errorCode,
          `commit offset of ${t.name}-${p.partitionIndex} for group '${this.groupId}': ${errorName(p.errorCode)}`,
        );
      }
    }
    return true;
  }

  /** Committed offsets of the given partitions (-1: none). */
  async committed(topic: string, partitions: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    if (partitions.length === 0) return out;
    for (const x of await this.client.offsetFetch(this.groupId, [{ topic, partitions }]))
      out.set(x.partition, x.offset);
    return out;
  }

  /** Stops heartbeating and leaves the group (errors ignored: the session timeout removes us anyway). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.memberId) {
      await this.client
        .groupRequestRaw(this.groupId, 'LeaveGroup', {
          groupId: this.groupId,
          memberId: this.memberId,
          members: [{ memberId: this.memberId, groupInstanceId: null, reason: 'consumer closed' }],
        })
        .catch(() => undefined);
    }
    this.assignment = [];
    this.generationId = -1;
  }
}
