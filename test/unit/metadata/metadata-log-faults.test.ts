/**
 * The metadata log under injected write faults (test/unit/storage/faults.ts):
 * a commit that did not reach the disk whole fails its admin request and
 * leaves the image unchanged; every acknowledged record survives a restart,
 * including everything committed after a failed one; an fsync EIO stops all
 * further commits; a damaged record is never skipped.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FileMetadataLog,
  METADATA_PARTITION_DIR,
  RESERVE_BYTES,
  RESERVE_FILE,
} from '../../../src/metadata/metadata-log.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { FileLogQuorum } from '../../helpers/file-log-quorum.ts';
import { Controller } from '../../../src/metadata/controller.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { FaultyIO, withFileIO } from '../storage/faults.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-meta-faults-'));
  dirs.push(d);
  return d;
}

async function open(dir: string, onTruncate?: (n: number) => void, onBroken?: (reason: string) => void) {
  const log = await FileMetadataLog.open(dir, { onTruncate, onBroken });
  const image = new MetadataImage();
  const quorum = new FileLogQuorum(log, 1);
  const controller = new Controller(quorum, image, {
    nodeId: 1,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  await quorum.start();
  await controller.clusterId(); // the first active controller's first commit
  return { log, image, controller };
}

/** A segment file of the metadata log. */
const isMetaLog = (p: string) => p.includes(`/${METADATA_PARTITION_DIR}/`) && p.endsWith('.log');
const segmentFile = (dir: string) => path.join(dir, METADATA_PARTITION_DIR, '00000000000000000000.log');

async function create(c: Controller, name: string): Promise<number> {
  const [r] = await c.createTopics([{ name, numPartitions: 1, replicationFactor: 1, configs: {} }], false);
  return r.errorCode;
}

