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
import { Controller, validateTopicName } from '../../../src/metadata/controller.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

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
  const controller = new Controller(log, image, {
    nodeId: 1,
    defaultPartitions: 3,
    defaultReplicationFactor: 1,
    validateConfig: (name, value) => (name === 'retention.ms' && !/^-?\d+$/.test(value) ? 'not a number' : null),
  });
  controller.load();
  return { log, image, controller };
}

test('topics, partitions and configs survive a restart; deletes too', async () => {
  const dir = tempDir();
  const a = await open(dir);
  await a.controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const [r] = await a.controller.createTopics([{ name: 'orders', numPartitions: -1, replicationFactor: -1, configs: { 'retention.ms': '1000' } }], false);
  assert.equal(r.errorCode, ErrorCode.NONE);
  await a.controller.createTopics([{ name: 'gone', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  await a.controller.deleteTopic(a.image.topicsByName.get('gone')!);
  await a.controller.createPartitions('orders', 5, false);
  await a.log.close();

  const b = await open(dir);
  const t = b.image.topicsByName.get('orders')!;
  assert.equal(t.topicId, r.topicId);
  assert.equal(t.partitions.length, 5);
  assert.deepEqual(t.partitions.map((p) => [p.leader, p.leaderEpoch, p.isr]), Array.from({ length: 5 }, () => [1, 0, [1]]));
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
  for (const b of log.load().batches) image.applyBatch(b.records, b.lastOffset);
  assert.ok(dropped > 0);
  assert.deepEqual([...image.topicsByName.keys()], ['kept']);
  // the log accepts appends again after the cut
  const c = new Controller(log, image, { nodeId: 1, defaultPartitions: 1, defaultReplicationFactor: 1, validateConfig: () => null });
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
  const [dry] = await controller.createTopics([{ name: 'dry', numPartitions: 1, replicationFactor: 1, configs: {} }], true);
  assert.equal(dry.errorCode, ErrorCode.NONE);
  assert.equal(image.topicsByName.has('dry'), false, 'validate_only writes nothing');
  assert.equal((await controller.createPartitions('ok.topic', 1, false)).errorCode, ErrorCode.INVALID_PARTITIONS);
  await log.close();
});

test('topic name rules', () => {
  assert.equal(validateTopicName('a-b_c.d'), null);
  for (const bad of ['', '.', '..', 'a/b', 'é', 'x'.repeat(250), '__cluster_metadata']) assert.notEqual(validateTopicName(bad), null, bad);
});
