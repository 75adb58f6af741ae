/**
 * Consumer groups with kafka-python 2.0.2 (range assignor, eager protocol):
 *
 *  - 3 member processes share a 6-partition topic, no partition owned twice;
 *  - a 4th member joins, one leaves (clean close: LeaveGroup), one is killed
 *    (SIGKILL: the session times out); after each rebalance the records then
 *    produced to all 6 partitions are each consumed by exactly one remaining
 *    member, its owner; the committed offsets never go backwards;
 *  - a group that restarts resumes from its committed offsets, also when the
 *    restarted member is a different client (confluent-kafka-python).
 *
 * Each member is a process running test/interop/py/groups_consumer.py.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL,
  PARTITIONS,
  PyMember,
  committed,
  pyGroupRebalanceScenario,
  recordKeys,
  useGroupsCluster,
  waitFor,
} from '../helpers/groups.ts';

const cluster = useGroupsCluster('groups-kafka-python-test');

{
  const strategy = 'range';
  describe('kafka-python, range assignor', () => {
    test('members share the partitions; join, leave and kill rebalance; every partition is consumed again; commits never go backwards', () =>
      pyGroupRebalanceScenario(cluster, {
        topic: `groups-kp-share`,
        groupId: `g-kp-share`,
        client: 'kafka-python',
        strategy,
        memberDiag: (m) => ({ errors: m.events.filter((e) => e.ev === 'error').slice(-3) }),
      }));
  });
}

test('a restarted group resumes from its committed offsets (kafka-python, then confluent-kafka-python)', async () => {
  const { broker, producer, admin } = cluster;
  const topic = 'groups-kp-resume';
  const groupId = 'g-kp-resume';
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const argv = (client: string) => [
    '--client',
    client,
    '--bootstrap',
    broker.bootstrapServers,
    '--group',
    groupId,
    '--topic',
    topic,
    '--session-timeout-ms',
    '6000',
  ];
  const send = (tag: string, count: number) =>
    producer.send({
      topic,
      messages: ALL.flatMap((p) =>
        Array.from({ length: count }, (_, i) => ({ partition: p, value: `${tag}:${p}:${i}` })),
      ),
    });
  // what a member should get: offsets from..from+count-1 of every partition, in `tag`
  const expected = (tag: string, from: number, count: number) =>
    ALL.flatMap((p) => Array.from({ length: count }, (_, i) => `${p}@${from + i}=${tag}:${p}:${i}`)).sort();
  const consumeAll = async (m: PyMember, count: number, endOffset: number) => {
    try {
      await waitFor(
        `${m.name} to consume ${count} records`,
        () => m.received.length >= count,
        45_000,
        () => ({ received: m.received.length, events: m.events.slice(-5), stderr: m.stderr.slice(-500) }),
      );
      await waitFor(
        `${m.name}'s commits to reach ${endOffset}`,
        async () => {
          const c = await committed(admin, groupId, topic);
          return ALL.every((p) => c.get(p) === endOffset);
        },
        30_000,
        async () => [...(await committed(admin, groupId, topic))],
      );
    } finally {
      await m.close();
    }
    return recordKeys(m.received).sort();
  };

  await send('a', 4);
  const first = new PyMember('kp-first', argv('kafka-python'));
  assert.deepEqual(await consumeAll(first, 4 * PARTITIONS, 4), expected('a', 0, 4));

  await send('b', 3);
  // Per partition records arrive in offset order, so a member that started
  // before the committed offset would have delivered old records first.
  const second = new PyMember('kp-second', argv('kafka-python'));
  assert.deepEqual(await consumeAll(second, 3 * PARTITIONS, 7), expected('b', 4, 3));

  await send('c', 2);
  const third = new PyMember('ck-third', argv('confluent'));
  assert.deepEqual(await consumeAll(third, 2 * PARTITIONS, 9), expected('c', 7, 2));
});
