// Which logs the cleaner cleans, and how far (cleaner.ts, after Kafka's
// LogCleanerManager): dirty ratio, min.compaction.lag.ms (KIP-58),
// max.compaction.lag.ms forcing a clean (KIP-354), the active segment and
// offsets above the high watermark never cleaned, the filthiest log first.
// Time is an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import {
  cleanLog,
  cleanableOffsets,
  grabFilthiestLog,
  logToClean,
  needsCleaning,
} from '../../../src/storage/cleaner.ts';
import type { LogConfig } from '../../../src/storage/log-config.ts';
import { forEachRecord } from '../../../src/storage/record-keys.ts';
import { batch as hdr } from '../../../src/protocol/records/batch-header.ts';
import { batchOffsets, config, joined, makeBatch, silent, tempDir } from './fixtures.ts';

const T0 = 1_700_000_000_000;
const noFsync = async () => {};

interface Fixture {
  log: PartitionLog;
  clock: { now: number };
  cleanup: () => void;
}

async function openLog(over: Partial<LogConfig>, dirs: (() => void)[]): Promise<Fixture> {
  const { dir, cleanup } = tempDir('samsa-cleaner-sel-');
  dirs.push(cleanup);
  const clock = { now: T0 };
  const log = await PartitionLog.open(dir, config({ cleanupPolicy: 'compact', segmentBytes: 1 << 20, ...over }), {
    cleanShutdown: true,
    recoveryPoint: 0,
    fsync: noFsync,
    now: () => clock.now,
  });
  return { log, clock, cleanup };
}

/** Append one record per key (timestamp `ts`), then roll unless `roll` is false. */
function segment(log: PartitionLog, keys: string[], ts: number, roll = true): void {
  for (const k of keys) log.append(makeBatch([{ key: k, value: `${k}@${ts}` }], { timestamp: ts }), { leaderEpoch: 0 });
  if (roll) log.roll();
  log.setHighWatermark(log.logEndOffset);
}

/** Every key in the log, in offset order. */
function keysOf(log: PartitionLog): string[] {
  const out: string[] = [];
  let off = log.logStartOffset;
  while (off < log.logEndOffset) {
    const r = joined(log.read(off, 1 << 20));
    for (let at = 0; at < r.length; at += hdr.totalSize(r, at)) {
      forEachRecord(r, at, hdr.totalSize(r, at), (x) =>
        out.push(r.toString('utf8', x.keyStart, x.keyStart + x.keyLength)),
      );
    }
    off = batchOffsets(r).at(-1)!.last + 1;
  }
  return out;
}

async function withLogs(fn: (open: (over: Partial<LogConfig>) => Promise<Fixture>) => Promise<void>): Promise<void> {
  const dirs: (() => void)[] = [];
  const logs: PartitionLog[] = [];
  try {
    await fn(async (over) => {
      const f = await openLog(over, dirs);
      logs.push(f.log);
      return f;
    });
  } finally {
    for (const l of logs) l.abandon();
    for (const c of dirs) c();
  }
}

test('dirty ratio: a fresh log is all dirty; after a clean only new rolled segments are, compared strictly with min.cleanable.dirty.ratio', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({ minCleanableDirtyRatio: 0.5 });
    segment(log, ['a', 'b', 'a'], T0);
    segment(log, ['b', 'a', 'c'], T0);
    segment(log, ['c'], T0, false); // active
    const c = logToClean(log, clock.now);
    assert.equal(c.firstDirtyOffset, 0);
    assert.equal(c.firstUncleanableOffset, 6, 'stops at the active segment');
    assert.equal(c.cleanBytes, 0);
    assert.equal(c.cleanableRatio, 1);
    assert.ok(needsCleaning(log, clock.now));

    cleanLog(log, clock.now, silent);
    assert.deepEqual(keysOf(log), ['b', 'a', 'c', 'c'], 'rolled segments compacted, active segment untouched');
    const after = logToClean(log, clock.now);
    assert.equal(after.firstDirtyOffset, 6);
    assert.equal(after.cleanableBytes, 0);
    assert.equal(needsCleaning(log, clock.now), false, 'nothing dirty below the active segment');

    // One more rolled segment: dirty again, by a ratio below 1.
    segment(log, ['d'], T0, false);
    log.roll();
    segment(log, ['e'], T0, false);
    const d = logToClean(log, clock.now);
    assert.equal(d.firstDirtyOffset, 6);
    assert.equal(d.firstUncleanableOffset, 8);
    assert.ok(d.cleanBytes > 0 && d.cleanableBytes > 0);
    assert.equal(d.cleanableRatio, d.cleanableBytes / (d.cleanBytes + d.cleanableBytes));
    log.updateConfig({ ...log.config, minCleanableDirtyRatio: d.cleanableRatio });
    assert.equal(
      needsCleaning(log, clock.now),
      false,
      'a ratio equal to min.cleanable.dirty.ratio does not qualify (Kafka compares with >)',
    );
    log.updateConfig({ ...log.config, minCleanableDirtyRatio: d.cleanableRatio - 0.01 });
    assert.ok(needsCleaning(log, clock.now));
  });
});

