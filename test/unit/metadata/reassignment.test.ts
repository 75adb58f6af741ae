/**
 * Partition reassignment (KIP-455) decided by the controller as KRaft does:
 * a target adds replicas (they join the replica list, the ISR and leader stay)
 * and marks the others removing; once every target replica is in the ISR
 * (the leader's AlterPartition) the reassignment completes (removed replicas
 * leave replicas and ISR, a removed leader is replaced by the first target
 * replica, leader epoch bumped); a null target reverts; Kafka's error codes
 * for bad requests. The image keeps the reassignment through a snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

const TID = Buffer.alloc(16, 7).toString('base64url');

const register = (nodeId: number): MetadataRecord => ({
  type: 'RegisterBroker',
  nodeId,
  incarnationId: Buffer.alloc(16, nodeId).toString('base64url'),
  listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9000 + nodeId }],
  rack: null,
  brokerEpoch: nodeId * 10,
  fenced: false,
});

function setup(opts: { active?: boolean } = {}) {
  const image = new MetadataImage();
  for (const r of [
    register(1),
    register(2),
    register(3),
    register(4),
    { type: 'Topic', name: 't', topicId: TID },
    {
      type: 'Partition',
      topicId: TID,
      partition: 0,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      leader: 1,
      leaderEpoch: 5,
      partitionEpoch: 0,
    },
  ] as MetadataRecord[])
    image.apply(r);
  image.clusterId = 'c';
  const quorum = new MemoryQuorum(0, { active: opts.active ?? true });
  const controller = new Controller(quorum, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  const part = () => image.topicsById.get(TID)!.partitions[0];
  const reassign = async (replicas: number[] | null, partitionIndex = 0, name = 't', allowRf = true) => {
    const [t] = await controller.alterPartitionReassignments(
      [{ name, partitions: [{ partitionIndex, replicas }] }],
      allowRf,
    );
    return t.partitions[0];
  };
  /** The leader's AlterPartition asking for `isr`. */
  const alterIsr = async (isr: number[]) => {
    const p = part();
    const r = await controller.alterPartition({
      brokerId: p.leader,
      brokerEpoch: p.leader * 10,
      partitions: [
        {
          topicId: TID,
          partitionIndex: 0,
          leaderEpoch: p.leaderEpoch,
          partitionEpoch: p.partitionEpoch,
          newIsr: isr.map((id) => ({ brokerId: id, brokerEpoch: id * 10 })),
        },
      ],
    });
    assert.equal(r.partitions[0].errorCode, ErrorCode.NONE);
  };
  return { image, quorum, controller, part, reassign, alterIsr };
}

