/**
 * Storage writers under injected faults (faults.ts): segment appends, index
 * files, checkpoints, producer-state snapshots, the cleaner and fsync. After
 * any fault the operation failed and was not acknowledged, or it is durable:
 * reopen (with recovery) and check. ENOSPC marks the log dir full until a
 * probe write succeeds; an fsync error marks it failed for good.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { readCheckpoint, writeCheckpoint } from '../../../src/storage/checkpoint.ts';
import { ProducerStateManager } from '../../../src/storage/producer-state.ts';
import { cleanLog } from '../../../src/storage/cleaner.ts';
import { KafkaStorageError } from '../../../src/storage/errors.ts';
import { batch as hdr, isBatchCrcValid } from '../../../src/protocol/records/batch-header.ts';
import { config, joined, makeBatch, silent, tempDir } from './fixtures.ts';
import { FaultyIO, withFileIO } from './faults.ts';

const cfg = config({ indexIntervalBytes: 100, segmentBytes: 1500 });
const endsWith = (s: string) => (p: string) => p.endsWith(s);

/** Every batch the log serves from its start, concatenated. */
function readAll(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let off = log.logStartOffset;
  while (off < log.logEndOffset) {
    const r = joined(log.read(off, 1 << 20, { maxOffset: log.logEndOffset }));
    if (r.length === 0) break;
    for (let at = 0; at < r.length; at += hdr.totalSize(r, at)) {
      assert.ok(isBatchCrcValid(r, at, hdr.totalSize(r, at)), 'served a corrupt batch');
      off = hdr.lastOffset(r, at) + 1;
    }
    parts.push(r);
  }
  return Buffer.concat(parts);
}

/** Map offset -> the bytes of the batch holding it, for the batches in `buf`. */
function byBase(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  for (let at = 0; at < buf.length; at += hdr.totalSize(buf, at))
    m.set(hdr.baseOffset(buf, at), Buffer.from(buf.subarray(at, at + hdr.totalSize(buf, at))));
  return m;
}

for (const kind of ['short', 'ENOSPC'] as const) {
  test(`segment append: a ${kind} write fails the append, leaves no bytes behind, and the dir is full until a probe succeeds`, async () => {
    const { dir, cleanup } = tempDir();
    try {
      const d = path.join(dir, 't-0');
      const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, logger: silent });
      log.append(makeBatch(2), { leaderEpoch: 0 });
      await log.flush();
      const sizeBefore = log.size;
      const io = new FaultyIO().add({ op: 'write', kind, file: endsWith('.log'), times: 1 });
      if (kind === 'short') io.add({ op: 'write', kind: 'ENOSPC', file: endsWith('.log'), times: 1 });
      await withFileIO(io, () => {
        assert.throws(() => log.append(makeBatch(3), { leaderEpoch: 0 }), KafkaStorageError);
      });
      assert.equal(log.logEndOffset, 2);
      assert.equal(log.size, sizeBefore);
      assert.equal(
        fs.statSync(path.join(d, '00000000000000000000.log')).size,
        sizeBefore,
        'the partial write was cut off',
      );
      assert.equal(log.dirHealth.state, 'full');
      // Refused without touching the disk while full.
      assert.throws(() => log.append(makeBatch(1), { leaderEpoch: 0 }), KafkaStorageError);
      // Reads are still served.
      assert.equal(byBase(readAll(log)).size, 1);
      assert.equal(log.dirHealth.probe(), true);
      assert.equal(log.dirHealth.state, 'online');
      assert.equal(log.append(makeBatch(3), { leaderEpoch: 0 }).firstOffset, 2);
      await log.flush();
      log.abandon();
      const back = await PartitionLog.open(d, cfg, { recoveryPoint: 0, logger: silent });
      assert.equal(back.logEndOffset, 5);
      back.abandon();
    } finally {
      cleanup();
    }
  });
}

