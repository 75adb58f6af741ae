/**
 * The persisted record formats of the `__consumer_offsets` topic, declared
 * as data so the group coordinator encodes and decodes them with the same
 * compiler as the APIs. Not APIs: they are in no catalog.
 *
 * On disk each record key is an int16 key version followed by the key body
 * at that version (0-1: OffsetCommitKey, 2: GroupMetadataKey); each value is
 * an int16 value version followed by the value body at that version.
 *
 * The schema's message type only knows 'request' and 'response'; these
 * records are marked 'request' and carry apiKey -1, neither of which the
 * compiler looks at.
 */
import type { MessageSpec } from '../schema.ts';

/** Key of a committed offset (key versions 0 and 1). */
export const OffsetCommitKey: MessageSpec = {
  apiKey: -1,
  name: 'OffsetCommitKey',
  type: 'request',
  validVersions: '0-1',
  flexibleVersions: 'none',
  fields: [
    { name: 'group', type: 'string', versions: '0-1' },
    { name: 'topic', type: 'string', versions: '0-1' },
    { name: 'partition', type: 'int32', versions: '0-1' },
  ],
};

/** Value of a committed offset; a null value (tombstone) deletes it. */
export const OffsetCommitValue: MessageSpec = {
  apiKey: -1,
  name: 'OffsetCommitValue',
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'offset', type: 'int64', versions: '0+' },
    { name: 'leaderEpoch', type: 'int32', versions: '3+', default: -1, ignorable: true },
    { name: 'metadata', type: 'string', versions: '0+' },
    { name: 'commitTimestamp', type: 'int64', versions: '0+' },
    { name: 'expireTimestamp', type: 'int64', versions: '1', default: -1, ignorable: true },
  ],
};

/** Key of a classic group's metadata (key version 2). */
export const GroupMetadataKey: MessageSpec = {
  apiKey: -1,
  name: 'GroupMetadataKey',
  type: 'request',
  validVersions: '2',
  flexibleVersions: 'none',
  fields: [{ name: 'group', type: 'string', versions: '2' }],
};

/** Value of a classic group's metadata: generation, protocol, leader, members. */
export const GroupMetadataValue: MessageSpec = {
  apiKey: -1,
  name: 'GroupMetadataValue',
  type: 'request',
  validVersions: '0-4',
  flexibleVersions: '4+',
  fields: [
    { name: 'protocolType', type: 'string', versions: '0+' },
    { name: 'generation', type: 'int32', versions: '0+' },
    { name: 'protocol', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'leader', type: 'string', versions: '0+', nullableVersions: '0+' },
    { name: 'currentStateTimestamp', type: 'int64', versions: '2+', default: -1, ignorable: true },
    { name: 'members', type: '[]MemberMetadata', versions: '0+' },
  ],
  commonStructs: {
    MemberMetadata: [
      { name: 'memberId', type: 'string', versions: '0+' },
      {
        name: 'groupInstanceId',
        type: 'string',
        versions: '3+',
        nullableVersions: '3+',
        default: null,
        ignorable: true,
      },
      { name: 'clientId', type: 'string', versions: '0+' },
      { name: 'clientHost', type: 'string', versions: '0+' },
      { name: 'rebalanceTimeout', type: 'int32', versions: '1+', default: -1, ignorable: true },
      { name: 'sessionTimeout', type: 'int32', versions: '0+' },
      { name: 'subscription', type: 'bytes', versions: '0+' },
      { name: 'assignment', type: 'bytes', versions: '0+' },
    ],
  },
};
