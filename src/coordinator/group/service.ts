/**
 * The group coordinator's edge: owns the clock and timers (an injected
 * `Env`), holds the promises of requests that wait (JoinGroup, SyncGroup),
 * and persists what the state machine decides to the __consumer_offsets log
 * before answering. A write that fails fails the requests that needed it,
 * with the error Kafka's group coordinator gives (see `writeError`), and is
 * logged (rate-limited).
 *
 * Persistence goes through `GroupStore` (implemented over a partition log of
 * __consumer_offsets by the broker), so this file knows nothing of storage
 * formats or the network.
 */
import { ErrorCode, errorName } from '../../protocol/error-codes.ts';
import { LogLimiter } from '../../util/log-limiter.ts';
import { systemEnv, type Env, type TimerHandle } from '../../util/env.ts';
import { DeadlineTimer } from './deadline-timer.ts';
import {
  GroupCoordinatorState,
  type CoordinatorConfig,
  type OffsetCommitArgs,
  type OffsetRecord,
  type PartitionExists,
} from './group-coordinator.ts';
import type { Action, GroupSnapshot, JoinArgs, JoinResult, SyncArgs, SyncResult, Token } from './types.ts';

/** Offset expiry runs every 10 minutes as in Kafka (offsets.retention.check.interval.ms). */
const OFFSETS_RETENTION_CHECK_INTERVAL_MS = 600_000;

export interface GroupStore {
  /** Durably appends offset and group records (in order); resolves when written. */
  write(records: (OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]): Promise<void>;
  /** Everything persisted so far, in log order (startup). */
  load(): Promise<(OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]>;
}

/** What the service logs with (pino's shape). */
export interface CoordinatorLogger {
  warn(fields: object, msg: string): void;
}

/** The Kafka error a failed write carries in its `errorCode` (a name, as the storage engine's errors, or a number); null if none. */
function kafkaErrorOf(err: unknown): number | null {
  const c = (err as { errorCode?: unknown } | null)?.errorCode;
  if (typeof c === 'number') return c;
  if (typeof c === 'string' && c in ErrorCode) return ErrorCode[c as keyof typeof ErrorCode];
  return null;
}

/**
 * The error a request gets when its write to __consumer_offsets failed, as
 * Kafka's group coordinator maps the append's error: the partition missing,
 * too few replicas or a timeout -> COORDINATOR_NOT_AVAILABLE; not the leader
 * or a failed log dir -> NOT_COORDINATOR; records too large ->
 * INVALID_COMMIT_OFFSET_SIZE for offsets, UNKNOWN_SERVER_ERROR for group
 * metadata; any other Kafka error as it is; anything else UNKNOWN_SERVER_ERROR.
 */
export function writeError(err: unknown, kind: 'offsets' | 'group'): number {
  const code = kafkaErrorOf(err);
  switch (code) {
    case null:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return kind === 'offsets' ? ErrorCode.INVALID_COMMIT_OFFSET_SIZE : ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return code;
  }
}

export class GroupCoordinatorService {
  readonly state: GroupCoordinatorState;
  private readonly joinWaiters = new Map<Token, (r: JoinResult) => void>();
  private readonly syncWaiters = new Map<Token, (r: SyncResult) => void>();
  private nextToken = 1;
  private readonly timer: DeadlineTimer;
  private expiryTimer: TimerHandle | undefined;
  private closed = false;
  private readonly limiter: LogLimiter;

  constructor(
    config: CoordinatorConfig,
    private readonly store: GroupStore,
    private readonly env: Env = systemEnv,
    private readonly logger?: CoordinatorLogger,
  ) {
    this.state = new GroupCoordinatorState(config, () => env.uuid());
    this.timer = new DeadlineTimer(() => this.run(this.state.tick(this.now())), env);
    this.limiter = new LogLimiter(10_000, 1000, () => env.now());
  }

  private now(): number {
    return this.env.now();
  }

