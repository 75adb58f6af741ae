/** DeleteGroups (key 42): delete empty groups and their committed offsets. */
import type { ApiSpec } from '../schema.ts';

export const DeleteGroups: ApiSpec = {
  request: {
    apiKey: 42,
    name: 'DeleteGroupsRequest',
    type: 'request',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [{ name: 'groupsNames', type: '[]string', versions: '0+' }],
  },
  response: {
    apiKey: 42,
    name: 'DeleteGroupsResponse',
    type: 'response',
    validVersions: '0-2',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      {
        name: 'results',
        type: '[]DeletableGroupResult',
        versions: '0+',
        fields: [
          { name: 'groupId', type: 'string', versions: '0+' },
          { name: 'errorCode', type: 'int16', versions: '0+' },
        ],
      },
    ],
  },
};
