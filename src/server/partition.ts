/**
 * One partition this broker hosts: its log and the replication state and
 * rules around it, in one place. The handlers ask the Partition; none of
 * these rules lives in a handler.
 *
 *   role          leader or follower, from the metadata image (`update`).
 *   leader epoch  from the image; never goes backwards. Requests that carry
 *                 a current leader epoch are fenced against it (Kafka's
 *                 checkCurrentLeaderEpoch): older answers FENCED_LEADER_EPOCH,
 *                 newer UNKNOWN_LEADER_EPOCH.
 *   serving       reads and writes are served by the leader only
 *                 (NOT_LEADER_OR_FOLLOWER otherwise); a partition whose log
 *                 dir has failed answers KAFKA_STORAGE_ERROR (a full dir
 *                 keeps serving reads).
 *   high watermark  the leader's: the smallest log end offset of the ISR
 *                 (this node's own, and what followers reported). It never
 *                 passes the log end offset and never goes backwards; when it
 *                 moves, waiting fetches are woken.
 *   acks=all      refused with NOT_ENOUGH_REPLICAS when the ISR is smaller
 *                 than min.insync.replicas; otherwise a delayed operation
 *                 completes once its records are below both the high
 *                 watermark and this node's fsynced offset (with one node:
 *                 once fsynced; concurrent waiters share one fsync).
 *
 * State and rules only: no sockets; time comes from the injected clock.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { invariant, KafkaStorageError } from '../storage/errors.ts';
import type { AppendInfo, PartitionLog } from '../storage/partition-log.ts';
import type { PartitionState, TopicState } from '../metadata/image.ts';
import { DelayedOffsetOps } from './delayed-ops.ts';

export type PartitionRole = 'leader' | 'follower';

/** A request that names no current leader epoch (Kafka's NO_PARTITION_LEADER_EPOCH); any negative value skips fencing. */
export const NO_LEADER_EPOCH = -1;

export interface Clock {
  now(): number;
}

type Waiter = () => void;

export class Partition {
  private _role: PartitionRole = 'follower';
  private _leaderEpoch = -1;
  private _leaderId = -1;
  private _replicas: readonly number[] = [];
  private _isr: readonly number[] = [];
  /** min.insync.replicas of the topic (set by the replica manager as configs change). */
  minInsyncReplicas = 1;
  /** Log end offsets the other ISR members reported (by the replica fetcher, once there is one). */
  private readonly followerEnds = new Map<number, number>();
  /** Fetches waiting for the high watermark to move. */
  private readonly fetchWaiters = new Set<Waiter>();
  /** acks=all produces waiting to be acknowledged. */
  private readonly acks = new DelayedOffsetOps();
  /** A log flush was asked for the waiting acks and has not answered yet (one at a time: it covers every append before it). */
  private flushAsked = false;

  constructor(
    readonly topic: TopicState,
    readonly index: number,
    readonly log: PartitionLog,
    /** This broker's node id. */
    readonly localId: number,
    private readonly clock: Clock = Date,
  ) {}

  get role(): PartitionRole {
    return this._role;
  }

  get leaderEpoch(): number {
    return this._leaderEpoch;
  }

  get leaderId(): number {
    return this._leaderId;
  }

  get replicas(): readonly number[] {
    return this._replicas;
  }

  get isr(): readonly number[] {
    return this._isr;
  }

  get highWatermark(): number {
    return this.log.highWatermark;
  }

  /**
   * Follows the partition's state in the metadata image: this node becomes
   * leader or follower. Returns the role it now has.
   */
  update(state: PartitionState): PartitionRole {
    invariant(
      state.leaderEpoch >= this._leaderEpoch,
      () => `${this.name()}: leader epoch ${state.leaderEpoch} is older than ${this._leaderEpoch}`,
    );
    this._leaderEpoch = state.leaderEpoch;
    this._leaderId = state.leader;
    this._replicas = state.replicas;
    this._isr = state.isr;
    for (const id of this.followerEnds.keys()) if (!state.isr.includes(id)) this.followerEnds.delete(id);
    if (state.leader === this.localId) this.becomeLeader();
    else this.becomeFollower();
    return this._role;
  }

  private becomeLeader(): void {
    this._role = 'leader';
    this.maybeAdvanceHighWatermark();
    this.tryCompleteAcks();
  }

