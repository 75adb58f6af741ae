/**
 * The controller on the metadata quorum (an in-memory quorum here): the image
 * changes only from what the quorum delivers (committed batches, snapshots),
 * on the leader too; only the active controller decides, anything else is
 * NOT_CONTROLLER; the first active controller names the cluster; a snapshot
 * installed from the leader replaces the image in place; each node writes
 * its own snapshots.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Controller, type ControllerOptions } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { NotControllerError } from '../../../src/metadata/quorum.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

function setup(opts: { active?: boolean } & Partial<ControllerOptions> = {}) {
  const { active, ...rest } = opts;
  const quorum = new MemoryQuorum(1, { active: active ?? true });
  const image = new MetadataImage();
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 2,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    ...rest,
  });
  return { quorum, image, controller };
}

const spec = (name: string, numPartitions = 1) => ({ name, numPartitions, replicationFactor: 1, configs: {} });
const topicRecords = (name: string, id: string, partitions: number[][]): MetadataRecord[] => [
  { type: 'Topic', name, topicId: id },
  ...partitions.map((replicas, partition) => ({
    type: 'Partition' as const,
    topicId: id,
    partition,
    replicas,
    isr: replicas,
    leader: replicas[0],
    leaderEpoch: 0,
    partitionEpoch: 0,
  })),
];

test('the first active controller names the cluster (with the id it was given) before anything else', async () => {
  const { quorum, image, controller } = setup({ initialClusterId: () => 'from-meta-properties' });
  await quorum.start();
  assert.equal(await controller.clusterId(), 'from-meta-properties');
  assert.equal(image.clusterId, 'from-meta-properties');
  assert.deepEqual(quorum.types(), ['ClusterId']);
  await controller.createTopics([spec('a')], false);
  assert.deepEqual(quorum.types(), ['ClusterId', 'Topic', 'Partition']);
  // a later ClusterId record (there is none from a correct controller) does not rename the cluster
  await quorum.deliver([{ type: 'ClusterId', clusterId: 'other' }]);
  assert.equal(image.clusterId, 'from-meta-properties');
  // without an id to propose, a new one
  const fresh = setup();
  await fresh.quorum.start();
  assert.match(await fresh.controller.clusterId(), /^[A-Za-z0-9_-]{22}$/);
});

test('a node that is not the active controller adopts the cluster id and the image from committed batches only', async () => {
  const { quorum, image, controller } = setup({ active: false });
  await quorum.start();
  let named: string | null = null;
  void controller.clusterId().then((id) => (named = id));
  // it decides nothing: every operation is NOT_CONTROLLER, and nothing is appended
  const [r] = await controller.createTopics([spec('refused')], false);
  assert.equal(r.errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal((await controller.createPartitions('x', 2, false)).errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal(
    (await controller.alterConfigs('topic', 'x', { 'retention.ms': '1' }, false)).errorCode,
    ErrorCode.NOT_CONTROLLER,
  );
  await assert.rejects(controller.allocateProducerIds(10), NotControllerError);
  assert.deepEqual(quorum.types(), []);
  assert.equal(image.topicCount, 0);
  // what another leader commits is applied, in order
  await quorum.deliver([{ type: 'ClusterId', clusterId: 'c-1' }]);
  await quorum.deliver(topicRecords('t', 't-id', [[1], [2]]));
  assert.equal(named, 'c-1');
  assert.deepEqual(
    image.topicsByName.get('t')!.partitions.map((p) => p.leader),
    [1, 2],
  );
  assert.equal(image.epoch, 3, 'the metadata offset is the last record delivered');
});

test('on the leader too, the image changes only when the quorum delivers the batch', async () => {
  const { quorum, image, controller } = setup();
  await quorum.start();
  await controller.clusterId();
  const seen: number[] = [];
  controller.onCommit(() => void seen.push(image.topicCount));
  // the quorum delivers a batch it committed before this operation's: applied before the operation decides
  await quorum.deliver(topicRecords('first', 'f-id', [[1]]));
  const [dup] = await controller.createTopics([spec('first')], false);
  assert.equal(dup.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
  const [ok] = await controller.createTopics([spec('second')], false);
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.ok(image.topicsByName.has('second'), 'applied once delivered, before the operation answered');
  assert.deepEqual(seen, [1, 2], 'listeners run after the image has each batch');
});

test('leadership lost before the commit: NOT_CONTROLLER, the image unchanged; active again: it decides again', async () => {
  const { quorum, image, controller } = setup();
  await quorum.start();
  await controller.clusterId();
  quorum.loseLeadershipOnAppend = true;
  const [r] = await controller.createTopics([spec('lost')], false);
  assert.equal(r.errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal(image.topicsByName.has('lost'), false);
  assert.equal(controller.isActive, false);
  const next = controller.nextLeaderEvent();
  quorum.setActive(true);
  await next;
  const [again] = await controller.createTopics([spec('lost')], false);
  assert.equal(again.errorCode, ErrorCode.NONE);
});

test('a snapshot installed from the leader replaces the image in place and tells the listeners what went', async () => {
  const { quorum, image, controller } = setup({ active: false });
  await quorum.start();
  await quorum.deliver([{ type: 'ClusterId', clusterId: 'c' }]);
  await quorum.deliver(topicRecords('kept', 'k-id', [[1]]));
  await quorum.deliver(topicRecords('gone', 'g-id', [[2]]));
  const keptBefore = image.topicsByName.get('kept')!;
  const batches: MetadataRecord[][] = [];
  controller.onCommit((b) => void batches.push(b));
  // the leader's snapshot: 'kept' with one more partition, 'gone' deleted, 'new' created
  const snapshot: MetadataRecord[] = [
    { type: 'ClusterId', clusterId: 'c' },
    ...topicRecords('kept', 'k-id', [[1], [2]]),
    ...topicRecords('new', 'n-id', [[3]]),
    { type: 'Config', resourceType: 'topic', resourceName: 'kept', name: 'retention.ms', value: '5' },
  ];
  await quorum.installSnapshot({ endOffset: 40, epoch: 3, records: snapshot });
  assert.equal(image.topicsByName.get('kept'), keptBefore, 'the broker keeps its TopicState objects');
  assert.equal(keptBefore.partitions.length, 2);
  assert.equal(keptBefore.configs.get('retention.ms'), '5');
  assert.equal(image.topicsById.has('g-id'), false);
  assert.ok(image.topicsByName.has('new'));
  assert.equal(image.epoch, 39);
  assert.equal(image.partitionsOn(2), 1, 'replica counts follow the snapshot');
  assert.deepEqual(batches.length, 1);
  assert.deepEqual(batches[0][0], { type: 'RemoveTopic', topicId: 'g-id' });
  assert.deepEqual(batches[0].slice(1), snapshot);
  // and committed batches go on after it
  await quorum.deliver([{ type: 'ProducerIds', nextProducerId: 1000 }]);
  assert.equal(image.nextProducerId, 1000);
});

test('every node snapshots its own image once enough bytes were committed', async () => {
  const follower = setup({ active: false, maxRecordBytesBetweenSnapshots: 200 });
  await follower.quorum.start();
  await follower.quorum.deliver([{ type: 'ClusterId', clusterId: 'c' }]);
  for (let i = 0; i < 5; i++) await follower.quorum.deliver(topicRecords(`t${i}`, `id-${i}`, [[1]]));
  // the follower writes it after the delivery, on its own
  await new Promise<void>((resolve) => {
    const poll = () => (follower.quorum.snapshots.length > 0 ? resolve() : setImmediate(poll));
    poll();
  });
  // (the deliveries above resolve without I/O, so the snapshot came after the last of them)
  const snap = follower.quorum.snapshots[0];
  assert.equal(snap.endOffset, follower.quorum.committedOffset);
  assert.deepEqual(snap.records, follower.image.toRecords());
  // the active controller writes it before answering the operation that made it due
  const leader = setup({ maxRecordBytesBetweenSnapshots: 200 });
  await leader.quorum.start();
  await leader.controller.clusterId();
  for (let i = 0; leader.quorum.snapshots.length === 0; i++) {
    assert.ok(i < 20, 'a snapshot within 20 topics');
    await leader.controller.createTopics([spec(`t${i}`)], false);
  }
  const s = leader.quorum.snapshots[0];
  assert.equal(s.endOffset, leader.quorum.committedOffset, 'taken right after the commit that made it due');
  assert.deepEqual(s.records, leader.image.toRecords());
});
