/**
 * src/raft: the KIP-595 Raft core that replicates the cluster metadata log
 * (`__cluster_metadata`, partition 0) across the controller quorum.
 *
 * The core is a pure state machine: `RaftCore.handle(event)` returns actions.
 * It owns no socket, file, timer or random source. What it reads and writes
 * is injected: the log (`RaftLog`, whose writes land in the page cache at
 * once and become durable when a `flush` action completes), the persisted
 * quorum state (`QuorumStateStore`), the clock (the `now` of every event) and
 * randomness (`RaftConfig.random`). The same core runs in the broker
 * (src/raft/node.ts connects it to the metadata log, the network and timers)
 * and in the deterministic simulator (test/sim).
 *
 * This file holds the types shared by the core, its adapters and the
 * simulator; it imports nothing.
 */

export type NodeId = number;

/** A batch of the replicated log as the core sees it: offsets and the leader epoch that wrote it. */
export interface RaftBatchInfo {
  baseOffset: number;
  lastOffset: number;
  epoch: number;
}

/** An (end offset, epoch) pair: a snapshot's id, or a divergence point (KIP-595's OffsetAndEpoch). */
export interface OffsetAndEpoch {
  offset: number;
  epoch: number;
}

/**
 * The replicated log. `R` is the type of a chunk of batches as it travels in
 * Fetch: the file-backed log uses the raw v2 record-batch bytes (`Buffer`),
 * the simulator plain objects. Reads and writes are synchronous; writes are
 * not durable until `flush()` resolves (see the `flush` action).
 */
export interface RaftLog<R> {
  /** First offset held in the log (everything below is in the snapshot). */
  readonly startOffset: number;
  /** Log end offset: the next offset to be written. */
  readonly endOffset: number;
  /** Offsets below this are fsynced. Never above `endOffset`. */
  readonly durableEndOffset: number;
  /** Epoch of the last batch (or of the latest snapshot when the log is empty past it); 0 when empty. */
  lastEpoch(): number;
  /**
   * KIP-595's end offset for an epoch: the largest epoch `e <= epoch` in the
   * log with the end offset of `e` (the start offset of the next larger
   * epoch, or the log end). `{offset: -1, epoch: -1}` when no such epoch.
   */
  endOffsetForEpoch(epoch: number): OffsetAndEpoch;
  /** Batches from the one holding `fromOffset`, at most `maxBytes` (at least one batch); null when nothing to read. */
  read(fromOffset: number, maxBytes: number): R | null;
  /** Offsets and epochs of the batches in a chunk (what the follower checks before appending). */
  describe(chunk: R): RaftBatchInfo[];
  /** Leader append: the records become one batch at the log end with `epoch`. */
  appendAsLeader(records: readonly Uint8Array[], epoch: number): RaftBatchInfo;
  /** Follower append: the chunk's batches, whose first base offset must equal `endOffset`. */
  appendAsFollower(chunk: R): void;
  /**
   * A new leader's first entry in its epoch (KIP-595's LeaderChangeMessage):
   * a control batch the state machine skips. The leader commits nothing of
   * earlier epochs before this entry is committed.
   */
  appendLeaderChange(epoch: number, leaderId: NodeId, voters: readonly NodeId[]): RaftBatchInfo;
  /** Drops every batch at or above `offset` (never below the high watermark). */
  truncateTo(offset: number): void;
  /** The latest snapshot's id (end offset, epoch of the entry before it), or null. */
  latestSnapshot(): OffsetAndEpoch | null;
  /** Bytes `[position, position+maxBytes)` of snapshot `id`, and its total size; null when it is not (any longer) here. */
  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): { bytes: Uint8Array; size: number } | null;
  /**
   * Follower: store a snapshot fetched from the leader (all its bytes) and
   * reset the log to start at its end offset (everything below dropped).
   */
  installSnapshot(id: OffsetAndEpoch, bytes: Uint8Array): void;
}

/** What must survive a restart besides the log: KIP-595's quorum-state file. */
export interface QuorumState {
  epoch: number;
  /** The candidate this node voted for in `epoch`, or -1. */
  votedId: NodeId;
  /** The leader of `epoch` when known, or -1. */
  leaderId: NodeId;
}

/** Persists the quorum state durably (synchronously: the write is fsynced when it returns, or it throws). */
export interface QuorumStateStore {
  read(): QuorumState | null;
  write(state: QuorumState): void;
}

