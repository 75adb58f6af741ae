/**
 * Static group membership (KIP-345, `group.instance.id`) with
 * confluent-kafka-python / librdkafka 2.0:
 *
 *  - a static member that is killed and restarted with the same instance id
 *    within the session timeout gets its partitions back without a
 *    rebalance: its JoinGroup answer carries the same generation, the other
 *    member sees no revoke / assign / rejoin, and the group's assignment is
 *    unchanged (only the member id of the instance changes);
 *  - a static member that stays away longer than the session timeout is
 *    removed, and its partitions move to the remaining member.
 *
 * Generations are read from librdkafka's cgrp debug log ("JoinGroup response:
 * GenerationId N"), reported by test/interop/py/groups_consumer.py.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL,
  PARTITIONS,
  PyMember,
  describeGroup,
  useGroupsCluster,
  waitFor,
  type GroupView,
} from '../helpers/groups.ts';

const cluster = useGroupsCluster('groups-static-test');

/** The generations of a member's successful JoinGroup answers. */
const generations = (m: PyMember) => m.events.filter((e) => e.ev === 'join' && e.ok).map((e) => e.generation!);

test('a restarted static member rejoins without a rebalance; one that stays away past the session timeout is replaced', async () => {
  const { broker, admin, producer } = cluster;
  const topic = 'groups-static';
  const groupId = 'g-static';
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const members: PyMember[] = [];
  const start = (name: string, instanceId: string) => {
    const m = new PyMember(name, [
      '--client',
      'confluent',
      '--bootstrap',
      broker.bootstrapServers,
      '--group',
      groupId,
      '--topic',
      topic,
      '--strategy',
      'range',
      '--session-timeout-ms',
      '10000',
      '--instance-id',
      instanceId,
      '--debug-cgrp',
    ]);
    members.push(m);
    return m;
  };
  const diag = () =>
    members.map((m) => ({
      name: m.name,
      exited: m.exited,
      owned: m.owned,
      events: m.events.filter((e) => e.ev !== 'rec' && e.ev !== 'commit').slice(-6),
      stderr: m.stderr.slice(-300),
    }));
  const settled = async (live: PyMember[]) => {
    const view = await describeGroup(admin, groupId, topic);
    if (view.state !== 'Stable' || view.members.length !== live.length) return false;
    const fromBroker = view.members.map((m) => JSON.stringify(m.partitions)).sort();
    const fromMembers = live.map((m) => JSON.stringify(m.owned ?? null)).sort();
    if (JSON.stringify(fromBroker) !== JSON.stringify(fromMembers)) return false;
    return new Set(view.members.flatMap((m) => m.partitions)).size === PARTITIONS ? view : false;
  };
  const produceAndCheck = async (label: string, owners: PyMember[]) => {
    await producer.send({ topic, messages: ALL.map((p) => ({ partition: p, value: `${label}:${p}` })) });
    await waitFor(
      `${label}: every partition's record to be consumed`,
      () => ALL.every((p) => owners.some((m) => m.received.some((r) => r.v === `${label}:${p}`))),
      45_000,
      diag,
    );
    for (const p of ALL) {
      const who = members.filter((m) => m.received.some((r) => r.v === `${label}:${p}`)).map((m) => m.name);
      const owner = owners.find((m) => m.owned!.includes(p))!;
      assert.deepEqual(
        who,
        [owner.name],
        `${label}: partition ${p}'s record consumed by ${who}, its owner is ${owner.name}`,
      );
    }
  };

  try {
    const a = start('static-a', 'instance-a');
    const b = start('static-b', 'instance-b');
    const before = await waitFor('two static members to settle', () => settled([a, b]), 60_000, diag);
    await produceAndCheck('before', [a, b]);
    const genA = generations(a).at(-1);
    const genB = generations(b).at(-1);
    assert.ok(
      genA !== undefined && genA > 0,
      `a's JoinGroup generation from the cgrp log: ${JSON.stringify(generations(a))}`,
    );
    assert.equal(genB, genA, 'both members are in the same generation');
    const aOwned = a.owned!;
    const bEventsBefore = b.events.filter((e) => e.ev === 'owned' || e.ev === 'join').length;
    const memberIdOf = (v: GroupView, partitions: number[]) =>
      v.members.find((m) => JSON.stringify(m.partitions) === JSON.stringify(partitions))?.memberId;
    const aMemberId = memberIdOf(before, aOwned);
    const bMemberId = memberIdOf(before, b.owned!);

    // restart instance-a within the session timeout: no LeaveGroup was sent
    await a.kill();
    const a2 = start('static-a2', 'instance-a');
    await waitFor(
      'the restarted instance to own its old partitions',
      () => JSON.stringify(a2.owned) === JSON.stringify(aOwned),
      30_000,
      diag,
    );
    const after = await waitFor(
      'the group to be stable with the restarted instance',
      () => settled([a2, b]),
      30_000,
      diag,
    );
    assert.deepEqual(generations(a2), [genA], 'the rejoining static member was answered with the same generation');
    assert.equal(
      b.events.filter((e) => e.ev === 'owned' || e.ev === 'join').length,
      bEventsBefore,
      `b saw no rebalance: ${JSON.stringify(b.events.slice(-5))}`,
    );
    assert.equal(memberIdOf(after, b.owned!), bMemberId, "b's membership is untouched");
    const a2MemberId = memberIdOf(after, aOwned);
    assert.ok(a2MemberId, 'the instance keeps its assignment');
    assert.notEqual(a2MemberId, aMemberId, 'the restarted instance got a new member id');
    await produceAndCheck('rejoined', [a2, b]);

    // now instance-a goes away for longer than the session timeout (10 s): it is removed
    await a2.kill();
    await waitFor('b to take over every partition after the session timeout', () => settled([b]), 45_000, diag);
    assert.deepEqual(b.owned, ALL);
    assert.ok(
      generations(b).at(-1)! > genA,
      `the removal was a rebalance into a new generation: ${JSON.stringify(generations(b))}`,
    );
    await produceAndCheck('replaced', [b]);
  } finally {
    await Promise.all(members.map((m) => m.close().catch(() => m.kill())));
  }
});
