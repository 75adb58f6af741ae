// Transactions in the log: open transactions in producer state, the last stable offset, the aborted-transaction index.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { ProducerStateManager } from '../../../src/storage/producer-state.ts';
import { TRANSACTIONAL_FLAG } from '../../../src/protocol/records/batch-header.ts';
import { encodeTxnMarkerBatch } from '../../../src/protocol/records/control.ts';
import { config, makeBatch, tempDir } from './fixtures.ts';

function txnBatch(pid: number, count: number, seq: number, epoch = 0): Buffer {
  return makeBatch(count, { producerId: pid, producerEpoch: epoch, baseSequence: seq, attributes: TRANSACTIONAL_FLAG });
}

function marker(pid: number, commit: boolean, epoch = 0, coordinatorEpoch = 0): Buffer {
  return encodeTxnMarkerBatch({ commit, producerId: pid, producerEpoch: epoch, coordinatorEpoch, timestamp: 1 });
}

async function withLog(fn: (dir: string) => Promise<void>): Promise<void> {
  const { dir, cleanup } = tempDir();
  try {
    await fn(path.join(dir, 'topic-0'));
  } finally {
    cleanup();
  }
}

test('the last stable offset stops at the oldest open transaction and passes a marker once the high watermark does', async () => {
  await withLog(async (d) => {
    const log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    log.append(makeBatch(2), { leaderEpoch: 0 }); // 0-1
    log.append(txnBatch(7, 3, 0), { leaderEpoch: 0 }); // 2-4, pid 7 opens at 2
    log.append(makeBatch(1), { leaderEpoch: 0 }); // 5
    log.append(txnBatch(8, 2, 0), { leaderEpoch: 0 }); // 6-7, pid 8 opens at 6
    log.append(txnBatch(7, 1, 3), { leaderEpoch: 0 }); // 8, pid 7 still open from 2
    log.setHighWatermark(9);
    assert.equal(log.lastStableOffset, 2);
    assert.equal(log.producerState.get(7)!.currentTxnFirstOffset, 2);
    log.append(marker(7, true), { leaderEpoch: 0 }); // 9: pid 7 commits
    assert.equal(log.producerState.get(7)!.currentTxnFirstOffset, -1);
    assert.equal(log.lastStableOffset, 2, 'the commit marker is not below the high watermark yet');
    log.setHighWatermark(10);
    assert.equal(log.lastStableOffset, 6, 'now pid 8 is the oldest open transaction');
    log.append(marker(8, false), { leaderEpoch: 0 }); // 10: pid 8 aborts
    log.setHighWatermark(11);
    assert.equal(log.lastStableOffset, 11);
    assert.deepEqual(log.abortedTransactions(0, 11), [
      { producerId: 8, firstOffset: 6, lastOffset: 10, lastStableOffset: 11 },
    ]);
    assert.deepEqual(log.abortedTransactions(0, 6), [], 'an abort starting at the upper bound is not in range');
    assert.deepEqual(log.abortedTransactions(11, 20), [], 'an abort ending before the fetch offset is not in range');
    // a commit marker wrote nothing to the index; the abort is in the segment's .txnindex
    assert.equal(fs.statSync(path.join(d, '00000000000000000000.txnindex')).size, 34);
    log.abandon();
  });
});

test('an abort records the last stable offset it left: the first offset of another open transaction', async () => {
  await withLog(async (d) => {
    const log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    log.append(txnBatch(1, 2, 0), { leaderEpoch: 0 }); // 0-1
    log.append(txnBatch(2, 2, 0), { leaderEpoch: 0 }); // 2-3
    log.append(marker(2, false), { leaderEpoch: 0 }); // 4
    assert.deepEqual(log.abortedTransactions(0, 5), [
      { producerId: 2, firstOffset: 2, lastOffset: 4, lastStableOffset: 0 },
    ]);
    log.setHighWatermark(5);
    assert.equal(log.lastStableOffset, 0);
    log.abandon();
  });
});

test('open transactions and coordinator epochs survive a clean restart (snapshot v2)', async () => {
  await withLog(async (d) => {
    let log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    log.append(txnBatch(3, 2, 0), { leaderEpoch: 0 }); // 0-1
    log.append(txnBatch(4, 1, 0), { leaderEpoch: 0 }); // 2
    log.append(marker(4, false, 0, 9), { leaderEpoch: 0 }); // 3
    log.setHighWatermark(4);
    assert.ok(await log.close());
    log = await PartitionLog.open(d, config(), { cleanShutdown: true, highWatermark: 4 });
    assert.equal(log.producerState.get(3)!.currentTxnFirstOffset, 0);
    assert.equal(log.producerState.get(4)!.coordinatorEpoch, 9);
    assert.equal(log.lastStableOffset, 0);
    assert.deepEqual(log.abortedTransactions(0, 4), [
      { producerId: 4, firstOffset: 2, lastOffset: 3, lastStableOffset: 0 },
    ]);
    log.abandon();
  });
});

