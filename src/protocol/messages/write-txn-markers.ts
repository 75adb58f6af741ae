/** WriteTxnMarkers (key 27): the transaction coordinator asks partition leaders to write commit or abort markers. */
import type { ApiSpec } from '../schema.ts';

// v2 (Kafka 4.2, KIP-1228) tells the leader each marker's transaction version.
export const WriteTxnMarkers: ApiSpec = {
  request: {
    apiKey: 27,
    name: 'WriteTxnMarkersRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '1+',
    fields: [
      {
        name: 'markers',
        type: '[]WritableTxnMarker',
        versions: '0+',
        fields: [
          { name: 'producerId', type: 'int64', versions: '0+' },
          { name: 'producerEpoch', type: 'int16', versions: '0+' },
          { name: 'transactionResult', type: 'bool', versions: '0+' },
          {
            name: 'topics',
            type: '[]WritableTxnMarkerTopic',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              { name: 'partitionIndexes', type: '[]int32', versions: '0+' },
            ],
          },
          { name: 'coordinatorEpoch', type: 'int32', versions: '0+' },
          { name: 'transactionVersion', type: 'int8', versions: '2+', default: 0, ignorable: true },
        ],
      },
    ],
  },
  response: {
    apiKey: 27,
    name: 'WriteTxnMarkersResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '1+',
    fields: [
      {
        name: 'markers',
        type: '[]WritableTxnMarkerResult',
        versions: '0+',
        fields: [
          { name: 'producerId', type: 'int64', versions: '0+' },
          {
            name: 'topics',
            type: '[]WritableTxnMarkerTopicResult',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              {
                name: 'partitions',
                type: '[]WritableTxnMarkerPartitionResult',
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
    ],
  },
};