test('fsync EIO: the waiting acks fail with a storage error, the dir is failed for good, nothing more is acknowledged', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const d = path.join(dir, 't-0');
    const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, logger: silent });
    log.append(makeBatch(2), { leaderEpoch: 0 });
    await log.flush();
    const io = new FaultyIO().add({ op: 'fdatasync', kind: 'EIO', times: 1 });
    await withFileIO(io, async () => {
      log.append(makeBatch(2), { leaderEpoch: 0 });
      const waits = [log.flushedUpTo(3), log.flushedUpTo(4)];
      for (const w of waits) await assert.rejects(w, KafkaStorageError);
    });
    assert.equal(log.dirHealth.state, 'failed');
    assert.equal(log.recoveryPoint, 2, 'the recovery point did not move past the failed fsync');
    // A retried fsync would succeed now, but the data may be gone from the page cache: never acknowledged.
    await assert.rejects(log.flushedUpTo(4), KafkaStorageError);
    assert.throws(() => log.append(makeBatch(1), { leaderEpoch: 0 }), KafkaStorageError);
    assert.equal(log.dirHealth.probe(), false, 'a failed dir does not come back by a probe');
    log.abandon();
  } finally {
    cleanup();
  }
});

test('index files: a failed write at roll fails the append, and a clean reopen serves exactly the acknowledged batches', async () => {
  for (const suffix of ['.index', '.timeindex']) {
    const { dir, cleanup } = tempDir();
    try {
      const d = path.join(dir, 't-0');
      const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, logger: silent });
      const io = new FaultyIO()
        .add({ op: 'write', kind: 'short', file: endsWith(suffix), times: 1 })
        .add({ op: 'write', kind: 'ENOSPC', file: endsWith(suffix) });
      let acked = 0;
      await withFileIO(io, () => {
        for (let i = 0; i < 40; i++) {
          try {
            log.append(makeBatch(2, { timestamp: 1000 + i }, 30), { leaderEpoch: 0 });
            acked += 2;
          } catch (err) {
            assert.ok(err instanceof KafkaStorageError, String(err));
          }
        }
      });
      assert.ok(io.injected.length > 0, `a ${suffix} write was attempted`);
      assert.equal(log.logEndOffset, acked);
      assert.equal(log.dirHealth.probe(), true);
      await log.close();
      const back = await PartitionLog.open(d, cfg, { cleanShutdown: true, logger: silent });
      assert.equal(back.logEndOffset, acked);
      back.setHighWatermark(back.logEndOffset);
      let n = 0;
      for (const [base] of byBase(readAll(back))) assert.equal(base, n++ * 2);
      assert.equal(n * 2, acked);
      back.abandon();
    } finally {
      cleanup();
    }
  }
});

test('checkpoint: a short write or a failed fsync fails the write and leaves the old file whole', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = path.join(dir, 'recovery-point-offset-checkpoint');
    writeCheckpoint(file, [['a', 0, 10]]);
    for (const rule of [
      { op: 'write', kind: 'short', times: 1 },
      { op: 'write', kind: 'ENOSPC' },
      { op: 'fsync', kind: 'EIO' },
    ] as const) {
      const io = new FaultyIO().add(rule);
      if (rule.kind === 'short') io.add({ op: 'write', kind: 'ENOSPC' });
      const many = Array.from({ length: 500 }, (_, i) => ['topic', i, i * 1000]);
      await withFileIO(io, () => assert.throws(() => writeCheckpoint(file, many)));
      assert.deepEqual(readCheckpoint(file), [['a', '0', '10']], `${rule.op} ${rule.kind}`);
      assert.equal(fs.existsSync(file + '.tmp'), false, 'no temp file left taking space');
    }
  } finally {
    cleanup();
  }
});

test('producer-state snapshot: a short write fails the snapshot and leaves no torn file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ps = new ProducerStateManager(dir);
    for (let pid = 1; pid <= 50; pid++) ps.onAppend(pid, 0, 0, 4, pid * 5, pid * 5 + 4, 1000);
    const io = new FaultyIO().add({ op: 'write', kind: 'short', times: 1 }).add({ op: 'write', kind: 'ENOSPC' });
    await withFileIO(io, () => assert.throws(() => ps.writeSnapshot(250)));
    assert.deepEqual(ps.listSnapshots(), []);
    assert.deepEqual(fs.readdirSync(dir), []);
    ps.writeSnapshot(250);
    const back = new ProducerStateManager(dir);
    assert.equal(back.readSnapshot(250), true);
    assert.equal(back.size, 50);
  } finally {
    cleanup();
  }
});

