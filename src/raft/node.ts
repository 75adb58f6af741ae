/**
 * RaftNode: the metadata quorum of one node — the pure Raft core
 * (src/raft/core.ts) connected to the metadata log on disk, the network and a
 * timer. It implements `MetadataQuorum` (src/metadata/quorum.ts) for the
 * controller and the broker.
 *
 * The core takes events and returns actions; this class carries them out:
 * - `send`: a Kafka request (src/raft/wire.ts) to that voter's CONTROLLER
 *   endpoint over a client connection (two per peer: Fetch/FetchSnapshot,
 *   which a leader may hold for up to fetchMaxWaitMs, and the rest, so that a
 *   vote never waits behind a parked fetch). A refused, closed or timed-out
 *   connection, or a response that is not a valid answer, is a `sendFailed`
 *   event; connections are re-opened with a backoff (50 ms doubling to 1 s).
 * - `respond`: the answer to a request the CONTROLLER listener's handlers
 *   (src/raft/handlers.ts) handed in.
 * - `flush`: an fsync of the log (group commit: one in flight at a time; a
 *   flush asked for meanwhile runs after it). A failed fsync stops the node
 *   (it is never reported as done): `onFatal` is called and the process is
 *   expected to exit.
 * - `commit`: the batches below the new high watermark are read back from the
 *   log, decoded (control batches left out) and delivered in order to the
 *   listener; an `append` resolves once its batch is delivered.
 * - `leaderChange`: pending appends are rejected (NotControllerError) when
 *   this node stops leading; the listener hears of another leader at once and
 *   of this node's own leadership once its leader-change entry is committed
 *   and delivered (then `isActiveController` is true).
 * - `snapshotInstalled`: the listener rebuilds from the snapshot.
 * - `inconsistentCluster`: see `noteRefusal` (this node stops only when the
 *   quorum refuses it, never because another node is misconfigured).
 *
 * One timer is set to the core's next deadline after every event (unref'd).
 * A single-voter quorum elects itself at the first tick: `start()` resolves
 * once it is the active controller with the whole log delivered, as fast as
 * the one fsync of its leader-change entry.
 */
import { type ClientSecurity, Connection } from '../client/connection.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { MetadataBatch, MetadataSnapshot } from '../metadata/metadata-log.ts';
import { MetadataStorageError } from '../metadata/metadata-log.ts';
import { type MetadataQuorum, NotControllerError, type QuorumListener } from '../metadata/quorum.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import type { StorageLogger } from '../storage/partition-log.ts';
import { invariant } from '../storage/errors.ts';
import { LogLimiter } from '../util/log-limiter.ts';
import { RaftCore } from './core.ts';
import { FileRaftLog } from './file-log.ts';
import { FileQuorumStateStore } from './quorum-state.ts';
import type { RaftRequestSink } from './handlers.ts';
import type { NodeId, QuorumView, RaftAction, RaftEvent, RaftRequest, RaftResponse } from './types.ts';
import {
  RAFT_FETCH_MAX_BYTES,
  type RaftApiName,
  type RaftResponseBodies,
  WireError,
  requestToWire,
  responseFromWire,
} from './wire.ts';

export interface VoterEndpoint {
  id: NodeId;
  /** The voter's CONTROLLER listener; empty host and port 0 only for the sole voter of a one-node quorum. */
  host: string;
  port: number;
}

export interface RaftNodeOptions {
  nodeId: NodeId;
  /** controller.quorum.voters. A node not among them is an observer (it fetches, never votes). */
  voters: readonly VoterEndpoint[];
  /** metadata.log.dir: the log dir holding `__cluster_metadata-0`. */
  metadataLogDir: string;
  /** From meta.properties, or null until the quorum's committed ClusterId record is adopted (`setClusterId`). */
  clusterId: string | null;
  electionTimeoutMs: number;
  fetchTimeoutMs: number;
  electionBackoffMaxMs: number;
  /** How long a leader holds a Fetch with nothing new (Kafka: 500). */
  fetchMaxWaitMs?: number;
  logger: StorageLogger;
  random?: () => number;
  /** A request to a peer that is not answered within this fails (Kafka's controller.quorum.request.timeout.ms: 2000). */
  requestTimeoutMs?: number;
  /**
   * Called once if the node stops by itself: a failed fsync or write of the
   * metadata log, a quorum that refuses this node as another cluster's, a
   * failure of the core. The process should exit.
   */
  onFatal?: (err: Error) => void;
  /** The clock (ms); tests may inject one. */
  now?: () => number;
  /** TLS for the connections to the other voters (their controller listener is SSL); read for each connection. */
  security?: () => ClientSecurity | undefined;
  /** Bytes per Fetch response and FetchSnapshot chunk (default 8 MiB; tests make it small). */
  fetchMaxBytes?: number;
}

