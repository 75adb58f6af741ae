/**
 * The controller's caps on topics in the cluster (samsa.max.topics) and
 * partitions hosted by a broker (samsa.max.partitions): a create or
 * CreatePartitions that would pass either is refused with POLICY_VIOLATION and
 * a message naming the property, nothing is written, and the counts the caps
 * are checked against follow creates, partition additions and deletes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileMetadataLog } from '../../../src/metadata/metadata-log.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { FileLogQuorum } from '../../helpers/file-log-quorum.ts';
import { Controller, type CreateTopicSpec } from '../../../src/metadata/controller.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function open(caps: { maxTopics: number; maxPartitions: number }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-caps-'));
  dirs.push(dir);
  const log = await FileMetadataLog.open(dir);
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    ...caps,
  });
  await quorum.start();
  await controller.clusterId(); // the first active controller's first commit
  return {
    image,
    controller,
    async reopen() {
      await log.close();
      const again = new MetadataImage();
      const quorum = new FileLogQuorum(await FileMetadataLog.open(dir), 1);
      new Controller(quorum, again, {
        nodeId: 1,
        defaultPartitions: 1,
        defaultReplicationFactor: 1,
        validateConfig: () => null,
        ...caps,
      });
      await quorum.start();
      return again;
    },
  };
}

const spec = (name: string, numPartitions: number): CreateTopicSpec => ({
  name,
  numPartitions,
  replicationFactor: 1,
  configs: {},
});

test('topics over samsa.max.topics: POLICY_VIOLATION naming the cap; topics within it in the same request are created', async () => {
  const { image, controller } = await open({ maxTopics: 3, maxPartitions: 1000 });
  await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const r = await controller.createTopics([spec('a', 1), spec('b', 1), spec('c', 1), spec('d', 1)], false);
  assert.deepEqual(
    r.map((x) => x.errorCode),
    [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE, ErrorCode.POLICY_VIOLATION],
  );
  assert.match(r[3].errorMessage!, /samsa\.max\.topics/);
  assert.match(r[3].errorMessage!, /\b3\b/);
  assert.equal(image.topicsByName.has('d'), false);
  // validateOnly is refused the same way
  const [v] = await controller.createTopics([spec('e', 1)], true);
  assert.equal(v.errorCode, ErrorCode.POLICY_VIOLATION);
  // a delete makes room again
  await controller.deleteTopic(image.topicsByName.get('a')!);
  const [again] = await controller.createTopics([spec('d', 1)], false);
  assert.equal(again.errorCode, ErrorCode.NONE);
  assert.equal(image.topicCount, 3);
});

test('partitions over samsa.max.partitions: POLICY_VIOLATION on CreateTopics and CreatePartitions; counts survive a restart', async () => {
  const m = await open({ maxTopics: 100, maxPartitions: 10 });
  const { image, controller } = m;
  await controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  const r = await controller.createTopics([spec('six', 6), spec('five', 5), spec('four', 4)], false);
  assert.deepEqual(
    r.map((x) => x.errorCode),
    [ErrorCode.NONE, ErrorCode.POLICY_VIOLATION, ErrorCode.NONE],
  );
  assert.match(r[1].errorMessage!, /samsa\.max\.partitions/);
  assert.match(r[1].errorMessage!, /\b10\b/);
  assert.equal(image.partitionsOn(1), 10);

  await controller.deleteTopic(image.topicsByName.get('four')!);
  assert.equal(image.partitionsOn(1), 6);
  const grow = await controller.createPartitions('six', 11, false);
  assert.equal(grow.errorCode, ErrorCode.POLICY_VIOLATION);
  assert.match(grow.errorMessage!, /samsa\.max\.partitions/);
  assert.equal(image.topicsByName.get('six')!.partitions.length, 6);
  const ok = await controller.createPartitions('six', 10, false);
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(image.partitionsOn(1), 10);
  const [full] = await controller.createTopics([spec('one', 1)], true);
  assert.equal(full.errorCode, ErrorCode.POLICY_VIOLATION);

  const replayed = await m.reopen();
  assert.equal(replayed.partitionsOn(1), 10);
  assert.equal(replayed.topicCount, 1);
});
