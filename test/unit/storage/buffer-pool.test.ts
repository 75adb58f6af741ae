// Pooled read memory: buffers come back only once retired and unpinned; pinned
// fetch slices keep their bytes while the tail cache moves on; reads without
// pins get copies of their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BufferPool, PooledBuffer, sharedBufferPool } from '../../../src/storage/buffer-pool.ts';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { InvariantViolation } from '../../../src/storage/errors.ts';
import { batchOffsets, config, joined, makeBatch, tempDir } from './fixtures.ts';

test('a buffer is reused only after it is retired and its last pin is gone', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.acquire(100_000);
  assert.equal(a.buf.length, BufferPool.capacityFor(100_000));
  assert.equal(a.buf.length, 131072);
  a.pin();
  a.pin();
  a.retire();
  assert.equal(pool.idle, 0, 'pinned: not back yet');
  a.unpin();
  assert.equal(pool.idle, 0);
  assert.notEqual(pool.acquire(100_000), a, 'still pinned once: a fresh buffer');
  a.unpin();
  assert.equal(pool.idle, 131072);
  assert.equal(pool.acquire(120_000), a, 'same size class: reused');
  assert.equal(pool.idle, 0);
});

test('pin misuse is an invariant violation, not silent reuse', () => {
  const pool = new BufferPool(1 << 20);
  const a = pool.acquire(10);
  assert.throws(() => a.unpin(), InvariantViolation);
  a.retire();
  assert.throws(() => a.retire(), InvariantViolation);
  assert.throws(() => a.pin(), InvariantViolation, 'back in the pool: may not be pinned');
});

test('idle memory is capped; oversize buffers are never pooled', () => {
  const pool = new BufferPool(200_000);
  const bufs = [pool.acquire(65536), pool.acquire(65536), pool.acquire(65536), pool.acquire(65536)];
  for (const b of bufs) b.retire();
  assert.equal(pool.idle, 196608, 'three of 64 KiB fit under 200,000 bytes, the fourth is dropped');
  const huge = pool.acquire(17 * 1024 * 1024);
  assert.equal(huge.buf.length, 17 * 1024 * 1024);
  huge.retire();
  assert.equal(pool.idle, 196608);
});

async function withLog(fn: (log: PartitionLog) => Promise<void> | void, tailCacheBytes = 64 * 1024) {
  const { dir, cleanup } = tempDir();
  const log = await PartitionLog.open(path.join(dir, 'topic-0'), config(), { cleanShutdown: true, tailCacheBytes });
  try {
    await fn(log);
  } finally {
    log.abandon();
    cleanup();
  }
}

