/** DescribeConfigs (key 32): read topic, broker or logger configuration entries, optionally with synonyms and documentation. */
import type { ApiSpec } from '../schema.ts';

// v0 reports isDefault; v1 replaces it with configSource and adds synonyms;
// v3 adds the config type and documentation; v4 is the first flexible version.
export const DescribeConfigs: ApiSpec = {
  request: {
    apiKey: 32,
    name: 'DescribeConfigsRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      {
        name: 'resources',
        type: '[]DescribeConfigsResource',
        versions: '0+',
        fields: [
          { name: 'resourceType', type: 'int8', versions: '0+' },
          { name: 'resourceName', type: 'string', versions: '0+' },
          { name: 'configurationKeys', type: '[]string', versions: '0+', nullableVersions: '0+' },
        ],
      },
      { name: 'includeSynonyms', type: 'bool', versions: '1+', default: false, ignorable: false },
      { name: 'includeDocumentation', type: 'bool', versions: '3+', default: false, ignorable: false },
    ],
  },
  response: {
    apiKey: 32,
    name: 'DescribeConfigsResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '4+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'results',
        type: '[]DescribeConfigsResult',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'resourceType', type: 'int8', versions: '0+' },
          { name: 'resourceName', type: 'string', versions: '0+' },
          {
            name: 'configs',
            type: '[]DescribeConfigsResourceResult',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              { name: 'value', type: 'string', versions: '0+', nullableVersions: '0+' },
              { name: 'readOnly', type: 'bool', versions: '0+' },
              { name: 'isDefault', type: 'bool', versions: '0' },
              { name: 'configSource', type: 'int8', versions: '1+', default: -1, ignorable: true },
              { name: 'isSensitive', type: 'bool', versions: '0+' },
              {
                name: 'synonyms',
                type: '[]DescribeConfigsSynonym',
                versions: '1+',
                ignorable: true,
                fields: [
                  { name: 'name', type: 'string', versions: '1+' },
                  { name: 'value', type: 'string', versions: '1+', nullableVersions: '0+' },
                  { name: 'source', type: 'int8', versions: '1+' },
                ],
              },
              { name: 'configType', type: 'int8', versions: '3+', default: 0, ignorable: true },
              { name: 'documentation', type: 'string', versions: '3+', nullableVersions: '0+', ignorable: true },
            ],
          },
        ],
      },
    ],
  },
};
