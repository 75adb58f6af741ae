/**
 * KIP-848 consumer groups (group.protocol=consumer) with a real client:
 * confluent-kafka-python 2.16 (librdkafka 2.16, test/helpers/pyclient.ts),
 * whose members send ConsumerGroupHeartbeat and let the broker assign.
 *
 *  - 3 member processes share a 6-partition topic, no partition owned twice;
 *    a 4th member joins, one leaves (clean close: heartbeat with member
 *    epoch -1), one is killed (SIGKILL: the broker expires it after
 *    group.consumer.session.timeout.ms, 6 s here); after each change the
 *    group (ConsumerGroupDescribe) is Stable with exactly the live members,
 *    each owning what the broker assigned it, and the records then produced
 *    to all 6 partitions are each consumed by exactly one member, the owner;
 *    the committed offsets (OffsetFetch, read the whole time) never go
 *    backwards and end at the log end offsets (pyGroupRebalanceScenario);
 *  - the client's own admin view: AdminClient.describe_consumer_groups (which
 *    asks with ConsumerGroupDescribe) shows the group as a consumer-type,
 *    Stable group with both members, their client ids and assignments, and
 *    Empty once they have left; ListGroups lists it as a consumer group.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { KafkaClient } from '../../src/client/index.ts';
import {
  ALL,
  PARTITIONS,
  PY_DIR,
  PyMember,
  describeConsumerGroup,
  pyGroupRebalanceScenario,
  useGroupsCluster,
  waitFor,
} from '../helpers/groups.ts';
import { currentPython } from '../helpers/pyclient.ts';
import { runOk } from '../helpers/proc.ts';

const cluster = useGroupsCluster('groups-kip848-test', {
  overrides: { 'group.consumer.heartbeat.interval.ms': '500', 'group.consumer.session.timeout.ms': '6000' },
});
let samsaClient: KafkaClient | undefined;
/** Samsa's own client on the test's broker (created once the broker runs). */
function client(): KafkaClient {
  samsaClient ??= new KafkaClient({
    bootstrapServers: cluster.broker.bootstrapServers,
    clientId: 'groups-kip848-test',
  });
  return samsaClient;
}
after(() => samsaClient?.close());

const memberDiag = (m: PyMember) => ({ lib: m.lib, history: m.events.filter((e) => e.ev !== 'commit').slice(-20) });

describe('KIP-848, confluent-kafka-python 2.16 (group.protocol=consumer)', () => {
  test('members share the partitions; join, leave and kill reassign; every partition is consumed again; commits never go backwards', () =>
    pyGroupRebalanceScenario(cluster, {
      topic: 'groups-848',
      groupId: 'g-848',
      client: 'confluent',
      strategy: 'unused', // the broker assigns (groups_consumer.py leaves partition.assignment.strategy unset)
      extraArgs: ['--group-protocol', 'consumer'],
      python: currentPython(),
      view: (groupId, topic) => describeConsumerGroup(client(), groupId, topic),
      memberDiag,
    }));

  test('describe_consumer_groups and ListGroups show the group, its members and their assignments', async () => {
    const python = currentPython();
    const topic = 'groups-848-describe';
    const groupId = 'g-848-describe';
    const { broker, admin } = cluster;
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    const members = ['d1', 'd2'].map(
      (name) =>
        new PyMember(
          name,
          [
            '--client',
            'confluent',
            '--bootstrap',
            broker.bootstrapServers,
            '--group',
            groupId,
            '--topic',
            topic,
            '--group-protocol',
            'consumer',
          ],
          python,
        ),
    );
    const diag = () => ({
      members: members.map((m) => ({
        name: m.name,
        ownedTps: m.ownedTps,
        ...memberDiag(m),
        stderr: m.stderr.slice(-500),
      })),
    });
    const describeWithClient = async () =>
      JSON.parse(
        (
          await runOk(python, [path.join(PY_DIR, 'groups_admin.py'), 'describe', broker.bootstrapServers, groupId], {
            timeoutMs: 60_000,
          })
        ).stdout,
      );
    try {
      await waitFor(
        'both members to own 3 partitions each',
        async () => {
          const v = await describeConsumerGroup(client(), groupId, topic);
          return v.state === 'Stable' && members.every((m) => m.owned?.length === 3);
        },
        45_000,
        diag,
      );

      const d = await describeWithClient();
      assert.equal(d.error, null);
      assert.equal(d.group_id, groupId);
      assert.equal(d.type, 'CONSUMER');
      assert.equal(d.state, 'STABLE');
      assert.equal(d.assignor, 'uniform', 'the default server assignor');
      assert.deepEqual(d.members.map((m: { client_id: string }) => m.client_id).sort(), ['d1', 'd2']);
      for (const m of members) {
        const described = d.members.find((x: { client_id: string }) => x.client_id === m.name);
        assert.deepEqual(described.assignment, m.ownedTps, `${m.name}'s assignment as described`);
        assert.deepEqual(described.target_assignment, m.ownedTps, `${m.name}'s target assignment as described`);
      }
      assert.deepEqual(
        d.members.flatMap((m: { assignment: string[] }) => m.assignment).sort(),
        ALL.map((p) => `${topic}:${p}`).sort(),
      );

      const listed = (await client().listGroups()).find((g) => g.groupId === groupId);
      assert.deepEqual(listed, { groupId, protocolType: 'consumer', state: 'Stable', type: 'consumer' });

      await Promise.all(members.map((m) => m.close()));
      const empty = await describeWithClient();
      assert.equal(empty.state, 'EMPTY', JSON.stringify(empty));
      assert.deepEqual(empty.members, []);
    } finally {
      await Promise.all(members.map((m) => m.kill()));
    }
  });
});
