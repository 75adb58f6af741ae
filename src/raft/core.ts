/**
 * The KIP-595 Raft core: one replica of the `__cluster_metadata` quorum as a
 * pure state machine (events in, actions out; see types.ts for the seams).
 *
 * Roles (Kafka 4.x):
 * - unattached: a voter that knows no leader in its epoch (it may have voted);
 *   after a randomized election timeout it becomes prospective.
 * - prospective (KIP-996): asks the other voters for a pre-vote
 *   (`Vote{preVote: true}` carrying its current epoch, not bumped, nothing
 *   persisted); a majority of grants starts a real candidacy, anything else
 *   returns to follower (if a leader is known) or unattached after a backoff.
 *   A voter refuses a pre-vote while it hears from a live leader, so a node
 *   that was partitioned away cannot disrupt the quorum when it returns.
 * - candidate: bumps the epoch, votes for itself (persisted) and asks for
 *   votes; a majority makes it leader.
 * - leader: appends a LeaderChange entry, sends BeginQuorumEpoch, answers the
 *   followers' Fetch (parking those with nothing new), advances the high
 *   watermark to what a majority of voters has fsynced, once an entry of its
 *   own epoch is among it. It resigns when no majority fetched within 1.5 x
 *   fetch timeout (check quorum), or on `resign` (EndQuorumEpoch).
 * - follower: pulls with Fetch; truncates on a diverging epoch, installs a
 *   snapshot when its offset is below the leader's log start; fetches again
 *   only once what it appended is fsynced (its fetch offset is the durable
 *   position the leader counts). Without news from the leader for the fetch
 *   timeout it becomes prospective.
 * - observer: a node that is not a voter; fetches like a follower (finding
 *   the leader by fetching from any voter), never votes nor stands.
 * - resigned: a leader that stepped down in its epoch (or restarted as its
 *   leader); stands again after an election timeout.
 *
 * What the core expects of its transport: every `send` is answered exactly
 * once, by a `response` or a `sendFailed` (a request timeout included); at
 * most one Fetch or FetchSnapshot is outstanding per destination, so the
 * answer is matched to it. Passing the answered request on the `response`
 * event makes a duplicated or overtaken response harmless even to a
 * transport that breaks that rule (the simulator delivers such responses).
 *
 * Invariants asserted (InvariantViolation, never caught to carry on): the
 * epoch never decreases, one vote per epoch, one leader per epoch, the high
 * watermark never decreases nor passes the log end, and the log is never
 * truncated below it.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { invariant } from '../storage/errors.ts';
import type {
  BeginQuorumEpochRequest,
  EndQuorumEpochRequest,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  NodeId,
  OffsetAndEpoch,
  QuorumStateStore,
  QuorumView,
  RaftAction,
  RaftBatchInfo,
  RaftConfig,
  RaftCoreApi,
  RaftEvent,
  RaftLog,
  RaftRequest,
  RaftResponse,
  RaftRole,
  RaftUnsafe,
  ReplicaStateView,
  VoteRequest,
  VoteResponse,
} from './types.ts';

const NONE = ErrorCode.NONE;
const NOT_LEADER_OR_FOLLOWER = ErrorCode.NOT_LEADER_OR_FOLLOWER;
const FENCED_LEADER_EPOCH = ErrorCode.FENCED_LEADER_EPOCH;
const UNKNOWN_LEADER_EPOCH = ErrorCode.UNKNOWN_LEADER_EPOCH;
const INCONSISTENT_VOTER_SET = ErrorCode.INCONSISTENT_VOTER_SET;
const INCONSISTENT_CLUSTER_ID = ErrorCode.INCONSISTENT_CLUSTER_ID;
const SNAPSHOT_NOT_FOUND = ErrorCode.SNAPSHOT_NOT_FOUND;
const POSITION_OUT_OF_RANGE = ErrorCode.POSITION_OUT_OF_RANGE;
const INVALID_REQUEST = ErrorCode.INVALID_REQUEST;
/** A Fetch or FetchSnapshot that names this node as the fetching replica. */
const INVALID_REPLICA = INVALID_REQUEST;

/** Kafka's check-quorum timeout is this multiple of the fetch timeout. */
const CHECK_QUORUM_FACTOR = 1.5;
/** A leader forgets an observer that has not fetched for this long (Kafka: 5 minutes). */
const OBSERVER_SESSION_MS = 300_000;
/** `nextDeadline` is never further away than this, so a caller's timer stays finite. */
const IDLE_TICK_MS = 60_000;
/** controller.quorum.retry.backoff.ms default. */
const DEFAULT_RETRY_BACKOFF_MS = 20;

const EMPTY = new Uint8Array(0);

interface ReplicaState {
  /** The replica's last valid fetch offset (its durable log end), -1 before its first fetch in this epoch. */
  endOffset: number;
  lastFetchTimestamp: number;
  lastCaughtUpTimestamp: number;
  /** The high watermark in the last Fetch response sent to it (-1 before any). */
  sentHighWatermark?: number;
}

interface ParkedFetch {
  from: NodeId;
  requestId: number;
  request: FetchRequest;
  deadline: number;
}

interface LeaderState {
  /** Offset of this epoch's LeaderChange entry: the high watermark must pass it before it moves. */
  epochStartOffset: number;
  since: number;
  voters: Map<NodeId, ReplicaState>;
  observers: Map<NodeId, ReplicaState>;
  parked: ParkedFetch[];
  /** Voters that fetched in this epoch; BeginQuorumEpoch is resent to the others. */
  acknowledged: Set<NodeId>;
  beginQuorumResendAt: number;
}

interface SnapshotFetch {
  id: OffsetAndEpoch;
  position: number;
  size: number;
  chunks: Uint8Array[];
}

type FetchValidation =
  | { kind: 'valid' }
  | { kind: 'diverging'; divergingEpoch: OffsetAndEpoch }
  | { kind: 'snapshot'; snapshotId: OffsetAndEpoch };

export class RaftCore<R> implements RaftCoreApi<R> {
  readonly nodeId: NodeId;
  private readonly config: RaftConfig;
  private readonly log: RaftLog<R>;
  private readonly store: QuorumStateStore;
  private readonly voters: readonly NodeId[];
  private readonly otherVoters: readonly NodeId[];
  private readonly isVoter: boolean;
  private readonly majority: number;
  private readonly retryBackoffMs: number;
  private readonly unsafe: RaftUnsafe;

  private _role: RaftRole;
  private _epoch: number;
  private votedId: NodeId;
  /** The leader of the current epoch as far as known (ourselves while leader or resigned), or -1. */
  private _leaderId: NodeId;
  private _highWatermark = -1;
  private _clusterId: string | null;

