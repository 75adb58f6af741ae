/** ListTransactions (key 66): transactions known to the coordinator, filtered by state, producer id and duration. */
import type { ApiSpec } from '../schema.ts';

// v1 adds the duration filter (KIP-994); v2 (Kafka 4.1) a
// transactional id pattern (a regular expression; null or empty matches all).
export const ListTransactions: ApiSpec = {
  request: {
    apiKey: 66,
    name: 'ListTransactionsRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'stateFilters', type: '[]string', versions: '0+' },
      { name: 'producerIdFilters', type: '[]int64', versions: '0+' },
      { name: 'durationFilter', type: 'int64', versions: '1+', default: -1 },
      { name: 'transactionalIdPattern', type: 'string', versions: '2+', nullableVersions: '2+', default: null },
    ],
  },
  response: {
    apiKey: 66,
    name: 'ListTransactionsResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'unknownStateFilters', type: '[]string', versions: '0+' },
      {
        name: 'transactionStates',
        type: '[]TransactionState',
        versions: '0+',
        fields: [
          { name: 'transactionalId', type: 'string', versions: '0+' },
          { name: 'producerId', type: 'int64', versions: '0+' },
          { name: 'transactionState', type: 'string', versions: '0+' },
        ],
      },
    ],
  },
};
