/** DescribeAcls (key 29): list the ACL bindings that match a filter. */
import type { ApiSpec } from '../schema.ts';

export const DescribeAcls: ApiSpec = {
  request: {
    apiKey: 29,
    name: 'DescribeAclsRequest',
    type: 'request',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'resourceTypeFilter', type: 'int8', versions: '0+' },
      { name: 'resourceNameFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'patternTypeFilter', type: 'int8', versions: '1+', default: 3, ignorable: false },
      { name: 'principalFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'hostFilter', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'operation', type: 'int8', versions: '0+' },
      { name: 'permissionType', type: 'int8', versions: '0+' },
    ],
  },
  response: {
    apiKey: 29,
    name: 'DescribeAclsResponse',
    type: 'response',
    validVersions: '0-3',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'resources',
        type: '[]DescribeAclsResource',
        versions: '0+',
        fields: [
          { name: 'resourceType', type: 'int8', versions: '0+' },
          { name: 'resourceName', type: 'string', versions: '0+' },
          { name: 'patternType', type: 'int8', versions: '1+', default: 3, ignorable: false },
          {
            name: 'acls',
            type: '[]AclDescription',
            versions: '0+',
            fields: [
              { name: 'principal', type: 'string', versions: '0+' },
              { name: 'host', type: 'string', versions: '0+' },
              { name: 'operation', type: 'int8', versions: '0+' },
              { name: 'permissionType', type: 'int8', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
