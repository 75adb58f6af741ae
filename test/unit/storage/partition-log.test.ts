// PartitionLog behaviour: offsets, reads (KIP-74, maxOffset), rolling, indexes, timestamps, group commit, retention, truncation, epochs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { InvariantViolation, OffsetOutOfRangeError } from '../../../src/storage/errors.ts';
import { batch as hdr } from '../../../src/protocol/records/batch-header.ts';
import { batchOffsets, config, joined, makeBatch, tempDir } from './fixtures.ts';

async function withLog(
  over: Parameters<typeof config>[0],
  fn: (log: PartitionLog, dir: string) => Promise<void>,
  opts = {},
) {
  const { dir, cleanup } = tempDir();
  const d = path.join(dir, 'topic-0');
  const log = await PartitionLog.open(d, config(over), { cleanShutdown: true, ...opts });
  try {
    await fn(log, d);
  } finally {
    log.abandon();
    cleanup();
  }
}

test('append assigns offsets from the log end offset and reads return whole batches', async () => {
  await withLog({}, async (log) => {
    const a = log.append(makeBatch(3), { leaderEpoch: 0 });
    const b = log.append(Buffer.concat([makeBatch(2), makeBatch(4)]), { leaderEpoch: 0 });
    assert.deepEqual([a.firstOffset, a.lastOffset, b.firstOffset, b.lastOffset], [0, 2, 3, 8]);
    assert.equal(a.logAppendTime, -1);
    assert.equal(log.logEndOffset, 9);
    assert.equal(log.highWatermark, 0);
    log.setHighWatermark(9);
    const r = log.read(4, 1 << 20);
    assert.deepEqual(batchOffsets(joined(r)), [
      { base: 3, last: 4 },
      { base: 5, last: 8 },
    ]);
    assert.equal(r.bytes, joined(r).length);
    assert.deepEqual(log.read(9, 100), { batches: [], bytes: 0 });
    assert.throws(() => log.read(10, 100), OffsetOutOfRangeError);
    assert.throws(() => log.setHighWatermark(10), InvariantViolation);
  });
});

test('maxOffset bounds a read and minOneBatch returns an oversized first batch (KIP-74)', async () => {
  await withLog({}, async (log) => {
    for (let i = 0; i < 5; i++) log.append(makeBatch(2, {}, 100), { leaderEpoch: 0 });
    const size = hdr.totalSize(joined(log.read(0, 1 << 20)), 0);
    assert.deepEqual(
      batchOffsets(joined(log.read(0, 1 << 20, { maxOffset: 4 }))).map((b) => b.base),
      [0, 2],
    );
    assert.equal(log.read(0, 10).bytes, size);
    assert.equal(log.read(0, 10, { minOneBatch: false }).bytes, 0);
    assert.equal(log.read(0, size * 2 + 5).bytes, size * 2);
  });
});

