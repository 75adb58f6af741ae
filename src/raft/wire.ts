/**
 * The Raft messages of src/raft/types.ts on Kafka's wire: Vote (52),
 * BeginQuorumEpoch (53), EndQuorumEpoch (54), Fetch (1) and FetchSnapshot
 * (59) on `__cluster_metadata` partition 0, as KRaft sends them.
 *
 * Bodies are built version-independently (a field that changed shape across
 * versions is set in both shapes: the topic name and the metadata topic id,
 * Fetch's replicaId and ReplicaState, EndQuorumEpoch's preferredSuccessors
 * and preferredCandidates); the encoder writes what the negotiated version
 * has. Decoding checks everything that came from the network: the topic and
 * partition, offsets that fit in a number, Fetch records that are whole v2
 * batches with valid CRCs; what fails is a WireError (the request is answered
 * INVALID_REQUEST; a bad response counts as a failed send).
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import { ZERO_UUID } from '../protocol/schema.ts';
import type {
  BeginQuorumEpochRequest as KBeginRequest,
  BeginQuorumEpochRequestInput,
  BeginQuorumEpochResponse as KBeginResponse,
  BeginQuorumEpochResponseInput,
  EndQuorumEpochRequest as KEndRequest,
  EndQuorumEpochRequestInput,
  EndQuorumEpochResponse as KEndResponse,
  EndQuorumEpochResponseInput,
  FetchRequest as KFetchRequest,
  FetchRequestInput,
  FetchResponse as KFetchResponse,
  FetchResponseInput,
  FetchSnapshotRequest as KFetchSnapshotRequest,
  FetchSnapshotRequestInput,
  FetchSnapshotResponse as KFetchSnapshotResponse,
  FetchSnapshotResponseInput,
  VoteRequest as KVoteRequest,
  VoteRequestInput,
  VoteResponse as KVoteResponse,
  VoteResponseInput,
} from '../protocol/generated/messages.ts';
import { METADATA_TOPIC } from '../metadata/metadata-log.ts';
import { InvalidChunkError, checkChunk } from './file-log.ts';
import type {
  BeginQuorumEpochRequest,
  BeginQuorumEpochResponse,
  EndQuorumEpochRequest,
  EndQuorumEpochResponse,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  NodeId,
  OffsetAndEpoch,
  RaftRequest,
  RaftResponse,
  VoteRequest,
  VoteResponse,
} from './types.ts';

/** Kafka's fixed topic id of `__cluster_metadata` (Uuid.METADATA_TOPIC_ID: 0, 1), base64url as our codecs carry uuids. */
export const METADATA_TOPIC_ID = 'AAAAAAAAAAAAAAAAAAAAAQ';
export const METADATA_PARTITION = 0;

/** Per Fetch response, what a follower asks for (Kafka's KRaft uses the same 8 MiB for its partition). */
export const RAFT_FETCH_MAX_BYTES = 8 * 1024 * 1024;

/** A message from the network that is not a valid Raft message for this quorum. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

/** The Kafka APIs the quorum speaks between its nodes. */
export type RaftApiName = 'Vote' | 'BeginQuorumEpoch' | 'EndQuorumEpoch' | 'Fetch' | 'FetchSnapshot';

export function apiOf(req: RaftRequest): RaftApiName {
  return req.kind;
}

/** Request bodies per API, as the encoder takes them. */
export interface RaftRequestBodies {
  Vote: VoteRequestInput;
  BeginQuorumEpoch: BeginQuorumEpochRequestInput;
  EndQuorumEpoch: EndQuorumEpochRequestInput;
  Fetch: FetchRequestInput;
  FetchSnapshot: FetchSnapshotRequestInput;
}

/** Decoded response bodies per API. */
export interface RaftResponseBodies {
  Vote: KVoteResponse;
  BeginQuorumEpoch: KBeginResponse;
  EndQuorumEpoch: KEndResponse;
  Fetch: KFetchResponse;
  FetchSnapshot: KFetchSnapshotResponse;
}

/** Decoded request bodies per API. */
export interface RaftWireRequests {
  Vote: KVoteRequest;
  BeginQuorumEpoch: KBeginRequest;
  EndQuorumEpoch: KEndRequest;
  Fetch: KFetchRequest;
  FetchSnapshot: KFetchSnapshotRequest;
}

/** Response bodies per API, as the encoder takes them. */
export interface RaftResponseInputs {
  Vote: VoteResponseInput;
  BeginQuorumEpoch: BeginQuorumEpochResponseInput;
  EndQuorumEpoch: EndQuorumEpochResponseInput;
  Fetch: FetchResponseInput;
  FetchSnapshot: FetchSnapshotResponseInput;
}

