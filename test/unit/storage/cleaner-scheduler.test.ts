// The log cleaner's own schedule (cleaner-scheduler.ts): it compacts on its
// timer (log.cleaner.backoff.ms), not with the retention pass; one log per
// turn, filthiest first, at most maxDirtyBytesPerClean of it; an async clean
// is awaited before the next turn; a log whose clean fails is left alone; the log
// manager starts it with the background tasks unless log.cleaner.enable is
// false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogCleaner } from '../../../src/storage/cleaner-scheduler.ts';
import { cleanLog } from '../../../src/storage/cleaner.ts';
import { LogManager } from '../../../src/storage/log-manager.ts';
import type { PartitionLog } from '../../../src/storage/partition-log.ts';
import { forEachRecord } from '../../../src/storage/record-keys.ts';
import { config, makeBatch, silent, tempDir } from './fixtures.ts';

const fsync = async () => {};

/** Poll `cond` until it holds or `ms` pass. */
async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Three rolled segments of duplicated keys plus an active one. */
function fill(log: PartitionLog, ts: number): void {
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < 4; i++)
      log.append(makeBatch([{ key: `k${i % 2}`, value: `v${s}.${i}` }], { timestamp: ts }), { leaderEpoch: 0 });
    log.roll();
  }
  log.append(makeBatch([{ key: 'tail', value: 't' }], { timestamp: ts }), { leaderEpoch: 0 });
  log.setHighWatermark(log.logEndOffset);
}

function totalSize(log: PartitionLog): number {
  return log.segmentList.reduce((n, s) => n + s.size, 0);
}

test('the log manager compacts on the cleaner timer while the retention pass is minutes away', async () => {
  const { dir, cleanup } = tempDir();
  const now = Date.now();
  const cfg = config({ cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.5 });
  const m = await LogManager.open({
    logDirs: [dir],
    defaultConfig: cfg,
    logger: silent,
    fsync,
    retentionCheckIntervalMs: 300_000,
    cleanerBackoffMs: 20,
  });
  try {
    const log = await m.createLog('c', 0, cfg);
    fill(log, now);
    const before = totalSize(log);
    m.startBackgroundTasks();
    await until(() => totalSize(log) < before, 'the cleaner to compact the log');
    assert.equal(log.cleanerCheckpoint, log.segmentList.at(-1)!.baseOffset);
    assert.equal(m.cleaner!.cleans, 1);
  } finally {
    await m.close();
    cleanup();
  }
});

test('log.cleaner.enable=false: no cleaner', async () => {
  const { dir, cleanup } = tempDir();
  const m = await LogManager.open({
    logDirs: [dir],
    defaultConfig: config(),
    logger: silent,
    fsync,
    cleanerEnable: false,
  });
  try {
    assert.equal(m.cleaner, null);
  } finally {
    await m.close();
    cleanup();
  }
});

test('one log per turn, the filthiest first; nothing qualifies: null', async () => {
  const { dir, cleanup } = tempDir();
  const now = 1_700_000_000_000;
  const m = await LogManager.open({ logDirs: [dir], defaultConfig: config(), logger: silent, fsync, now: () => now });
  try {
    const cfg = config({ cleanupPolicy: 'compact', minCleanableDirtyRatio: 0.2 });
    const a = await m.createLog('a', 0, cfg);
    const b = await m.createLog('b', 0, cfg);
    const d = await m.createLog('d', 0, config({ cleanupPolicy: 'delete' }));
    fill(a, now);
    fill(b, now);
    fill(d, now);
    cleanLog(a, now, silent);
    for (let i = 0; i < 4; i++)
      a.append(makeBatch([{ key: `k${i % 2}`, value: 'again' }], { timestamp: now }), { leaderEpoch: 0 });
    a.roll();
    a.append(makeBatch([{ key: 'tail', value: 't' }], { timestamp: now }), { leaderEpoch: 0 });
    a.setHighWatermark(a.logEndOffset);
    const cleaner = m.cleaner!;
    assert.equal((await cleaner.cleanFilthiestLog(now))?.log, b, 'b is all dirty, a partly');
    assert.equal((await cleaner.cleanFilthiestLog(now))?.log, a);
    assert.equal(await cleaner.cleanFilthiestLog(now), null);
    assert.equal(cleaner.cleans, 2);
  } finally {
    await m.close();
    cleanup();
  }
});

