/**
 * Replication throttling (KIP-73's replication quotas): the token bucket
 * holds the rate (one second's burst, debt paid back), the rate follows the
 * dynamic broker configs (this broker's over the cluster default over the
 * static property), and only partitions the topic's throttled-replicas list
 * names with this broker, for replicas outside the ISR, are throttled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { parseThrottledReplicas, ReplicationQuota, TokenBucket } from '../../../src/server/replication-quota.ts';
import type { Partition } from '../../../src/server/partition.ts';

test('the token bucket refills at the rate, holds one second, and pays back a debt', () => {
  let now = 1000;
  const b = new TokenBucket(() => now);
  assert.equal(b.available(), Number.POSITIVE_INFINITY, 'no limit by default');
  b.record(1e9);
  assert.equal(b.delayMs(), 0);
  b.setRate(1000);
  assert.equal(b.available(), 1000, 'a new rate starts full');
  b.record(3000); // one large batch: 2000 bytes of debt
  assert.equal(b.available(), -2000);
  assert.equal(b.delayMs(), 2001);
  now += 2000;
  assert.equal(b.available(), 0);
  now += 500;
  assert.equal(b.available(), 500);
  now += 10_000;
  assert.equal(b.available(), 1000, 'never more than one second’s worth');
});

test('the throttled-replicas list names partitions on this broker', () => {
  assert.equal(parseThrottledReplicas('*', 2), 'all');
  assert.deepEqual([...(parseThrottledReplicas('0:1,0:2,1:2,3:3', 2) as Set<number>)], [0, 1]);
  assert.deepEqual([...(parseThrottledReplicas('', 2) as Set<number>)], []);
});

test('a quota follows the dynamic rate and throttles named partitions of replicas outside the ISR', () => {
  const image = new MetadataImage();
  const now = 0;
  const q = new ReplicationQuota('leader', { nodeId: 2, raw: new Map() }, image, () => now);
  const configs = new Map([['leader.replication.throttled.replicas', '0:2,1:1']]);
  const part = (index: number, isr: number[]) =>
    ({ index, isr, topic: { name: 't', configs } }) as unknown as Partition;
  assert.equal(q.rate(), Number.POSITIVE_INFINITY);
  assert.equal(q.throttles(part(0, [2]), 4), false, 'no rate set: nothing is throttled');

  image.apply({
    type: 'Config',
    resourceType: 'broker',
    resourceName: '',
    name: 'leader.replication.throttled.rate',
    value: '5000',
  });
  image.epoch++;
  assert.equal(q.rate(), 5000, 'the cluster default');
  image.apply({
    type: 'Config',
    resourceType: 'broker',
    resourceName: '2',
    name: 'leader.replication.throttled.rate',
    value: '100',
  });
  image.epoch++;
  assert.equal(q.rate(), 100, 'this broker’s own value first');
  assert.equal(q.throttles(part(0, [2]), 4), true);
  assert.equal(q.throttles(part(0, [2, 4]), 4), false, 'an in-sync replica is never throttled');
  assert.equal(q.throttles(part(1, [2]), 4), false, 'partition 1 is throttled on broker 1, not here');
  configs.set('leader.replication.throttled.replicas', '*');
  assert.equal(q.throttles(part(1, [2]), 4), true);

  const s = new ReplicationQuota(
    'follower',
    { nodeId: 2, raw: new Map([['follower.replication.throttled.rate', '700']]) },
    image,
    () => now,
  );
  assert.equal(s.rate(), 700, 'the static property when no dynamic value is set');
});
