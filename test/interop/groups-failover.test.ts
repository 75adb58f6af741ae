/**
 * Consumer groups keep their committed offsets when the broker coordinating
 * them is killed (-9), on three `samsa start` processes whose
 * __consumer_offsets has replication factor 3 (offsets.topic.replication.factor's
 * default):
 *
 *  - before the kill: group A (kafkajs) and group B (confluent-kafka-python)
 *    consumed and committed everything and closed; group C
 *    (confluent-kafka-python) has committed everything and is still running;
 *  - the broker leading the groups' __consumer_offsets partition (their
 *    coordinator; not the active controller, whose loss is a metadata
 *    failover first) is killed; a surviving in-sync replica becomes leader
 *    and coordinator, and FindCoordinator names it;
 *  - the committed offsets read from the new coordinator are those committed
 *    before; records produced after the kill reach C's member, which finds
 *    the new coordinator and re-reads nothing it committed, and new members
 *    of A and B get exactly the new records (nothing re-read, nothing
 *    skipped).
 *
 * C is a librdkafka member: a kafkajs member kept up through the kill keeps
 * the coordinator it joined with (it reconnected to the dead node's address
 * every few seconds for over a minute, and none of its commits went through)
 * until its retries run out; kafkajs is tested by a member started after the
 * kill (group A).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { partitionForGroup } from '../../src/coordinator/group/offsets-records.ts';
import { startProcessCluster } from '../helpers/cluster.ts';
import { ALL, KafkajsMember, PARTITIONS, PyMember, committed, recordKeys, waitFor } from '../helpers/groups.ts';

const OFFSETS_PARTITIONS = 3;

/** FindCoordinator (v4) of a group, asked of the broker on `port`. */
async function findCoordinator(port: number, groupId: string) {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'groups-failover-test', requestTimeoutMs: 30_000 });
  await c.connect();
  try {
    const r = await c.send('FindCoordinator', { key: groupId, keyType: 0, coordinatorKeys: [groupId] });
    assert.ok(c.versionOf('FindCoordinator') >= 4, 'batched FindCoordinator (v4+)');
    return r.coordinators[0];
  } finally {
    await c.close();
  }
}
const N = 5;

