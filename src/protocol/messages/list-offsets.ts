/** ListOffsets (key 2): look up partition offsets by timestamp (earliest, latest, max-timestamp, or a time). */
import type { ApiSpec } from '../schema.ts';

// v0 answers with a list of old-style offsets; v1+ with one timestamp/offset
// pair. v2 adds the isolation level; v4 leader epochs; v6 is the first
// flexible version; v10 adds a timeout for remote-storage lookups. v11
// (Kafka 4.2, KIP-1023) has v10's fields and admits timestamp -6, the
// earliest offset not yet uploaded to remote storage.
export const ListOffsets: ApiSpec = {
  request: {
    apiKey: 2,
    name: 'ListOffsetsRequest',
    type: 'request',
    validVersions: '0-11',
    flexibleVersions: '6+',
    fields: [
      { name: 'replicaId', type: 'int32', versions: '0+' },
      { name: 'isolationLevel', type: 'int8', versions: '2+' },
      {
        name: 'topics',
        type: '[]ListOffsetsTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ListOffsetsPartition',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'currentLeaderEpoch', type: 'int32', versions: '4+', default: -1, ignorable: true },
              { name: 'timestamp', type: 'int64', versions: '0+' },
              { name: 'maxNumOffsets', type: 'int32', versions: '0', default: 1 },
            ],
          },
        ],
      },
      { name: 'timeoutMs', type: 'int32', versions: '10+', ignorable: true },
    ],
  },
  response: {
    apiKey: 2,
    name: 'ListOffsetsResponse',
    type: 'response',
    validVersions: '0-11',
    flexibleVersions: '6+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '2+', ignorable: true },
      {
        name: 'topics',
        type: '[]ListOffsetsTopicResponse',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]ListOffsetsPartitionResponse',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'oldStyleOffsets', type: '[]int64', versions: '0', ignorable: false },
              { name: 'timestamp', type: 'int64', versions: '1+', default: -1, ignorable: false },
              { name: 'offset', type: 'int64', versions: '1+', default: -1, ignorable: false },
              { name: 'leaderEpoch', type: 'int32', versions: '4+', default: -1 },
            ],
          },
        ],
      },
    ],
  },
};
