// LogManager: clean-shutdown marker and checkpoints, recovery after a crash, log deletion, retention and compaction passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CLEAN_SHUTDOWN_FILE, LogManager, RECOVERY_POINT_CHECKPOINT } from '../../../src/storage/log-manager.ts';
import { readPartitionCheckpoint } from '../../../src/storage/checkpoint.ts';
import { forEachRecord } from '../../../src/storage/record-keys.ts';
import { batch as hdr } from '../../../src/protocol/records/batch-header.ts';
import { batchOffsets, config, joined, makeBatch, silent, tempDir } from './fixtures.ts';

const fsync = async () => {};

test('close writes checkpoints and the clean-shutdown marker; open consumes it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const dirs = [path.join(dir, 'a'), path.join(dir, 'b')];
    let m = await LogManager.open({ logDirs: dirs, defaultConfig: config(), logger: silent, fsync });
    const l0 = await m.createLog('orders', 0, config());
    const l1 = await m.createLog('orders', 1, config());
    assert.notEqual(path.dirname(l0.dir), path.dirname(l1.dir), 'spread over log dirs');
    l0.append(makeBatch(5), { leaderEpoch: 0 });
    l0.setHighWatermark(5);
    await l0.deleteRecordsBefore(2);
    await m.close();
    const d0 = path.dirname(l0.dir);
    assert.ok(fs.existsSync(path.join(d0, CLEAN_SHUTDOWN_FILE)));
    assert.equal(readPartitionCheckpoint(path.join(d0, RECOVERY_POINT_CHECKPOINT)).get('orders-0'), 5);
    m = await LogManager.open({ logDirs: dirs, defaultConfig: config(), logger: silent, fsync });
    assert.ok(!fs.existsSync(path.join(d0, CLEAN_SHUTDOWN_FILE)));
    const again = m.getLog('orders', 0)!;
    assert.deepEqual([again.logStartOffset, again.highWatermark, again.logEndOffset], [2, 5, 5]);
    assert.equal(m.logs().length, 2);
    await m.close();
  } finally {
    cleanup();
  }
});

test('after a crash the logs recover from the recovery point and keep the checkpointed log start offset', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const logDirs = [dir];
    let m = await LogManager.open({ logDirs, defaultConfig: config(), logger: silent, fsync });
    const log = await m.createLog('t', 3, config({ segmentBytes: 500 }));
    for (let i = 0; i < 20; i++) log.append(makeBatch(2, {}, 40), { leaderEpoch: 0 });
    log.setHighWatermark(40);
    await log.flush();
    await log.deleteRecordsBefore(10);
    for (let i = 0; i < 5; i++) log.append(makeBatch(2, {}, 40), { leaderEpoch: 0 });
    // torn tail: half of a batch written when the power went
    const segs = log.segmentBaseOffsets;
    const active = path.join(log.dir, String(segs.at(-1)).padStart(20, '0') + '.log');
    m.abandon();
    fs.appendFileSync(active, makeBatch(3).subarray(0, 30));
    m = await LogManager.open({ logDirs, defaultConfig: config({ segmentBytes: 500 }), logger: silent, fsync });
    const back = m.getLog('t', 3)!;
    assert.equal(back.logEndOffset, 50);
    assert.equal(back.logStartOffset, 10);
    back.setHighWatermark(50);
    assert.equal(batchOffsets(joined(back.read(48, 1000))).at(-1)!.last, 49);
    await m.close();
  } finally {
    cleanup();
  }
});

test('deleteLog renames the directory to -delete and removes it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const m = await LogManager.open({
      logDirs: [dir],
      defaultConfig: config({ fileDeleteDelayMs: 0 }),
      logger: silent,
      fsync,
    });
    const log = await m.createLog('gone', 0, config({ fileDeleteDelayMs: 0 }));
    log.append(makeBatch(1), { leaderEpoch: 0 });
    await m.deleteLog('gone', 0);
    assert.equal(m.getLog('gone', 0), undefined);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => /^gone-0$/.test(f)),
      [],
    );
    await m.removalsDrained();
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('gone')),
      [],
    );
    await m.close();
  } finally {
    cleanup();
  }
});