  private now: number;
  private out: RaftAction<R>[] = [];
  private reportedEpoch = -1;
  private reportedLeader = -2;
  private pendingLeaderChange: { type: 'leaderChange'; epoch: number; leaderId: NodeId } | null = null;
  /** Parked fetches of a leadership that ended in this event, answered with an error at its end. */
  private orphanedFetches: ParkedFetch[] = [];

  // elections
  private electionAt = Number.POSITIVE_INFINITY;
  private electionRetries = 0;
  private readonly granted = new Set<NodeId>();
  private readonly rejected = new Set<NodeId>();

  // following
  private fetchTimeoutAt = Number.POSITIVE_INFINITY;
  private earlyElectionAt = Number.POSITIVE_INFINITY;
  private leaderContactAt = Number.NEGATIVE_INFINITY;
  /** The leader of our epoch told us (EndQuorumEpoch, or NOT_LEADER on Fetch) that it no longer leads. */
  private leaderResigned = false;
  private fetchRetryAt = Number.NEGATIVE_INFINITY;
  /** The Fetch or FetchSnapshot awaiting an answer, per destination (at most one each). */
  private readonly outstanding = new Map<NodeId, FetchRequest | FetchSnapshotRequest>();
  private snapshotFetch: SnapshotFetch | null = null;
  private bootstrapIndex: number;

  private flushInFlight = false;
  private leader: LeaderState | null = null;
  /** False until the first event. */
  private started = false;

  constructor(config: RaftConfig, log: RaftLog<R>, store: QuorumStateStore, now: number) {
    invariant(config.voters.length > 0, 'raft: the voter set is empty');
    invariant(new Set(config.voters).size === config.voters.length, 'raft: duplicate voter ids');
    this.config = config;
    this.log = log;
    this.store = store;
    this.nodeId = config.nodeId;
    this.voters = [...config.voters];
    this.otherVoters = this.voters.filter((v) => v !== config.nodeId);
    this.isVoter = this.voters.includes(config.nodeId);
    this.majority = Math.floor(this.voters.length / 2) + 1;
    this.retryBackoffMs = config.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
    this.unsafe = config.unsafe ?? {};
    this._clusterId = config.clusterId;
    this.now = now;
    this.bootstrapIndex = Math.floor(config.random() * this.voters.length);

    const state = store.read() ?? { epoch: 0, votedId: -1, leaderId: -1 };
    invariant(state.epoch >= 0, () => `raft: persisted epoch ${state.epoch} is negative`);
    this._epoch = state.epoch;
    this.votedId = state.votedId;
    this._leaderId = state.leaderId;
    const single = this.isVoter && this.voters.length === 1;
    if (!this.isVoter) {
      this._role = 'observer';
      if (this._leaderId >= 0) this.fetchTimeoutAt = now + config.fetchTimeoutMs;
    } else if (this._leaderId === this.nodeId) {
      // led this epoch before the restart: it cannot lead it again
      this._role = 'resigned';
      this.electionAt = single ? now : now + this.randomElectionTimeout();
    } else if (this._leaderId >= 0) {
      this._role = 'follower';
      this.fetchTimeoutAt = now + config.fetchTimeoutMs;
    } else {
      this._role = 'unattached';
      // a quorum of one elects itself on the first tick: a single node starts at once
      this.electionAt = single ? now : now + this.randomElectionTimeout();
    }
  }

  get role(): RaftRole {
    return this._role;
  }
  get epoch(): number {
    return this._epoch;
  }
  /** The leader of the current epoch, or -1; this node only while it leads. */
  get leaderId(): NodeId {
    return this._leaderId === this.nodeId && this._role !== 'leader' ? -1 : this._leaderId;
  }
  get highWatermark(): number {
    return this._highWatermark;
  }
  get clusterId(): string | null {
    return this._clusterId;
  }

  setClusterId(clusterId: string): void {
    this._clusterId = clusterId;
  }

  handle(event: RaftEvent<R>): RaftAction<R>[] {
    this.begin(event.now);
    switch (event.type) {
      case 'tick':
        this.onTick();
        break;
      case 'request':
        if (event.from !== this.nodeId) this.onRequest(event.from, event.requestId, event.request);
        break;
      case 'response':
        this.onResponse(event.from, event.response, event.request);
        break;
      case 'sendFailed':
        this.onSendFailed(event.to, event.request);
        break;
      case 'flushed':
        this.flushInFlight = false;
        break;
      case 'resign':
        this.resign();
        break;
    }
    return this.finish();
  }

  propose(records: readonly Uint8Array[], now: number): { batch: RaftBatchInfo; actions: RaftAction<R>[] } | null {
    if (this._role !== 'leader') return null;
    this.begin(now);
    const batch = this.log.appendAsLeader(records, this._epoch);
    this.answerParkedFetches();
    return { batch, actions: this.finish() };
  }

  nextDeadline(): number {
    // the first event starts everything (a follower's or observer's first fetch, a lone voter's election)
    if (!this.started) return this.now;
    let t = Number.POSITIVE_INFINITY;
    switch (this._role) {
      case 'unattached':
      case 'resigned':
      case 'prospective':
      case 'candidate':
        t = this.electionAt;
        break;
      case 'follower':
        t = Math.min(this.fetchTimeoutAt, this.earlyElectionAt);
        break;
      case 'observer':
        if (this._leaderId >= 0) t = this.fetchTimeoutAt;
        break;
      case 'leader': {
        const l = this.leader!;
        for (const p of l.parked) t = Math.min(t, p.deadline);
        t = Math.min(t, this.checkQuorumDeadline());
        if (l.acknowledged.size < this.otherVoters.length) t = Math.min(t, l.beginQuorumResendAt);
        break;
      }
    }
    if ((this._role === 'follower' || this._role === 'observer') && this.fetchRetryAt > this.now) {
      t = Math.min(t, this.fetchRetryAt);
    }
    return Math.min(t, this.now + IDLE_TICK_MS);
  }

  describeQuorum(now: number): QuorumView | null {
    if (this._role !== 'leader') return null;
    const l = this.leader!;
    const view = (replicaId: NodeId, s: ReplicaState): ReplicaStateView => ({
      replicaId,
      logEndOffset: s.endOffset,
      lastFetchTimestamp: s.lastFetchTimestamp,
      lastCaughtUpTimestamp: s.lastCaughtUpTimestamp,
    });
    return {
      leaderId: this.nodeId,
      leaderEpoch: this._epoch,
      highWatermark: this._highWatermark,
      currentVoters: this.voters.map((id) =>
        id === this.nodeId
          ? { replicaId: id, logEndOffset: this.log.endOffset, lastFetchTimestamp: now, lastCaughtUpTimestamp: now }
          : view(id, l.voters.get(id)!),
      ),
      observers: [...l.observers].map(([id, s]) => view(id, s)),
    };
  }

