/** OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, used by consumers and followers to detect log truncation. */
import type { ApiSpec } from '../schema.ts';

// v2 adds the caller's current leader epoch for fencing; v3 the replica id
// (-1 for a consumer, -2 for a debugging tool); v4 is the first flexible version.
export const OffsetForLeaderEpoch: ApiSpec = {
  request: {
    apiKey: 23,
    name: 'OffsetForLeaderEpochRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      { name: 'replicaId', type: 'int32', versions: '3+', default: -2, ignorable: true },
      {
        name: 'topics',
        type: '[]OffsetForLeaderTopic',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetForLeaderPartition',
            versions: '0+',
            fields: [
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '2+', default: -1, ignorable: true },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 23,
    name: 'OffsetForLeaderEpochResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '2+', ignorable: true },
      {
        name: 'topics',
        type: '[]OffsetForLeaderTopicResult',
        versions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]EpochEndOffset',
            versions: '0+',
            fields: [
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'partition', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '1+', default: -1, ignorable: true },
              { name: 'endOffset', type: 'int64', versions: '0+', default: -1 },
            ],
          },
        ],
      },
    ],
  },
};
