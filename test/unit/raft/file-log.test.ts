/**
 * The Raft log contract (src/raft/types.ts RaftLog) on real files
 * (src/raft/file-log.ts over the metadata log): leader and follower appends,
 * chunk checks, truncation, end offsets per epoch, leader-change control
 * batches skipped by the metadata readers, snapshots served and installed,
 * the durable end after a flush, and the quorum-state file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileRaftLog, InvalidChunkError } from '../../../src/raft/file-log.ts';
import { FileQuorumStateStore, QUORUM_STATE_FILE } from '../../../src/raft/quorum-state.ts';
import { METADATA_PARTITION_DIR, snapshotFileName } from '../../../src/metadata/metadata-log.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { InvariantViolation } from '../../../src/storage/errors.ts';
import { type FileIO, realFileIO } from '../../../src/storage/file-io.ts';
import { OFF_CRC } from '../../../src/protocol/records/batch-header.ts';
import { withFileIO } from '../storage/faults.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-raftlog-'));
  dirs.push(d);
  return d;
}

const rec = (r: MetadataRecord): Uint8Array => Buffer.from(JSON.stringify(r));
const ids = (n: number): MetadataRecord => ({ type: 'ProducerIds', nextProducerId: n });
const topic = (name: string): MetadataRecord => ({ type: 'Topic', name, topicId: `id-${name}` });

test('leader appends: a leader change first, then batches with the epoch; end offsets per epoch; reads give raw batches', async () => {
  const log = await FileRaftLog.open(tempDir());
  assert.deepEqual([log.startOffset, log.endOffset, log.durableEndOffset, log.lastEpoch()], [0, 0, 0, 0]);
  assert.equal(log.read(0, 1024), null, 'nothing to read in an empty log');
  assert.deepEqual(log.appendLeaderChange(1, 1, [1, 2, 3]), { baseOffset: 0, lastOffset: 0, epoch: 1 });
  assert.deepEqual(log.appendAsLeader([rec(topic('a'))], 1), { baseOffset: 1, lastOffset: 1, epoch: 1 });
  assert.deepEqual(log.appendAsLeader([rec(ids(1)), rec(ids(2))], 1), { baseOffset: 2, lastOffset: 3, epoch: 1 });
  assert.deepEqual(log.appendLeaderChange(3, 2, [1, 2, 3]), { baseOffset: 4, lastOffset: 4, epoch: 3 });
  assert.deepEqual(log.appendAsLeader([rec(ids(3))], 3), { baseOffset: 5, lastOffset: 5, epoch: 3 });
  assert.equal(log.endOffset, 6);
  assert.equal(log.lastEpoch(), 3);
  assert.throws(() => log.appendAsLeader([], 3), /empty batch/);

  // KIP-595: the largest epoch <= the asked one, with its end offset
  assert.deepEqual(log.endOffsetForEpoch(1), { offset: 4, epoch: 1 });
  assert.deepEqual(log.endOffsetForEpoch(2), { offset: 4, epoch: 1 }, 'epoch 2 wrote nothing: epoch 1 ends at 4');
  assert.deepEqual(log.endOffsetForEpoch(3), { offset: 6, epoch: 3 });
  assert.deepEqual(log.endOffsetForEpoch(7), { offset: 6, epoch: 3 });
  assert.deepEqual(log.endOffsetForEpoch(0), { offset: -1, epoch: -1 }, 'older than anything in the log');

  const all = log.read(0, 1 << 20)!;
  assert.deepEqual(log.describe(all), [
    { baseOffset: 0, lastOffset: 0, epoch: 1 },
    { baseOffset: 1, lastOffset: 1, epoch: 1 },
    { baseOffset: 2, lastOffset: 3, epoch: 1 },
    { baseOffset: 4, lastOffset: 4, epoch: 3 },
    { baseOffset: 5, lastOffset: 5, epoch: 3 },
  ]);
  const one = log.read(3, 1)!;
  assert.deepEqual(
    log.describe(one),
    [{ baseOffset: 2, lastOffset: 3, epoch: 1 }],
    'the batch holding the offset, whole',
  );

  // nothing is committed until the quorum says so; then control batches are left out of what is read back
  assert.equal(log.committedOffset, 0);
  assert.deepEqual(log.readCommitted(0, 6), []);
  log.markCommitted(6);
  assert.deepEqual(
    log.readCommitted(0, 6).map((b) => [b.baseOffset, b.lastOffset, b.leaderEpoch, b.records.length]),
    [
      [1, 1, 1, 1],
      [2, 3, 1, 2],
      [5, 5, 3, 1],
    ],
  );
  assert.deepEqual(
    log.meta.load().batches.map((b) => b.baseOffset),
    [1, 2, 5],
    'load skips control batches too',
  );
  await log.close();
});

test('follower appends the leader’s chunks as they are; bad chunks are refused with nothing appended', async () => {
  const leader = await FileRaftLog.open(tempDir());
  leader.appendLeaderChange(1, 1, [1, 2]);
  leader.appendAsLeader([rec(topic('a'))], 1);
  leader.appendLeaderChange(2, 1, [1, 2]);
  leader.appendAsLeader([rec(ids(5)), rec(ids(6))], 2);
  const follower = await FileRaftLog.open(tempDir());

  const chunk = leader.read(0, 1 << 20)!;
  const bad = (mutate: (b: Buffer) => Buffer, why: RegExp) => {
    assert.throws(
      () => follower.appendAsFollower(mutate(Buffer.from(chunk))),
      (e: Error) => {
        assert.ok(e instanceof InvalidChunkError, String(e));
        assert.match(e.message, why);
        return true;
      },
    );
    assert.equal(follower.endOffset, 0, 'nothing appended');
  };
  bad((b) => {
    b[b.length - 1] ^= 0xff;
    return b;
  }, /CRC/);
  bad((b) => b.subarray(0, b.length - 3), /claims|trailing/);
  bad((b) => {
    b.writeUInt32BE(0, OFF_CRC);
    return b;
  }, /CRC/);
  bad((b) => b.subarray(firstBatchSize(chunk)), /starts at offset 1/);
  // an epoch going down inside the chunk (the header's epoch is outside the CRC)
  bad((b) => {
    b.writeInt32BE(1, batchStarts(chunk)[3] + 12);
    return b;
  }, /epoch 1, below 2/);
  bad((b) => {
    b.writeInt32BE(1 << 30, 8); // the first batch's length
    return b;
  }, /claims/);

  follower.appendAsFollower(chunk);
  assert.deepEqual([follower.endOffset, follower.lastEpoch()], [5, 2]);
  assert.deepEqual(follower.read(0, 1 << 20), chunk, 'byte for byte the leader’s batches');
  assert.deepEqual(
    [...follower.meta.log.epochStartOffsets],
    [
      [1, 0],
      [2, 2],
    ],
  );
  assert.deepEqual(follower.endOffsetForEpoch(1), leader.endOffsetForEpoch(1));

  // a chunk that does not start at the log end, and one of an older epoch than the log's last
  assert.throws(() => follower.appendAsFollower(chunk), /starts at offset 0, the log ends at 5/);
  leader.appendAsLeader([rec(ids(7))], 2);
  follower.appendAsFollower(leader.read(5, 1 << 20)!);
  assert.equal(follower.endOffset, 6);
  const other = await FileRaftLog.open(tempDir());
  other.appendLeaderChange(1, 3, [1, 2]);
  for (let i = 0; i < 6; i++) other.appendAsLeader([rec(ids(i))], 1);
  assert.throws(() => follower.appendAsFollower(other.read(6, 1 << 20)!), /epoch 1 is below the log's last epoch 2/);
  await Promise.all([leader.close(), follower.close(), other.close()]);
});

function firstBatchSize(chunk: Buffer): number {
  return 12 + chunk.readInt32BE(8);
}

function batchStarts(chunk: Buffer): number[] {
  const out: number[] = [];
  for (let at = 0; at < chunk.length; at += 12 + chunk.readInt32BE(at + 8)) out.push(at);
  return out;
}

test('truncation drops the tail and its epochs, never below the committed offset; a reopened log commits nothing until told', async () => {
  const dir = tempDir();
  const log = await FileRaftLog.open(dir);
  log.appendLeaderChange(1, 1, [1]);
  log.appendAsLeader([rec(ids(1))], 1);
  log.appendLeaderChange(2, 1, [1]);
  log.appendAsLeader([rec(ids(2))], 2);
  log.appendAsLeader([rec(ids(3))], 2);
  await log.flush();
  log.markCommitted(2);
  assert.throws(() => log.truncateTo(1), InvariantViolation);
  log.truncateTo(3);
  assert.deepEqual([log.endOffset, log.lastEpoch(), log.durableEndOffset], [3, 2, 3]);
  log.truncateTo(2);
  assert.deepEqual([log.endOffset, log.lastEpoch()], [2, 1]);
  assert.deepEqual(log.endOffsetForEpoch(2), { offset: 2, epoch: 1 });
  log.appendLeaderChange(4, 2, [1]);
  assert.deepEqual(log.endOffsetForEpoch(3), { offset: 2, epoch: 1 });
  assert.deepEqual(log.endOffsetForEpoch(4), { offset: 3, epoch: 4 });
  await log.close();

  const again = await FileRaftLog.open(dir);
  assert.deepEqual([again.startOffset, again.endOffset, again.lastEpoch(), again.committedOffset], [0, 3, 4, 0]);
  again.truncateTo(1); // below what the last run had committed: Raft's to decide, the log allows it
  assert.equal(again.endOffset, 1);
  await again.close();
});

test('snapshots: the leader serves a snapshot in byte ranges; a follower installs it and continues after it', async () => {
  const leader = await FileRaftLog.open(tempDir());
  leader.appendLeaderChange(1, 1, [1, 2]);
  const records: MetadataRecord[] = [];
  for (let i = 0; i < 30; i++) {
    records.push(topic(`t${i}`));
    leader.appendAsLeader([rec(topic(`t${i}`))], 1);
  }
  leader.appendLeaderChange(2, 1, [1, 2]);
  await leader.flush();
  leader.markCommitted(leader.endOffset);
  await leader.writeSnapshot(32, records);
  assert.deepEqual(leader.latestSnapshot(), { offset: 32, epoch: 2 });
  assert.equal(leader.startOffset, 32, 'the log starts at the snapshot');
  assert.equal(leader.lastEpoch(), 2);
  assert.deepEqual(leader.endOffsetForEpoch(1), { offset: -1, epoch: -1 }, 'epoch 1 is wholly in the snapshot');
  assert.deepEqual(leader.endOffsetForEpoch(2), { offset: 32, epoch: 2 });
  leader.appendAsLeader([rec(ids(100))], 2);

  const id = leader.latestSnapshot()!;
  const file = path.join(leader.partitionDir, snapshotFileName(32, 2));
  const size = fs.statSync(file).size;
  const parts: Uint8Array[] = [];
  for (let pos = 0; pos < size; ) {
    const r = leader.readSnapshot(id, pos, 100)!;
    assert.equal(r.size, size);
    assert.ok(r.bytes.length > 0 && r.bytes.length <= 100, `chunk of ${r.bytes.length} bytes`);
    parts.push(r.bytes);
    pos += r.bytes.length;
  }
  assert.deepEqual(leader.readSnapshot(id, size, 100)!.bytes.length, 0);
  assert.equal(leader.readSnapshot(id, size + 1, 100), null, 'past the end');
  assert.equal(leader.readSnapshot({ offset: 31, epoch: 2 }, 0, 100), null, 'no such snapshot');
  const bytes = Buffer.concat(parts);
  assert.deepEqual(bytes, fs.readFileSync(file));

  // a follower with a divergent, shorter log
  const fdir = tempDir();
  const follower = await FileRaftLog.open(fdir);
  follower.appendLeaderChange(1, 2, [1, 2]);
  follower.appendAsLeader([rec(ids(1))], 1);
  follower.appendAsLeader([rec(ids(2))], 1);
  const damaged = Buffer.from(bytes);
  damaged[damaged.length - 1] ^= 1;
  assert.throws(() => follower.installSnapshot(id, damaged), /damaged/);
  assert.equal(follower.endOffset, 3, 'nothing changed by a damaged snapshot');
  follower.installSnapshot(id, bytes);
  assert.deepEqual(
    [
      follower.startOffset,
      follower.endOffset,
      follower.durableEndOffset,
      follower.committedOffset,
      follower.lastEpoch(),
    ],
    [32, 32, 32, 32, 2],
  );
  assert.deepEqual(follower.latestSnapshot(), id);
  assert.deepEqual(follower.endOffsetForEpoch(2), { offset: 32, epoch: 2 });
  assert.deepEqual(follower.snapshot()!.records, records);
  follower.appendAsFollower(leader.read(32, 1 << 20)!);
  assert.deepEqual([follower.endOffset, follower.lastEpoch()], [33, 2]);
  await follower.flush();
  await follower.close();

  const again = await FileRaftLog.open(fdir);
  assert.deepEqual([again.startOffset, again.endOffset, again.lastEpoch()], [32, 33, 2]);
  assert.deepEqual(again.snapshot()!.records, records);
  assert.deepEqual(
    fs.readdirSync(again.partitionDir).filter((f) => f.endsWith('.checkpoint') && f !== 'leader-epoch-checkpoint'),
    [snapshotFileName(32, 2)],
  );
  await Promise.all([again.close(), leader.close()]);
});

test('a snapshot installed where a segment of the log starts: that segment is emptied and kept, the others go', async () => {
  const leader = await FileRaftLog.open(tempDir());
  leader.appendLeaderChange(2, 1, [1, 2]);
  for (let i = 0; i < 4; i++) leader.appendAsLeader([rec(ids(i))], 2);
  await leader.flush();
  leader.markCommitted(5);
  await leader.writeSnapshot(5, [ids(3)]);
  const snap = leader.readSnapshot({ offset: 5, epoch: 2 }, 0, 1 << 20)!;

  const fdir = tempDir();
  const follower = await FileRaftLog.open(fdir);
  follower.appendLeaderChange(1, 2, [1, 2]);
  for (let i = 0; i < 4; i++) follower.appendAsLeader([rec(ids(100 + i))], 1);
  follower.meta.log.roll();
  follower.appendAsLeader([rec(ids(200))], 1);
  assert.deepEqual(follower.meta.log.segmentBaseOffsets, [0, 5]);
  follower.installSnapshot({ offset: 5, epoch: 2 }, snap.bytes);
  assert.deepEqual(follower.meta.log.segmentBaseOffsets, [5]);
  assert.deepEqual([follower.startOffset, follower.endOffset, follower.lastEpoch()], [5, 5, 2]);
  assert.equal(follower.read(5, 1024), null);
  leader.appendAsLeader([rec(ids(9))], 2);
  follower.appendAsFollower(leader.read(5, 1024)!);
  await follower.flush();
  await follower.close();
  const again = await FileRaftLog.open(fdir);
  assert.deepEqual([again.startOffset, again.endOffset, again.lastEpoch()], [5, 6, 2]);
  assert.deepEqual(
    fs.readdirSync(again.partitionDir).filter((f) => f.endsWith('.log')),
    ['00000000000000000005.log'],
  );
  await Promise.all([again.close(), leader.close()]);
});

test('a follower far behind installs a snapshot past its log end and reopens there', async () => {
  const leader = await FileRaftLog.open(tempDir());
  leader.appendLeaderChange(3, 1, [1, 2]);
  for (let i = 0; i < 9; i++) leader.appendAsLeader([rec(ids(i))], 3);
  await leader.flush();
  leader.markCommitted(10);
  await leader.writeSnapshot(10, [ids(9)]);
  const snap = leader.readSnapshot(leader.latestSnapshot()!, 0, 1 << 20)!;

  const fdir = tempDir();
  const follower = await FileRaftLog.open(fdir);
  follower.installSnapshot({ offset: 10, epoch: 3 }, snap.bytes);
  assert.deepEqual([follower.startOffset, follower.endOffset, follower.lastEpoch()], [10, 10, 3]);
  assert.deepEqual(follower.endOffsetForEpoch(5), { offset: 10, epoch: 3 });
  assert.deepEqual(follower.endOffsetForEpoch(2), { offset: -1, epoch: -1 });
  leader.appendLeaderChange(5, 1, [1, 2]);
  follower.appendAsFollower(leader.read(10, 1 << 20)!);
  assert.deepEqual([follower.endOffset, follower.lastEpoch()], [11, 5]);
  assert.deepEqual(
    follower.endOffsetForEpoch(4),
    { offset: 10, epoch: 3 },
    'the snapshot’s epoch ends where the log starts',
  );
  await follower.close();
  const again = await FileRaftLog.open(fdir);
  assert.deepEqual([again.startOffset, again.endOffset, again.lastEpoch(), again.committedOffset], [10, 11, 5, 10]);
  await Promise.all([again.close(), leader.close()]);
});

/** A FileIO whose fdatasyncs wait until released. */
class GatedIO implements FileIO {
  held: (() => void)[] = [];
  started = 0;
  write = realFileIO.write;
  fsync = realFileIO.fsync;
  fdatasync(fd: number, cb: (err: NodeJS.ErrnoException | null) => void): void {
    this.started++;
    this.held.push(() => realFileIO.fdatasync(fd, cb));
  }
  release(): void {
    const h = this.held;
    this.held = [];
    for (const f of h) f();
  }
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('the durable end follows flushes; a flush that overlapped a truncation does not cover what was appended after it', async () => {
  const log = await FileRaftLog.open(tempDir());
  const io = new GatedIO();
  await withFileIO(io, async () => {
    log.appendLeaderChange(1, 1, [1]);
    log.appendAsLeader([rec(ids(1))], 1);
    log.appendAsLeader([rec(ids(2))], 1);
    assert.equal(log.durableEndOffset, 0);
    let done = false;
    const first = log.flush().then(() => (done = true));
    await until(() => io.held.length > 0, 'the first fdatasync');
    // while that fsync runs: the tail is replaced (a follower truncating on divergence)
    log.truncateTo(1);
    log.appendAsLeader([rec(ids(3))], 2);
    log.appendAsLeader([rec(ids(4))], 2);
    const startedBefore = io.started;
    io.release();
    await until(() => done || io.held.length > 0, 'the flush to end or fsync again');
    assert.equal(done, false, 'the flush did not end on an fsync issued before the appends');
    assert.ok(log.durableEndOffset <= 1, `durable end ${log.durableEndOffset}`);
    assert.ok(io.started > startedBefore, 'another fsync was issued');
    io.release();
    await first;
    assert.equal(log.durableEndOffset, 3);
  });
  await log.close();
});

test('quorum-state: written atomically, read back after a restart; a damaged file stops the node', () => {
  const dir = path.join(tempDir(), METADATA_PARTITION_DIR);
  fs.mkdirSync(dir);
  const store = new FileQuorumStateStore(dir);
  assert.equal(store.read(), null);
  store.write({ epoch: 3, votedId: 2, leaderId: -1 });
  store.write({ epoch: 4, votedId: -1, leaderId: 1 });
  assert.deepEqual(store.read(), { epoch: 4, votedId: -1, leaderId: 1 });
  assert.deepEqual(new FileQuorumStateStore(dir).read(), { epoch: 4, votedId: -1, leaderId: 1 });
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, QUORUM_STATE_FILE), 'utf8')), {
    leaderId: 1,
    leaderEpoch: 4,
    votedId: -1,
    data_version: 0,
  });
  assert.deepEqual(fs.readdirSync(dir), [QUORUM_STATE_FILE], 'no temp file left');
  assert.throws(() => store.write({ epoch: 1.5, votedId: -1, leaderId: -1 }), RangeError);
  fs.writeFileSync(path.join(dir, QUORUM_STATE_FILE), '{"leaderEpoch": 2');
  assert.throws(() => new FileQuorumStateStore(dir).read(), /not a quorum state/);
  fs.writeFileSync(path.join(dir, QUORUM_STATE_FILE), '{"leaderEpoch": 2, "leaderId": 1}');
  assert.throws(() => new FileQuorumStateStore(dir).read(), /votedId/);
});

test('a failed fsync fails the flush and the log takes no more appends', async () => {
  const log = await FileRaftLog.open(tempDir());
  const io: FileIO = {
    write: realFileIO.write,
    fsync: realFileIO.fsync,
    fdatasync: (_fd, cb) => setImmediate(() => cb(Object.assign(new Error('EIO: injected'), { code: 'EIO' }))),
  };
  await withFileIO(io, async () => {
    log.appendLeaderChange(1, 1, [1]);
    await assert.rejects(log.flush(), /EIO|failed/);
  });
  assert.equal(log.durableEndOffset, 0);
  assert.throws(() => log.appendAsLeader([rec(ids(1))], 1), /KAFKA_STORAGE_ERROR|failed|storage/i);
  await log.close();
});