  voterFetchedThisEpoch(voterId: NodeId): boolean | null {
    if (this._role !== 'leader' || !this.otherVoters.includes(voterId)) return null;
    return this.leader!.acknowledged.has(voterId);
  }

  /** One line of state, for traces. */
  describe(): string {
    const log = this.log;
    return (
      `${this.nodeId}:${this._role} e${this._epoch} L${this._leaderId} v${this.votedId} hw${this._highWatermark} ` +
      `log[${log.startOffset},${log.durableEndOffset},${log.endOffset}) le${log.lastEpoch()}`
    );
  }

  // ---- event plumbing

  private begin(now: number): void {
    invariant(this.out.length === 0, 'raft: re-entrant call into the core');
    this.started = true;
    this.now = Math.max(this.now, now);
  }

  private finish(): RaftAction<R>[] {
    this.reconcile();
    this.settleLeaderChange();
    if (this.orphanedFetches.length > 0) {
      const orphans = this.orphanedFetches;
      this.orphanedFetches = [];
      for (const p of orphans) {
        const code = p.request.replicaEpoch < this._epoch ? FENCED_LEADER_EPOCH : NOT_LEADER_OR_FOLLOWER;
        this.respond(p.from, p.requestId, this.errorResponse(p.request, code));
      }
    }
    const out = this.out;
    this.out = [];
    return out;
  }

  /** What follows from the state after any event: fsync what is not durable, move the high watermark, fetch. */
  private reconcile(): void {
    if (!this.flushInFlight && this.log.durableEndOffset < this.log.endOffset) {
      this.flushInFlight = true;
      this.out.push({ type: 'flush' });
    }
    if (this._role === 'leader') this.maybeAdvanceHighWatermark();
    else if (this._role === 'follower' || this._role === 'observer') this.maybeFetch();
  }

  /**
   * Called after every transition: the first change in an event places a
   * `leaderChange` action where it happened; `finish` gives it the final
   * (epoch, leader) of the event, or drops it if nothing changed in the end.
   * The first event reports the state the core started in.
   */
  private noteLeader(): void {
    if (this.pendingLeaderChange) return;
    if (this._epoch !== this.reportedEpoch || this.leaderId !== this.reportedLeader) {
      this.pendingLeaderChange = { type: 'leaderChange', epoch: this._epoch, leaderId: this.leaderId };
      this.out.push(this.pendingLeaderChange);
    }
  }

  private settleLeaderChange(): void {
    this.noteLeader();
    const change = this.pendingLeaderChange;
    if (!change) return;
    this.pendingLeaderChange = null;
    if (this._epoch === this.reportedEpoch && this.leaderId === this.reportedLeader) {
      this.out.splice(this.out.indexOf(change), 1);
      return;
    }
    change.epoch = this.reportedEpoch = this._epoch;
    change.leaderId = this.reportedLeader = this.leaderId;
  }

  private send(to: NodeId, request: RaftRequest): void {
    this.out.push({ type: 'send', to, request });
  }

  private respond(to: NodeId, requestId: number, response: RaftResponse<R>): void {
    this.out.push({ type: 'respond', to, requestId, response });
  }

  // ---- persistent state and transitions

  /** Moves to (epoch, votedId, leaderId), persisting it first when it changed. */
  private setState(epoch: number, votedId: NodeId, leaderId: NodeId): void {
    invariant(epoch >= this._epoch, () => `raft ${this.nodeId}: epoch went back from ${this._epoch} to ${epoch}`);
    if (epoch === this._epoch) {
      invariant(
        this.votedId === -1 || votedId === this.votedId || this.unsafe.voteTwicePerEpoch,
        () => `raft ${this.nodeId}: second vote in epoch ${epoch} (${this.votedId}, then ${votedId})`,
      );
      invariant(
        this._leaderId === -1 || leaderId === -1 || leaderId === this._leaderId,
        () => `raft ${this.nodeId}: two leaders in epoch ${epoch} (${this._leaderId} and ${leaderId})`,
      );
    }
    if (epoch === this._epoch && votedId === this.votedId && leaderId === this._leaderId) return;
    if (epoch !== this._epoch || leaderId !== this._leaderId) this.leaderResigned = false;
    this.store.write({ epoch, votedId, leaderId });
    this._epoch = epoch;
    this.votedId = votedId;
    this._leaderId = leaderId;
  }

  /** Leaves the current role: timers, election tallies, leader state (its parked fetches answered at the end). */
  private exitRole(): void {
    if (this.leader) {
      this.orphanedFetches.push(...this.leader.parked);
      this.leader = null;
    }
    this.electionAt = Number.POSITIVE_INFINITY;
    this.fetchTimeoutAt = Number.POSITIVE_INFINITY;
    this.earlyElectionAt = Number.POSITIVE_INFINITY;
    this.granted.clear();
    this.rejected.clear();
    this.snapshotFetch = null;
  }

  /** A newer epoch with no known leader. */
  private becomeUnattached(epoch: number): void {
    invariant(epoch > this._epoch, 'raft: becomeUnattached needs a newer epoch');
    this.exitRole();
    this.setState(epoch, -1, -1);
    if (this.isVoter) {
      this._role = 'unattached';
      this.electionAt = this.now + this.randomElectionTimeout();
    } else {
      this._role = 'observer';
    }
    this.noteLeader();
  }

  private becomeFollower(epoch: number, leaderId: NodeId, contact: boolean): void {
    invariant(leaderId >= 0 && leaderId !== this.nodeId, () => `raft ${this.nodeId}: cannot follow ${leaderId}`);
    const following = this._role === 'follower' || this._role === 'observer';
    if (!(following && epoch === this._epoch && leaderId === this._leaderId)) {
      this.exitRole();
      this.setState(epoch, epoch === this._epoch ? this.votedId : -1, leaderId);
      this._role = this.isVoter ? 'follower' : 'observer';
      this.leaderContactAt = Number.NEGATIVE_INFINITY;
      this.fetchTimeoutAt = this.now + this.config.fetchTimeoutMs;
      this.fetchRetryAt = Number.NEGATIVE_INFINITY;
      this.electionRetries = 0;
      this.noteLeader();
    }
    if (contact) this.heardFromLeader();
  }

  private heardFromLeader(): void {
    this.leaderContactAt = this.now;
    this.fetchTimeoutAt = this.now + this.config.fetchTimeoutMs;
    this.leaderResigned = false;
  }

  private observeNewerEpoch(epoch: number, leaderId: NodeId): void {
    if (leaderId >= 0 && leaderId !== this.nodeId) this.becomeFollower(epoch, leaderId, false);
    else this.becomeUnattached(epoch);
  }