test('groups resume at their committed offsets after the coordinator broker is killed (RF=3 __consumer_offsets)', async () => {
  const cluster = await startProcessCluster({
    nodes: 3,
    overrides: {
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS),
    },
  });
  const kafka = new Kafka({
    clientId: 'groups-failover-test',
    brokers: cluster.bootstrapServers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 2000 },
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const stops: (() => Promise<unknown>)[] = [];
  try {
    await admin.connect();
    await producer.connect();
    const topic = 'groups-failover';
    await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    const send = (tag: string, count: number) =>
      producer.send({
        topic,
        acks: -1,
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

    // __consumer_offsets, created by the first FindCoordinator, with three in-sync replicas per partition
    const offsetsTopic = async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
      return topics[0].partitions;
    };
    const offsetsBefore = await waitFor(
      '__consumer_offsets with 3 in-sync replicas on each partition',
      async () => {
        await admin.describeGroups(['g-failover-probe']);
        const parts = await offsetsTopic();
        return parts.length === OFFSETS_PARTITIONS && parts.every((p) => p.leader >= 0 && p.isr.length === 3)
          ? parts
          : false;
      },
      60_000,
      () => cluster.output().slice(-3000),
    );
    for (const p of offsetsBefore) assert.equal(p.replicas.length, 3, `__consumer_offsets-${p.partitionId} replicas`);

    // the groups live on one __consumer_offsets partition whose leader is not the active controller
    const { controller } = await admin.describeCluster();
    const victim = offsetsBefore.find((p) => p.leader !== controller)!;
    const groupOn = (prefix: string) => {
      for (let i = 0; ; i++) {
        const id = `${prefix}-${i}`;
        if (partitionForGroup(id, OFFSETS_PARTITIONS) === victim.partitionId) return id;
      }
    };
    const [groupA, groupB, groupC] = [groupOn('g-failover-a'), groupOn('g-failover-b'), groupOn('g-failover-c')];
    await send('old', N);

    const kafkajsMember = (groupId: string) =>
      new KafkajsMember(groupId, kafka, groupId, topic, { sessionTimeout: 10_000, rebalanceTimeout: 15_000 });
    const pyMember = (name: string, groupId = groupB) =>
      new PyMember(name, [
        '--client',
        'confluent',
        '--bootstrap',
        cluster.bootstrapServers,
        '--group',
        groupId,
        '--topic',
        topic,
        '--session-timeout-ms',
        '6000',
      ]);

    // group A: kafkajs, consumed and committed everything, closed
    const a = kafkajsMember(groupA);
    stops.push(() => a.stop());
    await a.start();
    await waitFor(
      `group A to commit everything`,
      () => allAt(groupA, N),
      60_000,
      () => a.received.length,
    );
    await a.stop();
    assert.deepEqual(recordKeys(a.received).sort(), expected('old', 0, N));

    // group B: confluent-kafka-python, consumed and committed everything, closed
    const b = pyMember('b1');
    stops.push(() => b.kill());
    await waitFor(
      'group B to commit everything',
      () => allAt(groupB, N),
      60_000,
      () => ({
        received: b.received.length,
        stderr: b.stderr.slice(-500),
      }),
    );
    await b.close();
    assert.deepEqual(recordKeys(b.received).sort(), expected('old', 0, N));

    // group C: confluent-kafka-python, committed everything, still running when its coordinator dies
    const c = pyMember('c1', groupC);
    stops.push(() => c.kill());
    await waitFor(
      'group C to commit everything',
      () => allAt(groupC, N),
      60_000,
      () => ({ received: c.received.length, stderr: c.stderr.slice(-500) }),
    );
    assert.deepEqual(recordKeys(c.received).sort(), expected('old', 0, N));

    const killedAt = Date.now();
    await cluster.node(victim.leader).kill('SIGKILL');

    // a surviving in-sync replica leads the partition and coordinates the groups
    const offsetsAfter = await waitFor(
      `a new leader of __consumer_offsets-${victim.partitionId}`,
      async () => {
        const p = (await offsetsTopic()).find((x) => x.partitionId === victim.partitionId)!;
        return p.leader >= 0 && p.leader !== victim.leader ? p : false;
      },
      60_000,
      () => cluster.output().slice(-3000),
    );
    assert.ok(victim.isr.includes(offsetsAfter.leader), 'the new leader was in the ISR');
    for (const g of [groupA, groupB, groupC]) {
      const offs = await waitFor(`${g}'s committed offsets from the new coordinator`, () => committed(admin, g, topic));
      assert.deepEqual(
        ALL.map((p) => offs.get(p)),
        ALL.map(() => N),
        `${g}: committed offsets after the kill`,
      );
    }
    const { groups } = await admin.describeGroups([groupA, groupB]);
    assert.deepEqual(
      groups.map((g) => [g.groupId, g.state]),
      [
        [groupA, 'Empty'],
        [groupB, 'Empty'],
      ],
    );
    console.log(
      `# node ${victim.leader} (coordinator) killed; node ${offsetsAfter.leader} answers the groups' committed offsets ${Date.now() - killedAt} ms later`,
    );
    const survivor = cluster.nodes.find((n) => n.nodeId !== victim.leader)!;
    const found = await waitFor(`FindCoordinator to name node ${offsetsAfter.leader}`, async () => {
      const r = await findCoordinator(survivor.clientPort, groupC);
      return r.errorCode === ErrorCode.NONE && r.nodeId === offsetsAfter.leader ? r : false;
    });
    assert.equal(found.nodeId, offsetsAfter.leader);

    await send('new', 2);

    // C's member carries on: the new records, none of the committed ones again
    await waitFor(
      'group C to consume and commit the new records',
      () => allAt(groupC, N + 2),
      60_000,
      () => ({ received: recordKeys(c.received), stderr: c.stderr.slice(-500) }),
    );
    await c.close();
    assert.deepEqual(
      recordKeys(c.received).sort(),
      [...expected('old', 0, N), ...expected('new', N, 2)].sort(),
      'C consumed each record once',
    );

    // new members of A and B resume at the committed offsets
    const a2 = kafkajsMember(groupA);
    stops.push(() => a2.stop());
    await a2.start();
    await waitFor(
      'group A to consume the new records',
      () => allAt(groupA, N + 2),
      60_000,
      () => recordKeys(a2.received),
    );
    await a2.stop();
    assert.deepEqual(recordKeys(a2.received).sort(), expected('new', N, 2));

    const b2 = pyMember('b2');
    stops.push(() => b2.kill());
    await waitFor(
      'group B to consume the new records',
      () => allAt(groupB, N + 2),
      60_000,
      () => ({
        received: b2.received,
        stderr: b2.stderr.slice(-500),
      }),
    );
    await b2.close();
    assert.deepEqual(recordKeys(b2.received).sort(), expected('new', N, 2));
  } catch (err) {
    // what the partitions looked like, and every node's log lines, for the failure message
    const state = await Promise.all([
      admin.fetchTopicOffsets('groups-failover').catch((e) => String(e)),
      admin.fetchTopicMetadata({ topics: ['groups-failover'] }).catch((e) => String(e)),
    ]);
    throw new Error(`${(err as Error).message}\n${JSON.stringify(state)}\n${cluster.output().slice(-20_000)}`);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await cluster.close();
  }
});