const DEFAULT_FETCH_MAX_WAIT_MS = 500;
const DEFAULT_REQUEST_TIMEOUT_MS = 2000;
const RECONNECT_BACKOFF_MIN_MS = 50;
const RECONNECT_BACKOFF_MAX_MS = 1000;
/** How long `close()` waits for the voters to hear of a resignation. */
const RESIGN_WAIT_MAX_MS = 1000;

type State = 'opened' | 'running' | 'failed' | 'closed';

interface PendingAppend {
  lastOffset: number;
  epoch: number;
  resolve: (b: MetadataBatch) => void;
  reject: (e: Error) => void;
}

/** A client connection to one peer, opened on first use and re-opened (with a backoff) after it failed. */
class PeerChannel {
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private backoffMs = 0;
  private retryAt = 0;
  private closed = false;
  private wakeBackoff: (() => void) | null = null;

  constructor(
    readonly peer: VoterEndpoint,
    private readonly clientId: string,
    private readonly timeoutMs: number,
    private readonly security?: () => ClientSecurity | undefined,
  ) {}

  async request<K extends RaftApiName>(api: K, body: unknown): Promise<RaftResponseBodies[K]> {
    const c = await this.connection();
    return (await c.send(api, body as never)) as RaftResponseBodies[K];
  }

  private connection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new Error(`connection to voter ${this.peer.id} closed`));
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async open(): Promise<Connection> {
    const wait = this.retryAt - Date.now();
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        this.wakeBackoff = resolve;
        setTimeout(resolve, wait).unref();
      });
      this.wakeBackoff = null;
    }
    if (this.closed) throw new Error(`connection to voter ${this.peer.id} closed`);
    const old = this.conn;
    this.conn = null;
    if (old) void old.close();
    const c = new Connection({
      host: this.peer.host,
      port: this.peer.port,
      clientId: this.clientId,
      requestTimeoutMs: this.timeoutMs,
      connectTimeoutMs: this.timeoutMs,
      security: this.security?.(),
    });
    try {
      await c.connect();
    } catch (err) {
      this.backoffMs = Math.min(Math.max(RECONNECT_BACKOFF_MIN_MS, this.backoffMs * 2), RECONNECT_BACKOFF_MAX_MS);
      this.retryAt = Date.now() + this.backoffMs;
      void c.close();
      throw err;
    }
    if (this.closed) {
      void c.close();
      throw new Error(`connection to voter ${this.peer.id} closed`);
    }
    this.backoffMs = 0;
    this.conn = c;
    return c;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wakeBackoff?.();
    const c = this.conn;
    this.conn = null;
    await c?.close();
  }
}

export class RaftNode implements MetadataQuorum, RaftRequestSink {
  readonly nodeId: NodeId;
  readonly voterEndpoints: readonly VoterEndpoint[];
  private state: State = 'opened';
  private listener: QuorumListener | null = null;
  private readonly peers = new Map<NodeId, { fetch: PeerChannel; control: PeerChannel }>();
  private readonly inbound = new Map<number, (r: RaftResponse<Buffer> | number) => void>();
  private nextRequestId = 1;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private flushing = false;
  private flushAgain = false;
  /** Offsets below this were delivered to the listener. */
  private delivered: number;
  private deliveries: Promise<void> = Promise.resolve();
  private appends: PendingAppend[] = [];
  /** The epoch whose own leadership the listener was told of. */
  private announcedEpoch = -1;
  /** This node's latest leadership: its epoch and the offset of its leader-change entry. */
  private ownLeadership = { epoch: -1, offset: -1 };
  private readonly sends = new Set<Promise<void>>();
  private readonly waiters = new Set<() => void>();
  private readonly limiter = new LogLimiter(10_000);
  /** Per epoch, the voters that refused this node's Vote, Fetch or FetchSnapshot as another cluster's. */
  private readonly refusedBy = new Map<number, Set<NodeId>>();
  private fatalError: Error | null = null;
  private readonly now: () => number;

