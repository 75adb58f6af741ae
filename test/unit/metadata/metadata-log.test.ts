/**
 * The __cluster_metadata log: offsets, leader epochs and the committed offset
 * of its batches; truncation never below the committed offset; snapshots
 * written, loaded and trimming the log; a restart (snapshot + tail) gives the
 * image the running controller had; a directory written by the JSON-framed
 * log of earlier versions is converted with nothing lost.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FileMetadataLog,
  LEGACY_METADATA_LOG_FILE,
  METADATA_PARTITION_DIR,
  snapshotFileName,
} from '../../../src/metadata/metadata-log.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { FileLogQuorum } from '../../helpers/file-log-quorum.ts';
import { Controller, type ControllerOptions } from '../../../src/metadata/controller.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { InvariantViolation } from '../../../src/storage/errors.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { FaultyIO, withFileIO } from '../storage/faults.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-metalog-'));
  dirs.push(d);
  return d;
}

async function open(dir: string, opts: Partial<ControllerOptions> = {}) {
  const log = await FileMetadataLog.open(dir);
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 2,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    ...opts,
  });
  await quorum.start();
  await controller.clusterId(); // the first active controller's first commit
  return { log, image, controller };
}

const snapshotEnd = (log: FileMetadataLog) => log.latestSnapshot?.endOffset;
const topic = (name: string): MetadataRecord => ({ type: 'Topic', name, topicId: `id-${name}` });
const ids = (n: number): MetadataRecord => ({ type: 'ProducerIds', nextProducerId: n });

/** Everything an image holds, in a form deepEqual compares. */
function dump(image: MetadataImage) {
  return { offset: image.epoch, records: image.toRecords(), partitionsOn1: image.partitionsOn(1) };
}

test('batches get consecutive offsets and the leader epoch of the run; the committed offset follows each append', async () => {
  const dir = tempDir();
  const a = await FileMetadataLog.open(dir);
  assert.equal(a.leaderEpoch, 0);
  assert.equal(a.committedOffset, 0);
  const b1 = await a.append([topic('a')]);
  const b2 = await a.append([ids(10), ids(20)]);
  const b3 = await a.append([ids(30), ids(40), ids(50)]);
  assert.deepEqual(
    [b1, b2, b3].map((b) => [b.baseOffset, b.lastOffset, b.leaderEpoch]),
    [
      [0, 0, 0],
      [1, 2, 0],
      [3, 5, 0],
    ],
  );
  assert.equal(a.committedOffset, 6);
  assert.equal(a.logEndOffset, 6);
  await a.close();

  // every start is a new leader epoch on one node
  const b = await FileMetadataLog.open(dir);
  assert.equal(b.leaderEpoch, 1);
  assert.equal(b.committedOffset, 6);
  await b.append([ids(60)]);
  assert.deepEqual(
    b.readBatches(0).map((x) => [x.baseOffset, x.lastOffset, x.leaderEpoch]),
    [
      [0, 0, 0],
      [1, 2, 0],
      [3, 5, 0],
      [6, 6, 1],
    ],
  );
  assert.deepEqual(
    b.readBatches(4).map((x) => x.baseOffset),
    [3, 6],
    'from the batch holding the offset',
  );
  assert.deepEqual(
    [...b.log.epochStartOffsets],
    [
      [0, 0],
      [1, 6],
    ],
  );
  await b.close();

  // the image's metadata offset is the offset of the last record applied (here the cluster id the controller wrote)
  const c = await open(dir);
  assert.equal(c.image.epoch, 7);
  assert.equal(c.image.nextProducerId, 60);
  await c.log.close();
});

test('truncation drops uncommitted batches and never goes below the committed offset; only committed batches are read', async () => {
  const dir = tempDir();
  const m = await FileMetadataLog.open(dir);
  await m.append([topic('kept')]);
  const u = m.appendUncommitted([ids(1), ids(2)]);
  assert.deepEqual([u.firstOffset, u.lastOffset], [1, 2]);
  assert.equal(m.committedOffset, 1);
  assert.equal(m.logEndOffset, 3);
  assert.deepEqual(
    m.readBatches(0).map((b) => b.lastOffset),
    [0],
    'the uncommitted batch is not read',
  );
  m.truncateTo(1);
  assert.equal(m.logEndOffset, 1);
  // a committed batch cannot be truncated away
  assert.throws(() => m.truncateTo(0), InvariantViolation);
  assert.equal(m.logEndOffset, 1);
  // appends go on at the truncation point
  const next = m.appendUncommitted([ids(3)]);
  assert.equal(next.firstOffset, 1);
  await m.log.flushedUpTo(next.lastOffset + 1);
  m.advanceCommittedOffset(next.lastOffset + 1);
  assert.throws(() => m.truncateTo(1), InvariantViolation);
  assert.throws(() => m.advanceCommittedOffset(5), InvariantViolation, 'nothing is committed above the durable end');
  await m.close();
  const again = await open(dir);
  assert.equal(again.image.nextProducerId, 3);
  assert.ok(again.image.topicsByName.has('kept'));
  await again.log.close();
});

