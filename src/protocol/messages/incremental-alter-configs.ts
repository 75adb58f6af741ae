/** IncrementalAlterConfigs (key 44): set, delete, append to or subtract from individual configuration entries. */
import type { ApiSpec } from '../schema.ts';

// configOperation: 0 SET, 1 DELETE, 2 APPEND, 3 SUBTRACT.
export const IncrementalAlterConfigs: ApiSpec = {
  request: {
    apiKey: 44,
    name: 'IncrementalAlterConfigsRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '1+',
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
              { name: 'configOperation', type: 'int8', versions: '0+' },
              { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
            ],
          },
        ],
      },
      { name: 'validateOnly', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    apiKey: 44,
    name: 'IncrementalAlterConfigsResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '1+',
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