  private constructor(
    private readonly opts: RaftNodeOptions,
    readonly log: FileRaftLog,
    private readonly core: RaftCore<Buffer>,
  ) {
    this.nodeId = opts.nodeId;
    this.voterEndpoints = opts.voters;
    this.now = opts.now ?? Date.now;
    this.delivered = log.startOffset;
    const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    for (const v of opts.voters) {
      if (v.id === opts.nodeId) continue;
      const clientId = `samsa-raft-${opts.nodeId}`;
      this.peers.set(v.id, {
        fetch: new PeerChannel(v, clientId, timeout, opts.security),
        control: new PeerChannel(v, clientId, timeout, opts.security),
      });
    }
  }

  /** Opens the metadata log and the quorum state; `start()` joins the quorum. */
  static async open(opts: RaftNodeOptions): Promise<RaftNode> {
    const ids = opts.voters.map((v) => v.id);
    if (ids.length === 0) throw new Error('controller.quorum.voters: no voter');
    if (new Set(ids).size !== ids.length)
      throw new Error(`controller.quorum.voters: duplicate ids in ${ids.join(',')}`);
    for (const v of opts.voters) {
      if (v.id === opts.nodeId && ids.length === 1) continue;
      if (!v.host || !(v.port > 0))
        throw new Error(`controller.quorum.voters: voter ${v.id} has no host:port (only the sole voter may have none)`);
    }
    let node: RaftNode | undefined;
    const log = await FileRaftLog.open(opts.metadataLogDir, {
      logger: opts.logger,
      now: opts.now,
      onBroken: (reason) => node?.fatal(new MetadataStorageError(reason), 'metadata log stopped taking writes'),
    });
    try {
      // A full disk: the dir is marked full (data appends refused until a probe finds room), and the
      // quorum state takes the metadata log's reserve.
      const store = new FileQuorumStateStore(log.partitionDir, (err) => {
        log.meta.dirHealth.writeFailed(err, 'quorum-state write');
        return log.meta.releaseReserve();
      });
      // A log written before the quorum existed (the single-node broker began a new epoch at every start), or
      // a quorum-state file lost: the epoch must not be below any in the log, or a new leader's entries would be.
      const state = store.read();
      const lastEpoch = log.lastEpoch();
      if ((state?.epoch ?? 0) < lastEpoch) {
        opts.logger.info(
          { dir: log.partitionDir, epoch: lastEpoch, previous: state?.epoch ?? null },
          `metadata quorum: quorum state ${state ? `at epoch ${state.epoch}` : 'absent'}; starting at the log's epoch ${lastEpoch}`,
        );
        store.write({ epoch: lastEpoch, votedId: -1, leaderId: -1 });
      }
      const now = (opts.now ?? Date.now)();
      const core = new RaftCore<Buffer>(
        {
          nodeId: opts.nodeId,
          voters: ids,
          electionTimeoutMs: opts.electionTimeoutMs,
          fetchTimeoutMs: opts.fetchTimeoutMs,
          electionBackoffMaxMs: opts.electionBackoffMaxMs,
          fetchMaxWaitMs: opts.fetchMaxWaitMs ?? DEFAULT_FETCH_MAX_WAIT_MS,
          fetchMaxBytes: opts.fetchMaxBytes ?? RAFT_FETCH_MAX_BYTES,
          clusterId: opts.clusterId,
          random: opts.random ?? Math.random,
        },
        log,
        store,
        now,
      );
      node = new RaftNode(opts, log, core);
      return node;
    } catch (err) {
      await log.close();
      throw err;
    }
  }

  // ---- MetadataQuorum ----------------------------------------------------------

  get leaderId(): NodeId {
    return this.core.leaderId;
  }

  get epoch(): number {
    return this.core.epoch;
  }

  get role(): string {
    return this.core.role;
  }

  /** The core's high watermark (committed, maybe not delivered yet). */
  get highWatermark(): number {
    return this.core.highWatermark;
  }