  private becomeProspective(): void {
    invariant(this.isVoter, 'raft: an observer never stands');
    this.exitRole();
    this._role = 'prospective';
    this.granted.add(this.nodeId);
    this.electionAt = this.now + this.randomElectionTimeout();
    this.noteLeader();
    if (this.granted.size >= this.majority) {
      this.becomeCandidate();
      return;
    }
    const request: VoteRequest = {
      kind: 'Vote',
      clusterId: this._clusterId,
      candidateEpoch: this._epoch,
      candidateId: this.nodeId,
      lastOffsetEpoch: this.log.lastEpoch(),
      lastOffset: this.log.endOffset,
      preVote: true,
    };
    for (const v of this.otherVoters) this.send(v, request);
  }

  private becomeCandidate(): void {
    const epoch = this._epoch + 1;
    this.exitRole();
    if (this.majority === 1) {
      // a quorum of one: the candidacy is won as it starts; one write instead of two
      this.setState(epoch, this.nodeId, this.nodeId);
      this.becomeLeader();
      return;
    }
    this.setState(epoch, this.nodeId, -1);
    this._role = 'candidate';
    this.granted.add(this.nodeId);
    this.electionAt = this.now + this.randomElectionTimeout();
    this.noteLeader();
    const request: VoteRequest = {
      kind: 'Vote',
      clusterId: this._clusterId,
      candidateEpoch: epoch,
      candidateId: this.nodeId,
      lastOffsetEpoch: this.log.lastEpoch(),
      lastOffset: this.log.endOffset,
      preVote: false,
    };
    for (const v of this.otherVoters) this.send(v, request);
  }

  private becomeLeader(): void {
    this.exitRole();
    this.setState(this._epoch, this.nodeId, this.nodeId);
    this._role = 'leader';
    this.electionRetries = 0;
    const batch = this.log.appendLeaderChange(this._epoch, this.nodeId, this.voters);
    const voters = new Map<NodeId, ReplicaState>();
    for (const v of this.otherVoters)
      voters.set(v, { endOffset: -1, lastFetchTimestamp: -1, lastCaughtUpTimestamp: -1 });
    this.leader = {
      epochStartOffset: batch.baseOffset,
      since: this.now,
      voters,
      observers: new Map(),
      parked: [],
      acknowledged: new Set(),
      beginQuorumResendAt: this.now + this.beginQuorumResendMs(),
    };
    this.noteLeader();
    this.sendBeginQuorumEpoch(this.otherVoters);
  }

  /** A prospective or candidate round that did not win (timed out, or a majority refused). */
  private electionLost(): void {
    const wasCandidate = this._role === 'candidate';
    this.exitRole();
    if (!wasCandidate && this._leaderId >= 0 && this._leaderId !== this.nodeId) {
      // the pre-vote failed and the epoch's leader is known: follow it again
      this._role = 'follower';
      this.fetchTimeoutAt = this.now + this.config.fetchTimeoutMs;
      this.fetchRetryAt = Number.NEGATIVE_INFINITY;
      if (this.leaderResigned) this.earlyElectionAt = this.now + this.electionBackoff();
    } else {
      this._role = this._leaderId === this.nodeId ? 'resigned' : 'unattached';
      this.electionAt = this.now + this.electionBackoff();
    }
    this.noteLeader();
  }

  /** Leader: stop leading this epoch and tell the voters who should follow (EndQuorumEpoch). */
  private resign(): void {
    if (this._role !== 'leader') return;
    const l = this.leader!;
    const successors = [...l.voters]
      .sort((a, b) => b[1].endOffset - a[1].endOffset || b[1].lastFetchTimestamp - a[1].lastFetchTimestamp)
      .map(([id]) => id);
    this.exitRole();
    this._role = 'resigned';
    this.electionAt = this.now + this.randomElectionTimeout();
    this.noteLeader();
    const request: EndQuorumEpochRequest = {
      kind: 'EndQuorumEpoch',
      clusterId: this._clusterId,
      leaderId: this.nodeId,
      leaderEpoch: this._epoch,
      preferredSuccessors: successors,
    };
    for (const v of this.otherVoters) this.send(v, request);
  }

  private randomElectionTimeout(): number {
    const t = this.config.electionTimeoutMs;
    return t + Math.floor(this.config.random() * t);
  }

  /** Binary exponential backoff after a lost election, capped at controller.quorum.election.backoff.max.ms. */
  private electionBackoff(): number {
    this.electionRetries++;
    const cap = Math.min(
      this.config.electionBackoffMaxMs,
      this.retryBackoffMs * 2 ** Math.min(this.electionRetries, 20),
    );
    return 1 + Math.floor(this.config.random() * cap);
  }

  private beginQuorumResendMs(): number {
    return Math.max(1, Math.floor(this.config.electionTimeoutMs / 2));
  }

  // ---- timers

  private onTick(): void {
    const now = this.now;
    switch (this._role) {
      case 'unattached':
      case 'resigned':
        if (now >= this.electionAt) this.becomeProspective();
        break;
      case 'prospective':
      case 'candidate':
        if (now >= this.electionAt) this.electionLost();
        break;
      case 'follower':
        if (now >= this.earlyElectionAt || now >= this.fetchTimeoutAt) this.becomeProspective();
        break;
      case 'observer':
        if (this._leaderId >= 0 && now >= this.fetchTimeoutAt) {
          // the leader went quiet: look for the current one through the voters
          this.setState(this._epoch, this.votedId, -1);
          this.fetchTimeoutAt = Number.POSITIVE_INFINITY;
          this.noteLeader();
        }
        break;
      case 'leader':
        this.leaderTick();
        break;
    }
  }

  private leaderTick(): void {
    const l = this.leader!;
    const now = this.now;
    if (l.parked.some((p) => p.deadline <= now)) {
      const due = l.parked.filter((p) => p.deadline <= now);
      l.parked = l.parked.filter((p) => p.deadline > now);
      for (const p of due) this.respond(p.from, p.requestId, this.fetchResponse(p.request));
    }
    for (const [id, s] of l.observers) if (now - s.lastFetchTimestamp > OBSERVER_SESSION_MS) l.observers.delete(id);
    if (now >= l.beginQuorumResendAt) {
      this.sendBeginQuorumEpoch(this.otherVoters.filter((v) => !l.acknowledged.has(v)));
      l.beginQuorumResendAt = now + this.beginQuorumResendMs();
    }
    if (now >= this.checkQuorumDeadline()) this.resign();
  }