  private becomeFollower(): void {
    const was = this._role;
    this._role = 'follower';
    this.followerEnds.clear();
    // As Kafka's delayed produce: a leader that lost leadership cannot acknowledge.
    this.acks.completeAll(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (was === 'leader') this.wake();
  }

  // ---- serving rules ------------------------------------------------------------

  /** Kafka's checkCurrentLeaderEpoch. */
  checkLeaderEpoch(currentLeaderEpoch: number): number {
    if (currentLeaderEpoch < 0) return ErrorCode.NONE;
    if (currentLeaderEpoch < this._leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
    if (currentLeaderEpoch > this._leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    return ErrorCode.NONE;
  }

  /**
   * Whether this node may serve a request the leader serves (Produce, Fetch,
   * ListOffsets, OffsetForLeaderEpoch, DeleteRecords) that names
   * `currentLeaderEpoch` (negative: none): NONE, or the error to answer.
   */
  checkLeader(currentLeaderEpoch: number = NO_LEADER_EPOCH): number {
    if (this.log.dirHealth.isFailed()) return ErrorCode.KAFKA_STORAGE_ERROR;
    const fenced = this.checkLeaderEpoch(currentLeaderEpoch);
    if (fenced !== ErrorCode.NONE) return fenced;
    return this._role === 'leader' ? ErrorCode.NONE : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  /** Whether a produce with these `acks` may append here: NONE, or the error to answer (nothing appended). */
  checkAppend(requiredAcks: number): number {
    const code = this.checkLeader();
    if (code !== ErrorCode.NONE) return code;
    if (requiredAcks === -1 && this._isr.length < this.minInsyncReplicas) return ErrorCode.NOT_ENOUGH_REPLICAS;
    return ErrorCode.NONE;
  }

  // ---- writes ---------------------------------------------------------------------

  /**
   * Appends validated batches as leader (stamped with the leader epoch, and
   * the clock's time for LogAppendTime topics) and advances the high
   * watermark. Throws KafkaStorageError, nothing appended, when the log dir
   * is full or failed. Call `checkAppend` first.
   */
  appendAsLeader(records: Buffer): AppendInfo {
    invariant(this._role === 'leader', () => `${this.name()}: append as leader on a ${this._role}`);
    const logAppendTime = this.log.config.messageTimestampType === 'LogAppendTime' ? this.clock.now() : undefined;
    const info = this.log.append(records, { leaderEpoch: this._leaderEpoch, logAppendTime });
    this.maybeAdvanceHighWatermark();
    return info;
  }

  /**
   * A delayed acks=all: resolves with NONE once every offset below
   * `endOffset` is acknowledged (below the high watermark and fsynced here),
   * or with the error the produce fails with: KAFKA_STORAGE_ERROR (not known
   * durable), NOT_ENOUGH_REPLICAS_AFTER_APPEND (the ISR shrank below
   * min.insync.replicas meanwhile), NOT_LEADER_OR_FOLLOWER (leadership lost).
   */
  waitForAcks(endOffset: number): Promise<number> {
    if (endOffset <= this.ackedOffset()) return Promise.resolve(this.ackCode());
    const op = this.acks.add(endOffset);
    this.askFlush();
    return op;
  }

  /** Asks the log to fsync up to the last waiting acks=all (concurrent appends share the fsync). */
  private askFlush(): void {
    if (this.flushAsked || this.acks.size === 0 || this.acks.lastOffset <= this.log.recoveryPoint) return;
    this.flushAsked = true;
    this.log.flushedUpTo(this.acks.lastOffset).then(this.onFlushed, this.onFlushFailed);
  }

  /** What acks=all has reached: below the high watermark and fsynced on this node. */
  private ackedOffset(): number {
    return Math.min(this.log.highWatermark, this.log.recoveryPoint);
  }

  private ackCode(): number {
    return this._isr.length < this.minInsyncReplicas ? ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND : ErrorCode.NONE;
  }

  private tryCompleteAcks(): void {
    if (this.acks.size > 0 && this._role === 'leader') this.acks.completeUpTo(this.ackedOffset(), this.ackCode());
  }

  private readonly onFlushed = (): void => {
    this.flushAsked = false;
    this.tryCompleteAcks();
    this.askFlush(); // appended while that fsync ran
  };

  private readonly onFlushFailed = (err: unknown): void => {
    this.flushAsked = false;
    // What the fsyncs reached is acknowledged; the rest is not known durable. A failed fsync
    // fails the dir for good, so nothing above the point reached can be acknowledged later.
    this.tryCompleteAcks();
    if (err instanceof KafkaStorageError) this.acks.completeAll(ErrorCode.KAFKA_STORAGE_ERROR);
    else this.acks.failAll(err);
  };

  // ---- the high watermark ---------------------------------------------------------

  /** A follower in the ISR has everything below `logEndOffset` (reported by its fetches). */
  updateFollowerEndOffset(replicaId: number, logEndOffset: number): void {
    if (this._role !== 'leader' || !this._isr.includes(replicaId) || replicaId === this.localId) return;
    this.followerEnds.set(replicaId, Math.max(this.followerEnds.get(replicaId) ?? 0, logEndOffset));
    this.maybeAdvanceHighWatermark();
  }

  /**
   * The leader's rule: the high watermark is the smallest log end offset in
   * the ISR; a member that reported nothing yet holds it where it is.
   * Returns whether it moved (waiting fetches and acks were then checked).
   */
  maybeAdvanceHighWatermark(): boolean {
    if (this._role !== 'leader') return false;
    const old = this.log.highWatermark;
    let hw = this.log.logEndOffset;
    for (const id of this._isr) {
      if (id === this.localId) continue;
      const end = this.followerEnds.get(id);
      if (end === undefined) return false;
      if (end < hw) hw = end;
    }
    if (hw <= old) return false;
    invariant(
      hw <= this.log.logEndOffset,
      () => `${this.name()}: high watermark ${hw} above log end offset ${this.log.logEndOffset}`,
    );
    this.log.setHighWatermark(hw);
    this.wake();
    this.tryCompleteAcks();
    return true;
  }

  // ---- waiting fetches ------------------------------------------------------------

  /** Wakes `w` when the high watermark moves (or the partition stops being served). */
  watch(w: Waiter): void {
    this.fetchWaiters.add(w);
  }

  unwatch(w: Waiter): void {
    this.fetchWaiters.delete(w);
  }

  /** Wakes every waiting fetch (a waiter may unwatch while being woken). */
  wake(): void {
    if (this.fetchWaiters.size === 0) return;
    for (const w of [...this.fetchWaiters]) w();
  }

  /** No longer hosted here (topic deleted, or this node left the replica set): waiting fetches answer now. */
  stop(): void {
    this.wake();
    this.fetchWaiters.clear();
  }

  private name(): string {
    return `${this.topic.name}-${this.index}`;
  }
}
