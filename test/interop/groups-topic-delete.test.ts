/**
 * A consumer group member whose subscribed topic is deleted (hardening
 * issue, defect 8): one member subscribes to t1 and t2 (1 partition each),
 * consumes and commits a record of each, then t2 is deleted. For each group
 * protocol:
 *
 *  - the member's assignment drops to t1 (within 20 s; clients notice the
 *    deletion at their next metadata refresh, 2-3 s here);
 *  - the group's committed offset of t2 is gone, as Kafka removes the offsets
 *    of deleted partitions, and an OffsetCommit for t2 gets
 *    UNKNOWN_TOPIC_OR_PARTITION; t1's offset stays;
 *  - the member goes on consuming t1;
 *  - its close completes within 20 s and the group then has no members.
 *
 * Protocols and clients:
 *  - classic eager: kafka-python 2.0.2 (range) and confluent-kafka-python
 *    (range), Debian's 1.7.0 (librdkafka 2.0.2) and 2.16 (librdkafka 2.16,
 *    test/helpers/pyclient.ts);
 *  - classic cooperative: confluent-kafka-python 1.7.0 and 2.16
 *    (cooperative-sticky);
 *  - KIP-848 (consumer protocol): confluent-kafka-python 2.16 with
 *    group.protocol=consumer, and a member made of ConsumerGroupHeartbeat
 *    requests sent with Samsa's own client (Kip848Member in
 *    test/helpers/groups.ts), which also commits as a member (OffsetCommit
 *    with its member epoch).
 *
 * librdkafka 2.0.2 (Debian's, installed here) never returns from close()
 * after a partition it consumed was removed from the cluster: its consumer
 * close completes (LeaveGroup sent and answered), then rd_kafka_destroy waits
 * forever for a partition object that an operation left in the partition's
 * own fetch queue keeps alive. It does the same against Apache Kafka 4.0.1;
 * librdkafka 2.1.0 fixed it ("A reference count issue was blocking the
 * consumer from closing ... if the corresponding topic is deleted",
 * librdkafka #4187). So for librdkafka the test asserts what the broker
 * answers: the LeaveGroup answer (from librdkafka's cgrp debug log) and the
 * empty group, both within 20 s; the process must also exit within 20 s
 * when librdkafka is 2.1.0 or newer (the 2.16 cases; SAMSA_TEST_PYTHON can
 * name a python with a newer confluent-kafka for the others too); a 2.0.x
 * process is killed.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import {
  Kip848Member,
  PyMember,
  describeConsumerGroup,
  describeGroup,
  useGroupsCluster,
  waitFor,
  type GroupView,
} from '../helpers/groups.ts';
import { currentPython } from '../helpers/pyclient.ts';

// kafka-python 2.0.2 asks for metadata with versions that allow auto-creation, and
// would create the deleted topic again (as it does against Kafka, where
// auto.create.topics.enable is also on by default).
// KIP-848 members heartbeat every 500 ms (and so learn of the deletion soon).
const cluster = useGroupsCluster('groups-topic-delete-test', {
  overrides: { 'auto.create.topics.enable': 'false', 'group.consumer.heartbeat.interval.ms': '500' },
});
let samsaClient: KafkaClient | undefined;
/** Samsa's own client on the test's broker (created once the broker runs). */
function client(): KafkaClient {
  samsaClient ??= new KafkaClient({
    bootstrapServers: cluster.broker.bootstrapServers,
    clientId: 'groups-topic-delete-test',
  });
  return samsaClient;
}
after(() => samsaClient?.close());

const CLOSE_DEADLINE_MS = 20_000;

/** The group's committed offset of topic:0 (OffsetFetch), -1 when there is none. */
async function committedOf(groupId: string, topic: string): Promise<number> {
  const r = await client().offsetFetch(groupId, [{ topic, partitions: [0] }]);
  return r.find((x) => x.topic === topic && x.partition === 0)?.offset ?? -1;
}

/** An OffsetCommit of topic:0 as a simple consumer (no generation); its per-partition error code. */
async function commitErrorFor(groupId: string, topic: string): Promise<number> {
  const res = await client().groupRequestRaw(groupId, 'OffsetCommit', {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: 1,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });
  return res.topics[0].partitions[0].errorCode;
}

/**
 * One record to topic:0, with Samsa's client (kafkajs' producer would ask
 * for the metadata of every topic it has produced to, deleted ones too).
 */
async function produce(topic: string, value: string): Promise<void> {
  await client().produce(topic, 0, [{ value }]);
}

