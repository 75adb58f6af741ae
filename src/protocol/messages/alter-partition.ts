/**
 * AlterPartition (key 56), served on the controller listener: a partition
 * leader asks the controller to change the partition's ISR (shrink it by
 * followers that fell behind, expand it by followers that caught up). Samsa
 * speaks versions 2 (topic ids, KIP-841) and 3 (broker epochs of the new ISR
 * members, KIP-903), the ones Kafka 4.0 keeps.
 */
import type { ApiSpec } from '../schema.ts';

export const AlterPartition: ApiSpec = {
  request: {
    apiKey: 56,
    name: 'AlterPartitionRequest',
    type: 'request',
    validVersions: '2-3',
    flexibleVersions: '0+',
    fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1 },
      {
        name: 'topics',
        type: '[]TopicData',
        versions: '0+',
        fields: [
          { name: 'topicId', type: 'uuid', versions: '2+', ignorable: true },
          {
            name: 'partitions',
            type: '[]PartitionData',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
              { name: 'newIsr', type: '[]int32', versions: '0-2' },
              {
                name: 'newIsrWithEpochs',
                type: '[]BrokerState',
                versions: '3+',
                fields: [
                  { name: 'brokerId', type: 'int32', versions: '3+' },
                  { name: 'brokerEpoch', type: 'int64', versions: '3+', default: -1 },
                ],
              },
              { name: 'leaderRecoveryState', type: 'int8', versions: '1+', default: 0 },
              { name: 'partitionEpoch', type: 'int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
  response: {
    apiKey: 56,
    name: 'AlterPartitionResponse',
    type: 'response',
    validVersions: '2-3',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      {
        name: 'topics',
        type: '[]TopicData',
        versions: '0+',
        fields: [
          { name: 'topicName', type: 'string', versions: '0-1', ignorable: true },
          { name: 'topicId', type: 'uuid', versions: '2+', ignorable: true },
          {
            name: 'partitions',
            type: '[]PartitionData',
            versions: '0+',
            fields: [
              { name: 'partitionIndex', type: 'int32', versions: '0+' },
              { name: 'errorCode', type: 'int16', versions: '0+' },
              { name: 'leaderId', type: 'int32', versions: '0+' },
              { name: 'leaderEpoch', type: 'int32', versions: '0+' },
              { name: 'isr', type: '[]int32', versions: '0+' },
              { name: 'leaderRecoveryState', type: 'int8', versions: '1+', default: 0, ignorable: true },
              { name: 'partitionEpoch', type: 'int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};

export const ALTER_PARTITION_APIS: ApiSpec[] = [AlterPartition];
