/**
 * The cluster metadata log and controller: records survive a restart, a torn
 * tail is cut (never half-applied), admin requests are validated the way
 * Kafka validates them, and the image is the fold of the log.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileMetadataLog, METADATA_PARTITION_DIR } from '../../../src/metadata/metadata-log.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { FileLogQuorum } from '../../helpers/file-log-quorum.ts';
import { Controller, validateTopicName } from '../../../src/metadata/controller.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { PartitionRecord } from '../../../src/metadata/records.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-meta-'));
  dirs.push(d);
  return d;
}

const segmentFile = (dir: string) => path.join(dir, METADATA_PARTITION_DIR, '00000000000000000000.log');

async function open(dir: string) {
  const log = await FileMetadataLog.open(dir);
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 3,
    defaultReplicationFactor: 1,
    validateConfig: (name, value) => (name === 'retention.ms' && !/^-?\d+$/.test(value) ? 'not a number' : null),
  });
  await quorum.start();
  await controller.clusterId(); // the first active controller's first commit
  return { log, quorum, image, controller };
}

test('topics, partitions and configs survive a restart; deletes too', async () => {
  const dir = tempDir();
  const a = await open(dir);
  await a.controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const [r] = await a.controller.createTopics(
    [{ name: 'orders', numPartitions: -1, replicationFactor: -1, configs: { 'retention.ms': '1000' } }],
    false,
  );
  assert.equal(r.errorCode, ErrorCode.NONE);
  await a.controller.createTopics([{ name: 'gone', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  await a.controller.deleteTopic(a.image.topicsByName.get('gone')!);
  await a.controller.createPartitions('orders', 5, false);
  await a.log.close();

  const b = await open(dir);
  const t = b.image.topicsByName.get('orders')!;
  assert.equal(t.topicId, r.topicId);
  assert.equal(t.partitions.length, 5);
  assert.deepEqual(
    t.partitions.map((p) => [p.leader, p.leaderEpoch, p.isr]),
    Array.from({ length: 5 }, () => [1, 0, [1]]),
  );
  assert.equal(t.configs.get('retention.ms'), '1000');
  assert.equal(b.image.topicsByName.has('gone'), false);
  assert.equal(b.image.brokers.get(1)?.listeners[0].port, 9092);
  await b.log.close();
});

test('a torn tail is cut at the last whole record batch', async () => {
  const dir = tempDir();
  const a = await open(dir);
  await a.controller.createTopics([{ name: 'kept', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  await a.controller.createTopics([{ name: 'torn', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  await a.log.close();
  const file = segmentFile(dir);
  const size = fs.statSync(file).size;
  fs.truncateSync(file, size - 3); // the second batch loses its last bytes
  let dropped = 0;
  const log = await FileMetadataLog.open(dir, { onTruncate: (n) => (dropped = n) });
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const c = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  await quorum.start();
  assert.ok(dropped > 0);
  assert.deepEqual([...image.topicsByName.keys()], ['kept']);
  // the log accepts appends again after the cut
  const [r] = await c.createTopics([{ name: 'torn', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  assert.equal(r.errorCode, ErrorCode.NONE);
  await log.close();
});

test('CreateTopics validation: names, duplicates, collisions, partitions, replication factor, configs, validate_only', async () => {
  const { controller, image, log } = await open(tempDir());
  await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const results = await controller.createTopics(
    [
      { name: 'ok.topic', numPartitions: 2, replicationFactor: 1, configs: {} },
      { name: 'ok.topic', numPartitions: 2, replicationFactor: 1, configs: {} },
      { name: 'ok_topic', numPartitions: 1, replicationFactor: 1, configs: {} },
      { name: 'bad name', numPartitions: 1, replicationFactor: 1, configs: {} },
      { name: 'x'.repeat(250), numPartitions: 1, replicationFactor: 1, configs: {} },
      { name: 'zero', numPartitions: 0, replicationFactor: 1, configs: {} },
      { name: 'rf3', numPartitions: 1, replicationFactor: 3, configs: {} },
      { name: 'cfg', numPartitions: 1, replicationFactor: 1, configs: { 'retention.ms': 'soon' } },
    ],
    false,
  );
  assert.deepEqual(
    results.map((r) => r.errorCode),
    [
      ErrorCode.NONE,
      ErrorCode.TOPIC_ALREADY_EXISTS,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_TOPIC_EXCEPTION,
      ErrorCode.INVALID_PARTITIONS,
      ErrorCode.INVALID_REPLICATION_FACTOR,
      ErrorCode.INVALID_CONFIG,
    ],
  );
  const [dry] = await controller.createTopics(
    [{ name: 'dry', numPartitions: 1, replicationFactor: 1, configs: {} }],
    true,
  );
  assert.equal(dry.errorCode, ErrorCode.NONE);
  assert.equal(image.topicsByName.has('dry'), false, 'validate_only writes nothing');
  assert.equal((await controller.createPartitions('ok.topic', 1, false)).errorCode, ErrorCode.INVALID_PARTITIONS);
  await log.close();
});

test('topic name rules', () => {
  assert.equal(validateTopicName('a-b_c.d'), null);
  for (const bad of ['', '.', '..', 'a/b', 'é', 'x'.repeat(250), '__cluster_metadata'])
    assert.notEqual(validateTopicName(bad), null, bad);
});

/** A second broker registered in the same metadata (as its registration with the active controller would). */
async function registerOther(quorum: FileLogQuorum, nodeId: number) {
  await quorum.append([
    {
      type: 'RegisterBroker',
      nodeId,
      incarnationId: `incarnation-${nodeId}`,
      listeners: [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 + nodeId }],
      rack: null,
    },
  ]);
}

