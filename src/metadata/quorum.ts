/**
 * The metadata quorum as the controller and the broker see it: a log of
 * metadata batches that are appended by the active controller (the Raft
 * leader) and delivered, once committed, to every node in the same order.
 *
 * Implemented by `RaftNode` (src/raft/node.ts) over the `__cluster_metadata`
 * log; a single-node broker is a quorum of one voter.
 */
import type { MetadataBatch, MetadataSnapshot } from './metadata-log.ts';
import type { MetadataRecord } from './records.ts';

/** Thrown by `append` on a node that is not (or stopped being) the active controller. */
export class NotControllerError extends Error {
  readonly errorCode = 'NOT_CONTROLLER' as const;
  constructor(
    message: string,
    /** The leader when known, else -1. */
    readonly leaderId: number,
  ) {
    super(message);
    this.name = 'NotControllerError';
  }
}

export interface QuorumListener {
  /** A committed batch (control batches left out), in log order, each exactly once per run. */
  onCommitted(batch: MetadataBatch): void | Promise<void>;
  /**
   * The local log was replaced by a snapshot fetched from the leader (a new
   * or lagging node): the image is rebuilt from it, and committed batches
   * continue after its end offset.
   */
  onSnapshot(snapshot: MetadataSnapshot): void | Promise<void>;
  /** The epoch or the leader changed (leaderId -1 while an election runs). */
  onLeaderChange(leaderId: number, epoch: number): void;
}

export interface MetadataQuorum {
  readonly nodeId: number;
  /** The current leader (the active controller), or -1. */
  readonly leaderId: number;
  readonly epoch: number;
  /**
   * True when this node leads and everything committed before its epoch has
   * been delivered to the listener: it may decide (validate against the image)
   * and append.
   */
  readonly isActiveController: boolean;
  /** Offsets below this are committed and delivered. */
  readonly committedOffset: number;
  /** The cluster id in force (from meta.properties or adopted from the log), or null until known. */
  readonly clusterId: string | null;

  /**
   * Starts delivering: first the local snapshot and committed batches (the
   * replay), then whatever commits later. Call once, before `start`.
   */
  setListener(l: QuorumListener): void;
  /** Joins the quorum (elections, fetching); resolves once the local replay has been delivered. */
  start(): Promise<void>;
  /**
   * Appends `records` as one batch; resolves once it is committed and
   * delivered to the listener. Rejects with NotControllerError when this node
   * does not lead (or loses leadership first), MetadataStorageError when the
   * local write or fsync fails.
   */
  append(records: MetadataRecord[]): Promise<MetadataBatch>;
  /** Record bytes appended since the latest snapshot. */
  readonly bytesSinceSnapshot: number;
  /** Writes a snapshot of the image at `endOffset` (<= committedOffset) and trims the log below it. */
  writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void>;
  /**
   * When this node leads: whether the other voter `voterId` has fetched from
   * it in the current epoch (a voter that is alive and can reach the leader
   * does so within controller.quorum.fetch.timeout.ms of the election, or
   * starts an election of its own). Null when this node does not lead or
   * `voterId` is not another voter. Optional: a quorum without it gives no
   * such signal.
   */
  voterFetchedThisEpoch?(voterId: number): boolean | null;
  /** Graceful stop: a leader resigns (EndQuorumEpoch) first; then the log is closed. */
  close(): Promise<void>;
}