  /** When the leader resigns unless more voters fetch: a majority (itself included) must have fetched within 1.5 x fetch timeout. */
  private checkQuorumDeadline(): number {
    const need = this.majority - 1;
    if (need === 0) return Number.POSITIVE_INFINITY;
    const l = this.leader!;
    const contacts = this.otherVoters.map((v) => Math.max(l.voters.get(v)!.lastFetchTimestamp, l.since));
    contacts.sort((a, b) => b - a);
    return contacts[need - 1]! + Math.floor(CHECK_QUORUM_FACTOR * this.config.fetchTimeoutMs);
  }

  private sendBeginQuorumEpoch(to: readonly NodeId[]): void {
    if (to.length === 0) return;
    const request: BeginQuorumEpochRequest = {
      kind: 'BeginQuorumEpoch',
      clusterId: this._clusterId,
      leaderId: this.nodeId,
      leaderEpoch: this._epoch,
    };
    for (const v of to) this.send(v, request);
  }

  // ---- requests

  private clusterMismatch(clusterId: string | null): boolean {
    return this._clusterId !== null && clusterId !== null && clusterId !== this._clusterId;
  }

  private onRequest(from: NodeId, requestId: number, request: RaftRequest): void {
    if (this.clusterMismatch(request.clusterId)) {
      this.respond(from, requestId, this.errorResponse(request, INCONSISTENT_CLUSTER_ID));
      return;
    }
    switch (request.kind) {
      case 'Vote':
        this.onVoteRequest(from, requestId, request);
        break;
      case 'BeginQuorumEpoch':
        this.onBeginQuorumEpoch(from, requestId, request);
        break;
      case 'EndQuorumEpoch':
        this.onEndQuorumEpoch(from, requestId, request);
        break;
      case 'Fetch':
        this.onFetchRequest(from, requestId, request);
        break;
      case 'FetchSnapshot':
        this.onFetchSnapshotRequest(from, requestId, request);
        break;
    }
  }

  /** A response to `request` carrying only an error and what this node knows of the epoch and leader. */
  private errorResponse(request: RaftRequest, errorCode: number): RaftResponse<R> {
    const leaderId = this.leaderId;
    const leaderEpoch = this._epoch;
    switch (request.kind) {
      case 'Vote':
        return { kind: 'VoteResponse', errorCode, leaderId, leaderEpoch, voteGranted: false, preVote: request.preVote };
      case 'BeginQuorumEpoch':
        return { kind: 'BeginQuorumEpochResponse', errorCode, leaderId, leaderEpoch };
      case 'EndQuorumEpoch':
        return { kind: 'EndQuorumEpochResponse', errorCode, leaderId, leaderEpoch };
      case 'Fetch':
        return {
          kind: 'FetchResponse',
          errorCode,
          leaderId,
          leaderEpoch,
          highWatermark: this._highWatermark,
          logStartOffset: this.log.startOffset,
          divergingEpoch: null,
          snapshotId: null,
          records: null,
        };
      case 'FetchSnapshot':
        return {
          kind: 'FetchSnapshotResponse',
          errorCode,
          leaderId,
          leaderEpoch,
          snapshotId: request.snapshotId,
          size: -1,
          position: request.position,
          bytes: EMPTY,
        };
    }
  }

  /** Compares a candidate's (last epoch, log end) with ours: >= 0 when it is at least as up to date. */
  private compareLog(lastEpoch: number, endOffset: number): number {
    const ours = this.log.lastEpoch();
    return lastEpoch !== ours ? lastEpoch - ours : endOffset - this.log.endOffset;
  }

  private onVoteRequest(from: NodeId, requestId: number, request: VoteRequest): void {
    if (!this.isVoter || !this.voters.includes(request.candidateId)) {
      this.respond(from, requestId, this.errorResponse(request, INCONSISTENT_VOTER_SET));
      return;
    }
    // a candidate's log cannot hold entries of its (new) epoch; a prospective's of a later one
    const illegal = request.preVote
      ? request.lastOffsetEpoch > request.candidateEpoch
      : request.lastOffsetEpoch >= request.candidateEpoch;
    if (illegal || request.lastOffsetEpoch < 0 || request.lastOffset < 0) {
      this.respond(from, requestId, this.errorResponse(request, INVALID_REQUEST));
      return;
    }
    if (request.candidateEpoch < this._epoch) {
      this.respond(from, requestId, this.errorResponse(request, FENCED_LEADER_EPOCH));
      return;
    }
    // A newer epoch, even in a pre-vote (whose epoch is the prospective's current one, not bumped): a
    // node that really is at a later epoch must pull the others up to it, or it could never rejoin.
    // A node partitioned away does not bump its epoch (its pre-votes fail), so it disrupts nothing.
    if (request.candidateEpoch > this._epoch) this.becomeUnattached(request.candidateEpoch);
    const logOk =
      this.unsafe.grantVoteWithoutLogCheck || this.compareLog(request.lastOffsetEpoch, request.lastOffset) >= 0;
    let granted = false;
    if (request.preVote) {
      // KIP-996: refused while a live leader is known, so a returning partitioned node cannot disrupt it
      const leaderLive =
        this._role === 'leader' ||
        (this._role === 'follower' &&
          !this.leaderResigned &&
          this.now - this.leaderContactAt < this.config.fetchTimeoutMs);
      granted = logOk && !leaderLive;
    } else {
      const free =
        this.votedId === -1 ||
        this.votedId === request.candidateId ||
        (this.unsafe.voteTwicePerEpoch === true && this.votedId !== this.nodeId);
      granted = logOk && free && this._leaderId === -1;
      if (granted) {
        if (this.votedId !== request.candidateId) {
          // persisted before the response leaves
          this.setState(this._epoch, request.candidateId, -1);
        }
        this.exitRole();
        this._role = 'unattached';
        this.electionAt = this.now + this.randomElectionTimeout();
      }
    }
    const response: VoteResponse = {
      kind: 'VoteResponse',
      errorCode: NONE,
      leaderId: this.leaderId,
      leaderEpoch: this._epoch,
      voteGranted: granted,
      preVote: request.preVote,
    };
    this.respond(from, requestId, response);
  }

  private onBeginQuorumEpoch(from: NodeId, requestId: number, request: BeginQuorumEpochRequest): void {
    if (!this.voters.includes(request.leaderId) || request.leaderId === this.nodeId) {
      this.respond(from, requestId, this.errorResponse(request, INCONSISTENT_VOTER_SET));
      return;
    }
    if (request.leaderEpoch < this._epoch) {
      this.respond(from, requestId, this.errorResponse(request, FENCED_LEADER_EPOCH));
      return;
    }
    this.becomeFollower(request.leaderEpoch, request.leaderId, true);
    this.respond(from, requestId, this.errorResponse(request, NONE));
  }

