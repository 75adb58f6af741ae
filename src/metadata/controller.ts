/**
 * The controller, on the metadata quorum (src/metadata/quorum.ts). Every node
 * runs one: it keeps the node's metadata image, which changes only when the
 * quorum delivers a committed batch (`onCommitted`) or a snapshot installed
 * from the leader (`onSnapshot`), the leader included, and tells the
 * listeners (the broker creates or deletes partition logs, and so on).
 *
 * Only the active controller (the quorum leader, once everything committed
 * before its epoch is delivered) decides: it validates admin requests against
 * the image, turns them into records and appends them; `append` resolves once
 * the batch is committed and delivered, so the image has it before the next
 * operation decides (one operation at a time). On any other node, or when
 * leadership is lost meanwhile, an operation is refused with NOT_CONTROLLER
 * (retriable: the broker forwards to the active controller, clients retry).
 *
 * Commit is atomic from a caller's point of view: a batch is checked against
 * the image before it is appended; a batch that was not committed leaves the
 * image unchanged and fails the request; a committed batch is applied whole
 * and the request succeeds, whatever a listener does afterwards (a listener's
 * failure is logged; the records are part of the metadata from then on, and
 * the next start acts on them).
 *
 * Each node snapshots its own image (`quorum.writeSnapshot`) once
 * metadata.log.max.record.bytes.between.snapshots were appended since the
 * last snapshot.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../protocol/error-codes.ts';
import {
  DEFAULT_MAX_BYTES_BETWEEN_SNAPSHOTS,
  type MetadataBatch,
  type MetadataSnapshot,
  MetadataStorageError,
} from './metadata-log.ts';
import type { MetadataImage, PartitionState, TopicState } from './image.ts';
import type { AccessControlEntryRecord, ClientQuotaRecord, MetadataRecord, PartitionRecord } from './records.ts';
import { type MetadataQuorum, NotControllerError, type QuorumListener } from './quorum.ts';
import {
  type BrokerHeartbeatAnswer,
  type BrokerHeartbeatInput,
  BrokerHeartbeats,
  type BrokerRegistrationInput,
  type LifecycleAnswer,
} from './broker-heartbeats.ts';
import { type Env, systemEnv, type TimerHandle } from '../util/env.ts';
import {
  decideReassignment,
  type OngoingReassignment,
  ongoingReassignments,
  reassignmentCompletions,
} from './reassignment.ts';

/** One partition of an AlterPartition request (v2 and v3 alike: broker epoch -1 where v2 names none). */
export interface AlterPartitionItem {
  topicId: string;
  partitionIndex: number;
  leaderEpoch: number;
  partitionEpoch: number;
  newIsr: { brokerId: number; brokerEpoch: number }[];
}

export interface AlterPartitionInput {
  brokerId: number;
  brokerEpoch: number;
  partitions: AlterPartitionItem[];
}

export interface AlterPartitionAnswer {
  errorCode: number;
  partitions: {
    topicId: string;
    partitionIndex: number;
    errorCode: number;
    leaderId: number;
    leaderEpoch: number;
    isr: number[];
    partitionEpoch: number;
  }[];
}

export interface ControllerResult {
  errorCode: number;
  errorMessage: string | null;
}

/** AlterPartitionReassignments input: per topic, per partition, the target replicas (null cancels). */
export interface ReassignmentInput {
  name: string;
  partitions: { partitionIndex: number; replicas: number[] | null }[];
}

export type BatchListener = (batch: MetadataRecord[]) => void | Promise<void>;

/** The answer of an operation this node cannot decide: it is not the active controller. */
export function notControllerMessage(leaderId: number): string {
  return leaderId >= 0
    ? `This node is not the active controller; the active controller is node ${leaderId}.`
    : 'This node is not the active controller, and no active controller is known (an election may be running).';
}

const LEGAL_TOPIC = /^[a-zA-Z0-9._-]+$/;
const MAX_TOPIC_LENGTH = 249;

