/** ConsumerGroupHeartbeat (key 68): a member of a consumer-protocol group (KIP-848) joins, heartbeats, leaves and receives its assignment. */
import type { ApiSpec } from '../schema.ts';

export const ConsumerGroupHeartbeat: ApiSpec = {
  request: {
    apiKey: 68,
    name: 'ConsumerGroupHeartbeatRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'memberId', type: 'string', versions: '0+' },
      { name: 'memberEpoch', type: 'int32', versions: '0+' },
      { name: 'instanceId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'rackId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'rebalanceTimeoutMs', type: 'int32', versions: '0+', default: -1 },
      { name: 'subscribedTopicNames', type: '[]string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'subscribedTopicRegex', type: 'string', versions: '1+', nullableVersions: '1+', default: null },
      { name: 'serverAssignor', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      {
        name: 'topicPartitions',
        type: '[]TopicPartitions',
        versions: '0+',
        nullableVersions: '0+',
        default: null,
        fields: [
          { name: 'topicId', type: 'uuid', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    apiKey: 68,
    name: 'ConsumerGroupHeartbeatResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'memberId', type: 'string', versions: '0+', nullableVersions: '0+', default: null },
      { name: 'memberEpoch', type: 'int32', versions: '0+' },
      { name: 'heartbeatIntervalMs', type: 'int32', versions: '0+' },
      {
        name: 'assignment',
        type: 'Assignment',
        versions: '0+',
        nullableVersions: '0+',
        default: null,
        fields: [{ name: 'topicPartitions', type: '[]TopicPartitions', versions: '0+' }],
      },
    ],
    commonStructs: {
      TopicPartitions: [
        { name: 'topicId', type: 'uuid', versions: '0+' },
        { name: 'partitions', type: '[]int32', versions: '0+' },
      ],
    },
  },
};