export interface RaftConfig {
  nodeId: NodeId;
  /** Voter ids (controller.quorum.voters). A node not among them is an observer: it fetches, never votes. */
  voters: readonly NodeId[];
  /** controller.quorum.election.timeout.ms (Kafka: 1000). */
  electionTimeoutMs: number;
  /** controller.quorum.fetch.timeout.ms (Kafka: 2000): a follower that hears nothing from its leader this long starts an election. */
  fetchTimeoutMs: number;
  /** controller.quorum.election.backoff.max.ms (Kafka: 1000). */
  electionBackoffMaxMs: number;
  /** How long a leader holds a Fetch that has nothing new (Kafka: 500). */
  fetchMaxWaitMs: number;
  /** Bytes per Fetch response and FetchSnapshot chunk. */
  fetchMaxBytes: number;
  /**
   * Cluster id when this node knows it: requests and responses with another
   * are refused (INCONSISTENT_CLUSTER_ID). Null until known (a fresh node
   * learns it from the committed log; see `RaftCoreApi.setClusterId`).
   */
  clusterId: string | null;
  /** Uniform in [0, 1): jitter of election timeouts and backoffs. */
  random: () => number;
  /** controller.quorum.retry.backoff.ms (Kafka: 20): wait before resending a failed Fetch or FetchSnapshot. */
  retryBackoffMs?: number;
  /** Test only: planted bugs the simulator must catch (test/unit/raft/sim.test.ts). Never set outside tests. */
  unsafe?: RaftUnsafe;
}

/** Deliberate safety bugs, each switched on by a test to prove the simulator's checks catch it. */
export interface RaftUnsafe {
  /** Grant a vote without checking that the candidate's log is at least as up to date as ours. */
  grantVoteWithoutLogCheck?: boolean;
  /** Grant a second vote in an epoch to another candidate. */
  voteTwicePerEpoch?: boolean;
  /** Advance the high watermark over entries of earlier epochs before one of the current epoch is replicated. */
  commitOlderEpochEntries?: boolean;
  /** The leader counts its log end, not its fsynced end, towards the majority. */
  leaderCountsUnflushed?: boolean;
  /** A follower fetches (reports its position) before its appended records are fsynced. */
  followerReportsUnflushed?: boolean;
}

// Messages between nodes. Field names follow the Kafka messages they are carried in
// (Vote 52, BeginQuorumEpoch 53, EndQuorumEpoch 54, Fetch 1 on __cluster_metadata-0, FetchSnapshot 59).

export interface VoteRequest {
  kind: 'Vote';
  clusterId: string | null;
  /** The candidate's epoch; for a pre-vote its current epoch, not yet bumped (as Kafka 4.x sends it). */
  candidateEpoch: number;
  candidateId: NodeId;
  lastOffsetEpoch: number;
  lastOffset: number;
  /** KIP-996: a pre-vote asks whether a vote would be granted, without bumping epochs. */
  preVote: boolean;
}
export interface VoteResponse {
  kind: 'VoteResponse';
  errorCode: number;
  leaderId: NodeId;
  leaderEpoch: number;
  voteGranted: boolean;
  preVote: boolean;
}
export interface BeginQuorumEpochRequest {
  kind: 'BeginQuorumEpoch';
  clusterId: string | null;
  leaderId: NodeId;
  leaderEpoch: number;
}
export interface BeginQuorumEpochResponse {
  kind: 'BeginQuorumEpochResponse';
  errorCode: number;
  leaderId: NodeId;
  leaderEpoch: number;
}
export interface EndQuorumEpochRequest {
  kind: 'EndQuorumEpoch';
  clusterId: string | null;
  leaderId: NodeId;
  leaderEpoch: number;
  /** Voters in the order the resigning leader prefers as successors (most caught up first). */
  preferredSuccessors: NodeId[];
}
export interface EndQuorumEpochResponse {
  kind: 'EndQuorumEpochResponse';
  errorCode: number;
  leaderId: NodeId;
  leaderEpoch: number;
}
export interface FetchRequest {
  kind: 'Fetch';
  clusterId: string | null;
  replicaId: NodeId;
  /** The follower's epoch (Fetch's CurrentLeaderEpoch). */
  replicaEpoch: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
  maxWaitMs: number;
}
export interface FetchResponse<R> {
  kind: 'FetchResponse';
  errorCode: number;
  leaderId: NodeId;
  leaderEpoch: number;
  highWatermark: number;
  logStartOffset: number;
  /** Set when the follower's log diverges: truncate to at most `offset`, then fetch again. */
  divergingEpoch: OffsetAndEpoch | null;
  /** Set when the fetch offset is below the log start: fetch this snapshot first. */
  snapshotId: OffsetAndEpoch | null;
  records: R | null;
}
export interface FetchSnapshotRequest {
  kind: 'FetchSnapshot';
  clusterId: string | null;
  replicaId: NodeId;
  replicaEpoch: number;
  snapshotId: OffsetAndEpoch;
  position: number;
  maxBytes: number;
}
export interface FetchSnapshotResponse {
  kind: 'FetchSnapshotResponse';
  errorCode: number;
  leaderId: NodeId;
  leaderEpoch: number;
  snapshotId: OffsetAndEpoch;
  size: number;
  position: number;
  bytes: Uint8Array;
}

