/** __consumer_offsets keys/values in Kafka's layout, and Kafka's group -> partition mapping. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeStored, encodeStored, partitionForGroup } from '../../../src/coordinator/group/offsets-records.ts';

test('group -> partition matches Java String.hashCode based placement (values computed with a JVM)', () => {
  assert.equal(partitionForGroup('my-group', 50), 12);
  assert.equal(partitionForGroup('test-consumer-group', 50), 31);
  assert.equal(partitionForGroup('ab', 50), 5);
  assert.equal(partitionForGroup('\u00e9t\u00e9-group', 50), 34);
  assert.equal(partitionForGroup('connect-cluster', 50), 13);
});

test('offset commit records round-trip, tombstones included', () => {
  const rec = {
    groupId: 'g',
    topic: 't',
    partition: 3,
    value: { offset: 42, leaderEpoch: 7, metadata: 'meta', commitTimestamp: 1700000000000, expireTimestamp: -1 },
  };
  const { key, value } = encodeStored(rec);
  assert.equal(key.readInt16BE(0), 1, 'offset key version 1');
  assert.equal(value!.readInt16BE(0), 3, 'offset value version 3');
  assert.deepEqual(decodeStored(key, value), rec);
  const tomb = encodeStored({ groupId: 'g', topic: 't', partition: 3, value: null });
  assert.equal(tomb.value, null);
  assert.deepEqual(decodeStored(tomb.key, null), { groupId: 'g', topic: 't', partition: 3, value: null });
});

test('group metadata records round-trip', () => {
  const snapshot = {
    groupId: 'g',
    protocolType: 'consumer',
    generationId: 4,
    protocolName: 'range',
    leader: 'm1',
    currentStateTimestamp: 123,
    members: [
      {
        memberId: 'm1',
        groupInstanceId: 'i1',
        clientId: 'c',
        clientHost: '/127.0.0.1',
        rebalanceTimeoutMs: 300000,
        sessionTimeoutMs: 45000,
        subscription: Buffer.from([1, 2]),
        assignment: Buffer.from([3]),
      },
    ],
  };
  const { key, value } = encodeStored({ groupId: 'g', snapshot });
  assert.equal(key.readInt16BE(0), 2);
  assert.deepEqual(decodeStored(key, value), { groupId: 'g', snapshot });
});
