/** AddOffsetsToTxn (key 25): a producer adds a group's offsets partition to its transaction. */
import type { ApiSpec } from '../schema.ts';

export const AddOffsetsToTxn: ApiSpec = {
  request: {
    apiKey: 25,
    name: 'AddOffsetsToTxnRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'groupId', type: 'string', versions: '0+' },
    ],
  },
  response: {
    apiKey: 25,
    name: 'AddOffsetsToTxnResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
    ],
  },
};
