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
 *
 * On a cluster (`hostElectedPartitionsOnly`) the coordinator hosts only the
 * groups of the __consumer_offsets partitions this node leads, as Kafka's:
 * a group belongs to partition abs(javaHashCode(groupId)) % partitions.
 * When this node is elected leader of a partition (`onElection`), the
 * partition's groups and committed offsets are loaded from its log
 * (COORDINATOR_LOAD_IN_PROGRESS meanwhile); when it resigns
 * (`onResignation`), they are unloaded. Requests for groups of other
 * partitions answer NOT_COORDINATOR, so the client asks FindCoordinator again.
 */
import { ErrorCode, errorName } from '../../protocol/error-codes.ts';
import { LogLimiter } from '../../util/log-limiter.ts';
import { systemEnv, type Env, type TimerHandle } from '../../util/env.ts';
import { DeadlineTimer } from './deadline-timer.ts';
import { partitionForGroup } from './offsets-records.ts';
import type { ConsumerGroupService } from './consumer/service.ts';
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
  /** Appends offset and group records (in order); resolves once they are durable (on every in-sync replica, fsynced here), rejects with the Kafka error in `errorCode`. */
  write(records: (OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]): Promise<void>;
  /**
   * Everything persisted so far, in log order: of every partition (startup
   * of a coordinator that hosts every group), or of one __consumer_offsets
   * partition (its loading, when this node is elected its leader).
   */
  load(partition?: number): Promise<LoadedRecord[]>;
  /** Appends the offsets of a transaction as the producer's transactional batch (TxnOffsetCommit); acknowledged as `write`. */
  writeTxn?(records: OffsetRecord[], producerId: number, producerEpoch: number, valid?: () => boolean): Promise<void>;
}

/**
 * A record read back from __consumer_offsets: a group or offset record
 * (`txnProducer`: written by that producer's transaction, it counts once
 * the transaction commits), or a transaction marker.
 */
export type LoadedRecord =
  | (OffsetRecord & { txnProducer?: number })
  | { groupId: string; snapshot: GroupSnapshot | null }
  | { txnMarker: { producerId: number; commit: boolean } };

/** What the service logs with (pino's shape). */
export interface CoordinatorLogger {
  warn(fields: object, msg: string): void;
  info?(fields: object, msg: string): void;
}

/** What a coordinator on a cluster knows of __consumer_offsets (see `hostElectedPartitionsOnly`). */
export interface OffsetsPartitioning {
  /** The number of __consumer_offsets partitions (offsets.topic.num.partitions before the topic exists). */
  partitionCount(): number;
  /** Whether the metadata names this node leader of the partition (its hosting and loading may still be on the way). */
  isLeader(partition: number): boolean;
  /** Whether the cluster has this partition: after a load, the offsets of deleted partitions are removed. */
  partitionExists?: PartitionExists;
}

/** A __consumer_offsets partition whose groups this coordinator hosts: being loaded from the log, or loaded. */
interface HostedPartition {
  readonly partition: number;
  /** The partition's leader epoch in which this node was elected. */
  readonly leaderEpoch: number;
  loaded: boolean;
  /** Settles when the load is over (loaded, failed, or given up because leadership moved on). */
  done: Promise<void>;
}