test('a log whose clean throws is logged, marked uncleanable and skipped; the others are still cleaned on the timer', async () => {
  const { dir, cleanup } = tempDir();
  const now = Date.now();
  const cfg = config({ cleanupPolicy: 'compact' });
  const m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, cleanerEnable: false });
  const errors: object[] = [];
  const logger = { ...silent, error: (o: object) => errors.push(o) };
  let cleaner: LogCleaner | null = null;
  try {
    const bad = await m.createLog('bad', 0, cfg);
    const good = await m.createLog('good', 0, cfg);
    fill(bad, now);
    fill(good, now);
    // `bad` is dirtier, so it is chosen first.
    for (let i = 0; i < 8; i++)
      bad.append(makeBatch([{ key: 'x', value: 'y' }], { timestamp: now }), { leaderEpoch: 0 });
    bad.roll();
    bad.append(makeBatch([{ key: 'tail', value: 't' }], { timestamp: now }), { leaderEpoch: 0 });
    bad.setHighWatermark(bad.logEndOffset);
    const tried: PartitionLog[] = [];
    cleaner = new LogCleaner({
      logs: () => m.logs(),
      backoffMs: 10,
      logger,
      clean: (log, t, lg, max) => {
        tried.push(log);
        if (log === bad) throw new Error('injected');
        return cleanLog(log, t, lg, {}, max);
      },
    });
    cleaner.start();
    await until(() => good.cleanerCheckpoint > 0, 'the good log to be cleaned');
    assert.equal(tried[0], bad);
    assert.ok(cleaner.isUncleanable(bad));
    assert.equal(tried.filter((l) => l === bad).length, 1, 'not retried');
    assert.equal(errors.length, 1);
    assert.equal(cleaner.cleans, 1);
  } finally {
    await cleaner?.stop();
    await m.close();
    cleanup();
  }
});

test('a turn cleans at most maxDirtyBytesPerClean of dirty segments; the following turns finish the log', async () => {
  const { dir, cleanup } = tempDir();
  const now = 1_700_000_000_000;
  const cfg = config({ cleanupPolicy: 'compact' });
  const m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, cleanerEnable: false });
  try {
    const log = await m.createLog('c', 0, cfg);
    fill(log, now);
    const bases = log.segmentBaseOffsets; // [0, 4, 8, 12]: three rolled segments and the active one
    assert.equal(bases.length, 4);
    const cleaner = new LogCleaner({ logs: () => m.logs(), backoffMs: 1000, now: () => now, maxDirtyBytesPerClean: 1 });
    for (const expected of bases.slice(1)) {
      assert.ok(await cleaner.cleanFilthiestLog());
      assert.equal(log.cleanerCheckpoint, expected, 'one dirty segment per turn');
    }
    assert.equal(await cleaner.cleanFilthiestLog(), null);
    const keys: string[] = [];
    for (const s of log.segmentList)
      s.scan(0, s.size, true, (b, at, _p, size) =>
        forEachRecord(b, at, size, (r) => keys.push(b.toString('utf8', r.keyStart, r.keyStart + r.keyLength))),
      );
    assert.deepEqual(keys, ['k0', 'k1', 'tail'], 'the same result as one whole clean');
  } finally {
    await m.close();
    cleanup();
  }
});

test('an asynchronous clean is awaited: no second turn starts before it settles', async () => {
  const { dir, cleanup } = tempDir();
  const now = Date.now();
  const cfg = config({ cleanupPolicy: 'compact' });
  const m = await LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger: silent, fsync, cleanerEnable: false });
  let cleaner: LogCleaner | null = null;
  try {
    const log = await m.createLog('c', 0, cfg);
    fill(log, now);
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    cleaner = new LogCleaner({
      logs: () => m.logs(),
      backoffMs: 1,
      clean: async (l, t, lg, max) => {
        calls++;
        await gate;
        return cleanLog(l, t, lg, {}, max);
      },
    });
    cleaner.start();
    await until(() => calls === 1, 'the first clean to start');
    // While it waits, timers keep firing; none may start another clean of the still-dirty log.
    const ticks = { n: 0 };
    await until(() => ++ticks.n > 20, 'the event loop to turn');
    assert.equal(calls, 1);
    release();
    await until(() => cleaner!.cleans === 1, 'the clean to finish');
    const stopped = cleaner.stop();
    await stopped;
    assert.equal(calls, 1);
  } finally {
    await cleaner?.stop();
    await m.close();
    cleanup();
  }
});
