/** AlterConfigs (key 33): replace the whole configuration of topics or brokers (legacy; IncrementalAlterConfigs supersedes it). */
import type { ApiSpec } from '../schema.ts';

export const AlterConfigs: ApiSpec = {
  request: {
    apiKey: 33,
    name: 'AlterConfigsRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      {
        name: 'resources',
        type: '[]AlterConfigsResource',
        versions: '0+',
        fields: [
          { name: 'resourceType', type: 'int8', versions: '0+' },
          { name: 'resourceName', type: 'string', versions: '0+' },
          {
            name: 'configs',
            type: '[]AlterableConfig',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
      { name: 'validateOnly', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    apiKey: 33,
    name: 'AlterConfigsResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'responses',
        type: '[]AlterConfigsResourceResponse',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'resourceType', type: 'int8', versions: '0+' },
          { name: 'resourceName', type: 'string', versions: '0+' },
        ],
      },
    ],
  },
};