test('a pinned tail slice keeps its bytes while later appends evict and reuse chunks', async () => {
  await withLog((log) => {
    log.append(makeBatch(10, {}, 1000), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const pins: PooledBuffer[] = [];
    const before = PooledBuffer.outstandingPins;
    const r = log.read(0, 1 << 20, { pins });
    assert.equal(pins.length, 1, 'served from one tail chunk');
    assert.equal(PooledBuffer.outstandingPins, before + 1);
    assert.equal(r.batches[0].buffer, pins[0].buf.buffer, 'a slice of the chunk, not a copy');
    const copy = Buffer.from(joined(r));
    // Far more than the 64 KiB cache: the pinned chunk is evicted, others cycle through the pool.
    for (let i = 0; i < 200; i++) log.append(makeBatch(10, {}, 1000), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    assert.deepEqual(joined(r), copy, 'the pinned slice still holds offsets 0-9');
    assert.deepEqual(batchOffsets(joined(r)), [{ base: 0, last: 9 }]);
    for (const p of pins) p.unpin();
    assert.equal(PooledBuffer.outstandingPins, before);
  });
});

test('a pread into pooled memory goes back to the pool when unpinned', async () => {
  await withLog((log) => {
    for (let i = 0; i < 50; i++) log.append(makeBatch(10, {}, 1000), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const pins: PooledBuffer[] = [];
    const r = log.read(0, 200_000, { pins }); // offset 0 left the 64 KiB tail long ago
    assert.equal(pins.length, 1);
    assert.ok(r.bytes > 150_000);
    assert.deepEqual(batchOffsets(joined(r))[0], { base: 0, last: 9 });
    const idle = sharedBufferPool.idle;
    pins[0].unpin();
    assert.equal(sharedBufferPool.idle, idle + pins[0].buf.length);
  });
});

test('reads without pins return copies that later appends cannot change', async () => {
  await withLog((log) => {
    log.append(makeBatch(5, {}, 1000), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const before = PooledBuffer.outstandingPins;
    const r = log.read(0, 1 << 20);
    assert.equal(PooledBuffer.outstandingPins, before, 'nothing pinned');
    const copy = Buffer.from(joined(r));
    for (let i = 0; i < 200; i++) log.append(makeBatch(10, {}, 1000), { leaderEpoch: 0 });
    assert.deepEqual(joined(r), copy);
  });
});

test('a large append that lies in a pooled buffer (a Produce frame) is kept in the tail by a pin, not copied', async () => {
  await withLog((log) => {
    const batch = makeBatch(100, {}, 1000); // ~100 KB: above the adoption threshold
    const frame = sharedBufferPool.acquire(batch.length + 64);
    const records = frame.buf.subarray(64, 64 + batch.length);
    batch.copy(records);
    const before = PooledBuffer.outstandingPins;
    log.append(records, { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    assert.equal(PooledBuffer.outstandingPins, before + 1, 'the tail pinned the frame');
    // The connection is done with the request: the frame stays out of the pool while the tail holds it.
    const idle = sharedBufferPool.idle;
    frame.retire();
    assert.equal(sharedBufferPool.idle, idle);
    const pins: PooledBuffer[] = [];
    const r = log.read(0, 1 << 20, { pins });
    assert.equal(r.batches[0].buffer, frame.buf.buffer, 'served from the frame itself');
    assert.deepEqual(batchOffsets(joined(r)), [{ base: 0, last: 99 }]);
    for (const p of pins) p.unpin();
    // Later appends move the 64 KiB tail past it: the last pin goes and the frame is reused.
    for (let i = 0; i < 100; i++) log.append(makeBatch(10, {}, 1000), { leaderEpoch: 0 });
    assert.equal(PooledBuffer.outstandingPins, before, 'the tail let go of the frame (its own chunks take no pins)');
    assert.equal(sharedBufferPool.acquire(batch.length + 64), frame, 'back in the pool');
  });
});

test('small appends and appends outside pooled memory are copied into the tail', async () => {
  await withLog((log) => {
    const frame = sharedBufferPool.acquire(8192);
    const small = makeBatch(5, {}, 1000);
    small.copy(frame.buf);
    log.append(frame.buf.subarray(0, small.length), { leaderEpoch: 0 });
    const big = makeBatch(100, {}, 1000); // plain memory: not adoptable
    log.append(big, { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const pins: PooledBuffer[] = [];
    const r = log.read(0, 1 << 20, { pins });
    assert.notEqual(r.batches[0].buffer, frame.buf.buffer, 'the small batch was copied');
    assert.ok(
      r.batches.every((b) => b.buffer !== big.buffer),
      'the plain one was not kept by reference',
    );
    for (const p of pins) p.unpin();
    frame.retire();
  });
});

test('an append that is a small part of a large pooled buffer is not adopted (the tail would pin far more than it counts)', async () => {
  await withLog((log) => {
    const batch = makeBatch(100, {}, 1000); // ~100 KB in a 1 MiB request of several partitions
    const frame = sharedBufferPool.acquire(1 << 20);
    batch.copy(frame.buf, 500_000);
    const before = PooledBuffer.outstandingPins;
    log.append(frame.buf.subarray(500_000, 500_000 + batch.length), { leaderEpoch: 0 });
    assert.equal(PooledBuffer.outstandingPins, before, 'not pinned');
    frame.retire();
  });
});
