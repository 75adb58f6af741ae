/** SaslHandshake (key 17): a client names its SASL mechanism; the broker lists the ones it enables. */
import type { ApiSpec } from '../schema.ts';

// v0 is followed by raw (unframed) SASL tokens; from v1 the tokens travel in
// SaslAuthenticate requests. Never flexible.
export const SaslHandshake: ApiSpec = {
  request: {
    apiKey: 17,
    name: 'SaslHandshakeRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: 'none',
    fields: [{ name: 'mechanism', type: 'string', versions: '0+' }],
  },
  response: {
    apiKey: 17,
    name: 'SaslHandshakeResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: 'none',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'mechanisms', type: '[]string', versions: '0+' },
    ],
  },
};