test('a reassignment adds replicas first and completes once every target replica is in the ISR', async () => {
  const s = setup();
  const r = await s.reassign([2, 3, 4]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  let p = s.part();
  assert.deepEqual(p.replicas, [2, 3, 4, 1], 'target first, then the removing replicas');
  assert.deepEqual(p.addingReplicas, [4]);
  assert.deepEqual(p.removingReplicas, [1]);
  assert.deepEqual(p.isr, [1, 2, 3], 'the ISR is unchanged until the new replica caught up');
  assert.equal(p.leader, 1);
  assert.equal(p.leaderEpoch, 5);
  assert.deepEqual(s.controller.listPartitionReassignments(null), [
    { topic: 't', partition: 0, replicas: [2, 3, 4, 1], addingReplicas: [4], removingReplicas: [1] },
  ]);
  assert.deepEqual(s.controller.listPartitionReassignments([{ name: 't', partitionIndexes: [1] }]), []);
  assert.deepEqual(s.controller.listPartitionReassignments([{ name: 'nope', partitionIndexes: [0] }]), []);

  // broker 4 caught up: the leader adds it to the ISR, and the controller completes the reassignment
  await s.alterIsr([1, 2, 3, 4]);
  const done = await s.controller.waitForImage(() => s.part().addingReplicas === undefined, 10_000);
  assert.ok(done, 'the completion was committed');
  p = s.part();
  assert.deepEqual(p.replicas, [2, 3, 4]);
  assert.deepEqual(p.isr, [2, 3, 4]);
  assert.equal(p.removingReplicas, undefined);
  assert.equal(p.leader, 2, 'the removed leader is replaced by the first target replica in the ISR');
  assert.equal(p.leaderEpoch, 6, 'the leader change bumps the leader epoch');
  assert.deepEqual(s.controller.listPartitionReassignments(null), []);
  assert.equal((await s.reassign(null)).errorCode, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
});

test('a reassignment the ISR already covers completes in the same commit (a smaller replica set)', async () => {
  const s = setup();
  const before = s.quorum.batches.length;
  assert.equal((await s.reassign([3, 2])).errorCode, ErrorCode.NONE);
  assert.equal(s.quorum.batches.length, before + 1, 'one commit');
  const p = s.part();
  assert.deepEqual(p.replicas, [3, 2]);
  assert.deepEqual(p.isr, [2, 3]);
  assert.equal(p.leader, 3);
  assert.equal(p.addingReplicas, undefined);
  assert.equal(p.removingReplicas, undefined);
  // the same set in another order: only the order (the preferred leader) changes
  assert.equal((await s.reassign([2, 3])).errorCode, ErrorCode.NONE);
  assert.deepEqual(s.part().replicas, [2, 3]);
  assert.equal(s.part().leader, 3, 'the leader stays');
});

test('a null target cancels: the adding replicas leave, the removing ones stay', async () => {
  const s = setup();
  await s.reassign([4, 2, 3]);
  await s.alterIsr([1, 2]); // broker 3 fell out of the ISR meanwhile
  assert.ok(s.part().addingReplicas);
  assert.equal((await s.reassign(null)).errorCode, ErrorCode.NONE);
  const p = s.part();
  assert.deepEqual(p.replicas, [2, 3, 1]);
  assert.deepEqual(p.isr, [1, 2]);
  assert.equal(p.leader, 1);
  assert.equal(p.addingReplicas, undefined);
  assert.equal(p.removingReplicas, undefined);
  assert.equal((await s.reassign(null)).errorCode, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);
});

test('a new target during a reassignment is computed against the current replicas', async () => {
  const s = setup();
  await s.reassign([2, 3, 4]);
  assert.equal((await s.reassign([1, 2, 3])).errorCode, ErrorCode.NONE);
  // every target replica (1, 2, 3) is in the ISR: 4 is removed again at once
  const p = s.part();
  assert.deepEqual(p.replicas, [1, 2, 3]);
  assert.deepEqual(p.isr, [1, 2, 3]);
  assert.equal(p.addingReplicas, undefined);
});

test('bad reassignments get Kafka’s error codes and change nothing', async () => {
  const s = setup();
  const epoch = s.part().partitionEpoch;
  assert.equal((await s.reassign([1, 2], 0, 'nope')).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await s.reassign([1, 2], 3)).errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal((await s.reassign([])).errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  assert.equal((await s.reassign([1, 1, 2])).errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  const unknown = await s.reassign([1, 2, 9]);
  assert.equal(unknown.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  assert.match(unknown.errorMessage ?? '', /broker 9/);
  assert.equal((await s.reassign([1, 2], 0, 't', false)).errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
  const [twice] = await s.controller.alterPartitionReassignments(
    [
      {
        name: 't',
        partitions: [
          { partitionIndex: 0, replicas: [1, 2, 4] },
          { partitionIndex: 0, replicas: [1, 2, 3] },
        ],
      },
    ],
    true,
  );
  assert.deepEqual(
    twice.partitions.map((p) => p.errorCode),
    [ErrorCode.NONE, ErrorCode.INVALID_REQUEST],
    'a partition named twice: the second is refused',
  );
  assert.equal((await s.reassign(null)).errorCode, ErrorCode.NONE);
  assert.equal((await s.reassign([2, 3, 4], 0, 't', false)).errorCode, ErrorCode.NONE, 'the same factor is allowed');
  assert.equal(s.part().partitionEpoch, epoch + 3, 'only the accepted reassignments were committed');
});

test('a revert that would need an unclean election is refused', async () => {
  const s = setup();
  const image = s.image;
  // the partition's ISR is only the adding replica (as after a failover to it)
  image.apply({
    type: 'PartitionChange',
    topicId: TID,
    partition: 0,
    replicas: [4, 1],
    isr: [4],
    leader: 4,
    addingReplicas: [4],
    removingReplicas: [],
  });
  const r = await s.reassign(null);
  assert.equal(r.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
  assert.match(r.errorMessage ?? '', /unclean leader election/);
});

test('not the active controller: NOT_CONTROLLER', async () => {
  const s = setup({ active: false });
  assert.equal((await s.reassign([2, 3, 4])).errorCode, ErrorCode.NOT_CONTROLLER);
  assert.throws(() => s.controller.listPartitionReassignments(null), /controller/i);
});

test('a reassignment in progress survives a snapshot of the image', () => {
  const a = new MetadataImage();
  for (const r of [
    { type: 'Topic', name: 't', topicId: TID },
    {
      type: 'Partition',
      topicId: TID,
      partition: 0,
      replicas: [1, 2],
      isr: [1],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    },
    {
      type: 'PartitionChange',
      topicId: TID,
      partition: 0,
      replicas: [2, 3, 1],
      addingReplicas: [3],
      removingReplicas: [1],
    },
  ] as MetadataRecord[])
    a.apply(r);
  const b = new MetadataImage();
  b.applyBatch(a.toRecords(), 10);
  const p = b.topicsById.get(TID)!.partitions[0];
  assert.deepEqual(p.replicas, [2, 3, 1]);
  assert.deepEqual(p.addingReplicas, [3]);
  assert.deepEqual(p.removingReplicas, [1]);
  assert.equal(p.partitionEpoch, 1);
  assert.equal(b.partitionsOn(3), 1, 'adding replicas are counted where they are placed');
  b.apply({
    type: 'PartitionChange',
    topicId: TID,
    partition: 0,
    replicas: [2, 3],
    addingReplicas: [],
    removingReplicas: [],
  });
  assert.equal(b.topicsById.get(TID)!.partitions[0].addingReplicas, undefined, 'an empty list ends it');
  assert.equal(b.partitionsOn(1), 0);
});
