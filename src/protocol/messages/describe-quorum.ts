/** DescribeQuorum (key 55): the KRaft metadata quorum's leader, voters and observers. */
import type { ApiSpec } from '../schema.ts';

export const DescribeQuorum: ApiSpec = {
  request: {
    apiKey: 55,
    name: 'DescribeQuorumRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      {
        name: 'topics',
        type: '[]TopicData',
        versions: '0+',
        fields: [
          { name: 'topicName', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]PartitionData',
            versions: '0+',
            fields: [{ name: 'partitionIndex', type: 'int32', versions: '0+' }],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 55,
    name: 'DescribeQuorumResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '2+', nullableVersions: '2+', ignorable: true },
      {
        name: 'topics',
        type: '[]TopicData',
        versions: '0+',
        fields: [
          { name: 'topicName', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]PartitionData',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'errorMessage', type: 'string', versions: '2+', nullableVersions: '2+', ignorable: true },
              { name: 'leaderId', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
              { name: 'highWatermark', type: 'int64', versions: '0+' },
              { name: 'currentVoters', type: '[]ReplicaState', versions: '0+' },
              { name: 'observers', type: '[]ReplicaState', versions: '0+' },
            ],
          },
        ],
      },
      {
        name: 'nodes',
        type: '[]Node',
        versions: '2+',
        fields: [
          { name: 'nodeId', type: 'int32', versions: '2+' },
          {
            name: 'listeners',
            type: '[]Listener',
            versions: '2+',
            fields: [
              { name: 'name', type: 'string', versions: '2+' },
              { name: 'host', type: 'string', versions: '2+' },
              { name: 'port', type: 'uint16', versions: '2+' },
            ],
          },
        ],
      },
    ],
    commonStructs: {
      ReplicaState: [
        { name: 'replicaId', type: 'int32', versions: '0+' },
        { name: 'replicaDirectoryId', type: 'uuid', versions: '2+' },
        { name: 'logEndOffset', type: 'int64', versions: '0+' },
        { name: 'lastFetchTimestamp', type: 'int64', versions: '1+', default: -1, ignorable: true },
        { name: 'lastCaughtUpTimestamp', type: 'int64', versions: '1+', default: -1, ignorable: true },
      ],
    },
  },
};
