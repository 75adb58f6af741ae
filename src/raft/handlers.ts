/**
 * The quorum's APIs on the CONTROLLER listener: Vote (52), BeginQuorumEpoch
 * (53), EndQuorumEpoch (54), Fetch (1) and FetchSnapshot (59) on
 * `__cluster_metadata-0`, handed to the Raft node, and DescribeQuorum (55),
 * answered from the core on the leader (NOT_LEADER_OR_FOLLOWER elsewhere, as
 * Kafka does). The controller listener has its own Dispatcher, so this Fetch
 * is not the data-plane Fetch of the client listener.
 *
 * A request that is not a Raft request for this quorum (another topic or
 * partition, a bad offset, records that are not whole valid batches) is
 * answered INVALID_REQUEST at the top level, as Kafka's KafkaRaftClient
 * does, with a rate-limited log line.
 */
import { ErrorCode, errorName } from '../protocol/error-codes.ts';
import { ZERO_UUID } from '../protocol/schema.ts';
import type { Dispatcher, RequestContext } from '../server/dispatcher.ts';
import type {
  ApiVersionsResponseInput,
  DescribeQuorumRequest,
  DescribeQuorumResponseInput,
  DescribeQuorumResponsePartitionDataInput,
  DescribeQuorumResponseReplicaStateInput,
} from '../protocol/generated/messages.ts';
import { METADATA_TOPIC } from '../metadata/metadata-log.ts';
import type { NodeId, QuorumView, RaftRequest, RaftResponse, ReplicaStateView } from './types.ts';
import {
  METADATA_PARTITION,
  type RaftApiName,
  type RaftResponseInputs,
  type RaftWireRequests,
  WireError,
  errorToWire,
  requestFromWire,
  responseToWire,
} from './wire.ts';

/** What the handlers need from the Raft node (RaftNode implements it). */
export interface RaftRequestSink {
  /**
   * Hands a request to the core; resolves to its answer, or to an error code
   * answered at the top level (BROKER_NOT_AVAILABLE while the node is not
   * running).
   */
  handleRaftRequest(from: NodeId, request: RaftRequest): Promise<RaftResponse<Buffer> | number>;
  /** The core's DescribeQuorum view (leader only), with the leader and epoch known either way. */
  describeQuorumView(): { view: QuorumView | null; leaderId: NodeId; epoch: number };
  /** Voters' CONTROLLER endpoints (DescribeQuorum v2 `nodes`). */
  readonly voterEndpoints: readonly { id: NodeId; host: string; port: number }[];
}

/** The listener name the voters' endpoints are given under in DescribeQuorum v2. */
export const CONTROLLER_LISTENER_NAME = 'CONTROLLER';

/**
 * Registers the quorum's APIs, and ApiVersions for this dispatcher (so that
 * a client connecting to the controller listener learns what it serves; a
 * later registration of ApiVersions replaces it).
 */
export function registerRaftHandlers(dispatcher: Dispatcher, node: RaftRequestSink): void {
  dispatcher.register('ApiVersions', {
    handler: (): ApiVersionsResponseInput => ({
      errorCode: ErrorCode.NONE,
      apiKeys: dispatcher.supportedApis(),
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1,
      finalizedFeatures: [],
      zkMigrationReady: false,
    }),
  });
  dispatcher.register('Vote', { handler: raftHandler('Vote', node) });
  dispatcher.register('BeginQuorumEpoch', { handler: raftHandler('BeginQuorumEpoch', node) });
  dispatcher.register('EndQuorumEpoch', { handler: raftHandler('EndQuorumEpoch', node) });
  // v12 is the first with lastFetchedEpoch and the diverging epoch that Raft's fetch needs.
  dispatcher.register('Fetch', { handler: raftHandler('Fetch', node), minVersion: 12 });
  dispatcher.register('FetchSnapshot', { handler: raftHandler('FetchSnapshot', node) });
  dispatcher.register('DescribeQuorum', { handler: describeQuorumHandler(node) });
}

function raftHandler<K extends RaftApiName>(api: K, node: RaftRequestSink) {
  return async (req: RaftWireRequests[K], ctx: RequestContext): Promise<RaftResponseInputs[K]> => {
    let decoded: { from: NodeId; request: RaftRequest };
    try {
      decoded = requestFromWire(api, req);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      ctx.conn.warn(`${api}: not a request for the metadata quorum; answered INVALID_REQUEST`, {
        err: err.message,
      });
      return errorToWire(api, ErrorCode.INVALID_REQUEST);
    }
    const res = await node.handleRaftRequest(decoded.from, decoded.request);
    if (typeof res === 'number') return errorToWire(api, res);
    return responseToWire(res) as RaftResponseInputs[K];
  };
}

function replicaState(r: ReplicaStateView): DescribeQuorumResponseReplicaStateInput {
  return {
    replicaId: r.replicaId,
    replicaDirectoryId: ZERO_UUID,
    logEndOffset: r.logEndOffset,
    lastFetchTimestamp: r.lastFetchTimestamp,
    lastCaughtUpTimestamp: r.lastCaughtUpTimestamp,
  };
}

function describeQuorumHandler(node: RaftRequestSink) {
  return (req: DescribeQuorumRequest): DescribeQuorumResponseInput => {
    const partition = (fields: Omit<DescribeQuorumResponsePartitionDataInput, 'partitionIndex'>) => ({
      errorCode: ErrorCode.NONE,
      topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: METADATA_PARTITION, ...fields }] }],
    });
    const t = req.topics;
    if (
      t.length !== 1 ||
      t[0].topicName !== METADATA_TOPIC ||
      t[0].partitions.length !== 1 ||
      t[0].partitions[0].partitionIndex !== METADATA_PARTITION
    ) {
      // Kafka answers each partition asked for with UNKNOWN_TOPIC_OR_PARTITION.
      return {
        errorCode: ErrorCode.NONE,
        topics: t.map((topic) => ({
          topicName: topic.topicName,
          partitions: topic.partitions.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: errorName(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
            leaderId: -1,
            leaderEpoch: -1,
            highWatermark: -1,
            currentVoters: [],
            observers: [],
          })),
        })),
        nodes: [],
      };
    }
    const { view, leaderId, epoch } = node.describeQuorumView();
    if (!view) {
      return {
        ...partition({
          errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
          errorMessage: `this node does not lead the metadata quorum (leader ${leaderId}, epoch ${epoch})`,
          leaderId,
          leaderEpoch: epoch,
          highWatermark: -1,
          currentVoters: [],
          observers: [],
        }),
        nodes: [],
      };
    }
    return {
      ...partition({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        leaderId: view.leaderId,
        leaderEpoch: view.leaderEpoch,
        highWatermark: view.highWatermark,
        currentVoters: view.currentVoters.map(replicaState),
        observers: view.observers.map(replicaState),
      }),
      nodes: node.voterEndpoints
        .filter((v) => v.host !== '' && v.port > 0)
        .map((v) => ({ nodeId: v.id, listeners: [{ name: CONTROLLER_LISTENER_NAME, host: v.host, port: v.port }] })),
    };
  };
}
