/** SaslAuthenticate (key 36): carries one SASL token each way during authentication. */
import type { ApiSpec } from '../schema.ts';

// v1 adds the session lifetime (KIP-368); v2 is the first flexible version.
export const SaslAuthenticate: ApiSpec = {
  request: {
    apiKey: 36,
    name: 'SaslAuthenticateRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [{ name: 'authBytes', type: 'bytes', versions: '0+' }],
  },
  response: {
    apiKey: 36,
    name: 'SaslAuthenticateResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'authBytes', type: 'bytes', versions: '0+' },
      { name: 'sessionLifetimeMs', type: 'int64', versions: '1+', default: 0, ignorable: true },
    ],
  },
};
