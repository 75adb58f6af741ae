/**
 * The consumer protocol's server-side assignors (KIP-848): uniform balance
 * and stickiness, range layout per topic, checked on examples and on random
 * groups with fast-check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  rangeAssignor,
  uniformAssignor,
  type AssignorMember,
} from '../../../src/coordinator/group/consumer/assignors.ts';
import { countPartitions, toWire } from '../../../src/coordinator/group/consumer/assignment.ts';
import type { Assignment } from '../../../src/coordinator/group/consumer/types.ts';

function member(
  memberId: string,
  topicIds: string[],
  current: Assignment = new Map(),
  instanceId: string | null = null,
): AssignorMember {
  return { memberId, instanceId, rackId: null, topicIds: new Set(topicIds), current };
}

function topicsOf(spec: Record<string, number>) {
  return new Map(Object.entries(spec).map(([id, n]) => [id, { name: `name-${id}`, partitions: n }]));
}

/** Every partition of the topics exactly once over the members' assignments. */
function assertCovers(out: Map<string, Assignment>, topics: Map<string, { partitions: number }>) {
  const seen = new Set<string>();
  for (const a of out.values()) {
    for (const [t, ps] of a) {
      for (const p of ps) {
        const k = `${t}:${p}`;
        assert.ok(!seen.has(k), `${k} assigned twice`);
        assert.ok(p < topics.get(t)!.partitions, `${k} does not exist`);
        seen.add(k);
      }
    }
  }
  let total = 0;
  for (const t of topics.values()) total += t.partitions;
  assert.equal(seen.size, total);
}

test('range: contiguous ranges per topic, the first members take the extra partitions', () => {
  const topics = topicsOf({ a: 7, b: 2 });
  const out = rangeAssignor.assign({
    members: [member('m3', ['a', 'b']), member('m1', ['a', 'b']), member('m2', ['a'])],
    topics,
  });
  assert.deepEqual(toWire(out.get('m1')!), [
    { topicId: 'a', partitions: [0, 1, 2] },
    { topicId: 'b', partitions: [0] },
  ]);
  assert.deepEqual(toWire(out.get('m2')!), [{ topicId: 'a', partitions: [3, 4] }]);
  assert.deepEqual(toWire(out.get('m3')!), [
    { topicId: 'a', partitions: [5, 6] },
    { topicId: 'b', partitions: [1] },
  ]);
});

test('range: static members come first, ordered by instance id, so a rejoin under a new member id keeps its range', () => {
  const topics = topicsOf({ a: 4 });
  const before = rangeAssignor.assign({ members: [member('zz', ['a'], new Map(), 'i1'), member('aa', ['a'])], topics });
  assert.deepEqual(toWire(before.get('zz')!), [{ topicId: 'a', partitions: [0, 1] }]);
  const after = rangeAssignor.assign({ members: [member('00', ['a'], new Map(), 'i1'), member('aa', ['a'])], topics });
  assert.deepEqual(toWire(after.get('00')!), [{ topicId: 'a', partitions: [0, 1] }]);
  assert.deepEqual(toWire(after.get('aa')!), [{ topicId: 'a', partitions: [2, 3] }]);
});

test('uniform: a new member takes only what balance requires; the others keep theirs', () => {
  const topics = topicsOf({ a: 6 });
  const first = uniformAssignor.assign({ members: [member('m1', ['a']), member('m2', ['a'])], topics });
  assert.equal(countPartitions(first.get('m1')!), 3);
  const second = uniformAssignor.assign({
    members: [member('m1', ['a'], first.get('m1')!), member('m2', ['a'], first.get('m2')!), member('m3', ['a'])],
    topics,
  });
  for (const id of ['m1', 'm2']) {
    assert.equal(countPartitions(second.get(id)!), 2);
    for (const p of second.get(id)!.get('a')!) assert.ok(first.get(id)!.get('a')!.has(p), `${id} kept p${p}`);
  }
  assert.equal(countPartitions(second.get('m3')!), 2);
});

test('uniform: heterogeneous subscriptions only get subscribed topics', () => {
  const topics = topicsOf({ a: 3, b: 3 });
  const out = uniformAssignor.assign({
    members: [member('m1', ['a']), member('m2', ['a', 'b']), member('m3', ['b'])],
    topics,
  });
  assertCovers(out, topics);
  assert.deepEqual([...out.get('m1')!.keys()], ['a']);
  assert.deepEqual([...out.get('m3')!.keys()], ['b']);
  assert.deepEqual([...out.values()].map(countPartitions).sort(), [2, 2, 2]);
});

const groupArb = fc
  .record({
    members: fc.integer({ min: 1, max: 9 }),
    topics: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 4 }),
    seed: fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
  })
  .map(({ members, topics, seed }) => {
    const spec: Record<string, number> = {};
    for (const [i, n] of topics.entries()) spec[`t${i}`] = n;
    // A random (possibly stale, possibly invalid) previous assignment: partitions may not exist any more.
    const ms = Array.from({ length: members }, (_, i) => {
      const cur: Assignment = new Map();
      for (let k = 0; k < 4; k++) {
        const s = seed[(i * 4 + k) % seed.length];
        const t = `t${s % (topics.length + 1)}`;
        const p = s % 15;
        if (!cur.has(t)) cur.set(t, new Set());
        cur.get(t)!.add(p);
      }
      return member(`m${i}`, Object.keys(spec), cur);
    });
    // Previous owners never overlap in a real target; drop duplicates.
    const seen = new Set<string>();
    for (const m of ms)
      for (const [t, ps] of m.current)
        for (const p of [...ps])
          if (seen.has(`${t}:${p}`)) ps.delete(p);
          else seen.add(`${t}:${p}`);
    return { members: ms, topics: topicsOf(spec) };
  });

test('uniform (property): every partition once, counts differ by at most one, a balanced assignment is kept as is', () => {
  fc.assert(
    fc.property(groupArb, ({ members, topics }) => {
      const out = uniformAssignor.assign({ members, topics });
      assertCovers(out, topics);
      const counts = [...out.values()].map(countPartitions);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
      // Stickiness: assigning again from the result changes nothing.
      const again = uniformAssignor.assign({
        members: members.map((m) => ({ ...m, current: out.get(m.memberId)! })),
        topics,
      });
      for (const m of members) assert.deepEqual(toWire(again.get(m.memberId)!), toWire(out.get(m.memberId)!));
    }),
    { numRuns: 200 },
  );
});

test('range (property): per topic, ranges are contiguous, ordered by member, sizes differ by at most one', () => {
  fc.assert(
    fc.property(groupArb, ({ members, topics }) => {
      const out = rangeAssignor.assign({ members, topics });
      assertCovers(out, topics);
      const order = [...members].map((m) => m.memberId).sort();
      for (const [t, info] of topics) {
        let next = 0;
        const sizes: number[] = [];
        for (const id of order) {
          const ps = [...(out.get(id)!.get(t) ?? [])].sort((a, b) => a - b);
          for (const [i, p] of ps.entries()) assert.equal(p, next + i);
          next += ps.length;
          sizes.push(ps.length);
        }
        assert.equal(next, info.partitions);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
        for (let i = 1; i < sizes.length; i++)
          assert.ok(sizes[i] <= sizes[i - 1], 'extra partitions go to the first members');
      }
    }),
    { numRuns: 200 },
  );
});