test('a retention pass deletes old segments', async () => {
  const { dir, cleanup } = tempDir();
  try {
    let now = 10_000_000;
    const cfg = config({ segmentBytes: 300, retentionMs: 60_000, fileDeleteDelayMs: 0 });
    const m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, now: () => now });
    const log = await m.createLog('r', 0, cfg);
    for (let i = 0; i < 10; i++) log.append(makeBatch(1, { timestamp: now }, 100), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    assert.equal(m.runRetention(), 0);
    now += 120_000;
    assert.ok(m.runRetention() > 0);
    assert.equal(log.segmentBaseOffsets.length, 1);
    assert.equal(log.logStartOffset, log.segmentBaseOffsets[0]);
    await m.close();
  } finally {
    cleanup();
  }
});

function keyedValues(buf: Buffer): [string, string | null, number][] {
  const out: [string, string | null, number][] = [];
  for (let at = 0; at < buf.length; at += hdr.totalSize(buf, at)) {
    const base = hdr.baseOffset(buf, at);
    forEachRecord(buf, at, hdr.totalSize(buf, at), (r) => {
      const key = buf.toString('utf8', r.keyStart, r.keyStart + r.keyLength);
      const vs = r.keyStart + r.keyLength;
      // value starts after its varint length: re-walk the bytes (values here are < 64 bytes: 1-byte varint)
      out.push([
        key,
        r.valueLength < 0 ? null : buf.toString('utf8', vs + 1, vs + 1 + r.valueLength),
        base + r.offsetDelta,
      ]);
    });
  }
  return out;
}

test('compaction keeps the latest value per key with offsets unchanged and drops old tombstones; a crash mid-clean loses nothing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const now = 50_000_000;
    const cfg = config({
      cleanupPolicy: 'compact',
      segmentBytes: 400,
      deleteRetentionMs: 1000,
      minCleanableDirtyRatio: 0.1,
    });
    let m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, now: () => now });
    const log = await m.createLog('c', 0, cfg);
    const put = (k: string, v: string | null, ts: number) =>
      log.append(
        makeBatch(
          [
            { key: k, value: v },
            { key: 'x' + k, value: 'y' },
          ],
          { timestamp: ts },
        ),
        { leaderEpoch: 0 },
      );
    for (let i = 0; i < 30; i++) put(`k${i % 4}`, `v${i}`, now - 10_000);
    put('k3', null, now - 10_000); // old tombstone: removed
    put('k2', null, now); // young tombstone: kept
    for (let i = 0; i < 6; i++) put('tail', `t${i}`, now); // push the tombstones out of the active segment
    log.setHighWatermark(log.logEndOffset);
    const before = log.logEndOffset;
    assert.ok(m.runRetention(now) === 0);
    assert.ok(await m.cleaner!.cleanFilthiestLog(now), 'one cleaner turn compacts the log');
    assert.equal(log.logEndOffset, before);
    const all: [string, string | null, number][] = [];
    for (let off = log.logStartOffset; off < log.logEndOffset; ) {
      const r = joined(log.read(off, 1 << 20));
      all.push(...keyedValues(r));
      off = batchOffsets(r).at(-1)!.last + 1;
    }
    const latest = new Map<string, [string | null, number]>();
    for (const [k, v, o] of all) latest.set(k, [v, o]);
    assert.deepEqual(latest.get('k0'), ['v28', 56]);
    assert.deepEqual(latest.get('k1'), ['v29', 58]);
    assert.equal(latest.get('k3'), undefined, 'old tombstone gone');
    assert.deepEqual(latest.get('k2'), [null, 62]);
    assert.equal(all.filter(([k]) => k === 'k0').length, 1, 'older k0 values compacted away');
    // a half-finished clean: the .cleaned file is ignored, a .swap completes
    const seg0 = path.join(log.dir, '00000000000000000000');
    fs.writeFileSync(seg0 + '.log.cleaned', 'partial garbage');
    m.abandon();
    m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, now: () => now });
    const back = m.getLog('c', 0)!;
    assert.ok(!fs.existsSync(seg0 + '.log.cleaned'));
    assert.equal(back.logEndOffset, before);
    fs.copyFileSync(seg0 + '.log', path.join(dir, 'copy'));
    await m.close();
    fs.renameSync(path.join(dir, 'copy'), seg0 + '.log.swap');
    m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, now: () => now });
    assert.equal(m.getLog('c', 0)!.logEndOffset, before);
    assert.ok(!fs.existsSync(seg0 + '.log.swap'));
    await m.close();
  } finally {
    cleanup();
  }
});
