/** InitProducerId (key 22): a producer obtains (or bumps the epoch of) its producer id, transactional or idempotent. */
import type { ApiSpec } from '../schema.ts';

// v3 lets a producer pass its current id and epoch so the broker can bump the
// epoch instead of fencing (KIP-360).
export const InitProducerId: ApiSpec = {
  request: {
    apiKey: 22,
    name: 'InitProducerIdRequest',
    type: 'request',
    validVersions: '0-5',
    flexibleVersions: '2+',
    fields: [
      { name: 'transactionalId', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'transactionTimeoutMs', type: 'int32', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '3+', default: -1 },
      { name: 'producerEpoch', type: 'int16', versions: '3+', default: -1 },
    ],
  },
  response: {
    apiKey: 22,
    name: 'InitProducerIdResponse',
    type: 'response',
    validVersions: '0-5',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+', ignorable: true },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'producerId', type: 'int64', versions: '0+', default: -1 },
      { name: 'producerEpoch', type: 'int16', versions: '0+' },
    ],
  },
};
