/**
 * The KRaft broker lifecycle (KIP-631), served on the controller listener:
 * BrokerRegistration (key 62), BrokerHeartbeat (63) and UnregisterBroker (64).
 */
import type { ApiSpec } from '../schema.ts';

export const BrokerRegistration: ApiSpec = {
  request: {
    apiKey: 62,
    name: 'BrokerRegistrationRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '0+',
    fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'clusterId', type: 'string', versions: '0+' },
      { name: 'incarnationId', type: 'uuid', versions: '0+' },
      {
        name: 'listeners',
        type: '[]Listener',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          { name: 'host', type: 'string', versions: '0+' },
          { name: 'port', type: 'uint16', versions: '0+' },
          { name: 'securityProtocol', type: 'int16', versions: '0+' },
        ],
      },
      {
        name: 'features',
        type: '[]Feature',
        versions: '0+',
        fields: [
          { name: 'name', type: 'string', versions: '0+' },
          { name: 'minSupportedVersion', type: 'int16', versions: '0+' },
          { name: 'maxSupportedVersion', type: 'int16', versions: '0+' },
        ],
      },
      { name: 'rack', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'isMigratingZkBroker', type: 'bool', versions: '1+', default: false },
      { name: 'logDirs', type: '[]uuid', versions: '2+', ignorable: true },
      { name: 'previousBrokerEpoch', type: 'int64', versions: '3+', default: -1, ignorable: true },
    ],
  },
  response: {
    apiKey: 62,
    name: 'BrokerRegistrationResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1 },
    ],
  },
};

export const BrokerHeartbeat: ApiSpec = {
  request: {
    apiKey: 63,
    name: 'BrokerHeartbeatRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'brokerId', type: 'int32', versions: '0+' },
      { name: 'brokerEpoch', type: 'int64', versions: '0+', default: -1 },
      { name: 'currentMetadataOffset', type: 'int64', versions: '0+' },
      { name: 'wantFence', type: 'bool', versions: '0+' },
      { name: 'wantShutDown', type: 'bool', versions: '0+' },
      { name: 'offlineLogDirs', type: '[]uuid', versions: '1+', taggedVersions: '1+', tag: 0 },
    ],
  },
  response: {
    apiKey: 63,
    name: 'BrokerHeartbeatResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'isCaughtUp', type: 'bool', versions: '0+', default: false },
      { name: 'isFenced', type: 'bool', versions: '0+', default: true },
      { name: 'shouldShutDown', type: 'bool', versions: '0+' },
    ],
  },
};

export const UnregisterBroker: ApiSpec = {
  request: {
    apiKey: 64,
    name: 'UnregisterBrokerRequest',
    type: 'request',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [{ name: 'brokerId', type: 'int32', versions: '0+' }],
  },
  response: {
    apiKey: 64,
    name: 'UnregisterBrokerResponse',
    type: 'response',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
    ],
  },
};

export const BROKER_LIFECYCLE_APIS: ApiSpec[] = [BrokerRegistration, BrokerHeartbeat, UnregisterBroker];
