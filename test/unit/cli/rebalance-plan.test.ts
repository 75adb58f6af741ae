/**
 * The rebalance plan: replicas and preferred leaders spread evenly over the
 * live brokers with the fewest moves; nothing moves when already even;
 * replicas on brokers that are gone move; no partition gets a broker twice.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type PartitionAssignment, planRebalance } from '../../../src/cli/rebalance-plan.ts';

function valid(parts: PartitionAssignment[], plan: ReturnType<typeof planRebalance>) {
  for (const c of plan.changes) {
    const orig = parts.find((p) => p.topic === c.topic && p.partition === c.partition)!;
    assert.equal(c.target.length, orig.replicas.length, 'the replication factor stays');
    assert.equal(new Set(c.target).size, c.target.length, 'no broker twice');
    for (const id of c.target) assert.ok(plan.brokers.includes(id), `broker ${id} is live`);
  }
}

const spread = (r: Record<string, number>) => Math.max(...Object.values(r)) - Math.min(...Object.values(r));

test('a fourth broker gets its share of replicas and of preferred leaders, with the fewest moves', () => {
  // 6 partitions, RF 2, round-robin over brokers 1-3: 4 replicas and 2 leaderships each
  const parts: PartitionAssignment[] = Array.from({ length: 6 }, (_, i) => ({
    topic: 't',
    partition: i,
    replicas: [1 + (i % 3), 1 + ((i + 1) % 3)],
  }));
  const plan = planRebalance(parts, [1, 2, 3, 4]);
  valid(parts, plan);
  assert.deepEqual(plan.replicasBefore, { 1: 4, 2: 4, 3: 4, 4: 0 });
  assert.deepEqual(plan.replicasAfter, { 1: 3, 2: 3, 3: 3, 4: 3 });
  assert.equal(plan.replicaMoves, 3, 'only the surplus moves');
  assert.ok(spread(plan.leadersAfter) <= 1, JSON.stringify(plan.leadersAfter));
});

test('an even cluster needs no change', () => {
  const parts: PartitionAssignment[] = Array.from({ length: 4 }, (_, i) => ({
    topic: 't',
    partition: i,
    replicas: [1 + (i % 2), 1 + ((i + 1) % 2)],
  }));
  const plan = planRebalance(parts, [1, 2]);
  assert.deepEqual(plan.changes, []);
  assert.equal(plan.replicaMoves, 0);
});

test('replicas on a broker that is gone move to live ones; uneven totals differ by one at most', () => {
  const parts: PartitionAssignment[] = [
    { topic: 'a', partition: 0, replicas: [5, 1, 2] },
    { topic: 'a', partition: 1, replicas: [1, 5, 3] },
    { topic: 'b', partition: 0, replicas: [2, 3, 5] },
    { topic: 'b', partition: 1, replicas: [1, 2, 3] },
    { topic: 'c', partition: 0, replicas: [1, 2] },
  ];
  const plan = planRebalance(parts, [1, 2, 3, 4]);
  valid(parts, plan);
  for (const c of plan.changes) assert.ok(!c.target.includes(5));
  assert.ok(spread(plan.replicasAfter) <= 1, JSON.stringify(plan.replicasAfter));
  assert.ok(spread(plan.leadersAfter) <= 1, JSON.stringify(plan.leadersAfter));
  // 3 replicas were on broker 5; 14 replicas over 4 brokers is 4,4,3,3; 1 has 4 and keeps them
  assert.equal(
    plan.replicaMoves,
    3 + Math.max(0, plan.replicasBefore['2'] - 4) + Math.max(0, plan.replicasBefore['3'] - 4),
  );
});

test('preferred leaders are balanced by reordering alone', () => {
  // every partition on 1 and 2, all led by 1
  const parts: PartitionAssignment[] = Array.from({ length: 4 }, (_, i) => ({
    topic: 't',
    partition: i,
    replicas: [1, 2],
  }));
  const plan = planRebalance(parts, [1, 2]);
  assert.equal(plan.replicaMoves, 0);
  assert.deepEqual(plan.leadersAfter, { 1: 2, 2: 2 });
  assert.equal(plan.changes.length, 2);
});

test('more replicas than live brokers is refused', () => {
  assert.throws(() => planRebalance([{ topic: 't', partition: 0, replicas: [1, 2, 3] }], [1, 2]), /cannot be spread/);
});
