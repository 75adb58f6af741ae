/** EndTxn (key 26): a producer commits or aborts its transaction. */
import type { ApiSpec } from '../schema.ts';

export const EndTxn: ApiSpec = {
  request: {
    apiKey: 26,
    name: 'EndTxnRequest',
    type: 'request',
    validVersions: '0-5',
    flexibleVersions: '3+',
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+' },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
      { name: 'committed', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    apiKey: 26,
    name: 'EndTxnResponse',
    type: 'response',
    validVersions: '0-5',
    flexibleVersions: '3+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '5+', default: -1, ignorable: true },
      { name: 'producerEpoch', type: 'int16', versions: '5+', default: -1, ignorable: true },
    ],
  },
};
