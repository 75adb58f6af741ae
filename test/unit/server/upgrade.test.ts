/**
 * Upgrade: a data dir written by the single-node Samsa of before the quorum
 * (its metadata log written by one node, every start a new epoch, no quorum
 * state; or the older JSON-framed file) starts as a one-voter quorum with
 * nothing lost: the same topics, configs and cluster id (from meta.properties,
 * now also committed as the log's ClusterId record), and it keeps working
 * across restarts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from '../../../src/index.ts';
import { KafkaClient } from '../../../src/client/client.ts';
import { FileMetadataLog, LEGACY_METADATA_LOG_FILE } from '../../../src/metadata/metadata-log.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { Controller } from '../../../src/metadata/controller.ts';
import { FileLogQuorum } from '../../helpers/file-log-quorum.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-upgrade-'));
  dirs.push(d);
  return d;
}

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/legacy-metadata-dir');
const CLUSTER_ID = 'UpgradedCluster-0001';

function writeMetaProperties(dir: string): void {
  fs.writeFileSync(path.join(dir, 'meta.properties'), `version=1\ncluster.id=${CLUSTER_ID}\nnode.id=1\n`);
}

/** What a client sees of the topics (name -> partition count, leaders) and the cluster id. */
async function describe(bootstrap: string) {
  const c = new KafkaClient({ bootstrapServers: bootstrap, clientId: 'upgrade-test' });
  try {
    const md = await c.metadata();
    const topics = Object.fromEntries(
      [...md.topics.values()]
        .map((t) => [t.name, t.partitions.map((p) => p.leader)] as const)
        .sort((a, b) => a[0].localeCompare(b[0])),
    );
    const [orders] = await c.describeConfigs([{ type: 'topic', name: 'orders' }]);
    return {
      clusterId: md.clusterId,
      brokers: md.brokers.map((b) => b.nodeId),
      topics,
      segmentBytes: orders?.configs.find((x) => x.name === 'segment.bytes')?.value,
    };
  } finally {
    await c.close();
  }
}

test('a data dir of the JSON-framed metadata log (and its meta.properties) starts with nothing lost', async () => {
  const dir = tempDir();
  fs.copyFileSync(path.join(FIXTURE, LEGACY_METADATA_LOG_FILE), path.join(dir, LEGACY_METADATA_LOG_FILE));
  writeMetaProperties(dir);
  const expected = {
    clusterId: CLUSTER_ID,
    brokers: [1],
    topics: { __consumer_offsets: [1, 1], orders: [1, 1, 1, 1], payments: [1, 1, 1, 1, 1] },
    segmentBytes: '1048576',
  };
  const first = await startBroker({ dataDir: dir });
  assert.deepEqual(await describe(first.bootstrapServers), expected);
  assert.equal(first.clusterId, CLUSTER_ID);
  await first.close();
  const again = await startBroker({ dataDir: dir });
  assert.deepEqual(await describe(again.bootstrapServers), expected);
  await again.close();
});

test('a data dir written by the single node before the quorum: every topic and the cluster id kept, and it goes on', async () => {
  const dir = tempDir();
  writeMetaProperties(dir);
  // two runs of the old single node: each start a new leader epoch, no quorum state, no ClusterId record
  for (const run of [0, 1]) {
    const log = await FileMetadataLog.open(dir);
    const quorum = new FileLogQuorum(log, 1);
    const image = new MetadataImage();
    const controller = new Controller(quorum, image, {
      nodeId: 1,
      defaultPartitions: 2,
      defaultReplicationFactor: 1,
      validateConfig: () => null,
    });
    // the old node wrote no ClusterId record: give the image one so that none is written
    image.clusterId = CLUSTER_ID;
    await quorum.start();
    await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
    const [r] = await controller.createTopics(
      [{ name: run === 0 ? 'orders' : 'payments', numPartitions: 3, replicationFactor: 1, configs: {} }],
      false,
    );
    assert.equal(r.errorCode, 0);
    if (run === 1) await controller.alterConfigs('topic', 'orders', { 'segment.bytes': '2097152' }, false);
    await log.close();
  }
  const b = await startBroker({ dataDir: dir });
  const seen = await describe(b.bootstrapServers);
  assert.deepEqual(seen, {
    clusterId: CLUSTER_ID,
    brokers: [1],
    topics: { orders: [1, 1, 1], payments: [1, 1, 1] },
    segmentBytes: '2097152',
  });
  const c = new KafkaClient({ bootstrapServers: b.bootstrapServers, clientId: 'upgrade-test' });
  const [made] = await c.createTopics([{ name: 'after-upgrade', numPartitions: 1 }]);
  assert.equal(made.error, null);
  await c.close();
  await b.close();
  const again = await startBroker({ dataDir: dir });
  assert.deepEqual(Object.keys((await describe(again.bootstrapServers)).topics), [
    'after-upgrade',
    'orders',
    'payments',
  ]);
  assert.equal(again.clusterId, CLUSTER_ID);
  await again.close();
});

test('a node whose meta.properties names another cluster than its metadata log stops with one line', async () => {
  const dir = tempDir();
  const first = await startBroker({ dataDir: dir });
  const id = first.clusterId;
  await first.close();
  fs.writeFileSync(path.join(dir, 'meta.properties'), 'version=1\ncluster.id=SomeOtherCluster\nnode.id=1\n');
  await assert.rejects(startBroker({ dataDir: dir }), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(`belongs to cluster SomeOtherCluster, but the controller quorum is cluster ${id}`),
    );
    assert.ok(!err.message.includes('\n'));
    return true;
  });
});