  private onEndQuorumEpoch(from: NodeId, requestId: number, request: EndQuorumEpochRequest): void {
    if (!this.voters.includes(request.leaderId) || request.leaderId === this.nodeId) {
      this.respond(from, requestId, this.errorResponse(request, INCONSISTENT_VOTER_SET));
      return;
    }
    if (request.leaderEpoch < this._epoch) {
      this.respond(from, requestId, this.errorResponse(request, FENCED_LEADER_EPOCH));
      return;
    }
    if (request.leaderEpoch > this._epoch || this._leaderId === -1) {
      this.becomeFollower(request.leaderEpoch, request.leaderId, false);
    }
    if (this._leaderId === request.leaderId && this._role === 'follower') {
      this.leaderResigned = true;
      this.leaderContactAt = Number.NEGATIVE_INFINITY;
      const position = request.preferredSuccessors.indexOf(this.nodeId);
      if (position >= 0) {
        // the most caught-up successor stands at once, the next ones after growing backoffs
        const delay =
          position === 0 ? 0 : Math.min(this.config.electionBackoffMaxMs, this.retryBackoffMs * 2 ** position);
        this.earlyElectionAt = Math.min(this.earlyElectionAt, this.now + delay);
      }
    }
    this.respond(from, requestId, this.errorResponse(request, NONE));
  }

  /** The error for a request only the leader of `replicaEpoch` answers, or NONE. */
  private leaderOnlyError(replicaEpoch: number): number {
    if (replicaEpoch < this._epoch) return FENCED_LEADER_EPOCH;
    if (replicaEpoch > this._epoch) return UNKNOWN_LEADER_EPOCH;
    if (this._role !== 'leader') return NOT_LEADER_OR_FOLLOWER;
    return NONE;
  }

  /** The leader's record of a replica that fetched, created for a new observer. */
  private replicaState(replicaId: NodeId): { state: ReplicaState; voter: boolean } {
    const l = this.leader!;
    const v = l.voters.get(replicaId);
    if (v) return { state: v, voter: true };
    let o = l.observers.get(replicaId);
    if (!o) l.observers.set(replicaId, (o = { endOffset: -1, lastFetchTimestamp: -1, lastCaughtUpTimestamp: -1 }));
    return { state: o, voter: false };
  }

  /** KIP-595: is the follower's (fetch offset, last fetched epoch) a prefix of our log? */
  private validateFetch(fetchOffset: number, lastFetchedEpoch: number): FetchValidation {
    const log = this.log;
    if (fetchOffset < log.startOffset) return this.snapshotOrRestart();
    if (fetchOffset === 0 && lastFetchedEpoch === 0) return { kind: 'valid' };
    const end = log.endOffsetForEpoch(lastFetchedEpoch);
    if (end.epoch === lastFetchedEpoch && end.offset >= fetchOffset) return { kind: 'valid' };
    if (end.epoch < 0 || end.offset < log.startOffset) return this.snapshotOrRestart();
    return { kind: 'diverging', divergingEpoch: { offset: end.offset, epoch: end.epoch } };
  }

  private snapshotOrRestart(): FetchValidation {
    const snapshot = this.log.latestSnapshot();
    if (snapshot) return { kind: 'snapshot', snapshotId: snapshot };
    // nothing in common and no snapshot: the follower starts over from offset 0
    return { kind: 'diverging', divergingEpoch: { offset: 0, epoch: 0 } };
  }

  /**
   * What Fetch and FetchSnapshot share on the leader: refuse a request from
   * this node or of another epoch, else note the replica's fetch. Null when answered.
   */
  private acceptReplicaFetch(
    from: NodeId,
    requestId: number,
    request: FetchRequest | FetchSnapshotRequest,
  ): { l: LeaderState; state: ReplicaState; voter: boolean } | null {
    const error = request.replicaId === this.nodeId ? INVALID_REPLICA : this.leaderOnlyError(request.replicaEpoch);
    if (error !== NONE) {
      this.respond(from, requestId, this.errorResponse(request, error));
      return null;
    }
    const l = this.leader!;
    const { state, voter } = this.replicaState(request.replicaId);
    state.lastFetchTimestamp = this.now;
    if (voter) l.acknowledged.add(request.replicaId);
    return { l, state, voter };
  }

  private onFetchRequest(from: NodeId, requestId: number, request: FetchRequest): void {
    const accepted = this.acceptReplicaFetch(from, requestId, request);
    if (!accepted) return;
    const { l, state, voter } = accepted;
    const validation = this.validateFetch(request.fetchOffset, request.lastFetchedEpoch);
    if (validation.kind !== 'valid') {
      const response = this.fetchResponse(request);
      if (validation.kind === 'snapshot') response.snapshotId = validation.snapshotId;
      else response.divergingEpoch = validation.divergingEpoch;
      response.records = null;
      this.respond(from, requestId, response);
      return;
    }
    state.endOffset = request.fetchOffset;
    if (request.fetchOffset >= this.log.endOffset) state.lastCaughtUpTimestamp = this.now;
    const hwBefore = this._highWatermark;
    if (voter) this.maybeAdvanceHighWatermark();
    // A replica that has not heard of the current high watermark is answered at once: it applies the
    // committed entries (and its broker answers for them) without waiting for the next append.
    const hwUnseen = (state.sentHighWatermark ?? -1) < this._highWatermark;
    if (
      request.fetchOffset < this.log.endOffset ||
      this._highWatermark !== hwBefore ||
      hwUnseen ||
      request.maxWaitMs <= 0
    ) {
      this.respond(from, requestId, this.fetchResponse(request));
    } else {
      const wait = Math.min(request.maxWaitMs, this.config.fetchMaxWaitMs);
      l.parked.push({ from, requestId, request, deadline: this.now + wait });
    }
  }

  /** The leader's answer to a valid fetch, as of now (records from its offset, the high watermark). */
  private fetchResponse(request: FetchRequest): FetchResponse<R> {
    const log = this.log;
    const replica = this.leader?.voters.get(request.replicaId) ?? this.leader?.observers.get(request.replicaId);
    if (replica) replica.sentHighWatermark = this._highWatermark;
    const response: FetchResponse<R> = {
      kind: 'FetchResponse',
      errorCode: NONE,
      leaderId: this.nodeId,
      leaderEpoch: this._epoch,
      highWatermark: this._highWatermark,
      logStartOffset: log.startOffset,
      divergingEpoch: null,
      snapshotId: null,
      records: null,
    };
    if (request.fetchOffset < log.startOffset) {
      // trimmed by a snapshot since the fetch was parked
      response.snapshotId = log.latestSnapshot();
    } else if (request.fetchOffset < log.endOffset) {
      response.records = log.read(request.fetchOffset, this.config.fetchMaxBytes);
    }
    return response;
  }