/** Kafka's topic name rules; returns an error message or null. */
export function validateTopicName(name: string): string | null {
  if (name.length === 0) return "Topic name is illegal, it can't be empty";
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_LENGTH)
    return `Topic name is illegal, it can't be longer than ${MAX_TOPIC_LENGTH} characters`;
  if (!LEGAL_TOPIC.test(name))
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`;
  if (name.startsWith('__cluster_metadata')) return `Topic name "${name}" is reserved for the cluster metadata log`;
  return null;
}

/** Kafka treats '.' and '_' as the same in metric names, so such names collide. */
function collisionKey(name: string): string {
  return name.replace(/\./g, '_');
}

const refuseOne = (errorCode: number, errorMessage: string): ControllerResult => ({ errorCode, errorMessage });
const refuseEach =
  (n: number) =>
  (errorCode: number, errorMessage: string): ControllerResult[] =>
    Array.from({ length: n }, () => ({ errorCode, errorMessage }));

/** The fields of an ACL binding, without the record's type and id. */
function pickAcl(b: Omit<AccessControlEntryRecord, 'type' | 'id'>): Omit<AccessControlEntryRecord, 'type' | 'id'> {
  const { resourceType, resourceName, patternType, principal, host, operation, permission } = b;
  return { resourceType, resourceName, patternType, principal, host, operation, permission };
}

/** What makes two ACL bindings the same. */
function aclKey(b: Omit<AccessControlEntryRecord, 'type' | 'id'>): string {
  return JSON.stringify(Object.values(pickAcl(b)));
}

export function newTopicId(): string {
  // A random 16-byte id, never the zero id or the reserved sentinel.
  for (;;) {
    const b = randomBytes(16);
    const id = b.toString('base64url');
    if (!b.every((x) => x === 0) && !id.startsWith('AAAAAAAAAAAAAAAAAAAAA')) return id;
  }
}

export interface CreateTopicSpec {
  name: string;
  numPartitions: number; // -1 = broker default
  replicationFactor: number; // -1 = broker default
  assignments?: { partitionIndex: number; brokerIds: number[] }[];
  configs: Record<string, string | null>;
}

export interface ControllerOptions {
  nodeId: number;
  defaultPartitions: number;
  defaultReplicationFactor: number;
  validateConfig: (name: string, value: string) => string | null;
  /** samsa.max.topics: topics in the cluster (unlimited when absent). */
  maxTopics?: number;
  /** samsa.max.partitions: partition replicas on one broker (unlimited when absent). */
  maxPartitions?: number;
  /** metadata.log.max.record.bytes.between.snapshots: a snapshot is written once the log grew this much since the last. */
  maxRecordBytesBetweenSnapshots?: number;
  /** unclean.leader.election.enable of this node's static config (topic and dynamic broker configs override it). */
  uncleanLeaderElectionEnable?: boolean;
  /**
   * The cluster id the active controller writes when the log has none: this
   * node's meta.properties id, or (returning null) a new one.
   */
  initialClusterId?: () => string | null;
  /**
   * Where refusals by a cap are reported (at most one line per 10 s, with the
   * count of those not shown), and failed listeners and snapshots.
   */
  logger?: {
    warn(obj: object, msg: string): void;
    error?(obj: object, msg: string): void;
    info?(obj: object, msg: string): void;
  };
}

/** The broker lifecycle's settings (enableBrokerLifecycle). */
export interface BrokerLifecycleOptions {
  /** broker.session.timeout.ms */
  sessionTimeoutMs: number;
  /** The cluster id registrations must carry (null while unknown). */
  clusterId?: () => string | null;
  /**
   * controller.quorum.fetch.timeout.ms: after a failover, the broker of a
   * voter that neither heartbeats nor fetches from the new leader within it
   * is fenced (see BrokerHeartbeats). Unset: full sessions only.
   */
  quorumFetchTimeoutMs?: number;
  /** Clock and timers (default: the system's). */
  env?: Env;
}

/** ElectLeaders' election types. */
export const ElectionType = { PREFERRED: 0, UNCLEAN: 1 } as const;

/** An ElectLeaders answer: per topic, per partition, the error code (NONE: elected). */
export interface ElectLeadersAnswer {
  errorCode: number;
  errorMessage: string | null;
  results: { topic: string; partitions: { partitionId: number; errorCode: number; errorMessage: string | null }[] }[];
}

/** Automatic leader balancing (auto.leader.rebalance.enable). */
export interface LeaderRebalanceOptions {
  /** leader.imbalance.check.interval.seconds, in ms */
  intervalMs: number;
  /** leader.imbalance.per.broker.percentage */
  imbalancePercentage: number;
  /** Clock and timers (default: the system's). */
  env?: Env;
}

const UNCLEAN_ELECTION = 'unclean.leader.election.enable';

/** Unclean elections of one commit logged one line each; the rest are counted in one more line. */
const MAX_UNCLEAN_LINES_PER_BATCH = 20;

/** Most leaderships one commit of automatic balancing moves (Kafka's controller moves 1000 at a time too). */
const MAX_REBALANCE_MOVES_PER_BATCH = 1000;

/** Longest wait between two looks at the broker sessions (a change of active controller is noticed by then). */
const SESSION_CHECK_MAX_MS = 1000;

const CAP_LOG_INTERVAL_MS = 10_000;

/** How often a new leader looks whether it became the active controller (the quorum does not announce it). */
const ACTIVATION_POLL_MS = 10;

export class Controller implements QuorumListener {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly listeners: BatchListener[] = [];
  private readonly leaderListeners: ((leaderId: number, epoch: number) => void)[] = [];
  private readonly appliedListeners: (() => void)[] = [];
  private readonly clusterIdWaiters: ((id: string) => void)[] = [];
  private leaderWaiters: (() => void)[] = [];
  private imageWaiters: { check: () => boolean; done: (met: boolean) => void }[] = [];
  private capLoggedAt = -Infinity;
  private capSuppressed = 0;
  /** Set when a committed batch could not be applied: the image no longer follows the log. */
  private diverged: string | null = null;
  /**
   * Listener calls: 'on' (each batch as it is delivered), or at start-up
   * 'off' during the replay (whoever builds on the image reads it whole
   * afterwards), then 'held' (queued until released) while the broker builds
   * on the replayed image.
   */
  private notifyMode: 'off' | 'held' | 'on' = 'on';
  private notifyTail: Promise<void> = Promise.resolve();
  private releaseHeld: (() => void) | null = null;
  private snapshotRun: Promise<void> | null = null;
  private activating = false;
  private closed = false;
  /** The broker lifecycle (KIP-631) state machine, once enabled. */
  private lifecycle: BrokerHeartbeats | null = null;
  private lifecycleEnv: Env = systemEnv;
  /** Whether the lifecycle's sessions belong to the current term as active controller. */
  private lifecycleActive = false;
  private sessionTimer: TimerHandle | null = null;
  private sessionTimerAt = Number.POSITIVE_INFINITY;
  private lifecycleStopped = false;
  private rebalanceTimer: TimerHandle | null = null;

  constructor(
    private readonly quorum: MetadataQuorum,
    readonly image: MetadataImage,
    private readonly opts: ControllerOptions,
  ) {
    quorum.setListener(this);
  }

  /** Listeners of committed batches (after the image has them), in order, awaited one after the other. */
  onCommit(l: BatchListener): void {
    this.listeners.push(l);
  }

  /**
   * Told (synchronously, whatever the listener calls are doing) each time the
   * image moved: a committed batch or a snapshot was applied.
   */
  onApplied(l: () => void): void {
    this.appliedListeners.push(l);
  }

  /** Told when the quorum leader (the active controller to be) or the epoch changes (leaderId -1 while unknown). */
  onLeader(l: (leaderId: number, epoch: number) => void): void {
    this.leaderListeners.push(l);
  }

  /** The node id of the quorum leader, or -1. */
  get leaderId(): number {
    return this.quorum.leaderId;
  }

  get isActive(): boolean {
    return this.quorum.isActiveController;
  }

  /** No listener calls for the batches delivered from now on (the start-up replay), until `holdNotifications`. */
  skipNotifications(): void {
    this.notifyMode = 'off';
  }

  /** Queue listener calls from now on, until `releaseNotifications` (the broker builds on the replayed image meanwhile). */
  holdNotifications(): void {
    if (this.notifyMode === 'held') return;
    this.notifyMode = 'held';
    this.notifyTail = new Promise<void>((resolve) => {
      this.releaseHeld = resolve;
    });
  }

  /** Calls the listeners for the batches queued since `holdNotifications`, then for each batch as it commits. */
  releaseNotifications(): void {
    this.notifyMode = 'on';
    this.releaseHeld?.();
    this.releaseHeld = null;
  }

  /** Resolves with the cluster id once the image has one. */
  clusterId(): Promise<string> {
    if (this.image.clusterId !== null) return Promise.resolve(this.image.clusterId);
    return new Promise((resolve) => this.clusterIdWaiters.push(resolve));
  }

  /** Resolves at the next change of leader or epoch, or when this node becomes the active controller. */
  nextLeaderEvent(): Promise<void> {
    return new Promise((resolve) => this.leaderWaiters.push(resolve));
  }

  private leaderEvent(): void {
    const w = this.leaderWaiters;
    this.leaderWaiters = [];
    for (const f of w) f();
  }

  /**
   * Resolves true once `check()` holds for the image (looked at now and after
   * each committed batch, once its listeners ran), false after `timeoutMs`.
   */
  waitForImage(check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const w = {
        check,
        done: (met: boolean) => {
          clearTimeout(timer);
          resolve(met);
        },
      };
      const timer = setTimeout(() => {
        const i = this.imageWaiters.indexOf(w);
        if (i >= 0) this.imageWaiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.imageWaiters.push(w);
    });
  }

  private checkImageWaiters(): void {
    if (this.imageWaiters.length === 0) return;
    const still: typeof this.imageWaiters = [];
    for (const w of this.imageWaiters) {
      if (w.check()) w.done(true);
      else still.push(w);
    }
    this.imageWaiters = still;
  }

  /** Stops acting on leadership and calling the listeners (the node is closing; the image still follows). */
  close(): void {
    this.closed = true;
    this.stopAutoLeaderRebalance();
    this.notifyMode = 'off';
    this.leaderEvent();
  }

  // ---- QuorumListener: the image follows the committed log ------------------

  onCommitted(batch: MetadataBatch): void | Promise<void> {
    if (this.diverged !== null) return;
    const bad = this.image.check(batch.records);
    try {
      if (bad !== null) throw new Error(bad);
      this.image.applyBatch(batch.records, batch.lastOffset);
    } catch (err) {
      // Every node applies the same log, so this is a bug, not a local fault: stop following rather than build on it.
      this.diverged = `batch ending at ${batch.lastOffset}: ${(err as Error).message}`;
      this.opts.logger?.error?.(
        { err, offset: batch.lastOffset },
        'a committed metadata batch does not apply to the image; metadata changes are refused until the node restarts',
      );
      return;
    }
    this.afterApply();
    this.completeReassignments(batch.records);
    return this.notify(batch.records, batch.lastOffset);
  }

  onSnapshot(snapshot: MetadataSnapshot): void | Promise<void> {
    const records = this.image.replaceWith(snapshot.records, snapshot.endOffset - 1);
    this.diverged = null;
    this.afterApply();
    return this.notify(records, snapshot.endOffset - 1);
  }

  onLeaderChange(leaderId: number, epoch: number): void {
    for (const l of this.leaderListeners) {
      try {
        l(leaderId, epoch);
      } catch (err) {
        this.opts.logger?.error?.({ err }, 'a listener of controller leadership failed');
      }
    }
    this.leaderEvent();
    // a new term: the broker sessions of this controller's last one (if any) say nothing about it
    this.lifecycleInactive();
    if (leaderId === this.quorum.nodeId) this.activate();
  }

  private afterApply(): void {
    for (const l of this.appliedListeners) {
      try {
        l();
      } catch (err) {
        this.opts.logger?.error?.({ err }, 'a listener of the metadata image failed');
      }
    }
    const id = this.image.clusterId;
    if (id !== null && this.clusterIdWaiters.length > 0) {
      for (const w of this.clusterIdWaiters.splice(0)) w(id);
    }
    this.maybeSnapshot();
  }

  private notify(records: MetadataRecord[], lastOffset: number): Promise<void> | undefined {
    if (this.notifyMode !== 'on') this.checkImageWaiters();
    if (this.notifyMode === 'off') return undefined;
    // a listener added after the batch was delivered does not see it, except while held (they are being added)
    const now = this.notifyMode === 'on' ? [...this.listeners] : null;
    const p = this.notifyTail.then(() => this.runListeners(now ?? this.listeners, records, lastOffset));
    this.notifyTail = p;
    return this.notifyMode === 'on' ? p : undefined;
  }

  private async runListeners(listeners: BatchListener[], batch: MetadataRecord[], lastOffset: number): Promise<void> {
    for (const l of listeners) {
      try {
        await l(batch);
      } catch (err) {
        this.opts.logger?.error?.(
          { err, offset: lastOffset },
          'a committed metadata batch was not acted on by a listener (it is, at the next start)',
        );
      }
    }
    this.checkImageWaiters();
  }

  /**
   * A new leader becomes the active controller once its quorum says so; it
   * then writes the cluster id if the log has none yet.
   */
  private activate(): void {
    if (this.activating) return;
    this.activating = true;
    const check = () => {
      if (this.closed || this.quorum.leaderId !== this.quorum.nodeId) {
        this.activating = false;
        return;
      }
      if (!this.quorum.isActiveController) {
        setTimeout(check, ACTIVATION_POLL_MS).unref();
        return;
      }
      this.activating = false;
      this.leaderEvent();
      // the broker sessions start now, not at the next periodic check
      this.armSessionCheck(0);
      this.completeReassignments(null);
      if (this.image.clusterId === null) void this.enqueue(() => ({ records: [], result: undefined })).catch(() => {});
      // partitions still waiting for a leader that an unclean election may give them (one not committed before)
      void this.electLeaderlessUnclean().catch(() => {});
    };
    check();
  }

  /**
   * Runs `decide` after every earlier operation has committed, against the
   * current image, appends the records it returns and resolves with its
   * result once they are committed and applied. Not the active controller (or
   * no longer, before the commit): `refuse` answers, else NotControllerError
   * is thrown.
   */
  private enqueue<T>(
    decide: () => {
      records: MetadataRecord[];
      result: T;
      onStorageError?: (err: MetadataStorageError) => T;
      /** The result, computed once the records are committed and applied (instead of `result`). */
      afterCommit?: () => T;
    },
    refuse?: (errorCode: number, message: string) => T,
  ): Promise<T> {
    const run = async (): Promise<T> => {
      if (!this.quorum.isActiveController) {
        this.lifecycleInactive();
        const err = new NotControllerError(notControllerMessage(this.quorum.leaderId), this.quorum.leaderId);
        if (refuse) return refuse(ErrorCode.NOT_CONTROLLER, err.message);
        throw err;
      }
      const { records, result, onStorageError, afterCommit } = decide();
      // The first active controller names the cluster, before anything else is written.
      if (this.image.clusterId === null) records.unshift({ type: 'ClusterId', clusterId: this.newClusterId() });
      if (records.length > 0) {
        try {
          await this.commit(records);
        } catch (err) {
          // Not committed (the image is unchanged): answered with the storage error where the API has one.
          if (err instanceof MetadataStorageError && onStorageError) return onStorageError(err);
          if (err instanceof NotControllerError && refuse) return refuse(ErrorCode.NOT_CONTROLLER, err.message);
          throw err;
        }
        if (afterCommit) return afterCommit();
      }
      return result;
    };
    const p = this.tail.then(run, run);
    this.tail = p.catch(() => undefined);
    return p;
  }

  private newClusterId(): string {
    return this.opts.initialClusterId?.() ?? randomBytes(16).toString('base64url');
  }

  private async commit(batch: MetadataRecord[]): Promise<void> {
    if (this.diverged !== null)
      throw new MetadataStorageError(
        `the metadata image stopped following the log (${this.diverged}); restart the broker`,
      );
    const bad = this.image.check(batch);
    if (bad !== null) throw new Error(`metadata: a batch that would not apply was not written: ${bad}`);
    const unclean = this.image.uncleanElectionsIn(batch);
    // resolves once committed and delivered: the image has it, the listeners have run
    await this.quorum.append(batch);
    // one line per partition, up to a bound per commit (a broker's death may elect thousands at once)
    for (const u of unclean.slice(0, MAX_UNCLEAN_LINES_PER_BATCH))
      this.opts.logger?.warn(
        u,
        `unclean leader election: ${u.topic}-${u.partition} has no live in-sync replica; broker ${u.leader}, not in the ISR [${u.isr.join(', ')}], leads it now (records the old ISR had above its log end are lost)`,
      );
    if (unclean.length > MAX_UNCLEAN_LINES_PER_BATCH)
      this.opts.logger?.warn(
        { partitions: unclean.length },
        `unclean leader election: ${unclean.length - MAX_UNCLEAN_LINES_PER_BATCH} more partitions in the same commit`,
      );
    if (this.snapshotDue()) await this.snapshot();
  }

  private snapshotDue(): boolean {
    const max = this.opts.maxRecordBytesBetweenSnapshots ?? DEFAULT_MAX_BYTES_BETWEEN_SNAPSHOTS;
    return !this.closed && this.quorum.bytesSinceSnapshot >= max;
  }

  /**
   * After a delivery: a snapshot once enough record bytes were appended since
   * the last one, written once the delivery in progress is over (so that the
   * image and the committed offset agree). The active controller writes it
   * before answering the operation that made it due.
   */
  private maybeSnapshot(): void {
    // the active controller delivers only what it appended itself: it writes the snapshot in `commit`
    if (this.quorum.isActiveController) return;
    if (this.snapshotRun === null && this.snapshotDue()) setImmediate(() => void this.snapshot());
  }

  /** Writes a snapshot of the image; a failure is logged and tried again after the next commit. */
  private snapshot(): Promise<void> {
    this.snapshotRun ??= (async () => {
      const endOffset = this.image.epoch + 1;
      try {
        if (this.snapshotDue() && endOffset > 0 && endOffset <= this.quorum.committedOffset)
          await this.quorum.writeSnapshot(endOffset, this.image.toRecords());
      } catch (err) {
        this.opts.logger?.warn(
          { err, offset: endOffset },
          'metadata snapshot not written; the log is not trimmed until one is',
        );
      } finally {
        this.snapshotRun = null;
      }
    })();
    return this.snapshotRun;
  }

  registerBroker(listeners: { name: string; host: string; port: number }[]): Promise<void> {
    return this.enqueue(() => ({
      records: [
        {
          type: 'RegisterBroker',
          nodeId: this.opts.nodeId,
          incarnationId: newTopicId(),
          listeners,
          rack: null,
        },
      ],
      result: undefined,
    }));
  }

  /**
   * Validates one topic of a CreateTopics request. `pendingNames` and
   * `pendingPartitions` are what earlier topics of the same request add;
   * `collisions` maps collision keys of existing and pending names to the name.
   */
  private checkCreate(
    spec: CreateTopicSpec,
    pendingNames: Set<string>,
    pendingPartitions: number,
    collisions: Map<string, string>,
  ): ControllerResult & { partitions?: number; rf?: number } {
    const bad = validateTopicName(spec.name);
    if (bad) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, errorMessage: bad };
    if (this.image.topicsByName.has(spec.name) || pendingNames.has(spec.name)) {
      return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: `Topic '${spec.name}' already exists.` };
    }
    const other = collisions.get(collisionKey(spec.name));
    if (other !== undefined) {
      return {
        errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
        errorMessage: `Topic '${spec.name}' collides with existing topic: ${other}`,
      };
    }
    const assigned = spec.assignments && spec.assignments.length > 0 ? spec.assignments : undefined;
    if (assigned && (spec.numPartitions !== -1 || spec.replicationFactor !== -1)) {
      return {
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'Both numPartitions or replicationFactor and replicasAssignments were set.',
      };
    }
    const partitions = assigned
      ? assigned.length
      : spec.numPartitions === -1
        ? this.opts.defaultPartitions
        : spec.numPartitions;
    if (!Number.isInteger(partitions) || partitions <= 0) {
      return {
        errorCode: ErrorCode.INVALID_PARTITIONS,
        errorMessage: 'Number of partitions was set to an invalid non-positive value.',
      };
    }
    if (partitions > 100000) {
      return {
        errorCode: ErrorCode.INVALID_PARTITIONS,
        errorMessage: `Number of partitions ${partitions} is too large.`,
      };
    }
    const rf = assigned
      ? assigned[0].brokerIds.length
      : spec.replicationFactor === -1
        ? this.opts.defaultReplicationFactor
        : spec.replicationFactor;
    if (rf <= 0 && !assigned) {
      return {
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        errorMessage: 'Replication factor must be larger than 0, or -1 to use the default value.',
      };
    }
    const live = Math.max(1, this.liveBrokers().length);
    if (rf > live && !assigned) {
      return {
        errorCode: ErrorCode.INVALID_REPLICATION_FACTOR,
        errorMessage: `Unable to replicate the partition ${rf} time(s): The target replication factor of ${rf} cannot be reached because only ${live} broker(s) are registered.`,
      };
    }
    if (assigned) {
      const bad = this.checkAssignments(assigned);
      if (bad) return bad;
    }
    for (const [name, value] of Object.entries(spec.configs)) {
      if (value === null) {
        return {
          errorCode: ErrorCode.INVALID_CONFIG,
          errorMessage: `Null value not supported for topic config ${name}`,
        };
      }
      const err = this.opts.validateConfig(name, value);
      if (err) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: err };
    }
    const capped = this.checkTopicCap(pendingNames.size + 1) ?? this.checkPartitionCap(pendingPartitions + partitions);
    if (capped) return capped;
    return { errorCode: ErrorCode.NONE, errorMessage: null, partitions, rf };
  }

  /** A manual assignment, checked as Kafka's controller does (INVALID_REPLICA_ASSIGNMENT, Kafka's wording). */
  private checkAssignments(assigned: { partitionIndex: number; brokerIds: number[] }[]): ControllerResult | null {
    const refuse = (errorMessage: string): ControllerResult => ({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage,
    });
    let rf = -1;
    for (let i = 0; i < assigned.length; i++) {
      const a = assigned[i];
      if (a.partitionIndex !== i) return refuse('partitions should be a consecutive 0-based integer sequence');
      if (a.brokerIds.length === 0) return refuse('The manual partition assignment includes an empty replica list.');
      const sorted = [...a.brokerIds].sort((x, y) => x - y);
      for (let j = 0; j < sorted.length; j++) {
        if (!this.image.brokers.has(sorted[j]))
          return refuse(
            `The manual partition assignment includes broker ${sorted[j]}, but no such broker is registered.`,
          );
        if (j > 0 && sorted[j] === sorted[j - 1])
          return refuse(`The manual partition assignment includes the broker ${sorted[j]} more than once.`);
      }
      if (rf !== -1 && a.brokerIds.length !== rf) {
        return refuse(
          `The manual partition assignment includes a partition with ${a.brokerIds.length} replica(s), but this is not consistent with previous partitions, which have ${rf} replica(s).`,
        );
      }
      rf = a.brokerIds.length;
    }
    return null;
  }

  /** POLICY_VIOLATION when `adding` more topics would pass samsa.max.topics. */
  private checkTopicCap(adding: number): ControllerResult | null {
    const max = this.opts.maxTopics;
    const have = this.image.topicCount;
    if (max === undefined || have + adding <= max) return null;
    return this.refuse(`Creating a topic would exceed samsa.max.topics (${max}): the cluster has ${have} topics.`);
  }

  /**
   * POLICY_VIOLATION when `adding` more partitions would pass samsa.max.partitions
   * on a broker: placed round robin over the live brokers, each gets at most
   * ceil(adding / brokers) of them (the cap is this node's setting, taken as
   * the cluster's).
   */
  private checkPartitionCap(adding: number): ControllerResult | null {
    const max = this.opts.maxPartitions;
    if (max === undefined) return null;
    const brokers = this.liveBrokers();
    if (brokers.length === 0) brokers.push(this.opts.nodeId);
    const each = Math.ceil(adding / brokers.length);
    for (const id of brokers) {
      const have = this.image.partitionsOn(id);
      if (have + each > max) {
        return this.refuse(
          `Adding ${adding} partitions would exceed samsa.max.partitions (${max}) on broker ${id}, which hosts ${have}.`,
        );
      }
    }
    return null;
  }

  /** Ids of the brokers partitions may be placed on (registered and not fenced), ascending. */
  private liveBrokers(): number[] {
    return this.image.liveBrokers().map((b) => b.nodeId);
  }

  private refuse(message: string): ControllerResult {
    const log = this.opts.logger;
    if (log) {
      const now = Date.now();
      if (now - this.capLoggedAt >= CAP_LOG_INTERVAL_MS) {
        log.warn({ suppressed: this.capSuppressed }, `refused: ${message}`);
        this.capLoggedAt = now;
        this.capSuppressed = 0;
      } else {
        this.capSuppressed++;
      }
    }
    return { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: message };
  }

  /**
   * Partition records for partitions [from, to): replicas as assigned, else
   * `rf` live brokers placed round robin (each partition's list starts one
   * broker further), beginning with the broker that hosts the fewest
   * partitions, so that leaders spread over the brokers; the first replica
   * leads, all are in sync.
   */
  private partitionRecords(
    topicId: string,
    from: number,
    to: number,
    rf: number,
    assigned?: { brokerIds: number[] }[],
  ): PartitionRecord[] {
    const out: PartitionRecord[] = [];
    const brokers = this.liveBrokers();
    if (brokers.length === 0) brokers.push(this.opts.nodeId);
    let start = 0;
    for (let i = 1; i < brokers.length; i++)
      if (this.image.partitionsOn(brokers[i]) < this.image.partitionsOn(brokers[start])) start = i;
    for (let p = from; p < to; p++) {
      let replicas: number[];
      if (assigned) replicas = [...assigned[p - from].brokerIds];
      else {
        replicas = [];
        for (let i = 0; i < Math.min(rf, brokers.length); i++)
          replicas.push(brokers[(start + p - from + i) % brokers.length]);
      }
      out.push({
        type: 'Partition',
        topicId,
        partition: p,
        replicas,
        isr: [...replicas],
        leader: replicas[0],
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    }
    return out;
  }

  /**
   * Creates topics (one commit for all valid ones). With `validateOnly` nothing
   * is written. Results are in request order; a created topic's id and
   * partition count are returned.
   */
  createTopics(
    specs: CreateTopicSpec[],
    validateOnly: boolean,
  ): Promise<(ControllerResult & { topicId?: string; numPartitions?: number; replicationFactor?: number })[]> {
    return this.enqueue(() => {
      const records: MetadataRecord[] = [];
      const pending = new Set<string>();
      let pendingPartitions = 0;
      const collisions = new Map<string, string>();
      for (const name of this.image.topicsByName.keys()) collisions.set(collisionKey(name), name);
      const results = specs.map((spec) => {
        const check = this.checkCreate(spec, pending, pendingPartitions, collisions);
        if (check.errorCode !== ErrorCode.NONE) return check;
        pending.add(spec.name);
        pendingPartitions += check.partitions!;
        collisions.set(collisionKey(spec.name), spec.name);
        const topicId = newTopicId();
        if (!validateOnly) {
          records.push({ type: 'Topic', name: spec.name, topicId });
          const assigned = spec.assignments && spec.assignments.length > 0 ? spec.assignments : undefined;
          records.push(...this.partitionRecords(topicId, 0, check.partitions!, check.rf!, assigned));
          for (const [name, value] of Object.entries(spec.configs)) {
            records.push({ type: 'Config', resourceType: 'topic', resourceName: spec.name, name, value });
          }
        }
        return { ...check, topicId, numPartitions: check.partitions, replicationFactor: check.rf };
      });
      const onStorageError = (err: MetadataStorageError) =>
        results.map((r) =>
          r.errorCode === ErrorCode.NONE ? { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message } : r,
        );
      return { records, result: results, onStorageError };
    }, refuseEach(specs.length));
  }

  deleteTopic(topic: TopicState): Promise<ControllerResult> {
    return this.deleteTopics([topic]).then(([r]) => r);
  }

  /** Deletes topics in one commit; results in the order given. */
  deleteTopics(topics: TopicState[]): Promise<ControllerResult[]> {
    return this.enqueue(() => {
      const records: MetadataRecord[] = [];
      const gone = new Set<string>();
      const result = topics.map((topic): ControllerResult => {
        if (this.image.topicsById.get(topic.topicId) !== topic || gone.has(topic.topicId)) {
          return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
        }
        gone.add(topic.topicId);
        records.push({ type: 'RemoveTopic', topicId: topic.topicId });
        return { errorCode: ErrorCode.NONE, errorMessage: null };
      });
      const onStorageError = (err: MetadataStorageError) =>
        result.map((r) =>
          r.errorCode === ErrorCode.NONE ? { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message } : r,
        );
      return { records, result, onStorageError };
    }, refuseEach(topics.length));
  }

  createPartitions(name: string, count: number, validateOnly: boolean): Promise<ControllerResult> {
    return this.enqueue<ControllerResult>(() => {
      const t = this.image.topicsByName.get(name);
      if (!t)
        return {
          records: [],
          result: { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic '${name}' does not exist.` },
        };
      const current = t.partitions.length;
      if (count < current) {
        return {
          records: [],
          result: {
            errorCode: ErrorCode.INVALID_PARTITIONS,
            errorMessage: `Topic currently has ${current} partitions, which is higher than the requested ${count}.`,
          },
        };
      }
      if (count === current) {
        return {
          records: [],
          result: { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `Topic already has ${current} partitions.` },
        };
      }
      if (count > 100000) {
        return {
          records: [],
          result: {
            errorCode: ErrorCode.INVALID_PARTITIONS,
            errorMessage: `Number of partitions ${count} is too large.`,
          },
        };
      }
      const capped = this.checkPartitionCap(count - current);
      if (capped) return { records: [], result: capped };
      const rf = t.partitions[0]?.replicas.length ?? 1;
      return {
        records: validateOnly ? [] : this.partitionRecords(t.topicId, current, count, rf),
        result: { errorCode: ErrorCode.NONE, errorMessage: null },
        onStorageError: (err) => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }),
      };
    }, refuseOne);
  }

  // ---- ACLs (CreateAcls, DeleteAcls; validated by the caller) ---------------

  /**
   * Adds ACL bindings (validated by the caller) in one commit; a binding that
   * exists already is not added again. Results in the order given.
   */
  createAcls(bindings: Omit<AccessControlEntryRecord, 'type' | 'id'>[]): Promise<ControllerResult[]> {
    return this.enqueue(() => {
      const records: MetadataRecord[] = [];
      const existing = new Set([...this.image.acls.values()].map(aclKey));
      for (const b of bindings) {
        const key = aclKey(b);
        if (existing.has(key)) continue;
        existing.add(key);
        records.push({ type: 'AccessControlEntry', id: newTopicId(), ...pickAcl(b) });
      }
      const result = bindings.map(() => ({ errorCode: ErrorCode.NONE, errorMessage: null }));
      const onStorageError = (err: MetadataStorageError) =>
        bindings.map(() => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }));
      return { records, result, onStorageError };
    }, refuseEach(bindings.length));
  }

  /**
   * Removes, in one commit, every ACL that one of `selectors` picks; answers
   * per selector the ACLs it removed (an ACL two selectors pick is removed
   * once and listed under both, as Kafka does).
   */
  deleteAcls(
    selectors: ((a: AccessControlEntryRecord) => boolean)[],
  ): Promise<(ControllerResult & { removed: AccessControlEntryRecord[] })[]> {
    type Answer = (ControllerResult & { removed: AccessControlEntryRecord[] })[];
    return this.enqueue<Answer>(
      () => {
        const gone = new Set<string>();
        const result: Answer = selectors.map((pick) => {
          const removed = [...this.image.acls.values()].filter(pick);
          for (const a of removed) gone.add(a.id);
          return { errorCode: ErrorCode.NONE, errorMessage: null, removed };
        });
        const records: MetadataRecord[] = [...gone].map((id) => ({ type: 'RemoveAccessControlEntry', id }));
        const onStorageError = (err: MetadataStorageError): Answer =>
          selectors.map(() => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message, removed: [] }));
        return { records, result, onStorageError };
      },
      (errorCode, errorMessage) => selectors.map(() => ({ errorCode, errorMessage, removed: [] })),
    );
  }

  /**
   * Writes the records `decide` returns for the current image (SCRAM
   * credentials: AlterUserScramCredentials), in order with every other
   * operation; `refuse` answers when this node is not the active controller.
   */
  alterUserScramCredentials<T>(
    decide: (image: MetadataImage) => { records: MetadataRecord[]; result: T; onStorageError?: (err: Error) => T },
    refuse: (errorCode: number, message: string) => T,
  ): Promise<T> {
    return this.enqueue(() => decide(this.image), refuse);
  }

  /** Reserves a block of producer ids, durably, so ids never repeat across restarts. */
  allocateProducerIds(blockSize: number): Promise<{ first: number; last: number }> {
    return this.enqueue(() => {
      const first = this.image.nextProducerId;
      return {
        records: [{ type: 'ProducerIds', nextProducerId: first + blockSize }],
        result: { first, last: first + blockSize - 1 },
      };
    });
  }

  /**
   * Sets (value) or removes (null) config overrides of one resource; validated
   * by the caller. `replace` removes every existing override first (the legacy
   * AlterConfigs semantics).
   */
  alterConfigs(
    resourceType: 'topic' | 'broker',
    resourceName: string,
    changes: Record<string, string | null>,
    replace: boolean,
  ): Promise<ControllerResult> {
    const done = this.enqueue<ControllerResult>(() => {
      const records: MetadataRecord[] = [];
      const existing =
        resourceType === 'topic'
          ? this.image.topicsByName.get(resourceName)?.configs
          : this.image.brokerConfigs.get(resourceName);
      if (replace && existing) {
        for (const k of existing.keys())
          if (!(k in changes)) records.push({ type: 'Config', resourceType, resourceName, name: k, value: null });
      }
      for (const [name, value] of Object.entries(changes))
        records.push({ type: 'Config', resourceType, resourceName, name, value });
      return {
        records,
        result: { errorCode: ErrorCode.NONE, errorMessage: null },
        onStorageError: (err) => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }),
      };
    }, refuseOne);
    // Turning unclean election on elects leaders for the partitions waiting for an ISR member (queued next).
    if (replace || UNCLEAN_ELECTION in changes) void this.electLeaderlessUnclean().catch(() => {});
    return done;
  }

  /** Sets or removes client quotas (validated by the caller, src/security/quotas.ts), in one commit. */
  alterClientQuotas(records: ClientQuotaRecord[]): Promise<ControllerResult> {
    return this.enqueue<ControllerResult>(
      () => ({
        records: [...records],
        result: { errorCode: ErrorCode.NONE, errorMessage: null },
        onStorageError: (err) => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }),
      }),
      refuseOne,
    );
  }

  // ---- leader elections: unclean, ElectLeaders, automatic balancing ---------

  /**
   * unclean.leader.election.enable for topic `t`: its override, else this
   * node's dynamic broker config, else the cluster-wide dynamic default, else
   * the static config.
   */
  uncleanElectionEnabled(t: TopicState): boolean {
    const v =
      t.configs.get(UNCLEAN_ELECTION) ??
      this.image.brokerConfigs.get(String(this.opts.nodeId))?.get(UNCLEAN_ELECTION) ??
      this.image.brokerConfigs.get('')?.get(UNCLEAN_ELECTION);
    return v === undefined ? (this.opts.uncleanLeaderElectionEnable ?? false) : v.trim().toLowerCase() === 'true';
  }

  /**
   * Elects a leader for every leaderless partition that can have one: from
   * its ISR, else (where its topic allows unclean election) a live replica
   * outside it. Resolves with the number of partitions that got a leader (0
   * when this node is not the active controller).
   */
  electLeaderlessUnclean(): Promise<number> {
    return this.enqueue(
      () => {
        const records = this.image.partitionChangesElectingLeaderless(-1, (t) => this.uncleanElectionEnabled(t));
        return { records, result: records.length };
      },
      () => 0,
    );
  }

  /**
   * ElectLeaders (key 43), as Kafka's controller answers it: per partition
   * UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE
   * (PREFERRED) or ELIGIBLE_LEADERS_NOT_AVAILABLE (UNCLEAN), else NONE once the
   * new leader is committed. `topics` null: every partition of every topic,
   * leaving out those answered ELECTION_NOT_NEEDED.
   */
  electLeaders(
    electionType: number,
    topics: { topic: string; partitions: number[] }[] | null,
  ): Promise<ElectLeadersAnswer> {
    return this.enqueue<ElectLeadersAnswer>(
      () => {
        if (electionType !== ElectionType.PREFERRED && electionType !== ElectionType.UNCLEAN)
          return {
            records: [],
            result: {
              errorCode: ErrorCode.INVALID_REQUEST,
              errorMessage: `Unknown election type ${electionType}`,
              results: [],
            },
          };
        const records: MetadataRecord[] = [];
        const elected = new Set<string>();
        const decide = (t: TopicState | undefined, topic: string, id: number) => {
          const p: PartitionState | undefined = t?.partitions[id];
          if (!t || !p)
            return {
              partitionId: id,
              errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: `No such partition as ${topic}-${id}`,
            };
          const d =
            electionType === ElectionType.PREFERRED
              ? this.image.preferredLeaderChange(t, p)
              : this.image.uncleanLeaderChange(t, p);
          if (typeof d === 'number') return { partitionId: id, errorCode: d, errorMessage: null };
          // a partition named twice is elected once
          const key = `${t.topicId}:${id}`;
          if (!elected.has(key)) {
            elected.add(key);
            records.push(d);
          }
          return { partitionId: id, errorCode: ErrorCode.NONE, errorMessage: null };
        };
        const results: ElectLeadersAnswer['results'] = [];
        if (topics === null) {
          for (const t of this.image.topicsByName.values()) {
            const partitions = t.partitions
              .filter((p) => p !== undefined)
              .map((p) => decide(t, t.name, p.partition))
              .filter((r) => r.errorCode !== ErrorCode.ELECTION_NOT_NEEDED);
            results.push({ topic: t.name, partitions });
          }
        } else {
          for (const req of topics) {
            const t = this.image.topicsByName.get(req.topic);
            results.push({ topic: req.topic, partitions: req.partitions.map((id) => decide(t, req.topic, id)) });
          }
        }
        const result: ElectLeadersAnswer = { errorCode: ErrorCode.NONE, errorMessage: null, results };
        return {
          records,
          result,
          onStorageError: (err) => ({
            ...result,
            results: results.map((r) => ({
              topic: r.topic,
              partitions: r.partitions.map((x) =>
                x.errorCode === ErrorCode.NONE
                  ? { ...x, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }
                  : x,
              ),
            })),
          }),
        };
      },
      (errorCode, errorMessage) => ({ errorCode, errorMessage, results: [] }),
    );
  }

  /**
   * Starts automatic leader balancing: every `intervalMs`, when this node is
   * the active controller, leaderships go back to preferred replicas where a
   * broker's share of partitions led by another passes `imbalancePercentage`
   * (see MetadataImage.preferredLeaderRebalance).
   */
  enableAutoLeaderRebalance(opts: LeaderRebalanceOptions): void {
    this.stopAutoLeaderRebalance();
    const env = opts.env ?? systemEnv;
    const arm = () => {
      this.rebalanceTimer = env.setTimer(opts.intervalMs, () => {
        void this.rebalanceLeaders(opts.imbalancePercentage)
          .catch((err) => this.opts.logger?.warn({ err }, 'leader rebalance failed'))
          .finally(() => {
            if (this.rebalanceTimer !== null && !this.closed) arm();
          });
      });
    };
    arm();
  }

  /** Stops automatic leader balancing (shutdown). */
  stopAutoLeaderRebalance(): void {
    this.rebalanceTimer?.cancel();
    this.rebalanceTimer = null;
  }

  /**
   * One round of automatic leader balancing, in commits of at most
   * MAX_REBALANCE_MOVES_PER_BATCH moves; resolves with the number of
   * leaderships moved (0 when this node is not the active controller).
   */
  async rebalanceLeaders(imbalancePercentage: number): Promise<number> {
    let moved = 0;
    for (;;) {
      const n = await this.enqueue(
        () => {
          const records = this.image.preferredLeaderRebalance(imbalancePercentage, MAX_REBALANCE_MOVES_PER_BATCH);
          if (records.length > 0)
            this.opts.logger?.info?.(
              { partitions: records.length },
              'moving leaderships back to preferred replicas (auto.leader.rebalance.enable)',
            );
          return { records, result: records.length };
        },
        () => 0,
      );
      moved += n;
      if (n < MAX_REBALANCE_MOVES_PER_BATCH || this.closed) return moved;
    }
  }

  /**
   * Runs the broker lifecycle (KIP-631) on this controller: registrations,
   * heartbeats, fencing when a session ends (broker.session.timeout.ms) or a
   * heartbeat connection closes, controlled shutdown. Decisions are made by
   * `BrokerHeartbeats` against the image, in turn with every other operation,
   * and committed before they are answered. While this node is not the
   * active controller (`isActive`) the methods below reject with
   * NotControllerError and no broker is fenced.
   */
  enableBrokerLifecycle(opts: BrokerLifecycleOptions): void {
    this.lifecycleEnv = opts.env ?? systemEnv;
    this.lifecycle = new BrokerHeartbeats(this.image, {
      sessionTimeoutMs: opts.sessionTimeoutMs,
      env: this.lifecycleEnv,
      clusterId: opts.clusterId,
      uncleanLeaderElection: (t) => this.uncleanElectionEnabled(t),
      quorumFetchTimeoutMs: opts.quorumFetchTimeoutMs,
      voterFetched: this.quorum.voterFetchedThisEpoch ? (id) => this.quorum.voterFetchedThisEpoch!(id) : undefined,
    });
    this.lifecycleStopped = false;
    this.armSessionCheck(0);
  }

  /** Stops the session checks (shutdown). */
  stopBrokerLifecycle(): void {
    this.lifecycleStopped = true;
    this.sessionTimer?.cancel();
    this.sessionTimer = null;
    this.sessionTimerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * The lifecycle state machine when this node is the active controller (its
   * sessions restarted when it became so), else NotControllerError.
   */
  private activeLifecycle(): BrokerHeartbeats {
    const hb = this.lifecycle;
    if (!hb) throw new Error('the broker lifecycle is not enabled on this controller');
    if (!this.quorum.isActiveController) {
      this.lifecycleInactive();
      throw new NotControllerError(notControllerMessage(this.quorum.leaderId), this.quorum.leaderId);
    }
    if (!this.lifecycleActive) {
      hb.activate();
      this.lifecycleActive = true;
    }
    return hb;
  }

  /** Not (or no longer) the active controller: the sessions start afresh when it is again. */
  private lifecycleInactive(): void {
    if (this.lifecycleActive) this.lifecycle?.deactivate();
    this.lifecycleActive = false;
  }

  /** Re-arms the session check `delayMs` from now unless one is due sooner. */
  private armSessionCheck(delayMs: number): void {
    if (this.lifecycleStopped || !this.lifecycle) return;
    const at = this.lifecycleEnv.now() + Math.max(0, delayMs);
    if (this.sessionTimer && this.sessionTimerAt <= at) return;
    this.sessionTimer?.cancel();
    this.sessionTimerAt = at;
    this.sessionTimer = this.lifecycleEnv.setTimer(Math.max(0, delayMs), () => {
      this.sessionTimer = null;
      this.sessionTimerAt = Number.POSITIVE_INFINITY;
      void this.checkSessions();
    });
  }

  /** After a lifecycle event: the next session check at the earliest deadline (or a bounded wait). */
  private rearmAfterLifecycleEvent(): void {
    const next = this.lifecycle?.nextDeadline() ?? null;
    const now = this.lifecycleEnv.now();
    this.armSessionCheck(Math.min(SESSION_CHECK_MAX_MS, next === null ? SESSION_CHECK_MAX_MS : next - now));
  }

  /** Fences, one commit each, the live brokers whose session has ended; then waits for the next deadline. */
  private async checkSessions(): Promise<void> {
    try {
      for (;;) {
        const fenced = await this.enqueue(() => {
          let hb: BrokerHeartbeats;
          try {
            hb = this.activeLifecycle();
          } catch (err) {
            if (err instanceof NotControllerError) return { records: [], result: false };
            throw err;
          }
          const expiry = hb.expire();
          if (!expiry) return { records: [], result: false };
          return {
            records: expiry.records,
            result: true,
            afterCommit: () => {
              this.opts.logger?.info?.(
                { brokerId: expiry.brokerId, reason: expiry.reason },
                expiry.reason === 'session'
                  ? `fenced broker ${expiry.brokerId}: its session ended (broker.session.timeout.ms)`
                  : `fenced broker ${expiry.brokerId}: neither its heartbeats nor its voter's fetches reached this new active controller within controller.quorum.fetch.timeout.ms`,
              );
              return true;
            },
          };
        });
        if (!fenced || this.lifecycleStopped) break;
      }
    } catch (err) {
      // Not committed (storage, lost leadership): tried again at the next check.
      if (!(err instanceof NotControllerError)) this.opts.logger?.warn({ err }, 'broker session check failed');
    }
    this.rearmAfterLifecycleEvent();
  }

  /**
   * BrokerRegistration (key 62): commits a new, fenced, registration; its
   * broker epoch is the offset of the RegisterBroker record (-1 when refused).
   */
  brokerRegistration(req: BrokerRegistrationInput): Promise<LifecycleAnswer & { brokerEpoch: number }> {
    return this.enqueue(() => {
      const { records, answer } = this.activeLifecycle().register(req);
      return {
        records,
        result: { ...answer, brokerEpoch: -1 },
        afterCommit: () => {
          const b = this.image.brokers.get(req.brokerId);
          return {
            ...answer,
            brokerEpoch: b && b.incarnationId === req.incarnationId ? b.brokerEpoch : -1,
          };
        },
      };
    }).finally(() => this.rearmAfterLifecycleEvent());
  }

  /** BrokerHeartbeat (key 63): answered once what it decided (unfence, fence, leadership moves) is committed. */
  brokerHeartbeat(req: BrokerHeartbeatInput): Promise<BrokerHeartbeatAnswer> {
    // The session is extended on arrival, not when the heartbeat's turn comes.
    if (this.lifecycle && this.lifecycleActive && this.quorum.isActiveController)
      this.lifecycle.touch(req.brokerId, req.brokerEpoch);
    return this.enqueue(() => {
      const { records, answer } = this.activeLifecycle().heartbeat(req);
      return { records, result: answer };
    }).finally(() => this.rearmAfterLifecycleEvent());
  }

  /** UnregisterBroker (key 64). */
  unregisterBroker(brokerId: number): Promise<LifecycleAnswer> {
    return this.enqueue(() => {
      const { records, answer } = this.activeLifecycle().unregister(brokerId);
      return {
        records,
        result: answer,
        onStorageError: (err: MetadataStorageError) => ({
          errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
          errorMessage: err.message,
        }),
      };
    });
  }

  /**
   * The connection carrying the heartbeats of registration `brokerEpoch`
   * closed: the broker is fenced at once (see BrokerHeartbeats). Resolves
   * true when a fence was committed.
   */
  brokerConnectionClosed(brokerId: number, brokerEpoch: number): Promise<boolean> {
    return this.enqueue(() => {
      const records = this.activeLifecycle().connectionClosed(brokerId, brokerEpoch);
      return { records, result: records.length > 0 };
    });
  }
  /**
   * AlterPartition (key 56): a partition leader asks for a new ISR. Checked
   * as Kafka's controller does: the requesting broker's epoch is its current
   * registration's (STALE_BROKER_EPOCH for the whole request otherwise); per
   * partition, the topic and partition exist (UNKNOWN_TOPIC_ID /
   * UNKNOWN_TOPIC_OR_PARTITION), the leader epoch is the current one
   * (FENCED_LEADER_EPOCH), the requester is the leader (INVALID_REQUEST), the
   * partition epoch is the current one (INVALID_UPDATE_VERSION), the new ISR
   * holds the leader and only replicas that are live, not shutting down, and
   * (v3) of the named broker epoch (INELIGIBLE_REPLICA). An accepted change
   * commits a PartitionChange; every partition is answered with its state
   * after the request (leader, leader epoch, ISR, partition epoch).
   */
  alterPartition(req: AlterPartitionInput): Promise<AlterPartitionAnswer> {
    return this.enqueue(() => {
      const reg = this.image.brokers.get(req.brokerId);
      if (!reg || reg.brokerEpoch !== req.brokerEpoch)
        return { records: [], result: { errorCode: ErrorCode.STALE_BROKER_EPOCH, partitions: [] } };
      const records: MetadataRecord[] = [];
      const decided: (AlterPartitionItem & { errorCode: number })[] = [];
      for (const item of req.partitions) {
        const errorCode = this.checkAlterPartition(req.brokerId, item);
        decided.push({ ...item, errorCode });
        if (errorCode !== ErrorCode.NONE) continue;
        const cur = this.image.topicsById.get(item.topicId)!.partitions[item.partitionIndex];
        const same =
          cur.isr.length === item.newIsr.length && cur.isr.every((id) => item.newIsr.some((m) => m.brokerId === id));
        if (!same)
          records.push({
            type: 'PartitionChange',
            topicId: item.topicId,
            partition: item.partitionIndex,
            isr: item.newIsr.map((m) => m.brokerId),
          });
      }
      const answer = (): AlterPartitionAnswer => ({
        errorCode: ErrorCode.NONE,
        partitions: decided.map((d) => {
          const p = this.image.topicsById.get(d.topicId)?.partitions[d.partitionIndex];
          return {
            topicId: d.topicId,
            partitionIndex: d.partitionIndex,
            errorCode: d.errorCode,
            leaderId: p?.leader ?? -1,
            leaderEpoch: p?.leaderEpoch ?? -1,
            isr: p ? [...p.isr] : [],
            partitionEpoch: p?.partitionEpoch ?? -1,
          };
        }),
      });
      return {
        records,
        result: answer(),
        afterCommit: answer,
        onStorageError: () => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, partitions: [] }),
      };
    });
  }

  private checkAlterPartition(brokerId: number, item: AlterPartitionItem): number {
    return checkAlterPartition(this.image, brokerId, item);
  }

  // ---- Partition reassignment (KIP-455; decisions in reassignment.ts) ------

  /**
   * AlterPartitionReassignments (key 45): starts, changes or cancels (null
   * replicas) reassignments, one commit for the request; answered per
   * partition in the request's order. A reassignment whose target replicas
   * are all in the ISR already completes in the same commit.
   */
  alterPartitionReassignments(
    topics: ReassignmentInput[],
    allowReplicationFactorChange: boolean,
  ): Promise<{ name: string; partitions: (ControllerResult & { partitionIndex: number })[] }[]> {
    type Answer = { name: string; partitions: (ControllerResult & { partitionIndex: number })[] }[];
    const each = (errorCode: number, errorMessage: string | null): Answer =>
      topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })),
      }));
    return this.enqueue<Answer>(
      () => {
        const records: MetadataRecord[] = [];
        const named = new Set<string>();
        const result: Answer = topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((item) => {
            // each decision is made against the image before the request: a partition named twice is refused
            const key = `${t.name}\u0000${item.partitionIndex}`;
            if (named.has(key))
              return {
                partitionIndex: item.partitionIndex,
                errorCode: ErrorCode.INVALID_REQUEST,
                errorMessage: `${t.name}-${item.partitionIndex} is named more than once in the request.`,
              };
            named.add(key);
            const d = decideReassignment(
              this.image,
              t.name,
              item.partitionIndex,
              item.replicas,
              allowReplicationFactorChange,
            );
            if (d.record) records.push(d.record);
            return { partitionIndex: item.partitionIndex, errorCode: d.errorCode, errorMessage: d.errorMessage };
          }),
        }));
        const onStorageError = (err: MetadataStorageError): Answer =>
          result.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) =>
              p.errorCode === ErrorCode.NONE
                ? { ...p, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, errorMessage: err.message }
                : p,
            ),
          }));
        return { records, result, onStorageError };
      },
      (errorCode, message) => each(errorCode, message),
    );
  }

  /** ListPartitionReassignments (key 46), from the image (NotControllerError unless active). */
  listPartitionReassignments(
    wanted: readonly { name: string; partitionIndexes: readonly number[] }[] | null,
  ): OngoingReassignment[] {
    if (!this.quorum.isActiveController)
      throw new NotControllerError(notControllerMessage(this.quorum.leaderId), this.quorum.leaderId);
    return ongoingReassignments(this.image, wanted);
  }

  /**
   * On the active controller, after a commit (`batch`) or on becoming active
   * (null: every partition): commits the completion of each reassignment
   * whose target replicas are now all in the ISR.
   */
  private completeReassignments(batch: readonly MetadataRecord[] | null): void {
    if (this.closed || !this.quorum.isActiveController) return;
    if (reassignmentCompletions(this.image, batch).length === 0) return;
    void this.enqueue(() => ({ records: reassignmentCompletions(this.image, null), result: undefined })).catch(
      (err) => {
        if (!(err instanceof NotControllerError))
          this.opts.logger?.warn(
            { err },
            'a completed partition reassignment was not committed; tried again at the next change',
          );
      },
    );
  }
}

