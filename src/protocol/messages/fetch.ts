/** Fetch (key 1): consumers and followers read record batches from partitions, optionally through an incremental fetch session. */
import type { ApiSpec } from '../schema.ts';

// v4 adds isolation level and aborted transactions; v7 adds fetch sessions
// (KIP-227); v11 adds rack-aware follower fetching; v12 (first flexible) adds
// diverging-epoch and leader hints; v13 replaces topic names by topic ids;
// v15 moves the replica id into the tagged ReplicaState; v16 adds leader
// endpoints (KIP-951); v17 adds the replica directory id; v18 (Kafka 4.1)
// adds the follower's high watermark as a tagged partition field (KIP-1166).
export const Fetch: ApiSpec = {
  request: {
    apiKey: 1,
    name: 'FetchRequest',
    type: 'request',
    validVersions: '0-18',
    flexibleVersions: '12+',
    fields: [
      {
        name: 'clusterId',
        type: 'string',
        versions: '12+',
        nullableVersions: '12+',
        default: null,
        taggedVersions: '12+',
        tag: 0,
        ignorable: true,
      },
      { name: 'replicaId', type: 'int32', versions: '0-14', default: -1 },
      {
        name: 'replicaState',
        type: 'ReplicaState',
        versions: '15+',
        taggedVersions: '15+',
        tag: 1,
        fields: [
          { name: 'replicaId', type: 'int32', versions: '15+', default: -1 },
          { name: 'replicaEpoch', type: 'int64', versions: '15+', default: -1 },
        ],
      },
      { name: 'maxWaitMs', type: 'int32', versions: '0+' },
      { name: 'minBytes', type: 'int32', versions: '0+' },
      { name: 'maxBytes', type: 'int32', versions: '3+', default: 0x7fffffff, ignorable: true },
      { name: 'isolationLevel', type: 'int8', versions: '4+', default: 0, ignorable: true },
      { name: 'sessionId', type: 'int32', versions: '7+', default: 0, ignorable: true },
      { name: 'sessionEpoch', type: 'int32', versions: '7+', default: -1, ignorable: true },
      {
        name: 'topics',
        type: '[]FetchTopic',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0-12', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '13+', ignorable: true },
          {
            name: 'partitions',
            type: '[]FetchPartition',
            versions: '0+',
            fields: [
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '9+', default: -1, ignorable: true },
              { name: 'fetchOffset', type: 'int64', versions: '0+' },
              { name: 'lastFetchedEpoch', type: 'int32', versions: '12+', default: -1, ignorable: false },
              { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true },
              { name: 'partitionMaxBytes', type: 'int32', versions: '0+' },
              {
                name: 'replicaDirectoryId',
                type: 'uuid',
                versions: '17+',
                taggedVersions: '17+',
                tag: 0,
                ignorable: true,
              },
              {
                name: 'highWatermark',
                type: 'int64',
                versions: '18+',
                taggedVersions: '18+',
                tag: 1,
                default: 9223372036854775807n,
                ignorable: true,
              },
            ],
          },
        ],
      },
      {
        name: 'forgottenTopicsData',
        type: '[]ForgottenTopic',
        versions: '7+',
        ignorable: false,
        fields: [
          { name: 'topic', type: 'string', versions: '7-12', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '13+', ignorable: true },
          { name: 'partitions', type: '[]int32', versions: '7+' },
        ],
      },
      { name: 'rackId', type: 'string', versions: '11+', default: '', ignorable: true },
    ],
  },
  response: {
    apiKey: 1,
    name: 'FetchResponse',
    type: 'response',
    validVersions: '0-18',
    flexibleVersions: '12+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '1+', ignorable: true },
      { name: 'errorCode', type: 'int16', versions: '7+', ignorable: true },
      { name: 'sessionId', type: 'int32', versions: '7+', default: 0, ignorable: false },
      {
        name: 'responses',
        type: '[]FetchableTopicResponse',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0-12', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '13+', ignorable: true },
          {
            name: 'partitions',
            type: '[]PartitionData',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'highWatermark', type: 'int64', versions: '0+' },
              { name: 'lastStableOffset', type: 'int64', versions: '4+', default: -1, ignorable: true },
              { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true },
              {
                name: 'divergingEpoch',
                type: 'EpochEndOffset',
                versions: '12+',
                taggedVersions: '12+',
                tag: 0,
                fields: [
                  { name: 'epoch', type: 'int32', versions: '12+', default: -1 },
                  { name: 'endOffset', type: 'int64', versions: '12+', default: -1 },
                ],
              },
              {
                name: 'currentLeader',
                type: 'LeaderIdAndEpoch',
                versions: '12+',
                taggedVersions: '12+',
                tag: 1,
                fields: [
                  { name: 'leaderId', type: 'int32', versions: '12+', default: -1 },
                  { name: 'leaderEpoch', type: 'int32', versions: '12+', default: -1 },
                ],
              },
              {
                name: 'snapshotId',
                type: 'SnapshotId',
                versions: '12+',
                taggedVersions: '12+',
                tag: 2,
                fields: [
                  { name: 'endOffset', type: 'int64', versions: '0+', default: -1 },
                  { name: 'epoch', type: 'int32', versions: '0+', default: -1 },
                ],
              },
              {
                name: 'abortedTransactions',
                type: '[]AbortedTransaction',
                versions: '4+',
                nullableVersions: '4+',
                ignorable: true,
                fields: [
                  { name: 'producerId', type: 'int64', versions: '4+' },
                  { name: 'firstOffset', type: 'int64', versions: '4+' },
                ],
              },
              { name: 'preferredReadReplica', type: 'int32', versions: '11+', default: -1, ignorable: false },
              { name: 'records', type: 'records', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
      {
        name: 'nodeEndpoints',
        type: '[]NodeEndpoint',
        versions: '16+',
        taggedVersions: '16+',
        tag: 0,
        fields: [
          { name: 'nodeId', type: 'int32', versions: '16+' },
          { name: 'host', type: 'string', versions: '16+' },
          { name: 'port', type: 'int32', versions: '16+' },
          { name: 'rack', type: 'string', versions: '16+', nullableVersions: '16+', default: null },
        ],
      },
    ],
  },
};