// ---- numbers from the wire ------------------------------------------------------

function num(v: number | bigint, what: string): number {
  if (typeof v === 'bigint') {
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    throw new WireError(`${what} ${v} is out of range`);
  }
  return v;
}

function one<T>(list: readonly T[] | null | undefined, what: string): T {
  if (list?.length !== 1) throw new WireError(`${what}: ${list?.length ?? 0} entries, expected one`);
  return list[0];
}

function metadataTopic<T extends { partitions: readonly unknown[] }>(
  topics: readonly T[],
  isMetadata: (t: T) => boolean,
  partitionOf: (p: T['partitions'][number]) => number,
): T['partitions'][number] {
  const t = one(topics, 'topics');
  if (!isMetadata(t)) throw new WireError(`not the ${METADATA_TOPIC} topic`);
  const p = one(t.partitions, 'partitions');
  if (partitionOf(p) !== METADATA_PARTITION) throw new WireError(`partition ${partitionOf(p)} of ${METADATA_TOPIC}`);
  return p;
}

/** The metadata partition of a message whose topics carry `topicName` and partitions `partitionIndex` (Vote, BeginQuorumEpoch, EndQuorumEpoch). */
function namedMetadataPartition<P extends { partitionIndex: number }>(
  topics: readonly { topicName: string; partitions: readonly P[] }[],
): P {
  return metadataTopic(
    topics,
    (t) => t.topicName === METADATA_TOPIC,
    (x) => x.partitionIndex,
  );
}

/** Records from the network: null, or whole valid batches (their offsets and epochs checked for order). */
function records(r: Buffer | null): Buffer | null {
  if (r === null || r.length === 0) return null;
  try {
    checkChunk(r);
  } catch (err) {
    if (err instanceof InvalidChunkError) throw new WireError(`records: ${err.message}`);
    throw err;
  }
  return r;
}

const noSnapshot = { endOffset: -1, epoch: -1 };

// ---- this node as a client: requests out, responses in -----------------------------