export type RaftRequest =
  | VoteRequest
  | BeginQuorumEpochRequest
  | EndQuorumEpochRequest
  | FetchRequest
  | FetchSnapshotRequest;
export type RaftResponse<R> =
  | VoteResponse
  | BeginQuorumEpochResponse
  | EndQuorumEpochResponse
  | FetchResponse<R>
  | FetchSnapshotResponse;

/** What happens to the core. Every event carries the current time. */
export type RaftEvent<R> =
  /** Time passed; the core acts on whatever timer expired. */
  | { type: 'tick'; now: number }
  /** A request from another node; answer with a `respond` action carrying the same `requestId`. */
  | { type: 'request'; now: number; from: NodeId; requestId: number; request: RaftRequest }
  /**
   * The answer to one of this node's `send` actions. `request`, when the
   * transport passes it, is the request object of that `send`: the core then
   * ignores a response that does not answer its outstanding request (a
   * duplicate, or one overtaken by a newer request).
   */
  | { type: 'response'; now: number; from: NodeId; response: RaftResponse<R>; request?: RaftRequest }
  /** A `send` to `to` failed (connection refused or closed, timed out): no response will come. */
  | { type: 'sendFailed'; now: number; to: NodeId; request: RaftRequest }
  /** A `flush` action completed: offsets below `durableEndOffset` are fsynced. */
  | { type: 'flushed'; now: number; durableEndOffset: number }
  /** Graceful shutdown: a leader sends EndQuorumEpoch to the voters and stops being leader. */
  | { type: 'resign'; now: number };

/** What the core asks its environment to do. */
export type RaftAction<R> =
  /** Send a request to a node; its response (or `sendFailed`) comes back as an event. */
  | { type: 'send'; to: NodeId; request: RaftRequest }
  /** Answer a received request. */
  | { type: 'respond'; to: NodeId; requestId: number; response: RaftResponse<R> }
  /** fsync the log up to its end; report a `flushed` event when done (never on failure: the node stops). */
  | { type: 'flush' }
  /** The high watermark moved up: batches below it are committed (apply them in order). */
  | { type: 'commit'; highWatermark: number }
  /** The epoch or the leader changed (leaderId -1 while unknown). */
  | { type: 'leaderChange'; epoch: number; leaderId: NodeId }
  /** A snapshot was installed from the leader: the state machine reloads from it. */
  | { type: 'snapshotInstalled'; id: OffsetAndEpoch }
  /** A peer belongs to another cluster (INCONSISTENT_CLUSTER_ID either way): the node should stop with a clear line. */
  | { type: 'inconsistentCluster'; peer: NodeId; peerClusterId: string | null };

/** DescribeQuorum's view of one replica (voter or observer), as the leader tracks it. */
export interface ReplicaStateView {
  replicaId: NodeId;
  logEndOffset: number;
  lastFetchTimestamp: number;
  lastCaughtUpTimestamp: number;
}

export interface QuorumView {
  leaderId: NodeId;
  leaderEpoch: number;
  highWatermark: number;
  currentVoters: ReplicaStateView[];
  observers: ReplicaStateView[];
}

export type RaftRole = 'unattached' | 'prospective' | 'candidate' | 'leader' | 'follower' | 'observer' | 'resigned';

/** The core's surface (implemented by RaftCore in core.ts). */
export interface RaftCoreApi<R> {
  readonly nodeId: NodeId;
  readonly role: RaftRole;
  readonly epoch: number;
  /** The leader of the current epoch, or -1. */
  readonly leaderId: NodeId;
  /** Offsets below this are committed. Never goes backwards (within a run; restarts begin at -1/unknown and learn it). */
  readonly highWatermark: number;
  readonly clusterId: string | null;
  handle(event: RaftEvent<R>): RaftAction<R>[];
  /** The cluster id became known (read from the committed log); from now on it is checked. */
  setClusterId(clusterId: string): void;
  /**
   * Leader only. Appends `records` as one batch in the current epoch;
   * returns the batch and the actions to run (flush, answering parked
   * fetches), or null when this node is not the leader.
   */
  propose(records: readonly Uint8Array[], now: number): { batch: RaftBatchInfo; actions: RaftAction<R>[] } | null;
  /** The earliest time at which a `tick` has something to do. */
  nextDeadline(): number;
  /** DescribeQuorum (leader only; null elsewhere). */
  describeQuorum(now: number): QuorumView | null;
  /**
   * Leader only: whether the other voter `voterId` has fetched from this
   * leader (Fetch or FetchSnapshot) in the current epoch; null when this node
   * does not lead or `voterId` is not one of the other voters.
   */
  voterFetchedThisEpoch(voterId: NodeId): boolean | null;
}