/** Without partitioning (one coordinator for every group: the state machine's unit tests), every group is hosted. */
const EVERY_GROUP: HostedPartition = { partition: -1, leaderEpoch: -1, loaded: true, done: Promise.resolve() };

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
  /** Null: every group is hosted here. */
  private partitioning: OffsetsPartitioning | null = null;
  /** The __consumer_offsets partitions this coordinator hosts, by partition. */
  private readonly hosted = new Map<number, HostedPartition>();

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

  // ---- which groups this coordinator hosts --------------------------------------

  /**
   * From now on this coordinator hosts only the groups of the
   * __consumer_offsets partitions it is elected for (`onElection`, until
   * `onResignation`); it starts with none. Without this call it hosts every
   * group (`load` reads them all).
   */
  hostElectedPartitionsOnly(partitioning: OffsetsPartitioning): void {
    this.partitioning = partitioning;
    this.scheduleExpiry();
  }

  /** KIP-848 groups live beside classic groups (one id namespace) and are hosted by the same rule. */
  attachConsumerGroups(consumerGroups: ConsumerGroupService): void {
    this.state.consumerGroups = consumerGroups.state;
    consumerGroups.coordinatorError = (groupId) => this.coordinatorError(groupId);
  }

  /** The group's __consumer_offsets partition (-1 when every group is hosted here). */
  partitionFor(groupId: string): number {
    return this.partitioning ? partitionForGroup(groupId, this.partitioning.partitionCount()) : -1;
  }

  private hostOf(groupId: string): HostedPartition | undefined {
    return this.partitioning ? this.hosted.get(this.partitionFor(groupId)) : EVERY_GROUP;
  }

  /**
   * NONE when this coordinator serves the group; otherwise the error its
   * group APIs answer: COORDINATOR_LOAD_IN_PROGRESS while its partition is
   * being loaded (or this node was just made its leader and the partition
   * is not hosted yet), NOT_COORDINATOR when this node does not lead it. An
   * empty group id is left to each API's validation (INVALID_GROUP_ID).
   */
  coordinatorError(groupId: string): number {
    if (groupId === '') return ErrorCode.NONE;
    const h = this.hostOf(groupId);
    if (h) return h.loaded ? ErrorCode.NONE : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return this.partitioning?.isLeader(this.partitionFor(groupId))
      ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS
      : ErrorCode.NOT_COORDINATOR;
  }

  /** Whether some hosted partition is still being loaded. */
  get loading(): boolean {
    for (const h of this.hosted.values()) if (!h.loaded) return true;
    return false;
  }

  /** The partitions hosted here, and whether each is loaded. */
  hostedPartitions(): { partition: number; leaderEpoch: number; loaded: boolean }[] {
    return [...this.hosted.values()]
      .map(({ partition, leaderEpoch, loaded }) => ({ partition, leaderEpoch, loaded }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Settles once the partition's current load is over (at once when it is loaded or not hosted). */
  whenLoaded(partition: number): Promise<void> {
    return this.hosted.get(partition)?.done ?? Promise.resolve();
  }

  /**
   * This node became leader of `partition` in `leaderEpoch`: its groups and
   * committed offsets are loaded from the partition's log (Kafka's
   * loading); its groups answer COORDINATOR_LOAD_IN_PROGRESS until then.
   * The same epoch again (an ISR change) changes nothing; a newer one
   * reloads, since another leader may have written meanwhile. Never
   * rejects: a failed load is logged and the partition is not hosted.
   */
  onElection(partition: number, leaderEpoch: number): Promise<void> {
    if (!this.partitioning || this.closed) return Promise.resolve();
    const cur = this.hosted.get(partition);
    if (cur && cur.leaderEpoch >= leaderEpoch) return cur.done;
    if (cur) this.unloadGroups(partition);
    const h: HostedPartition = { partition, leaderEpoch, loaded: false, done: Promise.resolve() };
    this.hosted.set(partition, h);
    h.done = this.loadPartition(h, this.partitioning);
    return h.done;
  }

  private async loadPartition(h: HostedPartition, p: OffsetsPartitioning): Promise<void> {
    const { partition, leaderEpoch } = h;
    const started = this.now();
    let records: Awaited<ReturnType<GroupStore['load']>>;
    try {
      records = await this.store.load(partition);
    } catch (err) {
      if (this.hosted.get(partition) !== h) return; // no longer led here: the read was cut short by it
      this.hosted.delete(partition);
      this.logger?.warn(
        { err, partition, leaderEpoch },
        `could not load the groups of __consumer_offsets-${partition}: not coordinating them until it is led here again`,
      );
      return;
    }
    // resigned, elected again, or closed while the log was read
    if (this.hosted.get(partition) !== h || this.closed) return;
    const now = this.now();
    const count = p.partitionCount();
    let groups = 0;
    let offsets = 0;
    const inPartition = (groupId: string) => partitionForGroup(groupId, count) === partition;
    for (const r of records) {
      if ('txnMarker' in r) {
        this.completeTxn(r.txnMarker.producerId, r.txnMarker.commit, inPartition);
        continue;
      }
      if (!inPartition(r.groupId)) continue;
      if (!('snapshot' in r) && r.txnProducer !== undefined) {
        this.addPendingTxnOffset(r.txnProducer, r);
        continue;
      }
      if ('snapshot' in r) {
        this.state.applyGroup(r.groupId, r.snapshot, now);
        groups++;
      } else {
        this.state.applyOffset(r);
        offsets++;
      }
    }
    h.loaded = true;
    this.schedule();
    if (groups + offsets > 0)
      this.logger?.info?.(
        { partition, leaderEpoch, groupRecords: groups, offsetRecords: offsets, ms: now - started },
        `loaded the groups of __consumer_offsets-${partition}`,
      );
    if (p.partitionExists) {
      await this.removeOffsetsOfDeletedPartitions(p.partitionExists).catch((err) =>
        this.writeFailed('the removal of offsets of deleted topics', err, writeError(err, 'offsets')),
      );
    }
  }

  /**
   * This node no longer leads `partition` (another broker does, or nobody):
   * its groups and committed offsets are dropped here (Kafka's unloading)
   * and their requests answer NOT_COORDINATOR; JoinGroup and SyncGroup
   * requests waiting in a rebalance are answered so at once.
   */
  onResignation(partition: number): void {
    if (!this.partitioning || !this.hosted.delete(partition)) return;
    this.unloadGroups(partition);
    this.logger?.info?.({ partition }, `unloaded the groups of __consumer_offsets-${partition}`);
  }

  private unloadGroups(partition: number): void {
    const count = this.partitioning!.partitionCount();
    const belongs = (groupId: string) => partitionForGroup(groupId, count) === partition;
    this.dropPendingTxnOffsets(belongs);
    this.run(this.state.unload(belongs, this.now()));
    this.state.consumerGroups?.unload(belongs);
  }

  // ---- requests ------------------------------------------------------------------

  async load(): Promise<void> {
    const now = this.now();
    for (const r of await this.store.load()) {
      if ('txnMarker' in r) this.completeTxn(r.txnMarker.producerId, r.txnMarker.commit, () => true);
      else if ('snapshot' in r) this.state.applyGroup(r.groupId, r.snapshot, now);
      else if (r.txnProducer !== undefined) this.addPendingTxnOffset(r.txnProducer, r);
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
    const refused = this.coordinatorError(a.groupId);
    if (refused !== ErrorCode.NONE) {
      return Promise.resolve({
        errorCode: refused,
        generationId: -1,
        protocolType: null,
        protocolName: null,
        leader: '',
        skipAssignment: false,
        memberId: a.memberId,
        members: [],
      });
    }
    const token = this.nextToken++;
    const p = new Promise<JoinResult>((resolve) => this.joinWaiters.set(token, resolve));
    this.run(this.state.join(a, token, this.now()));
    return p;
  }

  sync(a: SyncArgs): Promise<SyncResult> {
    const refused = this.coordinatorError(a.groupId);
    if (refused !== ErrorCode.NONE)
      return Promise.resolve({
        errorCode: refused,
        protocolType: null,
        protocolName: null,
        assignment: Buffer.alloc(0),
      });
    const token = this.nextToken++;
    const p = new Promise<SyncResult>((resolve) => this.syncWaiters.set(token, resolve));
    this.run(this.state.sync(a, token, this.now()));
    return p;
  }

  heartbeat(groupId: string, memberId: string, groupInstanceId: string | null, generationId: number): number {
    const refused = this.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const code = this.state.heartbeat(groupId, memberId, groupInstanceId, generationId, this.now());
    this.schedule();
    return code;
  }

  /** LeaveGroup; when this node does not coordinate the group, the error comes without per-member results. */
  leave(groupId: string, members: { memberId: string; groupInstanceId: string | null }[]) {
    const refused = this.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return { groupError: refused, results: [] as number[] };
    const r = this.state.leave(groupId, members, this.now());
    this.run(r.actions);
    return { groupError: r.groupError, results: r.results };
  }

  /** OffsetCommit; `partitionExists` (the broker's metadata) refuses partitions the cluster does not have. */
  async commitOffsets(
    a: OffsetCommitArgs,
    partitionExists?: PartitionExists,
  ): Promise<{ errorCode: number; perPartition: number[] }> {
    const refused = this.coordinatorError(a.groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, perPartition: a.offsets.map(() => refused) };
    const host = this.hostOf(a.groupId);
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
      // Written, but the group moved to another coordinator meanwhile: that one reads the offsets from the log.
      if (this.hostOf(a.groupId) !== host) return { errorCode: r.errorCode, perPartition: r.perPartition };
      for (const rec of r.records) this.state.applyOffset(rec);
      // A topic deleted while the commit was being written: its offsets go too.
      if (partitionExists && r.records.some((rec) => !partitionExists(rec.topic, rec.partition))) {
        await this.removeOffsetsOfDeletedPartitions(partitionExists);
      }
    }
    return { errorCode: r.errorCode, perPartition: r.perPartition };
  }

  /**
   * TxnOffsetCommit: validated as an offset commit (group, member,
   * generation), written as the producer's transactional batch, and held
   * pending: the offsets count once the transaction's COMMIT marker reaches
   * the group's __consumer_offsets partition (`completeTxn`).
   */
  async txnCommitOffsets(
    a: OffsetCommitArgs & { producerId: number; producerEpoch: number },
    partitionExists?: PartitionExists,
    /** KIP-890 part 1: false once the verified transaction was ended on the partition (INVALID_TXN_STATE). */
    valid?: () => boolean,
  ): Promise<{ errorCode: number; perPartition: number[] }> {
    const refused = this.coordinatorError(a.groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, perPartition: a.offsets.map(() => refused) };
    const host = this.hostOf(a.groupId);
    const r = this.state.commitOffsets(a, this.now(), partitionExists);
    this.schedule();
    if (r.records.length > 0) {
      try {
        if (!this.store.writeTxn) throw Object.assign(new Error('no transactional writes'), { errorCode: -1 });
        await this.store.writeTxn(r.records, a.producerId, a.producerEpoch, valid);
      } catch (err) {
        const fenced = kafkaErrorOf(err);
        const code =
          fenced === ErrorCode.PRODUCER_FENCED || fenced === ErrorCode.INVALID_PRODUCER_EPOCH
            ? fenced
            : writeError(err, 'offsets');
        this.writeFailed('transactional offsets', err, code);
        return { errorCode: code, perPartition: r.perPartition.map((c) => (c === ErrorCode.NONE ? code : c)) };
      }
      if (this.hostOf(a.groupId) !== host) return { errorCode: r.errorCode, perPartition: r.perPartition };
      for (const rec of r.records) this.addPendingTxnOffset(a.producerId, rec);
    }
    return { errorCode: r.errorCode, perPartition: r.perPartition };
  }

  /** Offsets written by transactions not ended yet, by producer id (Kafka's pending transactional offsets). */
  private readonly pendingTxnOffsets = new Map<number, OffsetRecord[]>();

  private addPendingTxnOffset(producerId: number, r: OffsetRecord): void {
    let l = this.pendingTxnOffsets.get(producerId);
    if (!l) this.pendingTxnOffsets.set(producerId, (l = []));
    l.push(r);
  }

  private dropPendingTxnOffsets(belongs: (groupId: string) => boolean): void {
    for (const [pid, l] of this.pendingTxnOffsets) {
      const kept = l.filter((r) => !belongs(r.groupId));
      if (kept.length === 0) this.pendingTxnOffsets.delete(pid);
      else this.pendingTxnOffsets.set(pid, kept);
    }
  }

  /** Whether offsets of a transaction not ended yet are pending for the group's partition (OffsetFetch require_stable). */
  hasPendingTxnOffsets(groupId: string, topic: string, partition: number): boolean {
    for (const l of this.pendingTxnOffsets.values())
      if (l.some((r) => r.groupId === groupId && r.topic === topic && r.partition === partition)) return true;
    return false;
  }

  /**
   * A transaction marker of `producerId` was written to a __consumer_offsets
   * partition (`belongs`: its groups): the producer's pending offsets of
   * those groups become committed offsets (COMMIT) or are dropped (ABORT).
   */
  completeTxn(producerId: number, commit: boolean, belongs: (groupId: string) => boolean): void {
    const l = this.pendingTxnOffsets.get(producerId);
    if (!l) return;
    const kept: OffsetRecord[] = [];
    for (const r of l) {
      if (!belongs(r.groupId)) kept.push(r);
      else if (commit) this.state.applyOffset(r);
    }
    if (kept.length === 0) this.pendingTxnOffsets.delete(producerId);
    else this.pendingTxnOffsets.set(producerId, kept);
  }

  /** completeTxn for the groups of __consumer_offsets partition `partition` (a marker written there). */
  completeTxnOnPartition(producerId: number, commit: boolean, partition: number): void {
    const p = this.partitioning;
    const count = p?.partitionCount() ?? 0;
    this.completeTxn(producerId, commit, (g) => !p || partitionForGroup(g, count) === partition);
  }

  async deleteGroup(groupId: string): Promise<number> {
    const refused = this.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return refused;
    const host = this.hostOf(groupId);
    const g = this.state.groups.get(groupId);
    const before = g && { state: g.state, at: g.currentStateTimestamp };
    const r = this.state.deleteGroup(groupId, this.now());
    if (r.errorCode === 0) {
      try {
        await this.store.write([...r.records, { groupId, snapshot: null }]);
      } catch (err) {
        // The deletion did not happen: the (empty) classic group is put back, if it is still hosted here.
        if (g && before && !this.state.groups.has(groupId) && this.hostOf(groupId) === host) {
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
    const refused = this.coordinatorError(groupId);
    if (refused !== ErrorCode.NONE) return { errorCode: refused, perPartition: [] as number[], records: [] };
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
