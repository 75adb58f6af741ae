/** AddPartitionsToTxn (key 24): a producer adds partitions to its transaction; from v4 brokers verify several transactions at once. */
import type { ApiSpec } from '../schema.ts';

export const AddPartitionsToTxn: ApiSpec = {
  request: {
    apiKey: 24,
    name: 'AddPartitionsToTxnRequest',
    type: 'request',
    validVersions: '0-5',
    flexibleVersions: '3+',
    fields: [
      {
        name: 'transactions',
        type: '[]AddPartitionsToTxnTransaction',
        versions: '4+',
        fields: [
          { name: 'transactionalId', type: 'string', versions: '4+' },
          { name: 'producerId', type: 'int64', versions: '4+' },
          { name: 'producerEpoch', type: 'int16', versions: '4+' },
          { name: 'verifyOnly', type: 'bool', versions: '4+', default: false },
          { name: 'topics', type: '[]AddPartitionsToTxnTopic', versions: '4+' },
        ],
      },
      { name: 'v3AndBelowTransactionalId', type: 'string', versions: '0-3' },
      { name: 'v3AndBelowProducerId', type: 'int64', versions: '0-3' },
      { name: 'v3AndBelowProducerEpoch', type: 'int16', versions: '0-3' },
      { name: 'v3AndBelowTopics', type: '[]AddPartitionsToTxnTopic', versions: '0-3' },
    ],
    commonStructs: {
      AddPartitionsToTxnTopic: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'partitions', type: '[]int32', versions: '0+' },
      ],
    },
  },
  response: {
    apiKey: 24,
    name: 'AddPartitionsToTxnResponse',
    type: 'response',
    validVersions: '0-5',
    flexibleVersions: '3+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '4+', ignorable: true },
      {
        name: 'resultsByTransaction',
        type: '[]AddPartitionsToTxnResult',
        versions: '4+',
        fields: [
          { name: 'transactionalId', type: 'string', versions: '4+' },
          { name: 'topicResults', type: '[]AddPartitionsToTxnTopicResult', versions: '4+' },
        ],
      },
      { name: 'resultsByTopicV3AndBelow', type: '[]AddPartitionsToTxnTopicResult', versions: '0-3' },
    ],
    commonStructs: {
      AddPartitionsToTxnTopicResult: [
        { name: 'name', type: 'string', versions: '0+' },
        { name: 'resultsByPartition', type: '[]AddPartitionsToTxnPartitionResult', versions: '0+' },
      ],
      AddPartitionsToTxnPartitionResult: [
        { name: 'partitionIndex', type: 'int32', versions: '0+' },
        { name: 'partitionErrorCode', type: 'int16', versions: '0+' },
      ],
    },
  },
};
