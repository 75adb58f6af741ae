/**
 * KIP-951 leader hints on three in-process brokers: a Produce (v12, v13) or
 * Fetch (v12, v16) sent to a broker that does not lead the partition is
 * answered NOT_LEADER_OR_FOLLOWER with the leader and leader epoch the
 * metadata names and, where the version carries them, the leader's address,
 * so a client can go there without asking Metadata first. ListOffsets,
 * OffsetForLeaderEpoch and DeleteRecords answer NOT_LEADER_OR_FOLLOWER there
 * too, as Kafka does for a partition in its metadata that it does not host.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apiByName } from '../../src/protocol/apis.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { encodeBatch } from '../../src/protocol/records/record-batch.ts';
import { uniqueTopic } from '../helpers/broker.ts';
import {
  createTopic,
  partitionState,
  startInProcessCluster,
  withConnection,
  type InProcessCluster,
} from '../helpers/inprocess-cluster.ts';

describe('KIP-951 leader hints: NOT_LEADER_OR_FOLLOWER names the leader and its address', () => {
  let cluster: InProcessCluster;
  let topic: string;
  let leader: number;
  let epoch: number;
  let topicId: string;

  before(async () => {
    cluster = await startInProcessCluster({ nodes: 3 });
    topic = uniqueTopic('hints');
    await createTopic(cluster.nodes[0].clientPort, topic, { partitions: 1, replicationFactor: 1 });
    const s = await partitionState(cluster.nodes[0].clientPort, topic);
    assert.ok(s && s.leader >= 0);
    leader = s.leader;
    epoch = s.epoch;
    topicId = await withConnection(cluster.nodes[0].clientPort, async (c) => {
      const md = await c.sendAt(apiByName('Metadata'), 12, {
        topics: [{ name: topic, topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      return md.topics[0].topicId;
    });
    assert.notEqual(topicId, ZERO_UUID);
  });

  after(async () => {
    await cluster?.close();
  });

  const other = () => cluster.nodes.find((n) => n.id !== leader)!;
  const leaderPort = () => cluster.node(leader).clientPort;
  const batch = () =>
    encodeBatch({ records: [{ key: Buffer.from('k'), value: Buffer.from('v'), timestamp: Date.now() }] });

  for (const version of [12, 13]) {
    test(`Produce v${version} to a broker without the partition`, async () => {
      const res = await withConnection(other().clientPort, (c) =>
        c.sendAt(apiByName('Produce'), version, {
          acks: -1,
          timeoutMs: 10_000,
          topicData: [
            version >= 13
              ? { topicId, partitionData: [{ index: 0, records: batch() }] }
              : { name: topic, partitionData: [{ index: 0, records: batch() }] },
          ],
        }),
      );
      const p = res.responses[0].partitionResponses[0];
      assert.equal(p.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      assert.deepEqual(
        { leaderId: p.currentLeader.leaderId, leaderEpoch: p.currentLeader.leaderEpoch },
        { leaderId: leader, leaderEpoch: epoch },
      );
      assert.deepEqual(
        res.nodeEndpoints.map((e) => ({ nodeId: e.nodeId, host: e.host, port: e.port })),
        [{ nodeId: leader, host: '127.0.0.1', port: leaderPort() }],
      );
    });
  }

  test('Produce to the leader succeeds and carries no hint', async () => {
    const res = await withConnection(leaderPort(), (c) =>
      c.sendAt(apiByName('Produce'), 12, {
        acks: -1,
        timeoutMs: 10_000,
        topicData: [{ name: topic, partitionData: [{ index: 0, records: batch() }] }],
      }),
    );
    const p = res.responses[0].partitionResponses[0];
    assert.equal(p.errorCode, ErrorCode.NONE);
    assert.equal(p.currentLeader.leaderId, -1);
    assert.deepEqual(res.nodeEndpoints, []);
  });

  for (const version of [12, 16]) {
    test(`Fetch v${version} to a broker without the partition`, async () => {
      const res = await withConnection(other().clientPort, (c) =>
        c.sendAt(apiByName('Fetch'), version, {
          maxWaitMs: 0,
          minBytes: 1,
          topics: [
            {
              ...(version >= 13 ? { topicId } : { topic }),
              partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: epoch }],
            },
          ],
        }),
      );
      const p = res.responses[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      assert.deepEqual(
        { leaderId: p.currentLeader.leaderId, leaderEpoch: p.currentLeader.leaderEpoch },
        { leaderId: leader, leaderEpoch: epoch },
      );
      if (version >= 16)
        assert.deepEqual(
          res.nodeEndpoints.map((e) => ({ nodeId: e.nodeId, port: e.port })),
          [{ nodeId: leader, port: leaderPort() }],
        );
    });
  }

  test('ListOffsets, OffsetForLeaderEpoch and DeleteRecords to a broker without the partition', async () => {
    await withConnection(other().clientPort, async (c) => {
      const lo = await c.send('ListOffsets', {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1 }] }],
      });
      assert.equal(lo.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      const ofle = await c.send('OffsetForLeaderEpoch', {
        replicaId: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: epoch }] }],
      });
      assert.equal(ofle.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      const dr = await c.send('DeleteRecords', {
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, offset: 0 }] }],
        timeoutMs: 10_000,
      });
      assert.equal(dr.topics[0].partitions[0].errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
      // a partition the topic does not have is still unknown
      const unknown = await c.send('ListOffsets', {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: topic, partitions: [{ partitionIndex: 7, currentLeaderEpoch: -1, timestamp: -1 }] }],
      });
      assert.equal(unknown.topics[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    });
  });
});
