/** FetchSnapshot (key 59, KIP-630): a KRaft follower or observer reads the leader's metadata snapshot in byte ranges. */
import type { ApiSpec, FieldSpec } from '../schema.ts';

const snapshotId: FieldSpec[] = [
  { name: 'endOffset', type: 'int64', versions: '0+' },
  { name: 'epoch', type: 'int32', versions: '0+' },
];

// v1 (KIP-853) adds the replica directory id to the request and the leader's endpoint to the response.
export const FetchSnapshot: ApiSpec = {
  request: {
    apiKey: 59,
    name: 'FetchSnapshotRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      {
        name: 'clusterId',
        type: 'string',
        versions: '0+',
        nullableVersions: '0+',
        default: null,
        taggedVersions: '0+',
        tag: 0,
      },
      { name: 'replicaId', type: 'int32', versions: '0+', default: -1 },
      { name: 'maxBytes', type: 'int32', versions: '0+', default: 0x7fffffff },
      {
        name: 'topics',
        type: '[]TopicSnapshot',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]PartitionSnapshot',
            versions: '0+',
            fields: [
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '0+' },
              { name: 'snapshotId', type: 'SnapshotId', versions: '0+', fields: snapshotId },
              { name: 'position', type: 'int64', versions: '0+' },
              {
                name: 'replicaDirectoryId',
                type: 'uuid',
                versions: '1+',
                taggedVersions: '1+',
                tag: 0,
                ignorable: true,
              },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 59,
    name: 'FetchSnapshotResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+', ignorable: true },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      {
        name: 'topics',
        type: '[]TopicSnapshot',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]PartitionSnapshot',
            versions: '0+',
            fields: [
              { name: 'index', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'snapshotId', type: 'SnapshotId', versions: '0+', fields: snapshotId },
              {
                name: 'currentLeader',
                type: 'LeaderIdAndEpoch',
                versions: '0+',
                taggedVersions: '0+',
                tag: 0,
                fields: [
                  { name: 'leaderId', type: 'int32', versions: '0+' },
                  { name: 'leaderEpoch', type: 'int32', versions: '0+' },
                ],
              },
              { name: 'size', type: 'int64', versions: '0+' },
              { name: 'position', type: 'int64', versions: '0+' },
              { name: 'unalignedRecords', type: 'records', versions: '0+' },
            ],
          },
        ],
      },
      {
        name: 'nodeEndpoints',
        type: '[]NodeEndpoint',
        versions: '1+',
        taggedVersions: '1+',
        tag: 0,
        fields: [
          { name: 'nodeId', type: 'int32', versions: '1+' },
          { name: 'host', type: 'string', versions: '1+' },
          { name: 'port', type: 'uint16', versions: '1+' },
        ],
      },
    ],
  },
};
