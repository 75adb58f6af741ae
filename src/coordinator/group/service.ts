/**
 * The group coordinator's edge: owns the clock and timers, holds the
 * promises of requests that wait (JoinGroup, SyncGroup), and persists what
 * the state machine decides to the __consumer_offsets log before answering.
 *
 * Persistence goes through `GroupStore` (implemented over a partition log of
 * __consumer_offsets by the broker), so this file knows nothing of storage
 * formats or the network.
 */
import { DeadlineTimer } from './deadline-timer.ts';
import { GroupCoordinatorState, type CoordinatorConfig, type OffsetCommitArgs, type OffsetRecord, type PartitionExists } from './group-coordinator.ts';
import type { Action, GroupSnapshot, JoinArgs, JoinResult, SyncArgs, SyncResult, Token } from './types.ts';

const NOT_COORDINATOR = 16;

/** The store's log dir is full or failed (the storage engine's KafkaStorageError, by its code). */
function isStorageError(err: unknown): boolean {
  return (err as { errorCode?: unknown } | null)?.errorCode === 'KAFKA_STORAGE_ERROR';
}

export interface GroupStore {
  /** Durably appends offset and group records (in order); resolves when written. */
  write(records: (OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]): Promise<void>;
  /** Everything persisted so far, in log order (startup). */
  load(): Promise<(OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]>;
}

export class GroupCoordinatorService {
  readonly state: GroupCoordinatorState;
  private readonly joinWaiters = new Map<Token, (r: JoinResult) => void>();
  private readonly syncWaiters = new Map<Token, (r: SyncResult) => void>();
  private nextToken = 1;
  private readonly timer: DeadlineTimer;
  private expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    config: CoordinatorConfig,
    private readonly store: GroupStore,
    private readonly now: () => number = Date.now,
  ) {
    this.state = new GroupCoordinatorState(config);
    this.timer = new DeadlineTimer(() => this.run(this.state.tick(this.now())), now);
  }

  async load(): Promise<void> {
    const now = this.now();
    for (const r of await this.store.load()) {
      if ('snapshot' in r) this.state.applyGroup(r.groupId, r.snapshot, now);
      else this.state.applyOffset(r);
    }
    this.schedule();
    // Offset expiry runs every 10 minutes as in Kafka (offsets.retention.check.interval.ms).
    this.expiryTimer = setInterval(() => {
      // A full or failed log dir (logged once by the storage engine): expiry runs again next time.
      this.expireOffsets().catch((err) => {
        if (!isStorageError(err)) throw err;
      });
    }, 600_000);
    this.expiryTimer.unref();
  }

  /** Carries out the state machine's actions: answers waiters, persists groups. */
  private run(actions: Action[]): void {
    const persists: { groupId: string; snapshot: GroupSnapshot | null }[] = [];
    for (const a of actions) {
      if (a.kind === 'persistGroup') persists.push({ groupId: a.groupId, snapshot: a.snapshot });
    }
    const answer = () => {
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
    if (persists.length > 0) this.store.write(persists).then(answer, answer);
    else answer();
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
  async commitOffsets(a: OffsetCommitArgs, partitionExists?: PartitionExists): Promise<{ errorCode: number; perPartition: number[] }> {
    const r = this.state.commitOffsets(a, this.now(), partitionExists);
    this.schedule();
    if (r.records.length > 0) {
      try {
        await this.store.write(r.records);
      } catch (err) {
        // As Kafka: offsets that could not be written answer NOT_COORDINATOR (the client retries).
        if (!isStorageError(err)) throw err;
        return { errorCode: NOT_COORDINATOR, perPartition: r.perPartition.map((c) => (c === 0 ? NOT_COORDINATOR : c)) };
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
    const r = this.state.deleteGroup(groupId, this.now());
    if (r.errorCode === 0) {
      await this.store.write([...r.records, { groupId, snapshot: null }]);
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
      await this.store.write(r.records);
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
    this.timer.close();
    if (this.expiryTimer) clearInterval(this.expiryTimer);
  }
}