test('a snapshot is written once enough bytes were appended; the log is trimmed up to it; restart = snapshot + tail gives the same image', async () => {
  const dir = tempDir();
  const a = await open(dir, { maxRecordBytesBetweenSnapshots: 4096 });
  await a.controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  for (let i = 0; i < 40; i++) {
    const [r] = await a.controller.createTopics(
      [{ name: `t${i}`, numPartitions: 3, replicationFactor: 1, configs: { 'retention.ms': String(i) } }],
      false,
    );
    assert.equal(r.errorCode, ErrorCode.NONE);
    if (i % 7 === 3) await a.controller.deleteTopic(a.image.topicsByName.get(`t${i - 1}`)!);
  }
  await a.controller.alterConfigs('broker', '1', { 'log.retention.ms': '1000' }, false);
  await a.controller.allocateProducerIds(1000);
  const snap = a.log.latestSnapshot;
  assert.ok(snap, 'a snapshot was written');
  assert.ok(snap.endOffset > 0 && snap.endOffset <= a.log.committedOffset);
  assert.equal(a.log.logStartOffset, snap.endOffset, 'the log starts at the snapshot');
  assert.ok(a.log.committedOffset > snap.endOffset, 'records after the snapshot: the tail');
  const partDir = path.join(dir, METADATA_PARTITION_DIR);
  const files = fs.readdirSync(partDir);
  assert.deepEqual(
    files.filter((f) => f.endsWith('.checkpoint')),
    [snapshotFileName(snap.endOffset, snap.epoch)],
    'older snapshots removed',
  );
  assert.ok(
    files.filter((f) => f.endsWith('.log')).every((f) => Number(f.slice(0, 20)) >= snap.endOffset),
    'segments below the snapshot deleted',
  );
  const before = dump(a.image);
  await a.log.close();

  const b = await open(dir, { maxRecordBytesBetweenSnapshots: 4096 });
  const loaded = b.log.load();
  assert.equal(loaded.snapshot?.endOffset, snap.endOffset);
  assert.ok(loaded.batches.length > 0 && loaded.batches[0].baseOffset === snap.endOffset);
  assert.deepEqual(dump(b.image), before);
  // and the restarted controller goes on from there
  const [r] = await b.controller.createTopics(
    [{ name: 'after', numPartitions: 1, replicationFactor: 1, configs: {} }],
    false,
  );
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(b.image.epoch, before.offset + 2, 'a Topic and a Partition record');
  await b.log.close();
});