test('cleaner: a failed write of a cleaned segment fails the pass and leaves that segment as it was', async () => {
  for (const rule of [
    { op: 'write', kind: 'short' },
    { op: 'fsync', kind: 'EIO' },
  ] as const) {
    const { dir, cleanup } = tempDir();
    try {
      const d = path.join(dir, 't-0');
      const c = config({
        segmentBytes: 600,
        cleanupPolicy: 'compact',
        minCleanableDirtyRatio: 0,
        minCompactionLagMs: 0,
        deleteRetentionMs: 0,
      });
      const log = await PartitionLog.open(d, c, { cleanShutdown: true, logger: silent });
      for (let i = 0; i < 30; i++)
        log.append(makeBatch([{ key: `k${i % 3}`, value: `v${i}` }], { timestamp: 1000 + i }), { leaderEpoch: 0 });
      log.setHighWatermark(log.logEndOffset);
      const files = new Map(
        fs
          .readdirSync(d)
          .filter((f) => f.endsWith('.log'))
          .map((f) => [f, fs.readFileSync(path.join(d, f))]),
      );
      const io = new FaultyIO().add({ ...rule, file: endsWith('.cleaned') });
      await withFileIO(io, () => assert.throws(() => cleanLog(log, 1_000_000, silent)));
      assert.ok(io.injected.length > 0);
      const hit = path.basename(io.injected[0].file).replace(/\.cleaned$/, '');
      assert.deepEqual(fs.readFileSync(path.join(d, hit)), files.get(hit), `${hit} is untouched`);
      assert.deepEqual(
        fs.readdirSync(d).filter((f) => f.endsWith('.cleaned') || f.endsWith('.swap')),
        [],
      );
      const latest = readAll(log);
      log.abandon();
      const back = await PartitionLog.open(d, c, { recoveryPoint: 0, logger: silent });
      back.setHighWatermark(back.logEndOffset);
      assert.equal(back.logEndOffset, 30);
      assert.deepEqual(readAll(back), latest);
      // a later pass (space back) finishes the job
      cleanLog(back, 1_000_000, silent);
      back.abandon();
    } finally {
      cleanup();
    }
  }
});

test('random faults on every writer: each acknowledged batch is there after recovery, byte for byte', async () => {
  let seed = 987654;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const ops = ['write', 'write', 'write', 'fsync', 'fdatasync'] as const;
  const kinds = ['short', 'ENOSPC', 'EIO'] as const;
  for (let round = 0; round < 25; round++) {
    const { dir, cleanup } = tempDir();
    try {
      const d = path.join(dir, 't-0');
      const log = await PartitionLog.open(d, cfg, { cleanShutdown: true, logger: silent });
      const acked = new Map<number, Buffer>();
      const io = new FaultyIO();
      for (let k = 0; k < 3; k++)
        io.add({ op: ops[rnd(ops.length)], kind: kinds[rnd(kinds.length)], skip: rnd(30), times: 1 + rnd(3) });
      await withFileIO(io, async () => {
        for (let i = 0; i < 30; i++) {
          if (log.dirHealth.state === 'full') log.dirHealth.probe();
          const b = makeBatch(1 + rnd(3), { timestamp: 1000 + i }, 20 + rnd(60));
          let first: number;
          try {
            first = log.append(b, { leaderEpoch: i < 15 ? 0 : 1 }).firstOffset;
          } catch (err) {
            assert.ok(err instanceof KafkaStorageError, String(err));
            continue;
          }
          log.setHighWatermark(log.logEndOffset);
          try {
            await log.flushedUpTo(log.logEndOffset);
            acked.set(first, Buffer.from(b));
          } catch (err) {
            assert.ok(err instanceof KafkaStorageError, String(err));
          }
        }
      });
      log.abandon();
      const back = await PartitionLog.open(d, cfg, { recoveryPoint: 0, logger: silent });
      back.setHighWatermark(back.logEndOffset);
      const got = byBase(readAll(back));
      for (const [off, bytes] of acked)
        assert.deepEqual(got.get(off), bytes, `round ${round}: acknowledged batch at ${off}`);
      const next = back.logEndOffset;
      assert.equal(back.append(makeBatch(1), { leaderEpoch: 2 }).firstOffset, next);
      back.abandon();
    } finally {
      cleanup();
    }
  }
});
