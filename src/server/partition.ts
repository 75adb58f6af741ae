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
 *   followers     the leader serves followers' fetches (up to its log end
 *                 offset) and records each follower's fetch offset: that
 *                 follower has everything below it, fsynced (it fetches only
 *                 from its fsynced end). As follower, this node appends the
 *                 leader's batches as they are, truncates a divergent tail,
 *                 and takes the leader's high watermark up to its own end.
 *   transactions  the last stable offset comes from the log's producer
 *                 state; the leader appends COMMIT/ABORT markers for the
 *                 transaction coordinator (`writeTxnMarker`), fenced by
 *                 producer and coordinator epochs, acknowledged as acks=all.
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
import { encodeTxnMarkerBatch } from '../protocol/records/control.ts';

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
  private _partitionEpoch = -1;
  private _replicas: readonly number[] = [];
  private _isr: readonly number[] = [];
  /**
   * Told when a follower outside the ISR may join it (its fetch reached the
   * high watermark in this leader epoch): the ISR manager asks the
   * controller to expand the ISR. Must not throw.
   */
  onIsrCandidate: ((p: Partition) => void) | undefined;
  /** min.insync.replicas of the topic (set by the replica manager as configs change). */
  minInsyncReplicas = 1;
  /**
   * Kafka's maximal ISR: replicas this leader asked the controller to add to
   * the ISR, or that the controller's answer names in it, which the image
   * here does not show yet (until partition epoch `until`). The controller
   * may have committed them and may elect one of them before this node
   * learns it, so the high watermark counts them from the request on.
   */
  private pendingIsr: { members: number[]; until: number } | null = null;
  /** Log end offsets the other replicas reported with their fetches (this node leading). */
  private readonly followerEnds = new Map<number, number>();
  /**
   * When each other replica last had everything the leader had (Kafka's
   * lastCaughtUpTimeMs): the ISR shrinks by followers not caught up for
   * replica.lag.time.max.ms.
   */
  private readonly caughtUpAt = new Map<number, number>();
  /** The leader's log end offset when each replica's previous fetch came, and that fetch's time. */
  private readonly previousFetch = new Map<number, { leo: number; at: number }>();
  /** Fetches waiting for the high watermark to move. */
  private readonly fetchWaiters = new Set<Waiter>();
  /** Follower fetches waiting for an append. */
  private readonly appendWaiters = new Set<Waiter>();
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

  /** The partition epoch of the state this node follows (AlterPartition names it). */
  get partitionEpoch(): number {
    return this._partitionEpoch;
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

  /** read_committed consumers read below this (see PartitionLog.lastStableOffset). */
  get lastStableOffset(): number {
    return this.log.lastStableOffset;
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
    this._partitionEpoch = state.partitionEpoch;
    this._replicas = state.replicas;
    this._isr = state.isr;
    if (this.pendingIsr && (state.leader !== this.localId || state.partitionEpoch >= this.pendingIsr.until))
      this.pendingIsr = null;
    for (const id of this.followerEnds.keys()) if (!state.replicas.includes(id)) this.followerEnds.delete(id);
    if (state.leader === this.localId) this.becomeLeader();
    else this.becomeFollower();
    return this._role;
  }

  private becomeLeader(): void {
    if (this._role !== 'leader') {
      // a new leader gives every follower replica.lag.time.max.ms from now to catch up (as Kafka)
      const now = this.clock.now();
      this.caughtUpAt.clear();
      this.previousFetch.clear();
      for (const id of this._replicas) if (id !== this.localId) this.caughtUpAt.set(id, now);
    }
    this._role = 'leader';
    this.maybeAdvanceHighWatermark();
    this.tryCompleteAcks();
  }

  private becomeFollower(): void {
    const was = this._role;
    this._role = 'follower';
    this.followerEnds.clear();
    this.caughtUpAt.clear();
    this.previousFetch.clear();
    // As Kafka's delayed produce: a leader that lost leadership cannot acknowledge.
    this.acks.completeAll(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (was === 'leader') {
      this.wake();
      this.wakeAppend();
    }
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

  /**
   * Whether this node serves a fetch from replica `replicaId`: as
   * `checkLeader`, and the replica must be in the partition's replica set
   * (NOT_LEADER_OR_FOLLOWER otherwise, as Kafka).
   */
  checkFollowerFetch(replicaId: number, currentLeaderEpoch: number): number {
    const code = this.checkLeader(currentLeaderEpoch);
    if (code !== ErrorCode.NONE) return code;
    if (replicaId === this.localId || !this._replicas.includes(replicaId)) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return ErrorCode.NONE;
  }

  /**
   * KIP-951: the leader an error answer names (current_leader), for the
   * errors that say another node leads or the epoch moved on; undefined for
   * the rest.
   */
  currentLeaderFor(errorCode: number): { leaderId: number; leaderEpoch: number } | undefined {
    if (errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER && errorCode !== ErrorCode.FENCED_LEADER_EPOCH) return undefined;
    return { leaderId: this._leaderId, leaderEpoch: this._leaderEpoch };
  }

  /**
   * KIP-595's divergence check of a follower fetch at `fetchOffset` whose
   * last fetched batch had `lastFetchedEpoch`: when this log's end of that
   * epoch is below the fetch offset, or this log has no such epoch, the
   * follower's log diverged: the epoch and end offset to truncate to.
   * Undefined when the fetch may go on (or names no epoch).
   */
  divergingEpoch(lastFetchedEpoch: number, fetchOffset: number): { epoch: number; endOffset: number } | undefined {
    if (lastFetchedEpoch < 0) return undefined;
    const e = this.endOffsetForEpoch(lastFetchedEpoch);
    if (e.epoch < lastFetchedEpoch || e.endOffset < fetchOffset) return e;
    return undefined;
  }

  /**
   * OffsetForLeaderEpoch on this replica: the largest epoch at or below
   * `epoch` and the offset where it ends. A leader's own epoch starts at its
   * log end offset when it takes over (Kafka writes it into the epoch cache
   * then; this log records an epoch with its first batch): until the leader
   * appends, an epoch above the log's latest and below the leader epoch ends
   * at the log end offset, as in Kafka, instead of being unknown.
   */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    const latest = this.log.latestEpoch;
    if (this._role === 'leader' && epoch >= 0 && epoch > latest && epoch <= this._leaderEpoch) {
      if (epoch === this._leaderEpoch || latest < 0) return { epoch, endOffset: this.log.logEndOffset };
      return { epoch: latest, endOffset: this.log.logEndOffset };
    }
    return this.log.endOffsetForEpoch(epoch);
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
    this.wakeAppend();
    return info;
  }

  /**
   * WriteTxnMarkers, per partition: as leader, appends a COMMIT or ABORT
   * marker (a control batch) closing `producerId`'s transaction and resolves
   * once it is acknowledged as acks=all, with NONE or the error code Kafka
   * answers: the serving errors of checkAppend(-1) (NOT_LEADER_OR_FOLLOWER,
   * KAFKA_STORAGE_ERROR, NOT_ENOUGH_REPLICAS), INVALID_PRODUCER_EPOCH for a
   * producer epoch older than the partition's for that producer (Kafka's
   * ProducerStateManager), TRANSACTION_COORDINATOR_FENCED for a coordinator
   * epoch older than the last marker's, and what waitForAcks answers.
   * Nothing is appended on a refusal.
   */
  writeTxnMarker(
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    coordinatorEpoch: number,
  ): Promise<number> {
    const refused = this.checkAppend(-1);
    if (refused !== ErrorCode.NONE) return Promise.resolve(refused);
    const known = this.log.producerState.get(producerId);
    if (known && producerEpoch < known.epoch) return Promise.resolve(ErrorCode.INVALID_PRODUCER_EPOCH);
    if (known && coordinatorEpoch < known.coordinatorEpoch)
      return Promise.resolve(ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    let info: AppendInfo;
    try {
      info = this.appendAsLeader(
        encodeTxnMarkerBatch({ commit, producerId, producerEpoch, coordinatorEpoch, timestamp: this.clock.now() }),
      );
    } catch (err) {
      if (err instanceof KafkaStorageError) return Promise.resolve(ErrorCode.KAFKA_STORAGE_ERROR);
      throw err;
    }
    return this.waitForAcks(info.lastOffset + 1);
  }

  /**
   * As follower: appends the leader's batches as they are (offsets and leader
   * epochs kept; see PartitionLog.appendAsFollower), then takes the leader's
   * high watermark up to the new log end offset. Throws KafkaStorageError or
   * CorruptRecordError with nothing appended.
   */
  appendAsFollower(records: Buffer, leaderHighWatermark: number): AppendInfo {
    invariant(this._role === 'follower', () => `${this.name()}: append as follower on a ${this._role}`);
    const info = this.log.appendAsFollower(records);
    this.updateFollowerHighWatermark(leaderHighWatermark);
    return info;
  }

  /**
   * As follower: the leader's high watermark, taken up to this log's end
   * offset; it never goes backwards here. Wakes waiting fetches when it moved.
   */
  updateFollowerHighWatermark(leaderHighWatermark: number): void {
    if (this._role !== 'follower') return;
    const hw = Math.min(leaderHighWatermark, this.log.logEndOffset);
    if (hw <= this.log.highWatermark) return;
    this.log.setHighWatermark(hw);
    this.wake();
  }

  /**
   * As follower: drops this log's divergent tail at and above `offset`.
   * Kafka's rule that the high watermark never passes the log end offset
   * holds: if the tail ran past the high watermark (an unclean election made
   * the leader's log shorter), the high watermark comes down with it.
   */
  truncateAsFollower(offset: number): void {
    invariant(this._role === 'follower', () => `${this.name()}: truncation on a ${this._role}`);
    if (offset >= this.log.logEndOffset) return;
    const to = Math.max(offset, this.log.logStartOffset);
    if (to < this.log.highWatermark) this.log.setHighWatermark(to);
    this.log.truncateTo(to);
  }

  /**
   * As follower: drops the whole log and starts it empty at `offset` (the
   * leader's log starts after this log's end, or a first batch straddles
   * this empty log's start). See PartitionLog.truncateFullyAndStartAt.
   */
  truncateFullyAsFollower(offset: number): void {
    invariant(this._role === 'follower', () => `${this.name()}: truncation on a ${this._role}`);
    this.log.truncateFullyAndStartAt(offset);
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

  /**
   * A follower has everything below `logEndOffset`, fsynced (its fetch
   * offset). Also the follower's caught-up time, as Kafka's
   * updateFollowerFetchState: caught up now when it reached the leader's log
   * end offset, or caught up as of its previous fetch when it reached the
   * log end offset the leader had then.
   */
  updateFollowerEndOffset(replicaId: number, logEndOffset: number): void {
    if (this._role !== 'leader' || replicaId === this.localId || !this._replicas.includes(replicaId)) return;
    const now = this.clock.now();
    const leo = this.log.logEndOffset;
    const prev = this.previousFetch.get(replicaId);
    if (logEndOffset >= leo) this.caughtUpAt.set(replicaId, now);
    else if (prev && logEndOffset >= prev.leo)
      this.caughtUpAt.set(replicaId, Math.max(this.caughtUpAt.get(replicaId) ?? 0, prev.at));
    if (prev) {
      prev.leo = leo; // kept, not reallocated: this runs for every follower fetch
      prev.at = now;
    } else this.previousFetch.set(replicaId, { leo, at: now });
    this.followerEnds.set(replicaId, logEndOffset);
    this.maybeAdvanceHighWatermark();
    if (this.onIsrCandidate && !this._isr.includes(replicaId) && this.isCaughtUp(logEndOffset))
      this.onIsrCandidate(this);
  }

  /** Kafka's isFollowerInSync: at or past the high watermark, and holding records of the current leader epoch. */
  private isCaughtUp(end: number): boolean {
    const epochStart = this.log.epochStartOffsets.get(this._leaderEpoch) ?? this.log.logEndOffset;
    return end >= this.log.highWatermark && end >= epochStart;
  }

  /** The log end offset replica `replicaId` reported last (-1: none), this node leading. */
  followerEndOffset(replicaId: number): number {
    return this.followerEnds.get(replicaId) ?? -1;
  }

  /** When replica `replicaId` last had everything this leader had (undefined: not known), this node leading. */
  followerCaughtUpAt(replicaId: number): number | undefined {
    return this.caughtUpAt.get(replicaId);
  }

  /**
   * The ISR manager asks the controller for `newIsr`: its new members count
   * in the high watermark from now on, until the image shows the change (or
   * a later one), or the controller's answer says otherwise.
   */
  isrChangeProposed(newIsr: readonly number[]): void {
    if (this._role !== 'leader') return;
    const members = this.pendingIsr?.members ?? [];
    for (const id of newIsr) if (!this._isr.includes(id) && !members.includes(id)) members.push(id);
    const until = Math.max(this.pendingIsr?.until ?? 0, this._partitionEpoch + 1);
    this.pendingIsr = members.length > 0 ? { members, until } : null;
  }

  /**
   * The controller answered an ISR change (accepted or not) with the
   * partition's state as it stands there: until the image here reaches that
   * partition epoch, the answer's ISR members count in the high watermark.
   */
  isrChangeAnswered(answer: { leaderEpoch: number; isr: readonly number[]; partitionEpoch: number }): void {
    if (this._role !== 'leader' || answer.leaderEpoch !== this._leaderEpoch) return;
    const members = answer.isr.filter((id) => id !== this.localId && !this._isr.includes(id));
    this.pendingIsr =
      members.length > 0 && answer.partitionEpoch > this._partitionEpoch
        ? { members, until: answer.partitionEpoch }
        : null;
    this.maybeAdvanceHighWatermark();
  }

  /**
   * The ISR members (other than this leader) that have not caught up with
   * the leader for longer than `maxLagMs` (replica.lag.time.max.ms): the
   * ISR shrinks by them.
   */
  laggingReplicas(maxLagMs: number): number[] {
    if (this._role !== 'leader') return [];
    const now = this.clock.now();
    const out: number[] = [];
    for (const id of this.pendingIsr ? [...this._isr, ...this.pendingIsr.members] : this._isr) {
      if (id === this.localId) continue;
      const at = this.caughtUpAt.get(id) ?? now;
      if (now - at > maxLagMs) out.push(id);
    }
    return out;
  }

  /**
   * Replicas outside the ISR that may join it (Kafka's isFollowerInSync): they
   * reached the high watermark and have records of the current leader epoch
   * (their end is at or past this epoch's first offset).
   */
  caughtUpReplicas(): number[] {
    if (this._role !== 'leader') return [];
    const out: number[] = [];
    for (const id of this._replicas) {
      if (id === this.localId || this._isr.includes(id)) continue;
      const end = this.followerEnds.get(id);
      if (end !== undefined && this.isCaughtUp(end)) out.push(id);
    }
    return out;
  }

  /**
   * The leader's rule: the high watermark is the smallest log end offset in
   * the ISR (with the members an ISR change may have added meanwhile); a
   * member that reported nothing yet holds it where it is.
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
    if (this.pendingIsr) {
      for (const id of this.pendingIsr.members) {
        const end = this.followerEnds.get(id);
        if (end === undefined) return false;
        if (end < hw) hw = end;
      }
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

  /**
   * Wakes `w` when the high watermark moves (or the partition stops being
   * served); with `onAppend` (a follower's fetch), also when records are appended.
   */
  watch(w: Waiter, onAppend = false): void {
    this.fetchWaiters.add(w);
    if (onAppend) this.appendWaiters.add(w);
  }

  unwatch(w: Waiter): void {
    this.fetchWaiters.delete(w);
    this.appendWaiters.delete(w);
  }

  private wakeAppend(): void {
    if (this.appendWaiters.size === 0) return;
    for (const w of [...this.appendWaiters]) w();
  }

  /** Wakes every waiting fetch (a waiter may unwatch while being woken). */
  wake(): void {
    if (this.fetchWaiters.size === 0) return;
    for (const w of [...this.fetchWaiters]) w();
  }

  /** No longer hosted here (topic deleted, or this node left the replica set): waiting fetches answer now. */
  stop(): void {
    this.wake();
    this.wakeAppend();
    this.fetchWaiters.clear();
    this.appendWaiters.clear();
  }

  private name(): string {
    return `${this.topic.name}-${this.index}`;
  }
}
