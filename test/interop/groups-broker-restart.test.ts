/**
 * Committed offsets and groups survive a broker kill -9 and restart (a child
 * process broker on the same data dir and port):
 *
 *  - before the kill: group A (kafkajs) and group B (confluent-kafka-python)
 *    consumed and committed everything and closed (Empty groups); group C
 *    (kafkajs) is still consuming when the broker is killed;
 *  - after the restart: all three groups are listed with the same committed
 *    offsets; records produced after the restart reach C's consumer, which
 *    never re-reads what it committed, and new members of A and B get
 *    exactly the new records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startChildBroker, type ChildBroker } from '../helpers/broker.ts';
import {
  ALL,
  KafkajsMember,
  PARTITIONS,
  PyMember,
  committed,
  recordKeys,
  useGroupsCluster,
  waitFor,
} from '../helpers/groups.ts';

const cluster = useGroupsCluster<ChildBroker>('groups-restart-test', {
  startBroker: startChildBroker,
  retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 2000 },
  quietDisconnect: true,
});

/** A kafkajs member that commits each record it consumes. */
const kafkajsMember = (groupId: string, topic: string) =>
  new KafkajsMember(groupId, cluster.kafka, groupId, topic, { sessionTimeout: 10_000, rebalanceTimeout: 15_000 });

test('committed offsets and groups survive a broker kill -9 and restart', async () => {
  const { broker, admin, producer } = cluster;
  const topic = 'groups-restart';
  const N = 5;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const send = (tag: string, count: number) =>
    producer.send({
      topic,
      messages: ALL.flatMap((p) =>
        Array.from({ length: count }, (_, i) => ({ partition: p, value: `${tag}:${p}:${i}` })),
      ),
    });
  const expected = (tag: string, from: number, count: number) =>
    ALL.flatMap((p) => Array.from({ length: count }, (_, i) => `${p}@${from + i}=${tag}:${p}:${i}`)).sort();
  const allAt = async (groupId: string, offset: number) => {
    const c = await committed(admin, groupId, topic);
    return ALL.every((p) => c.get(p) === offset);
  };
  await send('old', N);

  // group A: kafkajs, consumed and committed everything, closed
  const a = kafkajsMember('g-restart-a', topic);
  await a.start();
  await waitFor(
    'group A to commit everything',
    () => allAt('g-restart-a', N),
    45_000,
    () => a.received.length,
  );
  await a.consumer.disconnect();
  assert.deepEqual(recordKeys(a.received).sort(), expected('old', 0, N));

  // group B: confluent-kafka-python, consumed and committed everything, closed
  const pyArgs = (name: string) =>
    new PyMember(name, [
      '--client',
      'confluent',
      '--bootstrap',
      broker.bootstrapServers,
      '--group',
      'g-restart-b',
      '--topic',
      topic,
      '--session-timeout-ms',
      '6000',
    ]);
  const b = pyArgs('b1');
  try {
    await waitFor(
      'group B to commit everything',
      () => allAt('g-restart-b', N),
      45_000,
      () => ({ received: b.received.length, stderr: b.stderr.slice(-500) }),
    );
  } finally {
    await b.close();
  }
  assert.deepEqual(recordKeys(b.received).sort(), expected('old', 0, N));

  // group C: kafkajs, still running when the broker dies
  const c = kafkajsMember('g-restart-c', topic);
  await c.start();
  let cLive = true;
  try {
    await waitFor(
      'group C to commit everything',
      () => allAt('g-restart-c', N),
      45_000,
      () => c.received.length,
    );
    assert.deepEqual(recordKeys(c.received).sort(), expected('old', 0, N));
    const listedBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
    for (const g of ['g-restart-a', 'g-restart-b', 'g-restart-c'])
      assert.ok(listedBefore.includes(g), `${g} listed before the kill`);

    await broker.kill('SIGKILL');
    await broker.restart();

    // the groups and their offsets came back from __consumer_offsets
    const listed = await waitFor(
      'the restarted broker to list the groups',
      async () => {
        const { groups } = await admin.listGroups();
        const ids = groups.map((g) => g.groupId);
        return ['g-restart-a', 'g-restart-b', 'g-restart-c'].every((g) => ids.includes(g)) ? groups : false;
      },
      60_000,
      () => broker.output().slice(-2000),
    );
    for (const g of listed.filter((x) => x.groupId.startsWith('g-restart-'))) assert.equal(g.protocolType, 'consumer');
    for (const g of ['g-restart-a', 'g-restart-b', 'g-restart-c']) {
      const offs = await committed(admin, g, topic);
      assert.deepEqual(
        ALL.map((p) => offs.get(p)),
        ALL.map(() => N),
        `${g}: committed offsets after the restart`,
      );
    }
    const { groups } = await admin.describeGroups(['g-restart-a', 'g-restart-b']);
    assert.deepEqual(
      groups.map((g) => [g.groupId, g.state, g.members.length]),
      [
        ['g-restart-a', 'Empty', 0],
        ['g-restart-b', 'Empty', 0],
      ],
    );

    await send('new', 2);

    // C's consumer carries on: it gets the new records and none of the committed ones again
    await waitFor(
      'group C to consume the new records',
      () => c.received.filter((r) => r.v.startsWith('new:')).length >= 2 * PARTITIONS,
      60_000,
      () => recordKeys(c.received),
    );
    assert.deepEqual(
      recordKeys(c.received).sort(),
      [...expected('old', 0, N), ...expected('new', N, 2)].sort(),
      'C consumed each record once',
    );
    await waitFor('group C to commit the new records', () => allAt('g-restart-c', N + 2), 30_000);
    await c.consumer.disconnect();
    cLive = false;

    // new members of A and B resume from the committed offsets
    const a2 = kafkajsMember('g-restart-a', topic);
    await a2.start();
    try {
      await waitFor(
        'group A to consume the new records',
        () => allAt('g-restart-a', N + 2),
        45_000,
        () => recordKeys(a2.received),
      );
    } finally {
      await a2.consumer.disconnect();
    }
    assert.deepEqual(recordKeys(a2.received).sort(), expected('new', N, 2));

    const b2 = pyArgs('b2');
    try {
      await waitFor(
        'group B to consume the new records',
        () => allAt('g-restart-b', N + 2),
        45_000,
        () => ({ received: b2.received, stderr: b2.stderr.slice(-500) }),
      );
    } finally {
      await b2.close();
    }
    assert.deepEqual(recordKeys(b2.received).sort(), expected('new', N, 2));
  } finally {
    if (cLive) await c.consumer.disconnect().catch(() => undefined);
  }
});