  get isActiveController(): boolean {
    if (this.state !== 'running' || this.core.role !== 'leader') return false;
    const own = this.ownLeadership;
    return own.epoch === this.core.epoch && own.offset >= 0 && this.delivered > own.offset;
  }

  get committedOffset(): number {
    return this.delivered;
  }

  get clusterId(): string | null {
    return this.core.clusterId;
  }

  /** The cluster id became known (committed in the log, or written to meta.properties): from now on it is checked. */
  setClusterId(clusterId: string): void {
    this.core.setClusterId(clusterId);
  }

  get bytesSinceSnapshot(): number {
    return this.log.bytesSinceSnapshot;
  }

  /** Why the node stopped by itself, or null. */
  get failure(): Error | null {
    return this.fatalError;
  }

  setListener(l: QuorumListener): void {
    invariant(this.listener === null, 'the quorum listener is set once');
    this.listener = l;
  }

  /**
   * Delivers the local replay and joins the quorum. A restarted node knows
   * only its snapshot to be committed (the rest of its log may be another
   * leader's uncommitted tail): that is what it delivers before this
   * resolves; the log after it follows once the leader's high watermark says
   * it is committed (`whenCaughtUp`). The sole voter of a one-node quorum
   * elects itself here and resolves once it is the active controller with its
   * whole log delivered.
   */
  async start(): Promise<void> {
    invariant(this.state === 'opened', () => `start() of a quorum node that is ${this.state}`);
    invariant(this.listener !== null, 'setListener() before start()');
    // The local replay: only the snapshot is known committed until the quorum tells more.
    const snap = this.log.snapshot();
    if (snap) await this.listener.onSnapshot(snap);
    this.delivered = this.log.startOffset;
    this.state = 'running';
    this.handle({ type: 'tick', now: this.now() });
    if (this.opts.voters.length === 1 && this.opts.voters[0].id === this.nodeId) {
      await this.until(() => this.isActiveController);
      if (this.state !== 'running') throw this.fatalError ?? new Error('the metadata quorum stopped while starting');
    }
  }

  /**
   * Resolves once this node knows a leader and has delivered everything
   * committed that it has heard of (its image has caught up with the
   * quorum's high watermark as last learned); rejects if the node stops
   * first. The broker waits for it before serving clients.
   */
  whenCaughtUp(): Promise<void> {
    return this.until(
      () => this.core.leaderId >= 0 && this.core.highWatermark >= 0 && this.delivered >= this.core.highWatermark,
    ).then(() => {
      if (this.state !== 'running') throw this.fatalError ?? new Error('the metadata quorum is closed');
    });
  }

  async append(records: MetadataRecord[]): Promise<MetadataBatch> {
    if (this.state === 'failed') throw this.fatalError!;
    if (!this.isActiveController)
      throw new NotControllerError(
        `node ${this.nodeId} is not the active controller (leader ${this.leaderId}, epoch ${this.epoch})`,
        this.leaderId === this.nodeId ? -1 : this.leaderId,
      );
    if (records.length === 0) throw new Error('metadata: an empty batch');
    const values = records.map((r) => Buffer.from(JSON.stringify(r)));
    let proposed: ReturnType<RaftCore<Buffer>['propose']>;
    try {
      proposed = this.core.propose(values, this.now());
    } catch (err) {
      if (err instanceof MetadataStorageError) {
        if (this.log.meta.dirHealth.isFailed()) this.fatal(err, 'metadata log write failed');
        throw err;
      }
      this.fatal(err as Error, 'raft core failed on propose');
      throw err;
    }
    if (!proposed) throw new NotControllerError(`node ${this.nodeId} is not the leader`, this.leaderId);
    const { batch, actions } = proposed;
    const done = new Promise<MetadataBatch>((resolve, reject) =>
      this.appends.push({ lastOffset: batch.lastOffset, epoch: batch.epoch, resolve, reject }),
    );
    try {
      this.run(actions);
    } catch (err) {
      this.fatal(err as Error, 'raft: running the actions of a proposal failed');
    }
    this.arm();
    return done;
  }

