// Tests of the consumer-protocol bytes (cross-checked with kafkajs' own encoder), the range / round-robin assignors, and GroupConsumer against an in-process broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AssignerProtocol } from 'kafkajs';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  rangeAssign,
  roundRobinAssign,
} from '../../../src/client/consumer-protocol.ts';
import { GroupConsumer } from '../../../src/client/group-consumer.ts';
import { KafkaClient } from '../../../src/client/client.ts';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';

test('subscription bytes: v0 equals kafkajs MemberMetadata; decodes kafkajs bytes', () => {
  const mine = encodeSubscription({ version: 0, topics: ['a', 'bb'], userData: Buffer.from('x') });
  const theirs = AssignerProtocol.MemberMetadata.encode({
    version: 0,
    topics: ['a', 'bb'],
    userData: Buffer.from('x'),
  });
  assert.deepEqual(mine, theirs);
  assert.equal(mine.toString('hex'), '0000' + '00000002' + '0001' + '61' + '0002' + '6262' + '00000001' + '78');
  const d = decodeSubscription(
    AssignerProtocol.MemberMetadata.encode({ version: 1, topics: ['t'], userData: Buffer.alloc(0) }),
  );
  assert.deepEqual(d.topics, ['t']);
  assert.equal(d.version, 1);
  // null user data, and v0 bytes without a user data field at all
  assert.equal(encodeSubscription({ topics: [] }).toString('hex'), '0000' + '00000000' + 'ffffffff');
  assert.deepEqual(decodeSubscription(Buffer.from('0000000000010001' + '74', 'hex')).topics, ['t']);
});

test('subscription v1-v3 round trip (owned partitions, generation, rack)', () => {
  const s = {
    version: 3,
    topics: ['x', 'y'],
    userData: null,
    ownedPartitions: [{ topic: 'x', partitions: [1, 3] }],
    generationId: 7,
    rackId: 'r1',
  };
  assert.deepEqual(decodeSubscription(encodeSubscription(s)), s);
  const v1 = encodeSubscription({ version: 1, topics: ['x'], ownedPartitions: [{ topic: 'x', partitions: [2] }] });
  assert.equal(
    v1.toString('hex'),
    '0001' + '00000001' + '000178' + 'ffffffff' + '00000001' + '000178' + '00000001' + '00000002',
  );
});

test('assignment bytes: equal kafkajs MemberAssignment; decode kafkajs bytes; empty buffer = nothing assigned', () => {
  const mine = encodeAssignment({
    version: 0,
    partitions: [{ topic: 'a', partitions: [0, 2] }],
    userData: Buffer.alloc(0),
  });
  const theirs = AssignerProtocol.MemberAssignment.encode({
    version: 0,
    assignment: { a: [0, 2] },
    userData: Buffer.alloc(0),
  });
  assert.deepEqual(mine, theirs);
  const d = decodeAssignment(
    AssignerProtocol.MemberAssignment.encode({
      version: 1,
      assignment: { a: [1], b: [0, 4] },
      userData: Buffer.from('u'),
    }),
  );
  assert.deepEqual(d, {
    version: 1,
    partitions: [
      { topic: 'a', partitions: [1] },
      { topic: 'b', partitions: [0, 4] },
    ],
    userData: Buffer.from('u'),
  });
  // and kafkajs reads ours
  const back = AssignerProtocol.MemberAssignment.decode(
    encodeAssignment({ partitions: [{ topic: 't', partitions: [3, 1] }] }),
  );
  assert.deepEqual(back!.assignment, { t: [3, 1] });
  assert.deepEqual(decodeAssignment(Buffer.alloc(0)).partitions, []);
  assert.throws(() => decodeAssignment(Buffer.from('000000000001', 'hex')), /truncated/);
});

const plain = (m: Map<string, Map<string, number[]>>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, Object.fromEntries(v)]));

test('range assignor: contiguous runs per topic, the first members get the extra partitions, only subscribers', () => {
  const members = [
    { memberId: 'c', topics: ['t', 'u'] },
    { memberId: 'a', topics: ['t'] },
    { memberId: 'b', topics: ['t', 'u'] },
  ];
  const parts = new Map([
    ['t', [6, 5, 4, 3, 2, 1, 0]],
    ['u', [0, 1]],
  ]);
  assert.deepEqual(plain(rangeAssign(members, parts)), {
    a: { t: [0, 1, 2] },
    b: { t: [3, 4], u: [0] },
    c: { t: [5, 6], u: [1] },
  });
  // more members than partitions: the last ones get nothing
  assert.deepEqual(
    plain(
      rangeAssign(
        [
          { memberId: 'x', topics: ['u'] },
          { memberId: 'y', topics: ['u'] },
          { memberId: 'z', topics: ['u'] },
        ],
        parts,
      ),
    ),
    { x: { u: [0] }, y: { u: [1] }, z: {} },
  );
  // static members are ordered by instance id
  assert.deepEqual(
    plain(
      rangeAssign(
        [
          { memberId: 'a', groupInstanceId: 'i2', topics: ['u'] },
          { memberId: 'b', groupInstanceId: 'i1', topics: ['u'] },
        ],
        parts,
      ),
    ),
    { a: { u: [1] }, b: { u: [0] } },
  );
});