for (const kind of ['short', 'ENOSPC'] as const) {
  test(`a ${kind} write of a metadata record fails the request, and every acknowledged topic survives a restart`, async () => {
    const dir = tempDir();
    const a = await open(dir);
    assert.equal(await create(a.controller, 'first'), ErrorCode.NONE);
    // The disk stays full for this request, reserve or not.
    const io = new FaultyIO().add({ op: 'write', kind, file: isMetaLog, times: kind === 'short' ? 1 : Infinity });
    if (kind === 'short') io.add({ op: 'write', kind: 'ENOSPC', file: isMetaLog });
    const code = await withFileIO(io, () => create(a.controller, 'torn'));
    assert.ok(io.injected.length > 0, 'the fault was injected');
    assert.equal(code, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(a.image.topicsByName.has('torn'), false, 'the image is unchanged by a failed commit');
    // space is back: later commits succeed and are acknowledged
    assert.equal(await create(a.controller, '__consumer_offsets'), ErrorCode.NONE);
    assert.equal(await create(a.controller, 'last'), ErrorCode.NONE);
    await a.log.close();

    let truncated = 0;
    const b = await open(dir, (n) => (truncated += n));
    assert.deepEqual([...b.image.topicsByName.keys()].sort(), ['__consumer_offsets', 'first', 'last']);
    assert.equal(truncated, 0, 'nothing torn was left in the file');
    // re-creating the failed name makes a new, empty topic
    assert.equal(await create(b.controller, 'torn'), ErrorCode.NONE);
    await b.log.close();
  });
}

test('a full disk releases the reserve file so that a commit (a topic deletion) still succeeds', async () => {
  const dir = tempDir();
  const a = await open(dir);
  assert.equal(await create(a.controller, 'big'), ErrorCode.NONE);
  assert.ok(fs.existsSync(path.join(dir, RESERVE_FILE)));
  const io = new FaultyIO().add({ op: 'write', kind: 'ENOSPC', file: isMetaLog, times: 1 });
  const r = await withFileIO(io, () => a.controller.deleteTopic(a.image.topicsByName.get('big')!));
  assert.equal(io.injected.length, 1);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(a.image.topicsByName.has('big'), false);
  // put back by the next append once there is room
  assert.equal(await create(a.controller, 'next'), ErrorCode.NONE);
  assert.equal(fs.statSync(path.join(dir, RESERVE_FILE)).size, RESERVE_BYTES);
  await a.log.close();
  const b = await open(dir);
  assert.deepEqual([...b.image.topicsByName.keys()], ['next']);
  await b.log.close();
});

test('an fsync EIO on the metadata log fails the request and every later one until restart', async () => {
  const dir = tempDir();
  const broken: string[] = [];
  const a = await open(dir, undefined, (r) => broken.push(r));
  assert.equal(await create(a.controller, 'first'), ErrorCode.NONE);
  const io = new FaultyIO().add({ op: 'fdatasync', kind: 'EIO', file: isMetaLog, times: 1 });
  assert.equal(await withFileIO(io, () => create(a.controller, 'unsure')), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(a.image.topicsByName.has('unsure'), false);
  // The page cache may have dropped the bytes: nothing more is acknowledged from this log.
  assert.equal(await create(a.controller, 'after'), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(a.image.topicsByName.has('after'), false);
  assert.equal(broken.length, 1, 'reported once');
  assert.match(broken[0], /fsync failed/);
  await a.log.close();
  const b = await open(dir);
  assert.ok(b.image.topicsByName.has('first'));
  assert.equal(b.image.topicsByName.has('after'), false);
  await b.log.close();
});

test('random write faults: every acknowledged commit survives, no failed one is applied', async () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 20; round++) {
    const dir = tempDir();
    const a = await open(dir);
    const acked: string[] = [];
    const kinds = ['short', 'ENOSPC', 'EIO'] as const;
    const io = new FaultyIO()
      .add({ op: 'write', kind: kinds[rnd(3)], file: isMetaLog, skip: rnd(6), times: 1 + rnd(2) })
      .add({ op: 'write', kind: 'ENOSPC', file: isMetaLog, skip: rnd(8), times: 1 });
    await withFileIO(io, async () => {
      for (let i = 0; i < 10; i++) {
        const name = `t${round}-${i}`;
        const code = await create(a.controller, name);
        if (code === ErrorCode.NONE) acked.push(name);
        else assert.equal(a.image.topicsByName.has(name), false);
      }
    });
    await a.log.close();
    const b = await open(dir);
    assert.deepEqual([...b.image.topicsByName.keys()].sort(), [...acked].sort(), `round ${round}`);
    await b.log.close();
  }
});

test('a damaged record in the middle of the metadata log is not skipped: the log refuses to load', async () => {
  const dir = tempDir();
  const a = await open(dir);
  for (const n of ['one', 'two', 'three']) assert.equal(await create(a.controller, n), ErrorCode.NONE);
  await a.log.close();
  const file = segmentFile(dir);
  const data = fs.readFileSync(file);
  const second = 12 + data.readInt32BE(8); // the second batch: after the first one's log overhead and length
  data[second + 70] ^= 0xff; // a record byte of the second batch
  fs.writeFileSync(file, data);
  await assert.rejects(open(dir), /__cluster_metadata-0.*damaged/);
  assert.equal(fs.statSync(file).size, data.length, 'the file is left as found');
});

// A torn frame reported after a clean stop came from a short write during the run
// (left in the file, later frames written after it), not from the stop.
test('garbage or zeros after the last whole record are a torn tail: cut, the records before it kept', async () => {
  for (const tail of [Buffer.alloc(300), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919 + 13) & 0xff))]) {
    const dir = tempDir();
    const a = await open(dir);
    for (const n of ['one', 'two']) assert.equal(await create(a.controller, n), ErrorCode.NONE);
    await a.log.close();
    const file = segmentFile(dir);
    const good = fs.statSync(file).size;
    fs.appendFileSync(file, tail);
    let truncated = 0;
    const b = await open(dir, (n) => (truncated += n));
    assert.equal(truncated, tail.length);
    assert.equal(fs.statSync(file).size, good);
    assert.deepEqual([...b.image.topicsByName.keys()].sort(), ['one', 'two']);
    await b.log.close();
  }
});

test('a clean close after a failed append reopens without a torn tail', async () => {
  const dir = tempDir();
  const a = await open(dir);
  await a.controller.registerBroker([{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092 }]);
  assert.equal(await create(a.controller, 'one'), ErrorCode.NONE);
  const io = new FaultyIO()
    .add({ op: 'write', kind: 'short', file: isMetaLog, times: 1 })
    .add({ op: 'write', kind: 'ENOSPC', file: isMetaLog });
  assert.equal(await withFileIO(io, () => create(a.controller, 'failed')), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(await create(a.controller, 'two'), ErrorCode.NONE);
  await a.log.close();
  let truncated = 0;
  const b = await open(dir, (n) => (truncated += n));
  assert.equal(truncated, 0);
  assert.deepEqual([...b.image.topicsByName.keys()].sort(), ['one', 'two']);
  await b.log.close();
});
