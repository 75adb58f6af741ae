/**
 * DescribeClientQuotas (key 48) and AlterClientQuotas (key 49): read and
 * change client quotas (KIP-546). An entity is a list of (type, name) pairs,
 * type `user` or `client-id` (a null name: the default entity of that type).
 */
import type { ApiSpec, FieldSpec } from '../schema.ts';

const entityFields: FieldSpec[] = [
  { name: 'entityType', type: 'string', versions: '0+' },
  { name: 'entityName', type: 'string', versions: '0+', nullableVersions: '0+' },
];

// v1 is the first flexible version.
export const DescribeClientQuotas: ApiSpec = {
  request: {
    apiKey: 48,
    name: 'DescribeClientQuotasRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '1+',
    fields: [
      {
        name: 'components',
        type: '[]ComponentData',
        versions: '0+',
        fields: [
          { name: 'entityType', type: 'string', versions: '0+' },
          // 0 exact name, 1 the default entity, 2 any entity of the type
          { name: 'matchType', type: 'int8', versions: '0+' },
          { name: 'match', type: 'string', versions: '0+', nullableVersions: '0+' },
        ],
      },
      { name: 'strict', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    apiKey: 48,
    name: 'DescribeClientQuotasResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '1+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'entries',
        type: '[]EntryData',
        versions: '0+',
        nullableVersions: '0+',
        fields: [
          { name: 'entity', type: '[]EntityData', versions: '0+', fields: [...entityFields] },
          {
            name: 'values',
            type: '[]ValueData',
            versions: '0+',
            fields: [
              { name: 'key', type: 'string', versions: '0+' },
              { name: 'value', type: 'float64', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};

// v1 is the first flexible version.
export const AlterClientQuotas: ApiSpec = {
  request: {
    apiKey: 49,
    name: 'AlterClientQuotasRequest',
    type: 'request',
    validVersions: '0-1',
    flexibleVersions: '1+',
    fields: [
      {
        name: 'entries',
        type: '[]EntryData',
        versions: '0+',
        fields: [
          { name: 'entity', type: '[]EntityData', versions: '0+', fields: [...entityFields] },
          {
            name: 'ops',
            type: '[]OpData',
            versions: '0+',
            fields: [
              { name: 'key', type: 'string', versions: '0+' },
              { name: 'value', type: 'float64', versions: '0+' },
              { name: 'remove', type: 'bool', versions: '0+' },
            ],
          },
        ],
      },
      { name: 'validateOnly', type: 'bool', versions: '0+' },
    ],
  },
  response: {
    apiKey: 49,
    name: 'AlterClientQuotasResponse',
    type: 'response',
    validVersions: '0-1',
    flexibleVersions: '1+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'entries',
        type: '[]EntryData',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          { name: 'entity', type: '[]EntityData', versions: '0+', fields: [...entityFields] },
        ],
      },
    ],
  },
};