test('a snapshot load reads only the snapshot and the tail; a trim that did not happen before a stop is done at the next start', async () => {
  const dir = tempDir();
  const a = await open(dir);
  for (let i = 0; i < 5; i++)
    await a.controller.createTopics([{ name: `t${i}`, numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  const end = a.log.committedOffset;
  const expected = dump(a.image);
  // the snapshot file as a snapshot write leaves it, without the trim after it
  const snapFile = path.join(dir, METADATA_PARTITION_DIR, snapshotFileName(end, 0));
  const { encodeSnapshot } = await import('../../../src/metadata/metadata-log.ts');
  fs.writeFileSync(snapFile, encodeSnapshot(a.image.toRecords()));
  await a.log.close();
  const b = await open(dir);
  assert.equal(b.log.logStartOffset, end);
  assert.deepEqual(b.log.log.segmentBaseOffsets, [end]);
  assert.deepEqual(dump(b.image), expected);
  await b.log.close();
});

test('a damaged snapshot stops the start', async () => {
  const dir = tempDir();
  const a = await open(dir, { maxRecordBytesBetweenSnapshots: 1 });
  await a.controller.createTopics([{ name: 'x', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  const snap = a.log.latestSnapshot!;
  await a.log.close();
  const file = path.join(dir, METADATA_PARTITION_DIR, snapshotFileName(snap.endOffset, snap.epoch));
  const data = fs.readFileSync(file);
  data[data.length - 5] ^= 0xff;
  fs.writeFileSync(file, data);
  await assert.rejects(FileMetadataLog.open(dir), /snapshot .* is damaged/);
});

test('a snapshot that cannot be written leaves the log untrimmed and the commit acknowledged', async () => {
  const dir = tempDir();
  const warnings: string[] = [];
  const a = await open(dir, { maxRecordBytesBetweenSnapshots: 1, logger: { warn: (_o, m) => warnings.push(m) } });
  const io = new FaultyIO().add({ op: 'write', kind: 'ENOSPC', file: (p) => p.endsWith('.checkpoint.tmp') });
  const [r] = await withFileIO(io, () =>
    a.controller.createTopics([{ name: 'x', numPartitions: 1, replicationFactor: 1, configs: {} }], false),
  );
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.ok(io.injected.length > 0);
  assert.equal(a.log.latestSnapshot, null);
  assert.equal(a.log.logStartOffset, 0);
  assert.ok(warnings.some((w) => /snapshot not written/.test(w)));
  assert.deepEqual(
    fs.readdirSync(path.join(dir, METADATA_PARTITION_DIR)).filter((f) => f.includes('checkpoint.tmp')),
    [],
  );
  // the next commit writes it
  await a.controller.createTopics([{ name: 'y', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  assert.equal(snapshotEnd(a.log), a.log.committedOffset);
  await a.log.close();
});

const FIXTURE = path.join(import.meta.dirname, '../../fixtures/legacy-metadata-dir');

/** The fixture's expected image (written by the JSON-framed log's own image) in the new image's terms. */
function legacyImage(image: MetadataImage) {
  return {
    nextProducerId: image.nextProducerId,
    brokers: [...image.brokers.values()].map((b) => ({ nodeId: b.nodeId, listeners: b.listeners, rack: b.rack })),
    brokerConfigs: Object.fromEntries([...image.brokerConfigs].map(([k, v]) => [k, Object.fromEntries(v)])),
    topics: [...image.topicsByName.values()].map((t) => ({
      name: t.name,
      topicId: t.topicId,
      partitions: t.partitions,
      configs: Object.fromEntries(t.configs),
    })),
  };
}

function copyFixture(): string {
  const dir = tempDir();
  fs.copyFileSync(path.join(FIXTURE, LEGACY_METADATA_LOG_FILE), path.join(dir, LEGACY_METADATA_LOG_FILE));
  return dir;
}

test('a data dir written by the JSON-framed metadata log is converted at first start with nothing lost', async () => {
  const { batches, ...expected } = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected-image.json'), 'utf8'));
  assert.equal(batches, 10);
  const dir = copyFixture();
  const a = await open(dir);
  assert.deepEqual(legacyImage(a.image), expected);
  assert.equal(fs.existsSync(path.join(dir, LEGACY_METADATA_LOG_FILE)), false, 'the old file is gone');
  const snap = a.log.latestSnapshot!;
  assert.ok(snap.endOffset > 0);
  assert.equal(a.image.epoch, snap.endOffset, 'the cluster id follows the converted records');
  // later commits follow the converted records, and both survive a restart
  await a.controller.createTopics([{ name: 'new', numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  assert.equal(a.image.epoch, snap.endOffset + 2);
  const running = dump(a.image);
  await a.log.close();
  const b = await open(dir);
  assert.deepEqual(dump(b.image), running);
  assert.ok(b.image.topicsByName.has('orders') && b.image.topicsByName.has('new'));
  await b.log.close();
});

test('conversion: the old file stays until the snapshot is durable; a start after an interrupted conversion finishes it', async () => {
  const { batches: _b, ...expected } = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'expected-image.json'), 'utf8'));
  const dir = copyFixture();
  const io = new FaultyIO().add({ op: 'fsync', kind: 'EIO', file: (p) => p.endsWith('.checkpoint.tmp') });
  await withFileIO(io, () => assert.rejects(FileMetadataLog.open(dir), /EIO/));
  assert.ok(io.injected.length > 0);
  assert.ok(fs.existsSync(path.join(dir, LEGACY_METADATA_LOG_FILE)), 'kept while the new log is not durable');
  const a = await open(dir);
  assert.deepEqual(legacyImage(a.image), expected);
  assert.equal(fs.existsSync(path.join(dir, LEGACY_METADATA_LOG_FILE)), false);
  await a.log.close();

  // converted, then stopped before the old file was removed: the snapshot wins
  const dir2 = copyFixture();
  const c = await open(dir2);
  const converted = dump(c.image);
  await c.log.close();
  fs.copyFileSync(path.join(FIXTURE, LEGACY_METADATA_LOG_FILE), path.join(dir2, LEGACY_METADATA_LOG_FILE));
  const d = await open(dir2);
  assert.deepEqual(dump(d.image), converted);
  assert.equal(fs.existsSync(path.join(dir2, LEGACY_METADATA_LOG_FILE)), false);
  await d.log.close();
});