test('segments roll on segment.bytes and index fullness; reads cross them; files are named by base offset', async () => {
  await withLog({ segmentBytes: 1000, indexIntervalBytes: 1, segmentIndexBytes: 8 * 4 }, async (log, d) => {
    for (let i = 0; i < 40; i++) log.append(makeBatch(2, {}, 50), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    assert.ok(log.segmentBaseOffsets.length > 5);
    for (const base of log.segmentBaseOffsets)
      assert.ok(fs.existsSync(path.join(d, String(base).padStart(20, '0') + '.log')));
    for (let off = 0; off < 80; off += 7) {
      const r = log.read(off, 1 << 20);
      const bs = batchOffsets(joined(r));
      assert.ok(bs[0].base <= off && off <= bs[0].last, `read at ${off}`);
    }
  });
});

test('segment.ms rolls on the batch timestamps', async () => {
  await withLog({ segmentMs: 1000 }, async (log) => {
    log.append(makeBatch(1, { timestamp: 10_000 }), { leaderEpoch: 0 });
    log.append(makeBatch(1, { timestamp: 10_500 }), { leaderEpoch: 0 });
    log.append(makeBatch(1, { timestamp: 11_200 }), { leaderEpoch: 0 });
    assert.deepEqual(log.segmentBaseOffsets, [0, 2]);
  });
});

test('LogAppendTime patches timestamps and CRC', async () => {
  await withLog({}, async (log) => {
    const info = log.append(makeBatch(2, { timestamp: 5 }), { leaderEpoch: 3, logAppendTime: 99_000 });
    assert.equal(info.logAppendTime, 99_000);
    assert.equal(info.maxTimestamp, 99_000);
    log.setHighWatermark(2);
    const b = joined(log.read(0, 1000));
    assert.equal(hdr.maxTimestamp(b, 0), 99_000);
    assert.equal(hdr.partitionLeaderEpoch(b, 0), 3);
    assert.ok(hdr.isLogAppendTime(b, 0));
  });
});

test('offsetForTimestamp uses the time index; latestTimestampOffset finds the max', async () => {
  await withLog({ indexIntervalBytes: 100, segmentBytes: 3000 }, async (log) => {
    for (let i = 0; i < 60; i++) log.append(makeBatch(2, { timestamp: 1000 + i * 10 }), { leaderEpoch: 0 });
    log.append(makeBatch(1, { timestamp: 500 }), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    for (const [ts, off] of [
      [0, 0],
      [1000, 0],
      [1001, 2],
      [1250, 50],
      [1590, 118],
    ])
      assert.deepEqual(log.offsetForTimestamp(ts)?.offset, off, `ts ${ts}`);
    assert.equal(log.offsetForTimestamp(1591), null);
    assert.deepEqual(log.latestTimestampOffset(), { offset: 118, timestamp: 1590 });
  });
});

test('group commit: concurrent waiters share fsyncs; waiters arriving mid-fsync wait for the next one', async () => {
  const pending: (() => void)[] = [];
  let calls = 0;
  const fsync = (_fd: number) => {
    calls++;
    return new Promise<void>((r) => pending.push(r));
  };
  await withLog(
    {},
    async (log) => {
      log.append(makeBatch(1), { leaderEpoch: 0 });
      let firstDone = false;
      const first = log.flushedUpTo(1).then(() => (firstDone = true));
      assert.equal(calls, 1);
      const later: Promise<void>[] = [];
      const done: number[] = [];
      for (let i = 0; i < 50; i++) {
        const info = log.append(makeBatch(1), { leaderEpoch: 0 });
        later.push(log.flushedUpTo(info.lastOffset + 1).then(() => void done.push(i)));
      }
      assert.equal(calls, 1, 'no second fsync while one runs');
      pending.shift()!();
      await first;
      assert.ok(firstDone);
      assert.equal(done.length, 0, 'later waiters need the next fsync');
      while (calls < 2) await new Promise((r) => setImmediate(r));
      assert.equal(calls, 2);
      pending.shift()!();
      await Promise.all(later);
      assert.equal(done.length, 50);
      assert.equal(calls, 2, '51 waiters, 2 fsyncs');
      assert.equal(log.recoveryPoint, 51);
      await log.flushedUpTo(51); // already durable: no fsync
      assert.equal(calls, 2);
    },
    { fsync },
  );
});

test('flush.messages triggers a background flush; a failing fsync rejects its waiters', async () => {
  let calls = 0;
  let fail = false;
  const fsync = async () => {
    calls++;
    if (fail) throw new Error('EIO');
  };
  await withLog(
    { flushMessages: 3 },
    async (log) => {
      log.append(makeBatch(2), { leaderEpoch: 0 });
      assert.equal(calls, 0);
      log.append(makeBatch(1), { leaderEpoch: 0 });
      while (log.recoveryPoint < 3) await new Promise((r) => setImmediate(r));
      assert.equal(calls, 1);
      fail = true;
      log.append(makeBatch(1), { leaderEpoch: 0 });
      await assert.rejects(log.flushedUpTo(4), /EIO/);
      assert.equal(log.recoveryPoint, 3);
    },
    { fsync },
  );
});

test('retention.bytes and retention.ms delete whole old segments, never the active one, never above the high watermark', async () => {
  let now = 1_000_000;
  await withLog(
    { segmentBytes: 500, retentionBytes: 1200, fileDeleteDelayMs: 0 },
    async (log, d) => {
      for (let i = 0; i < 20; i++) log.append(makeBatch(1, { timestamp: now }, 100), { leaderEpoch: 0 });
      const segs = log.segmentBaseOffsets.length;
      assert.equal(log.deleteOldSegments(), 0, 'nothing below the high watermark yet');
      log.setHighWatermark(log.logEndOffset);
      const n = log.deleteOldSegments();
      assert.ok(n > 0 && log.segmentBaseOffsets.length === segs - n);
      assert.ok(log.size <= 1200 + 500);
      assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
      assert.throws(() => log.read(0, 100), OffsetOutOfRangeError);
      assert.equal(fs.readdirSync(d).filter((f) => f.endsWith('.deleted')).length, 0);
      log.updateConfig(config({ segmentBytes: 500, retentionMs: 1000, fileDeleteDelayMs: 0 }));
      now += 5000;
      log.deleteOldSegments(now);
      assert.equal(log.segmentBaseOffsets.length, 1);
      assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
    },
    { now: () => now },
  );
});

test('deleteRecordsBefore moves the log start offset (not above the high watermark)', async () => {
  await withLog({ segmentBytes: 400, fileDeleteDelayMs: 0 }, async (log) => {
    for (let i = 0; i < 10; i++) log.append(makeBatch(2, {}, 100), { leaderEpoch: 0 });
    log.setHighWatermark(10);
    await assert.rejects(log.deleteRecordsBefore(11), OffsetOutOfRangeError);
    await log.deleteRecordsBefore(7);
    assert.equal(log.logStartOffset, 7);
    assert.ok(log.segmentBaseOffsets[0] <= 7);
    assert.throws(() => log.read(6, 100), OffsetOutOfRangeError);
    assert.equal(batchOffsets(joined(log.read(7, 1000)))[0].base, 6, 'the batch holding 7 starts at 6');
    assert.throws(() => log.setHighWatermark(5), InvariantViolation);
  });
});

test('truncateTo drops the tail (never below the high watermark) and appends continue', async () => {
  await withLog({ segmentBytes: 400 }, async (log) => {
    for (let i = 0; i < 10; i++) log.append(makeBatch(2, {}, 100), { leaderEpoch: i < 5 ? 1 : 2 });
    log.setHighWatermark(6);
    assert.throws(() => log.truncateTo(4), InvariantViolation);
    log.truncateTo(12);
    assert.equal(log.logEndOffset, 12);
    assert.deepEqual(
      [...log.epochStartOffsets],
      [
        [1, 0],
        [2, 10],
      ],
    );
    log.truncateTo(8);
    assert.equal(log.logEndOffset, 8);
    assert.deepEqual([...log.epochStartOffsets], [[1, 0]]);
    assert.equal(log.append(makeBatch(1), { leaderEpoch: 3 }).firstOffset, 8);
    log.setHighWatermark(9);
    assert.deepEqual(batchOffsets(joined(log.read(8, 1000))), [{ base: 8, last: 8 }]);
  });
});

test('leader-epoch cache answers OffsetForLeaderEpoch and survives reopen', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-1');
    let log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    log.append(makeBatch(3), { leaderEpoch: 1 });
    log.append(makeBatch(3), { leaderEpoch: 3 });
    log.append(makeBatch(3), { leaderEpoch: 3 });
    assert.throws(() => log.append(makeBatch(1), { leaderEpoch: 2 }), InvariantViolation);
    assert.deepEqual(log.endOffsetForEpoch(3), { epoch: 3, endOffset: 9 });
    assert.deepEqual(log.endOffsetForEpoch(2), { epoch: 1, endOffset: 3 });
    assert.deepEqual(log.endOffsetForEpoch(0), { epoch: 0, endOffset: 0 });
    assert.deepEqual(log.endOffsetForEpoch(4), { epoch: -1, endOffset: -1 });
    await log.close();
    log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    assert.deepEqual(
      [...log.epochStartOffsets],
      [
        [1, 0],
        [3, 3],
      ],
    );
    await log.close();
  } finally {
    cleanup();
  }
});

test('forEachBatchHeader walks headers from the batch holding an offset', async () => {
  await withLog({ segmentBytes: 300 }, async (log) => {
    for (let i = 0; i < 8; i++)
      log.append(makeBatch(2, { producerId: 7, producerEpoch: 0, baseSequence: i * 2 }), { leaderEpoch: 0 });
    const seen: number[] = [];
    log.forEachBatchHeader(5, (b, at) => void seen.push(hdr.baseSequence(b, at)));
    assert.deepEqual(seen, [4, 6, 8, 10, 12, 14]);
  });
});