async function createTopics(t1: string, t2: string): Promise<void> {
  await cluster.admin.createTopics({
    topics: [
      { topic: t1, numPartitions: 1 },
      { topic: t2, numPartitions: 1 },
    ],
    waitForLeaders: true,
  });
}

/** Deletes t2, then checks what the coordinator keeps of it: no committed offset, and commits refused. */
async function deleteAndCheckOffsets(groupId: string, t2: string): Promise<void> {
  await cluster.admin.deleteTopics({ topics: [t2] });
  await waitFor(
    `the committed offset of deleted ${t2} to be removed`,
    async () => (await committedOf(groupId, t2)) === -1,
    20_000,
  );
}

/** librdkafka 2.1.0 fixed the close that never returns after a topic deletion (see the header). */
function librdkafkaClosesAfterDeletion(lib: string): boolean {
  const [major, minor] = lib.split('.').map(Number);
  return major > 2 || (major === 2 && minor >= 1);
}

interface Case {
  name: string;
  client: 'kafka-python' | 'confluent';
  strategy: string;
  tag: string;
  /** The python with the current confluent-kafka (default: Debian's). */
  current?: boolean;
  /** KIP-848: group.protocol=consumer. */
  kip848?: boolean;
}

const cases: Case[] = [
  { name: 'classic eager, kafka-python 2.0.2 (range)', client: 'kafka-python', strategy: 'range', tag: 'kp-range' },
  { name: 'classic eager, confluent-kafka-python (range)', client: 'confluent', strategy: 'range', tag: 'ck-range' },
  {
    name: 'classic cooperative, confluent-kafka-python (cooperative-sticky)',
    client: 'confluent',
    strategy: 'cooperative-sticky',
    tag: 'ck-coop',
  },
  {
    name: 'classic eager, confluent-kafka-python 2.16 (range)',
    client: 'confluent',
    strategy: 'range',
    tag: 'ck216-range',
    current: true,
  },
  {
    name: 'classic cooperative, confluent-kafka-python 2.16 (cooperative-sticky)',
    client: 'confluent',
    strategy: 'cooperative-sticky',
    tag: 'ck216-coop',
    current: true,
  },
  {
    name: 'KIP-848, confluent-kafka-python 2.16 (group.protocol=consumer)',
    client: 'confluent',
    strategy: 'unused',
    tag: 'ck216-848',
    current: true,
    kip848: true,
  },
];