test('a version 1 producer-state snapshot still loads (no open transactions)', async () => {
  await withLog(async (d) => {
    fs.mkdirSync(d, { recursive: true });
    // v1 layout: version, crc, count, producerId, epoch, lastTimestamp, n, n x (firstSeq, lastSeq, firstOffset, lastOffset)
    const body = Buffer.alloc(4 + 8 + 2 + 8 + 1 + 24);
    body.writeInt32BE(1, 0);
    body.writeBigInt64BE(42n, 4);
    body.writeInt16BE(5, 12);
    body.writeBigInt64BE(1000n, 14);
    body.writeInt8(1, 22);
    body.writeInt32BE(0, 23);
    body.writeInt32BE(4, 27);
    body.writeBigInt64BE(10n, 31);
    body.writeBigInt64BE(14n, 39);
    const { crc32c } = await import('@node-rs/crc32');
    const head = Buffer.alloc(6);
    head.writeInt16BE(1, 0);
    head.writeUInt32BE(crc32c(body) >>> 0, 2);
    const p = new ProducerStateManager(d);
    fs.writeFileSync(p.snapshotFile(15), Buffer.concat([head, body]));
    assert.ok(p.readSnapshot(15));
    assert.deepEqual(p.get(42), {
      producerId: 42,
      epoch: 5,
      lastTimestamp: 1000,
      batches: [{ firstSeq: 0, lastSeq: 4, firstOffset: 10, lastOffset: 14 }],
      currentTxnFirstOffset: -1,
      coordinatorEpoch: -1,
    });
    assert.equal(p.firstUnstableOffset(100), Infinity);
  });
});

test('recovery after a crash rebuilds open transactions and the aborted-transaction index', async () => {
  await withLog(async (d) => {
    let log = await PartitionLog.open(d, config({ segmentBytes: 300 }), { cleanShutdown: true });
    log.append(txnBatch(5, 2, 0), { leaderEpoch: 0 }); // 0-1
    log.append(txnBatch(6, 2, 0), { leaderEpoch: 0 }); // 2-3
    log.append(makeBatch(3), { leaderEpoch: 0 }); // 4-6
    log.append(marker(5, false), { leaderEpoch: 0 }); // 7
    log.append(txnBatch(5, 1, 2), { leaderEpoch: 0 }); // 8: a new transaction of pid 5
    await log.flush();
    const withIndex = log.segmentBaseOffsets.filter((b) =>
      fs.existsSync(path.join(d, `${String(b).padStart(20, '0')}.txnindex`)),
    );
    assert.equal(withIndex.length, 1);
    log.abandon(); // a crash: no snapshot at the log end
    for (const f of fs.readdirSync(d))
      if (f.endsWith('.txnindex') || f.endsWith('.snapshot')) fs.rmSync(path.join(d, f));
    log = await PartitionLog.open(d, config({ segmentBytes: 300 }), { cleanShutdown: false, recoveryPoint: 0 });
    log.setHighWatermark(9);
    assert.deepEqual(log.abortedTransactions(0, 9), [
      { producerId: 5, firstOffset: 0, lastOffset: 7, lastStableOffset: 2 },
    ]);
    assert.equal(log.producerState.get(5)!.currentTxnFirstOffset, 8);
    assert.equal(log.lastStableOffset, 2, 'pid 6 is still open from offset 2');
    log.abandon();
  });
});

test('truncation below an abort marker drops its index entry and reopens the transaction', async () => {
  await withLog(async (d) => {
    const log = await PartitionLog.open(d, config(), { cleanShutdown: true });
    log.append(txnBatch(5, 2, 0), { leaderEpoch: 0 }); // 0-1
    log.append(marker(5, false), { leaderEpoch: 0 }); // 2
    log.setHighWatermark(2);
    assert.equal(log.abortedTransactions(0, 3).length, 1);
    log.truncateTo(2);
    assert.deepEqual(log.abortedTransactions(0, 3), []);
    assert.equal(log.producerState.get(5)!.currentTxnFirstOffset, 0);
    assert.equal(log.lastStableOffset, 0);
    log.append(marker(5, false), { leaderEpoch: 1 }); // 2 again
    assert.equal(log.abortedTransactions(0, 3).length, 1);
    log.abandon();
  });
});