  async writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void> {
    invariant(
      endOffset <= this.delivered,
      () => `snapshot at ${endOffset} above the delivered offset ${this.delivered}`,
    );
    await this.log.writeSnapshot(endOffset, records);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'running' && this.core.role === 'leader') {
      this.handle({ type: 'resign', now: this.now() });
      const ends = [...this.sends];
      if (ends.length) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled(ends),
          new Promise<void>((r) => {
            timer = setTimeout(r, Math.min(this.opts.electionTimeoutMs, RESIGN_WAIT_MAX_MS));
          }),
        ]);
        clearTimeout(timer);
      }
    }
    this.stop('closed', new NotControllerError(`the metadata quorum of node ${this.nodeId} is closing`, -1));
    await Promise.all([...this.peers.values()].flatMap((p) => [p.fetch.close(), p.control.close()]));
    await this.deliveries;
    await this.log.close();
  }

  // ---- the CONTROLLER listener's side (RaftRequestSink) ----------------------------

  handleRaftRequest(from: NodeId, request: RaftRequest): Promise<RaftResponse<Buffer> | number> {
    if (this.state !== 'running') return Promise.resolve(ErrorCode.BROKER_NOT_AVAILABLE);
    const requestId = this.nextRequestId++;
    return new Promise((resolve) => {
      this.inbound.set(requestId, resolve);
      this.handle({ type: 'request', now: this.now(), from, requestId, request });
    });
  }

  voterFetchedThisEpoch(voterId: number): boolean | null {
    return this.state === 'running' ? this.core.voterFetchedThisEpoch(voterId) : null;
  }

  describeQuorumView(): { view: QuorumView | null; leaderId: NodeId; epoch: number } {
    const view = this.state === 'running' ? this.core.describeQuorum(this.now()) : null;
    return { view, leaderId: this.core.leaderId, epoch: this.core.epoch };
  }

  // ---- events and actions ---------------------------------------------------------

  private handle(event: RaftEvent<Buffer>): void {
    if (this.state !== 'running') return;
    try {
      this.run(this.core.handle(event));
    } catch (err) {
      if (err instanceof MetadataStorageError) this.fatal(err, `metadata log write failed (event ${event.type})`);
      else this.fatal(err as Error, `raft core failed on event ${event.type}`);
      return;
    }
    this.arm();
  }

  private run(actions: RaftAction<Buffer>[]): void {
    for (const a of actions) {
      if (this.state !== 'running') return;
      switch (a.type) {
        case 'send':
          this.send(a.to, a.request);
          break;
        case 'respond': {
          const r = this.inbound.get(a.requestId);
          this.inbound.delete(a.requestId);
          r?.(a.response);
          break;
        }
        case 'flush':
          this.flush();
          break;
        case 'commit':
          this.log.markCommitted(a.highWatermark);
          this.enqueue(() => this.deliverUpTo(a.highWatermark));
          break;
        case 'leaderChange':
          this.leaderChanged(a.epoch, a.leaderId);
          break;
        case 'snapshotInstalled':
          this.enqueue(() => this.deliverSnapshot());
          break;
        case 'inconsistentCluster':
          // A peer refused this node's request: logged, or the node stopped, by noteRefusal.
          break;
      }
    }
  }

  /** One timer, at the core's next deadline. */
  private arm(): void {
    if (this.state !== 'running') return;
    const at = this.core.nextDeadline();
    if (at === this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = at;
    if (!Number.isFinite(at)) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.handle({ type: 'tick', now: this.now() });
      },
      Math.max(0, at - this.now()),
    );
    this.timer.unref();
  }

  private send(to: NodeId, request: RaftRequest): void {
    const peer = this.peers.get(to);
    if (!peer) {
      setImmediate(() => this.handle({ type: 'sendFailed', now: this.now(), to, request }));
      return;
    }
    const channel = request.kind === 'Fetch' || request.kind === 'FetchSnapshot' ? peer.fetch : peer.control;
    const p = channel.request(request.kind, requestToWire(request, to)).then(
      (body) => {
        let response: RaftResponse<Buffer>;
        try {
          response = responseFromWire(request, body);
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
          this.warnLimited(
            `bad-${to}`,
            { peer: to, err: err.message },
            `metadata quorum: a bad ${request.kind} response from node ${to}`,
          );
          this.handle({ type: 'sendFailed', now: this.now(), to, request });
          return;
        }
        if (this.noteRefusal(to, request, response)) return;
        this.handle({ type: 'response', now: this.now(), from: to, response, request });
      },
      (err: Error) => {
        this.infoLimited(`send-${to}`, { peer: to, err: err.message }, `metadata quorum: node ${to} unreachable`);
        this.handle({ type: 'sendFailed', now: this.now(), to, request });
      },
    );
    const tracked = p.catch((err) => this.fatal(err as Error, 'metadata quorum: handling a response failed'));
    this.sends.add(tracked);
    void tracked.finally(() => this.sends.delete(tracked));
  }

  /**
   * A peer answered INCONSISTENT_CLUSTER_ID: this node's cluster id is not the
   * quorum's. It stops when the leader it follows refuses it, or when voters
   * that form a majority refuse its votes or fetches; a refusal by fewer (a
   * misconfigured voter, or BeginQuorumEpoch / EndQuorumEpoch refused by one)
   * is logged, and the node goes on. Returns true when the node stopped.
   */
  private noteRefusal(from: NodeId, request: RaftRequest, response: RaftResponse<Buffer>): boolean {
    if (response.errorCode !== ErrorCode.INCONSISTENT_CLUSTER_ID) return false;
    const what = `node ${from} refused this node's ${request.kind}: INCONSISTENT_CLUSTER_ID (this node's cluster id: ${this.clusterId ?? 'none yet'})`;
    let stop = false;
    if (request.kind !== 'BeginQuorumEpoch' && request.kind !== 'EndQuorumEpoch') {
      // Refused by the leader it follows, or by voters that form a majority by themselves: this node is the odd one.
      const refused = this.refusedBy.get(this.core.epoch) ?? new Set<NodeId>();
      this.refusedBy.set(this.core.epoch, refused);
      refused.add(from);
      stop = from === this.core.leaderId || refused.size >= Math.floor(this.opts.voters.length / 2) + 1;
    }
    if (!stop) {
      this.warnLimited(`refused-${from}`, { peer: from }, `metadata quorum: ${what}`);
      return false;
    }
    this.fatal(
      new Error(
        `${what}: this node's metadata log dir (${this.opts.metadataLogDir}) belongs to another cluster than the quorum's; ` +
          'point it at the right cluster, or empty the directory to join this one',
      ),
      'metadata quorum refused this node',
    );
    return true;
  }

  private flush(): void {
    if (this.flushing) {
      this.flushAgain = true;
      return;
    }
    this.flushing = true;
    this.log.flush().then(
      () => {
        this.flushing = false;
        this.handle({ type: 'flushed', now: this.now(), durableEndOffset: this.log.durableEndOffset });
        if (this.flushAgain && this.state === 'running') {
          this.flushAgain = false;
          this.flush();
        }
      },
      (err: Error) => {
        this.flushing = false;
        this.fatal(
          new MetadataStorageError(`metadata log fsync failed: ${err.message}`, err),
          'metadata log fsync failed',
        );
      },
    );
  }

  // ---- delivery to the listener -----------------------------------------------------

  private enqueue(fn: () => Promise<void>): void {
    this.deliveries = this.deliveries
      .then(fn)
      .then(() => this.afterDelivery())
      .catch((err) => this.fatal(err as Error, 'metadata delivery failed'));
  }

  private async deliverUpTo(hw: number): Promise<void> {
    const end = Math.min(hw, this.log.committedOffset);
    if (this.delivered >= end || this.state === 'closed') return;
    // A snapshot replaced the log under this delivery: its own delivery comes next.
    if (this.delivered < this.log.startOffset) return;
    const batches = this.log.readCommitted(this.delivered, end);
    for (const b of batches) {
      if (b.lastOffset < this.delivered) continue;
      try {
        await this.listener!.onCommitted(b);
      } catch (err) {
        this.opts.logger.error(
          { err, offset: b.baseOffset },
          'metadata quorum: the listener failed on a committed batch',
        );
      }
      this.delivered = b.lastOffset + 1;
      this.settleAppends(b);
    }
    if (end > this.delivered) this.delivered = end;
    this.settleAppends(null);
  }

  private async deliverSnapshot(): Promise<void> {
    const snap: MetadataSnapshot | null = this.log.snapshot();
    if (!snap || snap.endOffset <= this.delivered || this.state === 'closed') return;
    await this.listener!.onSnapshot(snap);
    this.delivered = snap.endOffset;
    this.settleAppends(null);
  }

  /** Resolves the append of batch `b`; with null, rejects those delivered past without their batch. */
  private settleAppends(b: MetadataBatch | null): void {
    if (!this.appends.length) return;
    const keep: PendingAppend[] = [];
    for (const a of this.appends) {
      if (b && a.lastOffset === b.lastOffset && a.epoch === b.leaderEpoch) a.resolve(b);
      else if (a.lastOffset < this.delivered)
        a.reject(
          new NotControllerError(`the batch at offset ${a.lastOffset} was replaced by another leader's`, this.leaderId),
        );
      else keep.push(a);
    }
    this.appends = keep;
  }

  private afterDelivery(): void {
    if (this.isActiveController && this.announcedEpoch !== this.core.epoch) {
      this.announcedEpoch = this.core.epoch;
      this.opts.logger.info(
        { nodeId: this.nodeId, epoch: this.core.epoch, committedOffset: this.delivered },
        `metadata quorum: this node is the active controller (epoch ${this.core.epoch})`,
      );
      this.listener?.onLeaderChange(this.nodeId, this.core.epoch);
    }
    for (const w of [...this.waiters]) w();
  }

  private leaderChanged(epoch: number, leaderId: NodeId): void {
    this.opts.logger.info(
      { nodeId: this.nodeId, epoch, leaderId },
      leaderId === this.nodeId
        ? `metadata quorum: this node leads epoch ${epoch}`
        : leaderId >= 0
          ? `metadata quorum: node ${leaderId} leads epoch ${epoch}`
          : `metadata quorum: no leader in epoch ${epoch} yet`,
    );
    if (leaderId === this.nodeId) {
      // The core has just written this epoch's leader-change entry: the epoch's first offset.
      this.ownLeadership = { epoch, offset: this.log.meta.log.epochStartOffsets.get(epoch) ?? -1 };
    } else {
      const appends = this.appends;
      this.appends = [];
      for (const a of appends)
        a.reject(
          new NotControllerError(
            `node ${this.nodeId} lost the leadership (leader ${leaderId}, epoch ${epoch})`,
            leaderId,
          ),
        );
      this.listener?.onLeaderChange(leaderId, epoch);
    }
    // This node's own leadership is announced once its leader-change entry is delivered (afterDelivery).
    for (const w of [...this.waiters]) w();
  }

  private until(cond: () => boolean): Promise<void> {
    if (cond() || this.state !== 'running') return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (cond() || this.state !== 'running') {
          this.waiters.delete(check);
          resolve();
        }
      };
      this.waiters.add(check);
    });
  }

  // ---- stopping ----------------------------------------------------------------------

  private fatal(err: Error, what: string): void {
    if (this.state !== 'running' && this.state !== 'opened') return;
    this.fatalError = err;
    this.opts.logger.error({ err, nodeId: this.nodeId }, `${what}: the metadata quorum stops on this node`);
    this.stop('failed', err);
    for (const p of this.peers.values()) {
      void p.fetch.close();
      void p.control.close();
    }
    this.opts.onFatal?.(err);
  }

  private stop(state: State, appendError: Error): void {
    this.state = state;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const appends = this.appends;
    this.appends = [];
    for (const a of appends) a.reject(appendError);
    const inbound = [...this.inbound.values()];
    this.inbound.clear();
    for (const r of inbound) r(ErrorCode.BROKER_NOT_AVAILABLE);
    for (const w of [...this.waiters]) w();
  }

  private warnLimited(key: string, obj: object, msg: string): void {
    const suppressed = this.limiter.take(key);
    if (suppressed !== null) this.opts.logger.warn({ ...obj, ...(suppressed ? { suppressed } : {}) }, msg);
  }

  private infoLimited(key: string, obj: object, msg: string): void {
    const suppressed = this.limiter.take(key);
    if (suppressed !== null) this.opts.logger.info({ ...obj, ...(suppressed ? { suppressed } : {}) }, msg);
  }
}
