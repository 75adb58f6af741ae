/** OffsetDelete (key 47): delete a group's committed offsets for some partitions. */
import type { ApiSpec } from '../schema.ts';

export const OffsetDelete: ApiSpec = {
  request: {
    apiKey: 47,
    name: 'OffsetDeleteRequest',
    type: 'request',
    validVersions: '0',
    flexibleVersions: 'none',
    fields: [
      { name: 'groupId', type: 'string', versions: '0+' },
      {
        name: 'topics',
        type: '[]OffsetDeleteRequestTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetDeleteRequestPartition',
            versions: '0+',
            fields: [{ name: 'partitionIndex', type: 'int32', versions: '0+' }],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 47,
    name: 'OffsetDeleteResponse',
    type: 'response',
    validVersions: '0',
    flexibleVersions: 'none',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'throttleTimeMs', type: 'int32', versions: '0+', ignorable: true },
      {
        name: 'topics',
        type: '[]OffsetDeleteResponseTopic',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          {
            name: 'partitions',
            type: '[]OffsetDeleteResponsePartition',
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