test('the active segment is never cleaned, whatever the ratio or lag', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({ minCleanableDirtyRatio: 0, maxCompactionLagMs: 1 });
    segment(log, ['a', 'a', 'a', 'a'], T0, false);
    clock.now += 1_000_000;
    const c = logToClean(log, clock.now);
    assert.equal(c.firstUncleanableOffset, 0);
    assert.equal(c.cleanableBytes, 0);
    assert.equal(c.compactionDelayMs, 0, 'max.compaction.lag.ms looks at rolled segments only');
    assert.equal(needsCleaning(log, clock.now), false);
    cleanLog(log, clock.now, silent);
    assert.deepEqual(keysOf(log), ['a', 'a', 'a', 'a']);
  });
});

test('offsets at or above the high watermark are not cleaned: the range stops at the segment holding it', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({ minCleanableDirtyRatio: 0.1 });
    segment(log, ['a', 'b'], T0); // 0-1
    segment(log, ['a', 'b'], T0); // 2-3
    segment(log, ['a', 'b'], T0); // 4-5
    segment(log, ['z'], T0, false); // 6 (active)
    log.setHighWatermark(3); // as a follower that has not caught up would have it
    assert.deepEqual(cleanableOffsets(log, clock.now), { firstDirtyOffset: 0, firstUncleanableOffset: 2 });
    cleanLog(log, clock.now, silent);
    assert.deepEqual(
      keysOf(log),
      ['a', 'b', 'a', 'b', 'a', 'b', 'z'],
      'one segment alone holds no duplicates: nothing changes',
    );
    log.setHighWatermark(7);
    assert.equal(cleanableOffsets(log, clock.now).firstUncleanableOffset, 6);
  });
});

test('min.compaction.lag.ms: the range ends at the first dirty rolled segment holding a record younger than the lag', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({ minCleanableDirtyRatio: 0.1, minCompactionLagMs: 5000 });
    clock.now = T0 + 10_000;
    segment(log, ['a', 'b'], T0); // 0-1, old
    segment(log, ['a', 'b'], T0 + 1000); // 2-3, old
    segment(log, ['a', 'b'], T0 + 9000); // 4-5, 1 s old: within the lag
    segment(log, ['a', 'b'], T0); // 6-7, old but after a young one
    segment(log, ['z'], T0 + 10_000, false);
    const c = logToClean(log, clock.now);
    assert.equal(c.firstUncleanableOffset, 4);
    cleanLog(log, clock.now, silent);
    assert.deepEqual(keysOf(log), ['a', 'b', 'a', 'b', 'a', 'b', 'z'], 'segments 4-5 and 6-7 kept whole');
    assert.equal(logToClean(log, clock.now).firstDirtyOffset, 4);

    clock.now = T0 + 14_000; // segment 4-5 exactly at the lag: its largest timestamp is not > now - lag
    assert.equal(cleanableOffsets(log, clock.now).firstUncleanableOffset, 8);
    cleanLog(log, clock.now, silent);
    assert.deepEqual(keysOf(log), ['a', 'b', 'z']);
  });
});

