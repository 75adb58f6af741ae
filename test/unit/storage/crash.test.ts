// Crash recovery: torn and corrupt log tails, damaged index files; no flushed batch lost, no corrupt batch served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { isBatchCrcValid, batch as hdr } from '../../../src/protocol/records/batch-header.ts';
import { batchOffsets, config, joined, makeBatch, tempDir } from './fixtures.ts';

const noFsync = async () => {};
const cfg = config({ indexIntervalBytes: 150, segmentBytes: 4000 });

/** Every batch the log serves, read offset by offset. */
function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let off = log.logStartOffset;
  while (off < log.logEndOffset) {
    const r = joined(log.read(off, 1 << 20, { maxOffset: log.logEndOffset }));
    assert.ok(r.length > 0, `read at ${off} returned nothing`);
    for (let at = 0; at < r.length; at += hdr.totalSize(r, at))
      assert.ok(isBatchCrcValid(r, at, hdr.totalSize(r, at)), 'served a corrupt batch');
    parts.push(r);
    const bs = batchOffsets(r);
    off = bs[bs.length - 1].last + 1;
  }
  return Buffer.concat(parts);
}

async function build(
  d: string,
  n: number,
): Promise<{ bytes: Buffer; flushedEnd: number; lastBatchPos: number; segFile: string }> {
  const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, fsync: noFsync });
  for (let i = 0; i < n - 1; i++) log.append(makeBatch(3, { timestamp: 1000 + i }, 20), { leaderEpoch: 1 });
  await log.flush();
  const flushedEnd = log.logEndOffset;
  log.append(makeBatch(3, { timestamp: 5000 }, 20), { leaderEpoch: 1 });
  log.setHighWatermark(log.recoveryPoint);
  const seg = log.segmentBaseOffsets.at(-1)!;
  log.abandon(); // power cut: nothing more written
  const segFile = path.join(d, String(seg).padStart(20, '0') + '.log');
  const bytes = fs.readFileSync(segFile);
  let lastBatchPos = 0;
  for (let at = 0; at < bytes.length; at += hdr.totalSize(bytes, at)) lastBatchPos = at;
  return { bytes, flushedEnd, lastBatchPos, segFile };
}

test('a log cut at every byte of its last batch recovers every flushed batch and accepts appends', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-0');
    const { bytes, flushedEnd, lastBatchPos, segFile } = await build(d, 12);
    for (let cut = lastBatchPos; cut <= bytes.length; cut++) {
      fs.writeFileSync(segFile, bytes.subarray(0, cut));
      const log = await PartitionLog.open(d, cfg, { recoveryPoint: flushedEnd, fsync: noFsync });
      const whole = cut === bytes.length;
      assert.equal(log.logEndOffset, whole ? flushedEnd + 3 : flushedEnd, `cut at ${cut}`);
      assert.equal(log.recoveryPoint, log.logEndOffset);
      log.setHighWatermark(log.logEndOffset);
      assert.deepEqual(readAll(log), bytes.subarray(0, whole ? bytes.length : lastBatchPos));
      assert.equal(log.append(makeBatch(1, { timestamp: 5000 }), { leaderEpoch: 1 }).firstOffset, log.logEndOffset - 1);
      log.setHighWatermark(log.logEndOffset);
      assert.equal(batchOffsets(readAll(log)).at(-1)!.last, log.logEndOffset - 1);
      log.abandon();
    }
  } finally {
    cleanup();
  }
});

test('a flipped byte in the last batch drops that batch only; in an older batch, recovery stops before it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-0');
    const { bytes, flushedEnd, lastBatchPos, segFile } = await build(d, 10);
    const size = hdr.totalSize(bytes, lastBatchPos);
    // baseOffset (@0..7) and partitionLeaderEpoch (@12..15) are outside the CRC, as in Kafka.
    for (let i = 8; i < size; i++) {
      if (i >= 12 && i < 16) continue;
      const bad = Buffer.from(bytes);
      bad[lastBatchPos + i] ^= 0x5a;
      fs.writeFileSync(segFile, bad);
      const log = await PartitionLog.open(d, cfg, { recoveryPoint: 0, fsync: noFsync });
      assert.equal(log.logEndOffset, flushedEnd, `flip at ${i}`);
      readAll(log);
      log.abandon();
    }
    const bad = Buffer.from(bytes);
    bad[200] ^= 0xff;
    fs.writeFileSync(segFile, bad);
    const log = await PartitionLog.open(d, cfg, { recoveryPoint: 0, fsync: noFsync });
    const served = readAll(log);
    assert.ok(served.length <= 200);
    assert.deepEqual(served, bytes.subarray(0, served.length));
    log.abandon();
  } finally {
    cleanup();
  }
});

test('missing, truncated or garbage index files are rebuilt, even after a clean shutdown', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-0');
    let log = await PartitionLog.open(d, cfg, { cleanShutdown: true, fsync: noFsync });
    for (let i = 0; i < 80; i++) log.append(makeBatch(2, { timestamp: 1000 + i }, 30), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const expected = readAll(log);
    const ts = log.offsetForTimestamp(1040);
    assert.ok(log.segmentBaseOffsets.length > 1);
    await log.close();
    const idx = fs.readdirSync(d).filter((f) => f.endsWith('.index') || f.endsWith('.timeindex'));
    const damage: ((f: string) => void)[] = [
      (f) => fs.rmSync(f),
      (f) => fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 5)),
      (f) => fs.writeFileSync(f, Buffer.alloc(fs.statSync(f).size + 24, 0)),
      (f) => fs.writeFileSync(f, Buffer.from(Array.from({ length: 96 }, (_, i) => (i * 37 + 11) & 0xff))),
    ];
    for (const hurt of damage) {
      for (const f of idx) if (fs.existsSync(path.join(d, f))) hurt(path.join(d, f));
      log = await PartitionLog.open(d, cfg, { cleanShutdown: true, fsync: noFsync });
      assert.deepEqual(readAll(log), expected);
      assert.deepEqual(log.offsetForTimestamp(1040), ts);
      assert.equal(log.logEndOffset, 160);
      await log.close();
    }
  } finally {
    cleanup();
  }
});

test('kill -9 (no close, data in the page cache) loses nothing; producer state and epochs come back', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-0');
    let log = await PartitionLog.open(d, cfg, { cleanShutdown: true, fsync: noFsync });
    for (let i = 0; i < 50; i++)
      log.append(makeBatch(2, { producerId: 42, producerEpoch: 1, baseSequence: i * 2 }, 30), {
        leaderEpoch: i < 25 ? 4 : 5,
      });
    log.abandon();
    log = await PartitionLog.open(d, cfg, { recoveryPoint: 0, fsync: noFsync });
    assert.equal(log.logEndOffset, 100);
    assert.deepEqual(
      [...log.epochStartOffsets],
      [
        [4, 0],
        [5, 50],
      ],
    );
    assert.deepEqual(log.producerState.check(42, 1, 98, 99), { duplicateOf: { firstOffset: 98, lastOffset: 99 } });
    assert.equal(log.producerState.check(42, 1, 100, 101), 'ok');
    assert.equal(log.producerState.check(42, 1, 102, 103), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
    log.abandon();
  } finally {
    cleanup();
  }
});
