/** Vote (key 52): KRaft leader election; a candidate (or pre-candidate) asks voters for their vote. */
import type { ApiSpec, FieldSpec } from '../schema.ts';

const nodeEndpoint: FieldSpec[] = [
  { name: 'nodeId', type: 'int32', versions: '1+' },
  { name: 'host', type: 'string', versions: '1+' },
  { name: 'port', type: 'uint16', versions: '1+' },
];

// v2 (Kafka 4.x, KIP-996) adds PreVote to each partition of the request.
export const Vote: ApiSpec = {
  request: {
    apiKey: 52,
    name: 'VoteRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'clusterId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'voterId', type: 'int32', versions: '1+', default: -1, ignorable: true },
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
              { name: 'candidateEpoch', type: 'int32', versions: '0+' },
              { name: 'candidateId', type: 'int32', versions: '0+' },
              { name: 'candidateDirectoryId', type: 'uuid', versions: '1+', ignorable: true },
              { name: 'voterDirectoryId', type: 'uuid', versions: '1+', ignorable: true },
              { name: 'lastOffsetEpoch', type: 'int32', versions: '0+' },
              { name: 'lastOffset', type: 'int64', versions: '0+' },
              { name: 'preVote', type: 'bool', versions: '2+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 52,
    name: 'VoteResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
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
              { name: 'leaderId', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
              { name: 'voteGranted', type: 'bool', versions: '0+' },
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
        fields: nodeEndpoint,
      },
    ],
  },
};
