/** Produce (key 0): a producer appends record batches to partitions; the response carries each partition's base offset. */
import type { ApiSpec } from '../schema.ts';

// v3 adds the transactional id and record batch format v2; v8 adds per-batch
// record errors; v9 is the first flexible version; v10 adds leader hints
// (CurrentLeader, NodeEndpoints) for NOT_LEADER_OR_FOLLOWER answers (KIP-951);
// v12 (Kafka 4.0) has v11's fields and tells the producer that the broker
// takes part in transactions version 2 (KIP-890); v13 (Kafka 4.1) names
// topics by id instead of by name, in both directions (KIP-516). The broker
// serves v13 (the produce handler resolves topic ids); Samsa's own client
// stops at v12 (src/client/connection.ts) because it names topics.
export const Produce: ApiSpec = {
  request: {
    apiKey: 0,
    name: 'ProduceRequest',
    type: 'request',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      { name: 'transactionalId', type: 'string', versions: '3+', nullableVersions: '3+', default: null },
      { name: 'acks', type: 'int16', versions: '0+' },
      { name: 'timeoutMs', type: 'int32', versions: '0+' },
      {
        name: 'topicData',
        type: '[]TopicProduceData',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0-12', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '13+', ignorable: true },
          {
            name: 'partitionData',
            type: '[]PartitionProduceData',
            versions: '0+',
            fields: [
              { name: 'index', type: 'int32', versions: '0+' },
              { name: 'records', type: 'records', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 0,
    name: 'ProduceResponse',
    type: 'response',
    validVersions: '0-13',
    flexibleVersions: '9+',
    fields: [
      {
        name: 'responses',
        type: '[]TopicProduceResponse',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0-12', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '13+', ignorable: true },
          {
            name: 'partitionResponses',
            type: '[]PartitionProduceResponse',
            versions: '0+',
            fields: [
              { name: 'index', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'baseOffset', type: 'int64', versions: '0+' },
              { name: 'logAppendTimeMs', type: 'int64', versions: '2+', default: -1, ignorable: true },
              { name: 'logStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true },
              {
                name: 'recordErrors',
                type: '[]BatchIndexAndErrorMessage',
                versions: '8+',
                ignorable: true,
                fields: [
                  { name: 'batchIndex', type: 'int32', versions: '8+' },
                  {
                    name: 'batchIndexErrorMessage',
                    type: 'string',
                    versions: '8+',
                    nullableVersions: '8+',
                    default: null,
                  },
                ],
              },
              {
                name: 'errorMessage',
                type: 'string',
                versions: '8+',
                nullableVersions: '8+',
                default: null,
                ignorable: true,
              },
              {
                name: 'currentLeader',
                type: 'LeaderIdAndEpoch',
                versions: '10+',
                taggedVersions: '10+',
                tag: 0,
                fields: [
                  { name: 'leaderId', type: 'int32', versions: '10+', default: -1 },
                  { name: 'leaderEpoch', type: 'int32', versions: '10+', default: -1 },
                ],
              },
            ],
          },
        ],
      },
      { name: 'throttleTimeMs', type: 'int32', versions: '1+', default: 0, ignorable: true },
      {
        name: 'nodeEndpoints',
        type: '[]NodeEndpoint',
        versions: '10+',
        taggedVersions: '10+',
        tag: 0,
        fields: [
          { name: 'nodeId', type: 'int32', versions: '10+' },
          { name: 'host', type: 'string', versions: '10+' },
          { name: 'port', type: 'int32', versions: '10+' },
          { name: 'rack', type: 'string', versions: '10+', nullableVersions: '10+', default: null },
        ],
      },
    ],
  },
};
