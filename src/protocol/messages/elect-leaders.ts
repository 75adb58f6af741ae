/** ElectLeaders (key 43): trigger preferred or unclean leader election for partitions. */
import type { ApiSpec } from '../schema.ts';

export const ElectLeaders: ApiSpec = {
  request: {
    apiKey: 43,
    name: 'ElectLeadersRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'electionType', type: 'int8', versions: '1+' },
      {
        name: 'topicPartitions',
        type: '[]TopicPartitions',
        versions: '0+',
        nullableVersions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
    ],
  },
  response: {
    apiKey: 43,
    name: 'ElectLeadersResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '1+', ignorable: false },
      {
        name: 'replicaElectionResults',
        type: '[]ReplicaElectionResult',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitionResult',
            type: '[]PartitionResult',
            versions: '0+',
            fields: [
              { name: 'partitionId', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