test('a replication factor above the registered brokers is INVALID_REPLICATION_FACTOR; partitions and their leaders spread over the brokers', async () => {
  const dir = tempDir();
  const { controller, image, log, quorum } = await open(dir);
  await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const [tooMany] = await controller.createTopics(
    [{ name: 'rf2', numPartitions: 1, replicationFactor: 2, configs: {} }],
    false,
  );
  assert.equal(tooMany.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.equal(
    tooMany.errorMessage,
    'Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot be reached because only 1 broker(s) are registered.',
  );
  assert.equal(image.topicsByName.has('rf2'), false);
  await registerOther(quorum, 2);
  // with two brokers, RF 2 is accepted (validated only here: the placements below start from no partitions)
  const [two] = await controller.createTopics(
    [{ name: 'rf2', numPartitions: 3, replicationFactor: 2, configs: {} }],
    true,
  );
  assert.equal(two.errorCode, ErrorCode.NONE);
  assert.equal(image.topicsByName.has('rf2'), false);
  // RF 1: round robin over the brokers, each topic starting at the broker with the fewest partitions
  const [a] = await controller.createTopics(
    [{ name: 'a', numPartitions: 3, replicationFactor: 1, configs: {} }],
    false,
  );
  assert.equal(a.errorCode, ErrorCode.NONE);
  const [b1] = await controller.createTopics(
    [{ name: 'b', numPartitions: 1, replicationFactor: 1, configs: {} }],
    false,
  );
  assert.equal(b1.errorCode, ErrorCode.NONE);
  const leaders = (t: string) => image.topicsByName.get(t)!.partitions.map((p) => [p.replicas, p.isr, p.leader]);
  assert.deepEqual(leaders('a'), [
    [[1], [1], 1],
    [[2], [2], 2],
    [[1], [1], 1],
  ]);
  assert.deepEqual(leaders('b'), [[[2], [2], 2]]);
  // CreatePartitions places the new ones the same way
  assert.equal((await controller.createPartitions('b', 3, false)).errorCode, ErrorCode.NONE);
  assert.deepEqual(
    leaders('b').map((p) => p[2]),
    [2, 1, 2],
  );
  await log.close();
  const again = await open(dir);
  assert.deepEqual(
    again.image.topicsByName.get('a')!.partitions.map((p) => p.leader),
    [1, 2, 1],
  );
  await again.log.close();
});

test('manual replica assignments are kept in the records; unknown brokers, duplicates and gaps are INVALID_REPLICA_ASSIGNMENT', async () => {
  const dir = tempDir();
  const { controller, image, log, quorum } = await open(dir);
  await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  await registerOther(quorum, 2);
  const assigned = (name: string, lists: number[][]) => ({
    name,
    numPartitions: -1,
    replicationFactor: -1,
    configs: {},
    assignments: lists.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
  });
  const results = await controller.createTopics(
    [
      assigned('manual', [[2], [1], [2]]),
      assigned('replicated', [
        [1, 2],
        [2, 1],
      ]),
      assigned('unknown', [[1, 7]]),
      assigned('twice', [[1, 1]]),
      assigned('uneven', [[1, 2], [1]]),
      assigned('empty', [[]]),
      { ...assigned('gap', [[1]]), assignments: [{ partitionIndex: 1, brokerIds: [1] }] },
    ],
    false,
  );
  assert.deepEqual(
    results.map((r) => [r.errorCode, r.errorMessage]),
    [
      [ErrorCode.NONE, null],
      [ErrorCode.NONE, null],
      [
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'The manual partition assignment includes broker 7, but no such broker is registered.',
      ],
      [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes the broker 1 more than once.'],
      [
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'The manual partition assignment includes a partition with 1 replica(s), but this is not consistent with previous partitions, which have 2 replica(s).',
      ],
      [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.'],
      [ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence'],
    ],
  );
  assert.equal(results[0].numPartitions, 3);
  assert.equal(results[0].replicationFactor, 1);
  const expect = [
    [[2], 2],
    [[1], 1],
    [[2], 2],
  ];
  assert.deepEqual(
    image.topicsByName.get('manual')!.partitions.map((p) => [p.replicas, p.leader]),
    expect,
  );
  assert.deepEqual(
    image.topicsByName.get('replicated')!.partitions.map((p) => [p.replicas, p.isr, p.leader]),
    [
      [[1, 2], [1, 2], 1],
      [[2, 1], [2, 1], 2],
    ],
    'the first replica leads; the ISR is the replica set',
  );
  for (const name of ['unknown', 'twice', 'uneven', 'empty', 'gap'])
    assert.equal(image.topicsByName.has(name), false, name);
  await log.close();
  const b = await open(dir);
  assert.deepEqual(
    b.image.topicsByName.get('manual')!.partitions.map((p) => [p.replicas, p.leader]),
    expect,
  );
  await b.log.close();
});

test('a listener that fails after a commit: the request succeeds, the image and the other listeners follow the committed batch', async () => {
  const dir = tempDir();
  const errors: string[] = [];
  const log = await FileMetadataLog.open(dir);
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    logger: { warn() {}, error: (_o, m) => errors.push(m) },
  });
  await quorum.start();
  await controller.clusterId(); // the first commit (the cluster id) is in
  const seen: string[] = [];
  controller.onCommit(() => {
    throw new Error('injected: creating the partition log failed');
  });
  controller.onCommit((batch) => {
    for (const r of batch) if (r.type === 'Topic') seen.push(r.name);
  });
  const [r] = await controller.createTopics(
    [{ name: 'made', numPartitions: 1, replicationFactor: 1, configs: {} }],
    false,
  );
  assert.equal(r.errorCode, ErrorCode.NONE, 'committed: the answer says so');
  assert.ok(image.topicsByName.has('made'));
  assert.deepEqual(seen, ['made'], 'the listener after the failing one ran');
  assert.equal(errors.length, 1);
  // the controller goes on
  const [r2] = await controller.createTopics(
    [{ name: 'next', numPartitions: 1, replicationFactor: 1, configs: {} }],
    false,
  );
  assert.equal(r2.errorCode, ErrorCode.NONE);
  await log.close();
  const b = await open(dir);
  assert.deepEqual([...b.image.topicsByName.keys()], ['made', 'next']);
  await b.log.close();
});

test('check() names the record of a batch that would not apply to the image (the controller writes no such batch)', () => {
  const image = new MetadataImage();
  image.applyBatch([{ type: 'Topic', name: 't', topicId: 'T' }], 0);
  const part = (topicId: string, partition: number): PartitionRecord => ({
    type: 'Partition',
    topicId,
    partition,
    replicas: [1],
    isr: [1],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  });
  assert.equal(image.check([part('T', 0)]), null);
  assert.equal(image.check([{ type: 'Topic', name: 'u', topicId: 'U' }, part('U', 0)]), null);
  assert.match(image.check([part('nope', 0)])!, /unknown topic id nope/);
  assert.match(image.check([{ type: 'RemoveTopic', topicId: 'T' }, part('T', 0)])!, /unknown topic id T/);
  assert.match(image.check([{ type: 'PartitionChange', topicId: 'T', partition: 3, leader: 1 }])!, /unknown partition/);
});
