/** DescribeUserScramCredentials (key 50): which SCRAM mechanisms each user has credentials for. */
import type { ApiSpec } from '../schema.ts';

export const DescribeUserScramCredentials: ApiSpec = {
  request: {
    apiKey: 50,
    name: 'DescribeUserScramCredentialsRequest',
    type: 'request',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      {
        name: 'users',
        type: '[]UserName',
        versions: '0+',
        nullableVersions: '0+',
        fields: [{ name: 'name', type: 'string', versions: '0+' }],
      },
    ],
  },
  response: {
    apiKey: 50,
    name: 'DescribeUserScramCredentialsResponse',
    type: 'response',
    validVersions: '0',
    flexibleVersions: '0+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '0+' },
      { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
      {
        name: 'results',
        type: '[]DescribeUserScramCredentialsResult',
        versions: '0+',
        fields: [
          { name: 'user', type: 'string', versions: '0+' },
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'errorMessage', type: 'string', versions: '0+', nullableVersions: '0+' },
          {
            name: 'credentialInfos',
            type: '[]CredentialInfo',
            versions: '0+',
            fields: [
              { name: 'mechanism', type: 'int8', versions: '0+' },
              { name: 'iterations', type: 'int32', versions: '0+' },
            ],
          },
        ],
      },
    ],
  },
};
