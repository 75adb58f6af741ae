/** AlterPartitionReassignments (key 45): start or cancel replica reassignments. */
import type { ApiSpec } from '../schema.ts';

// v1 (Kafka 4.x) adds AllowReplicationFactorChange to both directions.
export const AlterPartitionReassignments: ApiSpec = {
  request: {
    apiKey: 45,
    name: 'AlterPartitionReassignmentsRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'timeoutMs', type: 'int32', versions: '0+', default: 60000 },
      { name: 'allowReplicationFactorChange', type: 'bool', versions: '1+', default: true },
      {
        name: 'topics',
        type: '[]ReassignableTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ReassignablePartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'replicas', type: '[]int32', versions: '0+', nullableVersions: '0+', default: null },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 45,
    name: 'AlterPartitionReassignmentsResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'allowReplicationFactorChange', type: 'bool', versions: '1+', default: true, ignorable: true },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'responses',
        type: '[]ReassignableTopicResponse',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ReassignablePartitionResponse',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