test('retention deletes a segment with its aborted-transaction index', async () => {
  await withLog(async (d) => {
    const log = await PartitionLog.open(d, config({ segmentBytes: 200, fileDeleteDelayMs: 0 }), {
      cleanShutdown: true,
    });
    log.append(txnBatch(5, 2, 0), { leaderEpoch: 0 });
    log.append(marker(5, false), { leaderEpoch: 0 });
    log.roll();
    log.append(makeBatch(1), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const file = path.join(d, '00000000000000000000.txnindex');
    assert.ok(fs.existsSync(file));
    await log.deleteRecordsBefore(3);
    assert.ok(!fs.existsSync(file));
    assert.deepEqual(log.abortedTransactions(3, 4), []);
    log.abandon();
  });
});

test('compaction: stops at the last stable offset; removes an aborted transaction, then its marker and index entry', async () => {
  const { cleanLog } = await import('../../../src/storage/cleaner.ts');
  const { encodeBatch } = await import('../../../src/protocol/records/record-batch.ts');
  const NOW = 10_000_000;
  const kv = (k: string, v: string, txn?: number) =>
    encodeBatch({
      producerId: txn ?? -1,
      producerEpoch: txn === undefined ? -1 : 0,
      baseSequence: txn === undefined ? -1 : (seq.get(txn) ?? 0),
      isTransactional: txn !== undefined,
      records: [{ key: k, value: v, timestamp: NOW - 5000 }],
    });
  const seq = new Map<number, number>();
  const txnKv = (k: string, v: string, pid: number) => {
    const b = kv(k, v, pid);
    seq.set(pid, (seq.get(pid) ?? 0) + 1);
    return b;
  };
  const mark = (pid: number, commit: boolean) =>
    encodeTxnMarkerBatch({ commit, producerId: pid, producerEpoch: 0, coordinatorEpoch: 0, timestamp: NOW - 5000 });
  await withLog(async (d) => {
    const cfg = config({ cleanupPolicy: 'compact', deleteRetentionMs: 1000, minCompactionLagMs: 0 });
    const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, now: () => NOW });
    const append = (b: Buffer) => log.append(b, { leaderEpoch: 0 });
    append(kv('k', 'plain')); // 0
    append(txnKv('k', 'aborted', 1)); // 1
    append(txnKv('x', 'aborted', 1)); // 2
    append(kv('y', 'y0')); // 3
    append(mark(1, false)); // 4
    append(txnKv('y', 'committed', 2)); // 5
    append(mark(2, true)); // 6
    append(txnKv('z', 'open', 3)); // 7: open, the last stable offset
    log.roll();
    append(kv('z', 'later')); // 8
    log.roll();
    append(kv('tail', 't')); // 9
    log.setHighWatermark(log.logEndOffset);
    assert.equal(log.lastStableOffset, 7);
    const values = () => {
      const out: string[] = [];
      for (let off = log.logStartOffset; off < log.logEndOffset; ) {
        const r = log.read(off, 1 << 20);
        const buf = Buffer.concat(r.batches);
        for (let at = 0; at < buf.length; ) {
          const size = 12 + buf.readInt32BE(at + 8);
          const base = Number(buf.readBigInt64BE(at));
          const isControl = (buf.readInt16BE(at + 21) & 0x20) !== 0;
          out.push(isControl ? `marker@${base}` : `${base}`);
          off = base + buf.readInt32BE(at + 23) + 1;
          at += size;
        }
      }
      return out;
    };
    // nothing is cleaned: the first segment holds the open transaction (below the LSO only whole segments)
    cleanLog(log, NOW, { info() {}, warn() {}, error() {} });
    assert.deepEqual(values(), ['0', '1', '2', '3', 'marker@4', '5', 'marker@6', '7', '8', '9']);
    append(mark(3, true)); // 10
    append(txnKv('w', 'w1', 1)); // 11: pid 1 again, committed
    append(mark(1, true)); // 12
    log.roll();
    append(kv('end', 'e')); // 13
    log.setHighWatermark(log.logEndOffset);
    assert.equal(log.lastStableOffset, 14);
    // 'k' plain at 0 stays (the aborted 'k' does not shadow it); y0 superseded by the committed y, the
    // committed z by the later z; the aborted batches go, their marker stays (this pass saw them)
    cleanLog(log, NOW, { info() {}, warn() {}, error() {} });
    assert.deepEqual(values(), ['0', 'marker@4', '5', 'marker@6', '8', '9', 'marker@10', '11', 'marker@12', '13']);
    assert.deepEqual(log.abortedTransactions(0, 14), [
      { producerId: 1, firstOffset: 1, lastOffset: 4, lastStableOffset: 5 },
    ]);
    // the next pass sees no batch of the aborted transaction: its marker, older than delete.retention.ms,
    // goes with its index entry (so that pid 1's committed w is not taken for aborted); the others stay
    cleanLog(log, NOW, { info() {}, warn() {}, error() {} });
    assert.deepEqual(values(), ['0', '5', 'marker@6', '8', '9', 'marker@10', '11', 'marker@12', '13']);
    assert.deepEqual(log.abortedTransactions(0, 14), []);
    assert.equal(fs.statSync(path.join(d, '00000000000000000000.txnindex')).size, 0);
    log.abandon();
  });
});