  /** A failed write, logged at most once per interval for each kind and error. */
  private writeFailed(what: string, err: unknown, answered: number): void {
    if (!this.logger) return;
    const suppressed = this.limiter.take(`${what}|${kafkaErrorOf(err) ?? (err as Error)?.message}`);
    if (suppressed === null) return;
    this.logger.warn(
      { err, answered: errorName(answered), ...(suppressed > 0 ? { suppressed } : {}) },
      `could not write ${what} to __consumer_offsets`,
    );
  }

  async load(): Promise<void> {
    const now = this.now();
    for (const r of await this.store.load()) {
      if ('snapshot' in r) this.state.applyGroup(r.groupId, r.snapshot, now);
      else this.state.applyOffset(r);
    }
    this.schedule();
    this.scheduleExpiry();
  }

  private scheduleExpiry(): void {
    if (this.closed) return;
    this.expiryTimer = this.env.setTimer(OFFSETS_RETENTION_CHECK_INTERVAL_MS, () => {
      // A failed write is logged; expiry runs again next time.
      this.expireOffsets()
        .catch((err) => this.writeFailed('expired offsets', err, writeError(err, 'offsets')))
        .finally(() => this.scheduleExpiry());
    });
  }

  /**
   * Carries out the state machine's actions: persists groups, then answers
   * waiters. If the write fails, the waiters of these actions get the error
   * instead, and the groups written rebalance (`persistFailed`).
   */
  private run(actions: Action[]): void {
    const persists: { groupId: string; snapshot: GroupSnapshot | null }[] = [];
    for (const a of actions) {
      if (a.kind === 'persistGroup') persists.push({ groupId: a.groupId, snapshot: a.snapshot });
    }
    const answer = (actions: Action[]) => {
      for (const a of actions) {
        if (a.kind === 'join') {
          const w = this.joinWaiters.get(a.token);
          this.joinWaiters.delete(a.token);
          w?.(a.result);
        } else if (a.kind === 'sync') {
          const w = this.syncWaiters.get(a.token);
          this.syncWaiters.delete(a.token);
          w?.(a.result);
        }
      }
    };
    // Group metadata is written before members learn of the new state.
    if (persists.length > 0) {
      this.store.write(persists).then(
        () => answer(actions),
        (err) => {
          const code = writeError(err, 'group');
          this.writeFailed('group metadata', err, code);
          answer(actions.map((a) => failedAnswer(a, code)));
          const now = this.now();
          for (const p of persists)
            if (p.snapshot) this.run(this.state.persistFailed(p.groupId, p.snapshot.generationId, now));
        },
      );
    } else answer(actions);
    this.schedule();
  }

  private schedule(): void {
    this.timer.schedule(this.state.nextDeadline());
  }

  join(a: JoinArgs): Promise<JoinResult> {
    const token = this.nextToken++;
    const p = new Promise<JoinResult>((resolve) => this.joinWaiters.set(token, resolve));
    this.run(this.state.join(a, token, this.now()));
    return p;
  }