  private answerParkedFetches(): void {
    const l = this.leader;
    if (!l || l.parked.length === 0) return;
    const parked = l.parked;
    l.parked = [];
    for (const p of parked) this.respond(p.from, p.requestId, this.fetchResponse(p.request));
  }

  private onFetchSnapshotRequest(from: NodeId, requestId: number, request: FetchSnapshotRequest): void {
    if (!this.acceptReplicaFetch(from, requestId, request)) return;
    const maxBytes = Math.max(1, Math.min(request.maxBytes, this.config.fetchMaxBytes));
    const chunk = request.position < 0 ? null : this.log.readSnapshot(request.snapshotId, request.position, maxBytes);
    if (!chunk) {
      const code = request.position < 0 ? POSITION_OUT_OF_RANGE : SNAPSHOT_NOT_FOUND;
      this.respond(from, requestId, this.errorResponse(request, code));
      return;
    }
    if (request.position > chunk.size) {
      this.respond(from, requestId, this.errorResponse(request, POSITION_OUT_OF_RANGE));
      return;
    }
    const response: FetchSnapshotResponse = {
      kind: 'FetchSnapshotResponse',
      errorCode: NONE,
      leaderId: this.nodeId,
      leaderEpoch: this._epoch,
      snapshotId: request.snapshotId,
      size: chunk.size,
      position: request.position,
      bytes: chunk.bytes,
    };
    this.respond(from, requestId, response);
  }

  // ---- leader: the high watermark

  private maybeAdvanceHighWatermark(): void {
    const l = this.leader!;
    const offsets = [this.unsafe.leaderCountsUnflushed ? this.log.endOffset : this.log.durableEndOffset];
    for (const v of this.otherVoters) offsets.push(l.voters.get(v)!.endOffset);
    offsets.sort((a, b) => b - a);
    const majorityOffset = offsets[this.majority - 1]!;
    if (majorityOffset <= this._highWatermark) return;
    // Raft's commit rule: only once an entry of this epoch (its LeaderChange first) is on a majority
    if (!this.unsafe.commitOlderEpochEntries && majorityOffset <= l.epochStartOffset) return;
    this.setHighWatermark(majorityOffset);
  }

  private setHighWatermark(hw: number): void {
    invariant(
      hw >= this._highWatermark,
      () => `raft ${this.nodeId}: high watermark went back from ${this._highWatermark} to ${hw}`,
    );
    invariant(
      hw <= this.log.endOffset,
      () => `raft ${this.nodeId}: high watermark ${hw} above log end ${this.log.endOffset}`,
    );
    if (hw === this._highWatermark) return;
    this._highWatermark = hw;
    this.out.push({ type: 'commit', highWatermark: hw });
    if (this._role === 'leader') this.answerParkedFetches();
  }

  // ---- responses

  /**
   * What every response teaches, whatever it answers: a refusal for another
   * cluster, a newer epoch (and its leader), the leader of our epoch. True
   * when the response has been dealt with (a newer epoch or another cluster).
   */
  private learnFromResponse(from: NodeId, errorCode: number, leaderId: NodeId, leaderEpoch: number): boolean {
    if (errorCode === INCONSISTENT_CLUSTER_ID) {
      this.out.push({ type: 'inconsistentCluster', peer: from, peerClusterId: null });
      return true;
    }
    if (leaderEpoch > this._epoch) {
      this.observeNewerEpoch(leaderEpoch, leaderId);
      return true;
    }
    if (leaderEpoch === this._epoch && leaderId >= 0 && leaderId !== this.nodeId && this._leaderId === -1) {
      this.becomeFollower(leaderEpoch, leaderId, false);
    }
    return false;
  }

  private onResponse(from: NodeId, response: RaftResponse<R>, request: RaftRequest | undefined): void {
    switch (response.kind) {
      case 'VoteResponse':
        this.onVoteResponse(from, response, request);
        break;
      case 'FetchResponse':
      case 'FetchSnapshotResponse':
        this.onFetchKindResponse(from, response, request);
        break;
      case 'BeginQuorumEpochResponse':
      case 'EndQuorumEpochResponse':
        this.learnFromResponse(from, response.errorCode, response.leaderId, response.leaderEpoch);
        break;
    }
  }

  private onVoteResponse(from: NodeId, response: VoteResponse, request: RaftRequest | undefined): void {
    if (!this.voters.includes(from)) return;
    if (request !== undefined && (request.kind !== 'Vote' || request.preVote !== response.preVote)) return;
    if (this.learnFromResponse(from, response.errorCode, response.leaderId, response.leaderEpoch)) return;
    if (response.preVote) {
      if (this._role !== 'prospective') return;
      if (request !== undefined && request.candidateEpoch !== this._epoch) return;
    } else {
      if (this._role !== 'candidate' || response.leaderEpoch !== this._epoch) return;
      if (request !== undefined && request.candidateEpoch !== this._epoch) return;
    }
    if (response.voteGranted && response.errorCode === NONE) this.granted.add(from);
    else this.rejected.add(from);
    if (this.granted.size >= this.majority) {
      if (response.preVote) this.becomeCandidate();
      else this.becomeLeader();
    } else if (this.rejected.size > this.voters.length - this.majority) {
      this.electionLost();
    }
  }

  private fetchTarget(): NodeId {
    if (this._leaderId >= 0) return this._leaderId === this.nodeId ? -1 : this._leaderId;
    if (this._role !== 'observer') return -1;
    return this.voters[this.bootstrapIndex % this.voters.length]!;
  }

  private maybeFetch(): void {
    const target = this.fetchTarget();
    if (target < 0 || this.outstanding.has(target) || this.now < this.fetchRetryAt) return;
    if (this._role === 'follower' && this.leaderResigned) return;
    if (this.snapshotFetch) {
      const request: FetchSnapshotRequest = {
        kind: 'FetchSnapshot',
        clusterId: this._clusterId,
        replicaId: this.nodeId,
        replicaEpoch: this._epoch,
        snapshotId: this.snapshotFetch.id,
        position: this.snapshotFetch.position,
        maxBytes: this.config.fetchMaxBytes,
      };
      this.outstanding.set(target, request);
      this.send(target, request);
      return;
    }
    // the fetch offset tells the leader what we hold durably: fsync first
    if (!this.unsafe.followerReportsUnflushed && this.log.durableEndOffset < this.log.endOffset) return;
    const request: FetchRequest = {
      kind: 'Fetch',
      clusterId: this._clusterId,
      replicaId: this.nodeId,
      replicaEpoch: this._epoch,
      fetchOffset: this.log.endOffset,
      lastFetchedEpoch: this.log.lastEpoch(),
      maxWaitMs: this.config.fetchMaxWaitMs,
    };
    this.outstanding.set(target, request);
    this.send(target, request);
  }