/**
 * The controller's checks of one AlterPartition item from leader `brokerId`
 * against `image`: NONE, or the error the item is refused with.
 */
export function checkAlterPartition(image: MetadataImage, brokerId: number, item: AlterPartitionItem): number {
  const topic = image.topicsById.get(item.topicId);
  if (!topic) return ErrorCode.UNKNOWN_TOPIC_ID;
  const p = topic.partitions[item.partitionIndex];
  if (!p) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (item.leaderEpoch !== p.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
  if (p.leader !== brokerId) return ErrorCode.INVALID_REQUEST;
  if (item.partitionEpoch !== p.partitionEpoch) return ErrorCode.INVALID_UPDATE_VERSION;
  const ids = item.newIsr.map((m) => m.brokerId);
  if (!ids.includes(p.leader) || new Set(ids).size !== ids.length) return ErrorCode.INVALID_REQUEST;
  for (const m of item.newIsr) {
    if (m.brokerId === p.leader) continue;
    const b = image.brokers.get(m.brokerId);
    if (!p.replicas.includes(m.brokerId) || !b || b.fenced || b.inControlledShutdown)
      return ErrorCode.INELIGIBLE_REPLICA;
    if (m.brokerEpoch >= 0 && m.brokerEpoch !== b.brokerEpoch) return ErrorCode.INELIGIBLE_REPLICA;
  }
  return ErrorCode.NONE;
}