  sync(a: SyncArgs): Promise<SyncResult> {
    const token = this.nextToken++;
    const p = new Promise<SyncResult>((resolve) => this.syncWaiters.set(token, resolve));
    this.run(this.state.sync(a, token, this.now()));
    return p;
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const code = this.state.heartbeat(groupId, memberId, groupInstanceId, generationId, this.now());
    this.schedule();
    return code;
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]) {
    const r = this.state.leave(groupId, members, this.now());
    this.run(r.actions);
    return { groupError: r.groupError, results: r.results };
  }

  /** OffsetCommit; `partitionExists` (the broker's metadata) refuses partitions the cluster does not have. */
  async commitOffsets(
    a: OffsetCommitArgs,
    partitionExists?: PartitionExists,
  ): Promise<{ errorCode: number; perPartition: number[] }> {
    const r = this.state.commitOffsets(a, this.now(), partitionExists);
    this.schedule();
    if (r.records.length > 0) {
      try {
        await this.store.write(r.records);
      } catch (err) {
        const code = writeError(err, 'offsets');
        this.writeFailed('committed offsets', err, code);
        return { errorCode: code, perPartition: r.perPartition.map((c) => (c === ErrorCode.NONE ? code : c)) };
      }
      for (const rec of r.records) this.state.applyOffset(rec);
      // A topic deleted while the commit was being written: its offsets go too.
      if (partitionExists && r.records.some((rec) => !partitionExists(rec.topic, rec.partition))) {
        await this.removeOffsetsOfDeletedPartitions(partitionExists);
      }
    }
    return { errorCode: r.errorCode, perPartition: r.perPartition };
  }

  async deleteGroup(groupId: string): Promise<number> {
    const g = this.state.groups.get(groupId);
    const before = g && { state: g.state, at: g.currentStateTimestamp };
    const r = this.state.deleteGroup(groupId, this.now());
    if (r.errorCode === 0) {
      try {
        await this.store.write([...r.records, { groupId, snapshot: null }]);
      } catch (err) {
        // The deletion did not happen: the (empty) classic group is put back.
        if (g && before && !this.state.groups.has(groupId)) {
          g.state = before.state;
          g.currentStateTimestamp = before.at;
          this.state.groups.set(groupId, g);
        }
        const code = writeError(err, 'group');
        this.writeFailed('a group deletion', err, code);
        return code;
      }
      for (const rec of r.records) this.state.applyOffset(rec);
      this.state.offsets.delete(groupId);
    }
    return r.errorCode;
  }

  async deleteOffsets(groupId: string, parts: { topic: string; partition: number }[]) {
    const g = this.state.groups.get(groupId);
    const subscribed = new Set<string>();
    // The coordinator cannot read subscriptions (opaque bytes); topics with an
    // assignment-bearing member are treated as consumed while the group is active.
    if (g) for (const p of parts) if (g.members.size > 0) subscribed.add(p.topic);
    const r = this.state.deleteOffsets(groupId, parts, subscribed);
    if (r.records.length > 0) {
      try {
        await this.store.write(r.records);
      } catch (err) {
        const code = writeError(err, 'group');
        this.writeFailed('deleted offsets', err, code);
        return { errorCode: code, perPartition: r.perPartition.map(() => code), records: [] };
      }
      for (const rec of r.records) this.state.applyOffset(rec);
    }
    return r;
  }

  /**
   * Removes every group's committed offsets of partitions the cluster no
   * longer has (call after topics are deleted, and at startup): tombstones
   * are written first, then the offsets are dropped. Resolves with how many
   * were removed; rejects, keeping them, if the write fails.
   */
  async removeOffsetsOfDeletedPartitions(partitionExists: PartitionExists): Promise<number> {
    const records = this.state.offsetsOfDeletedPartitions(partitionExists);
    if (records.length === 0) return 0;
    await this.store.write(records);
    for (const rec of records) this.state.applyOffset(rec);
    return records.length;
  }

  /** Offset expiry (offsets.retention.minutes), then the removal of empty groups left with no offsets. */
  async expireOffsets(): Promise<void> {
    const records = this.state.expireOffsets(this.now());
    if (records.length > 0) {
      await this.store.write(records);
      for (const rec of records) this.state.applyOffset(rec);
    }
    const gone = this.state.expireEmptyGroups(this.now());
    if (gone.length > 0) await this.store.write(gone.map((groupId) => ({ groupId, snapshot: null })));
  }

  close(): void {
    this.closed = true;
    this.timer.close();
    this.expiryTimer?.cancel();
  }
}

/** A waiter's answer when the group write it waited for failed (an answer that is already an error stays as it is). */
function failedAnswer(a: Action, errorCode: number): Action {
  if (a.kind === 'persistGroup' || a.result.errorCode !== ErrorCode.NONE) return a;
  if (a.kind === 'join') {
    return {
      ...a,
      result: {
        ...a.result,
        errorCode,
        generationId: -1,
        protocolName: null,
        leader: '',
        skipAssignment: false,
        members: [],
      },
    };
  }
  return { ...a, result: { ...a.result, errorCode, assignment: Buffer.alloc(0) } };
}
