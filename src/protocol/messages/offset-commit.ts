/** OffsetCommit (key 8): a consumer stores its committed offsets with the group coordinator. */
import type { ApiSpec } from '../schema.ts';

// v10 (Kafka 4.2, KIP-848) names topics by id instead of by name. The broker
// serves up to v9 for now (src/server/handlers/index.ts): its group handlers
// read topic names.
export const OffsetCommit: ApiSpec = {
  request: {
    apiKey: 8,
    name: 'OffsetCommitRequest',
    type: 'request',
    validVersions: '0-10',
    flexibleVersions: '8+',
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      { name: 'generationIdOrMemberEpoch', type: 'int32', versions: '1+', default: -1, ignorable: true },
      { name: 'memberId', type: 'string', versions: '1+', ignorable: true },
      { name: 'groupInstanceId', type: 'string', versions: '7+', nullableVersions: '7+', default: null },
      { name: 'retentionTimeMs', type: 'int64', versions: '2-4', default: -1, ignorable: true },
      {
        name: 'topics',
        type: '[]OffsetCommitRequestTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0-9', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '10+', ignorable: true },
          {
            name: 'partitions',
            type: '[]OffsetCommitRequestPartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'committedOffset', type: 'int64', versions: '0+' },
              { name: 'committedLeaderEpoch', type: 'int32', versions: '6+', default: -1, ignorable: true },
              { name: 'commitTimestamp', type: 'int64', versions: '1', default: -1 },
              { name: 'committedMetadata', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 8,
    name: 'OffsetCommitResponse',
    type: 'response',
    validVersions: '0-10',
    flexibleVersions: '8+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '3+', ignorable: true },
      {
        name: 'topics',
        type: '[]OffsetCommitResponseTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0-9', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '10+', ignorable: true },
          {
            name: 'partitions',
            type: '[]OffsetCommitResponsePartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