/** The Kafka request body for `req`, sent to node `to`. */
export function requestToWire<K extends RaftApiName>(req: RaftRequest & { kind: K }, to: NodeId): RaftRequestBodies[K];
export function requestToWire(req: RaftRequest, to: NodeId): RaftRequestBodies[RaftApiName] {
  switch (req.kind) {
    case 'Vote':
      return {
        clusterId: req.clusterId,
        voterId: to,
        topics: [
          {
            topicName: METADATA_TOPIC,
            partitions: [
              {
                partitionIndex: METADATA_PARTITION,
                candidateEpoch: req.candidateEpoch,
                candidateId: req.candidateId,
                lastOffsetEpoch: req.lastOffsetEpoch,
                lastOffset: req.lastOffset,
                preVote: req.preVote,
              },
            ],
          },
        ],
      } satisfies VoteRequestInput;
    case 'BeginQuorumEpoch':
      return {
        clusterId: req.clusterId,
        voterId: to,
        topics: [
          {
            topicName: METADATA_TOPIC,
            partitions: [{ partitionIndex: METADATA_PARTITION, leaderId: req.leaderId, leaderEpoch: req.leaderEpoch }],
          },
        ],
        leaderEndpoints: [],
      } satisfies BeginQuorumEpochRequestInput;
    case 'EndQuorumEpoch':
      return {
        clusterId: req.clusterId,
        topics: [
          {
            topicName: METADATA_TOPIC,
            partitions: [
              {
                partitionIndex: METADATA_PARTITION,
                leaderId: req.leaderId,
                leaderEpoch: req.leaderEpoch,
                preferredSuccessors: req.preferredSuccessors,
                preferredCandidates: req.preferredSuccessors.map((candidateId) => ({
                  candidateId,
                  candidateDirectoryId: ZERO_UUID,
                })),
              },
            ],
          },
        ],
        leaderEndpoints: [],
      } satisfies EndQuorumEpochRequestInput;
    case 'Fetch':
      return {
        clusterId: req.clusterId,
        replicaId: req.replicaId,
        replicaState: { replicaId: req.replicaId, replicaEpoch: -1 },
        maxWaitMs: req.maxWaitMs,
        minBytes: 0,
        maxBytes: RAFT_FETCH_MAX_BYTES,
        topics: [
          {
            topic: METADATA_TOPIC,
            topicId: METADATA_TOPIC_ID,
            partitions: [
              {
                partition: METADATA_PARTITION,
                currentLeaderEpoch: req.replicaEpoch,
                fetchOffset: req.fetchOffset,
                lastFetchedEpoch: req.lastFetchedEpoch,
                logStartOffset: -1,
                partitionMaxBytes: RAFT_FETCH_MAX_BYTES,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      } satisfies FetchRequestInput;
    case 'FetchSnapshot':
      return {
        clusterId: req.clusterId,
        replicaId: req.replicaId,
        maxBytes: req.maxBytes,
        topics: [
          {
            name: METADATA_TOPIC,
            partitions: [
              {
                partition: METADATA_PARTITION,
                currentLeaderEpoch: req.replicaEpoch,
                snapshotId: { endOffset: req.snapshotId.offset, epoch: req.snapshotId.epoch },
                position: req.position,
              },
            ],
          },
        ],
      } satisfies FetchSnapshotRequestInput;
  }
}

/** The error code of a response: the top-level one when set, else the partition's. */
function code(top: number, partition: number | undefined): number {
  return top !== ErrorCode.NONE ? top : (partition ?? ErrorCode.NONE);
}

/**
 * The Raft response to `req` from its Kafka response body. A top-level error
 * (INCONSISTENT_CLUSTER_ID, INVALID_REQUEST...) comes with no partition data:
 * the leader fields are then unknown (-1).
 */
export function responseFromWire(req: RaftRequest, body: RaftResponseBodies[RaftApiName]): RaftResponse<Buffer> {
  switch (req.kind) {
    case 'Vote': {
      const b = body as KVoteResponse;
      if (b.errorCode !== ErrorCode.NONE && b.topics.length === 0)
        return {
          kind: 'VoteResponse',
          errorCode: b.errorCode,
          leaderId: -1,
          leaderEpoch: -1,
          voteGranted: false,
          preVote: req.preVote,
        };
      const p = namedMetadataPartition(b.topics);
      return {
        kind: 'VoteResponse',
        errorCode: code(b.errorCode, p.errorCode),
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        voteGranted: p.voteGranted,
        // Kafka's response does not repeat it: it answers the request it came for.
        preVote: req.preVote,
      } satisfies VoteResponse;
    }
    case 'BeginQuorumEpoch':
    case 'EndQuorumEpoch': {
      const b = body as KBeginResponse | KEndResponse;
      const kind = req.kind === 'BeginQuorumEpoch' ? 'BeginQuorumEpochResponse' : 'EndQuorumEpochResponse';
      if (b.errorCode !== ErrorCode.NONE && b.topics.length === 0)
        return { kind, errorCode: b.errorCode, leaderId: -1, leaderEpoch: -1 };
      const p = namedMetadataPartition(b.topics);
      return {
        kind,
        errorCode: code(b.errorCode, p.errorCode),
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
      } satisfies BeginQuorumEpochResponse | EndQuorumEpochResponse;
    }
    case 'Fetch': {
      const b = body as KFetchResponse;
      if (b.errorCode !== ErrorCode.NONE && b.responses.length === 0)
        return {
          kind: 'FetchResponse',
          errorCode: b.errorCode,
          leaderId: -1,
          leaderEpoch: -1,
          highWatermark: -1,
          logStartOffset: -1,
          divergingEpoch: null,
          snapshotId: null,
          records: null,
        };
      const p = metadataTopic(
        b.responses,
        (t) => t.topicId === METADATA_TOPIC_ID || t.topic === METADATA_TOPIC,
        (x) => x.partitionIndex,
      );
      const diverging: OffsetAndEpoch | null =
        p.divergingEpoch.epoch !== -1
          ? { offset: num(p.divergingEpoch.endOffset, 'diverging end offset'), epoch: p.divergingEpoch.epoch }
          : null;
      const snapshot: OffsetAndEpoch | null =
        p.snapshotId.epoch !== -1 || num(p.snapshotId.endOffset, 'snapshot end offset') !== -1
          ? { offset: num(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch }
          : null;
      return {
        kind: 'FetchResponse',
        errorCode: code(b.errorCode, p.errorCode),
        leaderId: p.currentLeader.leaderId,
        leaderEpoch: p.currentLeader.leaderEpoch,
        highWatermark: num(p.highWatermark, 'high watermark'),
        logStartOffset: num(p.logStartOffset, 'log start offset'),
        divergingEpoch: diverging,
        snapshotId: snapshot,
        records: records(p.records),
      } satisfies FetchResponse<Buffer>;
    }
    case 'FetchSnapshot': {
      const b = body as KFetchSnapshotResponse;
      if (b.errorCode !== ErrorCode.NONE && b.topics.length === 0)
        return {
          kind: 'FetchSnapshotResponse',
          errorCode: b.errorCode,
          leaderId: -1,
          leaderEpoch: -1,
          snapshotId: req.snapshotId,
          size: -1,
          position: -1,
          bytes: Buffer.alloc(0),
        };
      const p = metadataTopic(
        b.topics,
        (t) => t.name === METADATA_TOPIC,
        (x) => x.index,
      );
      return {
        kind: 'FetchSnapshotResponse',
        errorCode: code(b.errorCode, p.errorCode),
        leaderId: p.currentLeader.leaderId,
        leaderEpoch: p.currentLeader.leaderEpoch,
        snapshotId: { offset: num(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch },
        size: num(p.size, 'snapshot size'),
        position: num(p.position, 'snapshot position'),
        bytes: p.unalignedRecords ?? Buffer.alloc(0),
      } satisfies FetchSnapshotResponse;
    }
  }
}

// ---- this node as a server: requests in, responses out -----------------------------

/** The Raft request in a Kafka request body, and the node it comes from. Throws WireError. */
export function requestFromWire<K extends RaftApiName>(
  api: K,
  body: RaftWireRequests[K],
): { from: NodeId; request: RaftRequest } {
  switch (api) {
    case 'Vote': {
      const b = body as KVoteRequest;
      const p = namedMetadataPartition(b.topics);
      const request: VoteRequest = {
        kind: 'Vote',
        clusterId: b.clusterId,
        candidateEpoch: p.candidateEpoch,
        candidateId: p.candidateId,
        lastOffsetEpoch: p.lastOffsetEpoch,
        lastOffset: num(p.lastOffset, 'last offset'),
        preVote: p.preVote,
      };
      return { from: p.candidateId, request };
    }
    case 'BeginQuorumEpoch': {
      const b = body as KBeginRequest;
      const p = namedMetadataPartition(b.topics);
      const request: BeginQuorumEpochRequest = {
        kind: 'BeginQuorumEpoch',
        clusterId: b.clusterId,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
      };
      return { from: p.leaderId, request };
    }
    case 'EndQuorumEpoch': {
      const b = body as KEndRequest;
      const p = namedMetadataPartition(b.topics);
      const successors =
        p.preferredCandidates.length > 0 ? p.preferredCandidates.map((c) => c.candidateId) : p.preferredSuccessors;
      const request: EndQuorumEpochRequest = {
        kind: 'EndQuorumEpoch',
        clusterId: b.clusterId,
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        preferredSuccessors: [...successors],
      };
      return { from: p.leaderId, request };
    }
    case 'Fetch': {
      const b = body as KFetchRequest;
      const p = metadataTopic(
        b.topics,
        (t) => t.topicId === METADATA_TOPIC_ID || t.topic === METADATA_TOPIC,
        (x) => x.partition,
      );
      const replicaId = b.replicaState.replicaId >= 0 ? b.replicaState.replicaId : b.replicaId;
      if (replicaId < 0) throw new WireError('a Fetch of the metadata quorum without a replica id');
      const request: FetchRequest = {
        kind: 'Fetch',
        clusterId: b.clusterId,
        replicaId,
        replicaEpoch: p.currentLeaderEpoch,
        fetchOffset: num(p.fetchOffset, 'fetch offset'),
        lastFetchedEpoch: p.lastFetchedEpoch,
        maxWaitMs: Math.max(0, b.maxWaitMs),
      };
      if (request.fetchOffset < 0) throw new WireError(`fetch offset ${request.fetchOffset}`);
      return { from: replicaId, request };
    }
    case 'FetchSnapshot': {
      const b = body as KFetchSnapshotRequest;
      const p = metadataTopic(
        b.topics,
        (t) => t.name === METADATA_TOPIC,
        (x) => x.partition,
      );
      const request: FetchSnapshotRequest = {
        kind: 'FetchSnapshot',
        clusterId: b.clusterId,
        replicaId: b.replicaId,
        replicaEpoch: p.currentLeaderEpoch,
        snapshotId: { offset: num(p.snapshotId.endOffset, 'snapshot end offset'), epoch: p.snapshotId.epoch },
        position: num(p.position, 'snapshot position'),
        maxBytes: b.maxBytes,
      };
      if (b.replicaId < 0) throw new WireError('a FetchSnapshot without a replica id');
      return { from: b.replicaId, request };
    }
  }
  throw new WireError(`API ${String(api)} is not a Raft API`);
}

/** A response carrying only a top-level error (Kafka answers a request it cannot read as a Raft request this way). */
export function errorToWire<K extends RaftApiName>(api: K, errorCode: number): RaftResponseInputs[K];
export function errorToWire(api: RaftApiName, errorCode: number): RaftResponseInputs[RaftApiName] {
  switch (api) {
    case 'Vote':
      return { errorCode, topics: [] } satisfies VoteResponseInput;
    case 'BeginQuorumEpoch':
      return { errorCode, topics: [] } satisfies BeginQuorumEpochResponseInput;
    case 'EndQuorumEpoch':
      return { errorCode, topics: [] } satisfies EndQuorumEpochResponseInput;
    case 'Fetch':
      return { errorCode, sessionId: 0, responses: [] } satisfies FetchResponseInput;
    case 'FetchSnapshot':
      return { throttleTimeMs: 0, errorCode, topics: [] } satisfies FetchSnapshotResponseInput;
  }
}

/** Errors Kafka's Raft client answers at the top level (they are about the request, not the partition). */
const TOP_LEVEL_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.INCONSISTENT_CLUSTER_ID,
  ErrorCode.INVALID_REQUEST,
  ErrorCode.BROKER_NOT_AVAILABLE,
]);

/** The Kafka response body for the core's answer. */
export function responseToWire(res: RaftResponse<Buffer>): RaftResponseInputs[RaftApiName] {
  const top = TOP_LEVEL_ERRORS.has(res.errorCode) ? res.errorCode : ErrorCode.NONE;
  const part = top === ErrorCode.NONE ? res.errorCode : ErrorCode.NONE;
  switch (res.kind) {
    case 'VoteResponse':
      return {
        errorCode: top,
        topics: [
          {
            topicName: METADATA_TOPIC,
            partitions: [
              {
                partitionIndex: METADATA_PARTITION,
                errorCode: part,
                leaderId: res.leaderId,
                leaderEpoch: res.leaderEpoch,
                voteGranted: res.voteGranted,
              },
            ],
          },
        ],
        nodeEndpoints: [],
      } satisfies VoteResponseInput;
    case 'BeginQuorumEpochResponse':
    case 'EndQuorumEpochResponse':
      return {
        errorCode: top,
        topics: [
          {
            topicName: METADATA_TOPIC,
            partitions: [
              {
                partitionIndex: METADATA_PARTITION,
                errorCode: part,
                leaderId: res.leaderId,
                leaderEpoch: res.leaderEpoch,
              },
            ],
          },
        ],
        nodeEndpoints: [],
      } satisfies BeginQuorumEpochResponseInput & EndQuorumEpochResponseInput;
    case 'FetchResponse':
      return {
        errorCode: top,
        sessionId: 0,
        responses: [
          {
            topic: METADATA_TOPIC,
            topicId: METADATA_TOPIC_ID,
            partitions: [
              {
                partitionIndex: METADATA_PARTITION,
                errorCode: part,
                highWatermark: res.highWatermark,
                lastStableOffset: res.highWatermark,
                logStartOffset: res.logStartOffset,
                divergingEpoch: res.divergingEpoch
                  ? { epoch: res.divergingEpoch.epoch, endOffset: res.divergingEpoch.offset }
                  : { epoch: -1, endOffset: -1 },
                currentLeader: { leaderId: res.leaderId, leaderEpoch: res.leaderEpoch },
                snapshotId: res.snapshotId
                  ? { endOffset: res.snapshotId.offset, epoch: res.snapshotId.epoch }
                  : { ...noSnapshot },
                abortedTransactions: null,
                preferredReadReplica: -1,
                records: res.records,
              },
            ],
          },
        ],
        nodeEndpoints: [],
      } satisfies FetchResponseInput;
    case 'FetchSnapshotResponse':
      return {
        throttleTimeMs: 0,
        errorCode: top,
        topics: [
          {
            name: METADATA_TOPIC,
            partitions: [
              {
                index: METADATA_PARTITION,
                errorCode: part,
                snapshotId: { endOffset: res.snapshotId.offset, epoch: res.snapshotId.epoch },
                currentLeader: { leaderId: res.leaderId, leaderEpoch: res.leaderEpoch },
                size: res.size,
                position: res.position,
                unalignedRecords: Buffer.from(res.bytes.buffer, res.bytes.byteOffset, res.bytes.byteLength),
              },
            ],
          },
        ],
        nodeEndpoints: [],
      } satisfies FetchSnapshotResponseInput;
  }
}