test('max.compaction.lag.ms forces a clean below min.cleanable.dirty.ratio once the oldest dirty record is older than the lag', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({ minCleanableDirtyRatio: 0.99, maxCompactionLagMs: 60_000 });
    segment(log, ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], T0);
    cleanLog(log, clock.now, silent); // everything below the active segment is clean now
    segment(log, ['a'], T0 + 1000, false);
    log.roll();
    segment(log, ['z'], T0 + 2000, false);
    clock.now = T0 + 61_000; // the dirty segment's first batch (T0 + 1000) is exactly max.compaction.lag.ms old
    let c = logToClean(log, clock.now);
    assert.ok(c.cleanableRatio < 0.99 && c.cleanableBytes > 0);
    assert.equal(c.compactionDelayMs, 0);
    assert.equal(needsCleaning(log, clock.now), false);
    clock.now += 250;
    c = logToClean(log, clock.now);
    assert.equal(c.compactionDelayMs, 250);
    assert.ok(needsCleaning(log, clock.now));
    cleanLog(log, clock.now, silent);
    assert.deepEqual(keysOf(log), ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'a', 'z']);
    assert.equal(needsCleaning(log, clock.now), false, 'forced once: the dirty segment is clean now');
  });
});

test('max.compaction.lag.ms does not override min.compaction.lag.ms: no cleanable bytes, no clean', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({
      minCleanableDirtyRatio: 0.99,
      maxCompactionLagMs: 1000,
      minCompactionLagMs: 100_000,
    });
    segment(log, ['a', 'a'], T0);
    segment(log, ['z'], T0, false);
    clock.now = T0 + 50_000;
    const c = logToClean(log, clock.now);
    assert.ok(c.compactionDelayMs > 0);
    assert.equal(c.cleanableBytes, 0);
    assert.equal(needsCleaning(log, clock.now), false);
  });
});

test('a cleaner checkpoint outside the log is reset to the log start offset', async () => {
  await withLogs(async (open) => {
    const { log, clock } = await open({});
    segment(log, ['a', 'a'], T0);
    segment(log, ['z'], T0, false);
    log.cleanerCheckpoint = log.logEndOffset + 10;
    assert.equal(logToClean(log, clock.now).firstDirtyOffset, log.logStartOffset);
  });
});

test('grabFilthiestLog: compacted logs only, the highest cleanable ratio first, skipped logs left out', async () => {
  await withLogs(async (open) => {
    const half = await open({ minCleanableDirtyRatio: 0.1 });
    const full = await open({ minCleanableDirtyRatio: 0.1 });
    const del = await open({ cleanupPolicy: 'delete' });
    for (const f of [half, full, del]) {
      segment(f.log, ['a', 'a', 'a'], T0);
      segment(f.log, ['z'], T0, false);
    }
    cleanLog(half.log, T0, silent);
    segment(half.log, ['b'], T0, false); // about half its rolled bytes dirty
    half.log.roll();
    segment(half.log, ['y'], T0, false);
    const logs = [half.log, del.log, full.log];
    assert.equal(grabFilthiestLog(logs, T0)?.log, full.log, 'ratio 1 before ratio ~0.5');
    assert.equal(grabFilthiestLog(logs, T0, (l) => l === full.log)?.log, half.log);
    assert.equal(grabFilthiestLog([del.log], T0), null, 'cleanup.policy=delete is never compacted');
    assert.equal(needsCleaning(del.log, T0), false);
  });
});

test('a compacted log rolls its active segment once max.compaction.lag.ms has passed (KIP-354), a delete log by segment.ms only', async () => {
  await withLogs(async (open) => {
    const c = await open({ maxCompactionLagMs: 100 });
    const d = await open({ cleanupPolicy: 'delete', maxCompactionLagMs: 100 });
    for (const { log } of [c, d]) {
      log.append(makeBatch([{ key: 'a', value: '1' }], { timestamp: T0 }), { leaderEpoch: 0 });
      log.append(makeBatch([{ key: 'a', value: '2' }], { timestamp: T0 + 100 }), { leaderEpoch: 0 });
      log.append(makeBatch([{ key: 'a', value: '3' }], { timestamp: T0 + 101 }), { leaderEpoch: 0 });
    }
    assert.deepEqual(c.log.segmentBaseOffsets, [0, 2]);
    assert.deepEqual(d.log.segmentBaseOffsets, [0]);
  });
});