test('round-robin assignor: partitions dealt in turn, skipping non-subscribers', () => {
  const parts = new Map([
    ['t', [0, 1, 2, 3]],
    ['u', [0, 1]],
  ]);
  assert.deepEqual(
    plain(
      roundRobinAssign(
        [
          { memberId: 'b', topics: ['t', 'u'] },
          { memberId: 'a', topics: ['t'] },
        ],
        parts,
      ),
    ),
    {
      a: { t: [0, 2] },
      b: { t: [1, 3], u: [0, 1] },
    },
  );
});

// ------------------------------------------------------------ against a broker

let broker: EmbeddedBroker;
before(async () => {
  broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } });
});
after(async () => {
  await broker.close();
});

/** Polls `fn` until it holds, failing after `ms`. */
async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('GroupConsumer: join, rebalance on a second member (heartbeat -> rejoin), generation-checked commits, leave', async () => {
  const c1 = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'gc-1' });
  const c2 = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'gc-2' });
  try {
    const [res] = await c1.createTopics([{ name: 'gc-t', numPartitions: 4 }]);
    assert.equal(res.error, null);
    const opts = { groupId: 'gc-g', topics: ['gc-t'], heartbeatIntervalMs: 60_000 };
    const m1 = new GroupConsumer(c1, opts);
    const m2 = new GroupConsumer(c2, opts);
    assert.deepEqual(await m1.join(), [{ topic: 'gc-t', partitions: [0, 1, 2, 3] }]);
    assert.equal(m1.leaderId, m1.memberId);
    assert.equal(m1.protocolName, 'range');
    const gen1 = m1.generationId;
    assert.equal(await m1.commit([{ topic: 'gc-t', partition: 0, offset: 0 }]), true);

    const joining2 = m2.join();
    // m2's JoinGroup has reached the coordinator once the group is rebalancing; m1's next heartbeat says so
    await until(
      'the group to rebalance for m2',
      async () => (await c1.describeGroup('gc-g')).groupState === 'PreparingRebalance',
    );
    await m1.heartbeatOnce();
    assert.equal(m1.rejoinNeeded, true, 'a heartbeat during the rebalance asks m1 to rejoin');
    // before rejoining, a member may still commit in its generation (as a revoking consumer does)
    assert.equal(await m1.commit([{ topic: 'gc-t', partition: 3, offset: 1 }]), true);
    await Promise.all([m1.join(), joining2]);
    assert.ok(m1.generationId > gen1);
    assert.equal(m1.generationId, m2.generationId);
    const owned = [...m1.partitionsOf('gc-t'), ...m2.partitionsOf('gc-t')].sort();
    assert.deepEqual(owned, [0, 1, 2, 3]);
    assert.equal(m1.partitionsOf('gc-t').length, 2);

    // the assignment bytes as the broker shows them
    const g = await c1.describeGroup('gc-g');
    assert.equal(g.groupState, 'Stable');
    assert.equal(g.protocolType, 'consumer');
    const byMember = new Map(
      g.members.map((m: any) => [m.memberId, decodeAssignment(m.memberAssignment).partitions[0].partitions.sort()]),
    );
    assert.deepEqual(byMember.get(m1.memberId), m1.partitionsOf('gc-t'));
    assert.deepEqual(decodeSubscription(g.members[0].memberMetadata).topics, ['gc-t']);

    const mine = m2.partitionsOf('gc-t');
    assert.equal(await m2.commit(mine.map((p) => ({ topic: 'gc-t', partition: p, offset: 10 + p }))), true);
    const committed = await m2.committed('gc-t', mine);
    assert.deepEqual(
      [...committed.values()],
      mine.map((p) => 10 + p),
    );

    // m2 leaves: m1 is told to rejoin and gets everything
    await m2.close(); // its LeaveGroup is answered: the rebalance has begun
    await m1.heartbeatOnce();
    assert.equal(m1.rejoinNeeded, true, 'a heartbeat after the leave asks m1 to rejoin');
    assert.deepEqual((await m1.join())[0].partitions.sort(), [0, 1, 2, 3]);
    // a commit in an old generation is refused: reported (false + rejoinNeeded), not thrown
    const current = m1.generationId;
    const before3 = [...(await m1.committed('gc-t', [3])).values()];
    assert.ok(before3[0] === 1 || before3[0] === 13);
    m1.generationId = gen1;
    assert.equal(await m1.commit([{ topic: 'gc-t', partition: 3, offset: 2 }]), false);
    assert.equal(m1.rejoinNeeded, true);
    assert.deepEqual([...(await m1.committed('gc-t', [3])).values()], before3);
    m1.generationId = current;
    await m1.close();
    assert.equal((await c1.describeGroup('gc-g')).groupState, 'Empty');
  } finally {
    await c1.close();
    await c2.close();
  }
});
