/** ApiVersions (key 18): which APIs and versions the broker supports. */
import type { ApiSpec } from '../schema.ts';

export const ApiVersions: ApiSpec = {
  request: {
    apiKey: 18,
    name: 'ApiVersionsRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'clientSoftwareName', type: 'string', versions: '3+' },
      { name: 'clientSoftwareVersion', type: 'string', versions: '3+' },
    ],
  },
  response: {
    apiKey: 18,
    name: 'ApiVersionsResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '3+',
    fields: [
      { name: 'errorCode', type: 'int16', versions: '0+' },
      {
        name: 'apiKeys',
        type: '[]ApiVersion',
        versions: '0+',
        fields: [
          { name: 'apiKey', type: 'int16', versions: '0+' },
          { name: 'minVersion', type: 'int16', versions: '0+' },
          { name: 'maxVersion', type: 'int16', versions: '0+' },
        ],
      },
      { name: 'throttleTimeMs', type: 'int32', versions: '1+', ignorable: true },
      {
        name: 'supportedFeatures',
        type: '[]SupportedFeatureKey',
        versions: '3+',
        tag: 0,
        taggedVersions: '3+',
        ignorable: true,
        fields: [
          { name: 'name', type: 'string', versions: '3+' },
          { name: 'minVersion', type: 'int16', versions: '3+' },
          { name: 'maxVersion', type: 'int16', versions: '3+' },
        ],
      },
      {
        name: 'finalizedFeaturesEpoch',
        type: 'int64',
        versions: '3+',
        tag: 1,
        taggedVersions: '3+',
        default: -1,
        ignorable: true,
      },
      {
        name: 'finalizedFeatures',
        type: '[]FinalizedFeatureKey',
        versions: '3+',
        tag: 2,
        taggedVersions: '3+',
        ignorable: true,
        fields: [
          { name: 'name', type: 'string', versions: '3+' },
          { name: 'maxVersionLevel', type: 'int16', versions: '3+' },
          { name: 'minVersionLevel', type: 'int16', versions: '3+' },
        ],
      },
      {
        name: 'zkMigrationReady',
        type: 'bool',
        versions: '3+',
        tag: 3,
        taggedVersions: '3+',
        default: false,
        ignorable: true,
      },
    ],
  },
};
