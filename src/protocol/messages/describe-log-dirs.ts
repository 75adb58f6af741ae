/** DescribeLogDirs (key 35): the log directories of a broker, with each hosted partition's size and lag. */
import type { ApiSpec } from '../schema.ts';

// A null topic list asks for every partition. v3 adds a top-level error code;
// v4 adds the directories' total and usable bytes.
export const DescribeLogDirs: ApiSpec = {
  request: {
    apiKey: 35,
    name: 'DescribeLogDirsRequest',
    type: 'request',
    validVersions: '0-4',
    flexibleVersions: '2+',
    fields: [
      {
        name: 'topics',
        type: '[]DescribableLogDirTopic',
        versions: '0+',
        nullableVersions: '0+',
        fields: [
          { name: 'topic', type: 'string', versions: '0+' },
          { name: 'partitions', type: '[]int32', versions: '0+' },
        ],
      },
    ],
  },
  response: {
    apiKey: 35,
    name: 'DescribeLogDirsResponse',
    type: 'response',
    validVersions: '0-4',
    flexibleVersions: '2+',
    fields: [
      { name: 'throttleTimeMs', type: 'int32', versions: '0+' },
      { name: 'errorCode', type: 'int16', versions: '3+', ignorable: true },
      {
        name: 'results',
        type: '[]DescribeLogDirsResult',
        versions: '0+',
        fields: [
          { name: 'errorCode', type: 'int16', versions: '0+' },
          { name: 'logDir', type: 'string', versions: '0+' },
          {
            name: 'topics',
            type: '[]DescribeLogDirsTopic',
            versions: '0+',
            fields: [
              { name: 'name', type: 'string', versions: '0+' },
              {
                name: 'partitions',
                type: '[]DescribeLogDirsPartition',
                versions: '0+',
                fields: [
                  { name: 'partitionIndex', type: 'int32', versions: '0+' },
                  { name: 'partitionSize', type: 'int64', versions: '0+' },
                  { name: 'offsetLag', type: 'int64', versions: '0+' },
                  { name: 'isFutureKey', type: 'bool', versions: '0+' },
                ],
              },
            ],
          },
          { name: 'totalBytes', type: 'int64', versions: '4+', default: -1, ignorable: true },
          { name: 'usableBytes', type: 'int64', versions: '4+', default: -1, ignorable: true },
        ],
      },
    ],
  },
};