  private onFetchKindResponse(
    from: NodeId,
    response: FetchResponse<R> | FetchSnapshotResponse,
    request: RaftRequest | undefined,
  ): void {
    const sent = this.outstanding.get(from);
    // a response to nothing outstanding, or to an older request, is a duplicate or overtaken: ignored
    if (!sent || (request !== undefined && !sameRequest(sent, request))) return;
    if ((sent.kind === 'Fetch') !== (response.kind === 'FetchResponse')) return;
    this.outstanding.delete(from);
    if (this.learnFromResponse(from, response.errorCode, response.leaderId, response.leaderEpoch)) {
      if (this._leaderId < 0) this.fetchFailed();
      return;
    }
    if (this._role !== 'follower' && this._role !== 'observer') return;
    if (response.leaderEpoch < this._epoch || sent.replicaEpoch !== this._epoch) return;
    if (response.errorCode !== NONE) {
      this.onFetchError(from, response.errorCode);
      return;
    }
    if (from !== this._leaderId) return;
    this.heardFromLeader();
    if (response.kind === 'FetchResponse') this.onFetchData(response, sent as FetchRequest);
    else this.onSnapshotChunk(response, sent as FetchSnapshotRequest);
  }

  private fetchFailed(): void {
    this.fetchRetryAt = this.now + this.retryBackoffMs;
    if (this._role === 'observer' && this._leaderId < 0) this.bootstrapIndex++;
  }

  private onFetchError(from: NodeId, errorCode: number): void {
    this.fetchFailed();
    if (errorCode === SNAPSHOT_NOT_FOUND || errorCode === POSITION_OUT_OF_RANGE) {
      // the leader has a newer snapshot by now: the next Fetch names it
      this.snapshotFetch = null;
      return;
    }
    if (from === this._leaderId && errorCode === NOT_LEADER_OR_FOLLOWER) {
      // the leader of our epoch stopped leading it: it will not lead it again
      if (this._role === 'observer') {
        this.setState(this._epoch, this.votedId, -1);
        this.noteLeader();
      } else if (!this.leaderResigned) {
        this.leaderResigned = true;
        this.leaderContactAt = Number.NEGATIVE_INFINITY;
        this.earlyElectionAt = Math.min(this.earlyElectionAt, this.now + this.electionBackoff());
      }
    }
  }

  private onFetchData(response: FetchResponse<R>, sent: FetchRequest): void {
    const log = this.log;
    // the log changed since this fetch was sent: its answer no longer applies
    if (this.snapshotFetch || sent.fetchOffset !== log.endOffset || sent.lastFetchedEpoch !== log.lastEpoch()) return;
    if (response.divergingEpoch) {
      this.truncateToDivergence(response.divergingEpoch);
      return;
    }
    if (response.snapshotId) {
      this.snapshotFetch = { id: response.snapshotId, position: 0, size: -1, chunks: [] };
      return;
    }
    if (response.records !== null) {
      const batches = log.describe(response.records);
      if (batches.length > 0) {
        if (batches[0]!.baseOffset !== log.endOffset) return;
        if (batches.some((b) => b.epoch > this._epoch)) return;
        log.appendAsFollower(response.records);
      }
    }
    const hw = Math.min(response.highWatermark, log.endOffset);
    if (hw > this._highWatermark) this.setHighWatermark(hw);
  }

  /** KIP-595: truncate to where our log and the leader's agree on the diverging epoch. */
  private truncateToDivergence(diverging: OffsetAndEpoch): void {
    const log = this.log;
    let offset: number;
    if (diverging.epoch <= 0) {
      offset = Math.min(diverging.offset, log.endOffset);
    } else {
      const local = log.endOffsetForEpoch(diverging.epoch);
      offset = local.epoch === diverging.epoch ? Math.min(local.offset, diverging.offset) : local.offset;
    }
    offset = Math.max(offset, log.startOffset);
    if (offset >= log.endOffset) return;
    invariant(
      offset >= this._highWatermark,
      () => `raft ${this.nodeId}: truncation to ${offset} below the high watermark ${this._highWatermark}`,
    );
    log.truncateTo(offset);
  }

  private onSnapshotChunk(response: FetchSnapshotResponse, sent: FetchSnapshotRequest): void {
    const f = this.snapshotFetch;
    if (
      !f ||
      !sameId(sent.snapshotId, f.id) ||
      sent.position !== f.position ||
      !sameId(response.snapshotId, f.id) ||
      response.position !== f.position
    ) {
      return;
    }
    const bytes = response.bytes;
    if (
      response.size < 0 ||
      f.position + bytes.length > response.size ||
      (bytes.length === 0 && f.position < response.size)
    ) {
      // an answer that makes no progress or overruns its own size: start over
      this.snapshotFetch = null;
      this.fetchFailed();
      return;
    }
    f.chunks.push(bytes);
    f.position += bytes.length;
    f.size = response.size;
    if (f.position < f.size) return;
    const whole = new Uint8Array(f.size);
    let at = 0;
    for (const c of f.chunks) {
      whole.set(c, at);
      at += c.length;
    }
    this.snapshotFetch = null;
    invariant(
      f.id.offset >= this._highWatermark,
      () => `raft ${this.nodeId}: snapshot ${f.id.offset} would drop committed entries below ${this._highWatermark}`,
    );
    this.log.installSnapshot(f.id, whole);
    this.out.push({ type: 'snapshotInstalled', id: f.id });
    // a snapshot holds committed entries only
    if (f.id.offset > this._highWatermark) this.setHighWatermark(f.id.offset);
  }

  private onSendFailed(to: NodeId, request: RaftRequest): void {
    const sent = this.outstanding.get(to);
    if (sent && sameRequest(sent, request)) {
      this.outstanding.delete(to);
      if (to === this.fetchTarget()) this.fetchFailed();
    }
  }
}

function sameId(a: OffsetAndEpoch, b: OffsetAndEpoch): boolean {
  return a.offset === b.offset && a.epoch === b.epoch;
}

/** The same request (by identity, or by content when the transport hands back a copy). */
function sameRequest(a: RaftRequest, b: RaftRequest): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  if (a.kind === 'Fetch' && b.kind === 'Fetch') {
    return (
      a.replicaEpoch === b.replicaEpoch && a.fetchOffset === b.fetchOffset && a.lastFetchedEpoch === b.lastFetchedEpoch
    );
  }
  if (a.kind === 'FetchSnapshot' && b.kind === 'FetchSnapshot') {
    return a.replicaEpoch === b.replicaEpoch && a.position === b.position && sameId(a.snapshotId, b.snapshotId);
  }
  return false;
}
