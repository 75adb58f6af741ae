/** DescribeCluster (key 60): cluster id, controller and the brokers (or, from v1, controllers) an admin client sees. */
import type { ApiSpec } from '../schema.ts';

// endpointType: 1 brokers, 2 controllers (v1, KIP-919). v2 (Kafka 4.0,
// KIP-1073) lets the request include fenced brokers and marks them isFenced.
export const DescribeCluster: ApiSpec = {
  request: {
    apiKey: 60,
    name: 'DescribeClusterRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'includeClusterAuthorizedOperations', type: 'bool', versions: '0+' },
      { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
      { name: 'includeFencedBrokers', type: 'bool', versions: '2+', default: false },
    ],
  },
  response: {
    apiKey: 60,
    name: 'DescribeClusterResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'endpointType', type: 'int8', versions: '1+', default: 1 },
      { name: 'clusterId', type: 'string', versions: '0+' },
      { name: 'controllerId', type: 'int32', versions: '0+', default: -1 },
      {
        name: 'brokers',
        type: '[]DescribeClusterBroker',
        versions: '0+',
        fields: [
          { name: 'brokerId', type: 'int32', versions: '0+' },
          { name: 'host', type: 'string', versions: '0+' },
          { name: 'port', type: 'int32', versions: '0+' },
          { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
          { name: 'isFenced', type: 'bool', versions: '2+', default: false },
        ],
      },
      { name: 'clusterAuthorizedOperations', type: 'int32', versions: '0+', default: -2147483648 },
    ],
  },
};