for (const c of cases) {
  describe(c.name, () => {
    test('a subscribed topic is deleted: the assignment drops it, its offsets go, consuming goes on, close completes and the group empties', async () => {
      const t1 = `del-${c.tag}-t1`;
      const t2 = `del-${c.tag}-t2`;
      const groupId = `g-del-${c.tag}`;
      await createTopics(t1, t2);
      const m = new PyMember(
        `${c.tag}-m1`,
        [
          '--client',
          c.client,
          '--bootstrap',
          cluster.broker.bootstrapServers,
          '--group',
          groupId,
          '--topic',
          t1,
          '--topic',
          t2,
          '--strategy',
          c.strategy,
          '--session-timeout-ms',
          '6000',
          ...(c.client === 'confluent' ? ['--debug-cgrp'] : []),
          ...(c.kip848 ? ['--group-protocol', 'consumer'] : []),
        ],
        c.current ? currentPython() : undefined,
      );
      const view = (): Promise<GroupView> =>
        c.kip848 ? describeConsumerGroup(client(), groupId, t1) : describeGroup(cluster.admin, groupId, t1);
      const diag = () => ({
        ownedTps: m.ownedTps,
        left: m.left,
        closed: m.closed,
        exited: m.exited,
        lib: m.lib,
        events: m.events.filter((e) => e.ev !== 'join').slice(-12),
        stderr: m.stderr.slice(-1500),
      });
      try {
        await waitFor(
          'the member to own both partitions',
          () => JSON.stringify(m.ownedTps) === JSON.stringify([`${t1}:0`, `${t2}:0`]),
          45_000,
          diag,
        );
        await produce(t1, 'before-1');
        await produce(t2, 'before-2');
        await waitFor(
          'both records to be committed',
          async () => (await committedOf(groupId, t1)) === 1 && (await committedOf(groupId, t2)) === 1,
          30_000,
          diag,
        );

        await deleteAndCheckOffsets(groupId, t2);
        await waitFor(
          `the assignment to drop ${t2}`,
          () => JSON.stringify(m.ownedTps) === JSON.stringify([`${t1}:0`]),
          20_000,
          diag,
        );
        assert.equal(
          await commitErrorFor(groupId, t2),
          ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          'an OffsetCommit for the deleted topic',
        );
        assert.equal(await committedOf(groupId, t2), -1, 'the refused commit stored nothing');

        await produce(t1, 'after-1');
        await waitFor(
          `the member to consume ${t1} after the deletion`,
          () => m.received.some((r) => r.v === 'after-1'),
          30_000,
          diag,
        );
        await waitFor(
          `${t1}'s offset to be committed`,
          async () => (await committedOf(groupId, t1)) === 2,
          30_000,
          diag,
        );
        const g = await view();
        assert.equal(g.state, 'Stable');
        assert.equal(g.members.length, 1);
        assert.deepEqual(g.members[0].partitions, [0]);

        const closing = Date.now();
        m.requestClose();
        if (c.client === 'confluent' && !c.current) {
          await waitFor('the LeaveGroup answer', () => m.left, CLOSE_DEADLINE_MS, diag);
        } else {
          assert.equal(
            await m.waitExit(CLOSE_DEADLINE_MS),
            0,
            `close() returns within ${CLOSE_DEADLINE_MS} ms: ${JSON.stringify(diag())}`,
          );
          assert.ok(m.closed);
        }
        await waitFor(
          'the group to have no members',
          async () => {
            const g = await view();
            return g.members.length === 0 && g.state === 'Empty';
          },
          CLOSE_DEADLINE_MS - (Date.now() - closing),
          diag,
        );
        if (c.client === 'confluent') assert.ok(m.lib, 'the member reported its librdkafka version');
        if (c.current) assert.ok(librdkafkaClosesAfterDeletion(m.lib!), `librdkafka ${m.lib}`);
        if (c.client === 'confluent' && !c.current && librdkafkaClosesAfterDeletion(m.lib!)) {
          assert.equal(
            await m.waitExit(CLOSE_DEADLINE_MS),
            0,
            `close() returns within ${CLOSE_DEADLINE_MS} ms: ${JSON.stringify(diag())}`,
          );
          assert.ok(m.closed);
        }
        assert.equal(await committedOf(groupId, t1), 2, `${t1}'s committed offset stays`);
      } finally {
        await m.kill();
      }
    });
  });
}

describe("KIP-848 consumer protocol (ConsumerGroupHeartbeat with Samsa's client)", () => {
  test('a subscribed topic is deleted: the assignment drops it, its offsets go, the member leaves and the group empties', async () => {
    const t1 = 'del-848-t1';
    const t2 = 'del-848-t2';
    const groupId = 'g-del-848';
    await createTopics(t1, t2);
    const m = new Kip848Member(client(), groupId, [t1, t2]);
    const diag = () => ({ memberId: m.memberId, epoch: m.epoch, errors: m.errors.slice(-5) });
    m.start();
    try {
      await waitFor(
        'the member to own both partitions',
        async () => JSON.stringify(await m.ownedTps()) === JSON.stringify([`${t1}:0`, `${t2}:0`]),
        30_000,
        diag,
      );
      await client().offsetCommit(
        groupId,
        [
          { topic: t1, partition: 0, offset: 1 },
          { topic: t2, partition: 0, offset: 1 },
        ],
        { generationId: m.epoch, memberId: m.memberId },
      );
      assert.equal(await committedOf(groupId, t2), 1);

      await deleteAndCheckOffsets(groupId, t2);
      await waitFor(
        `the assignment to drop ${t2}`,
        async () => JSON.stringify(await m.ownedTps()) === JSON.stringify([`${t1}:0`]),
        20_000,
        diag,
      );
      assert.equal(
        await commitErrorFor(groupId, t2),
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        'an OffsetCommit for the deleted topic',
      );
      await client().offsetCommit(groupId, [{ topic: t1, partition: 0, offset: 2 }], {
        generationId: m.epoch,
        memberId: m.memberId,
      });
      assert.deepEqual(m.errors, []);

      assert.equal(await m.leave(), ErrorCode.NONE);
      const described = await client().groupRequest(groupId, 'ConsumerGroupDescribe', {
        groupIds: [groupId],
        includeAuthorizedOperations: false,
      });
      assert.equal(described.groups[0].errorCode, ErrorCode.NONE);
      assert.deepEqual(described.groups[0].members, []);
      assert.equal(described.groups[0].groupState, 'Empty');
      assert.equal(await committedOf(groupId, t1), 2, `${t1}'s committed offset stays`);
    } finally {
      await m.stop();
    }
  });
});
