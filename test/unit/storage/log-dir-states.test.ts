/**
 * Log dir states through the LogManager, with faults injected at the write
 * seam (faults.ts): a full disk at close leaves no clean-shutdown marker and
 * the next open recovers; opening on a full disk works read-only until a
 * probe succeeds; a failed fsync fails every log of the dir; each state
 * change is logged once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LogManager, CLEAN_SHUTDOWN_FILE } from '../../../src/storage/log-manager.ts';
import { KafkaStorageError } from '../../../src/storage/errors.ts';
import { config, makeBatch, tempDir } from './fixtures.ts';
import { FaultyIO, withFileIO } from './faults.ts';

const cfg = config({ indexIntervalBytes: 100, segmentBytes: 2000 });

function capture() {
  const lines: { level: string; msg: string }[] = [];
  const logger = {
    info: (_o: object, msg?: string) => lines.push({ level: 'info', msg: msg ?? '' }),
    warn: (_o: object, msg?: string) => lines.push({ level: 'warn', msg: msg ?? '' }),
    error: (_o: object, msg?: string) => lines.push({ level: 'error', msg: msg ?? '' }),
  };
  const count = (text: string) => lines.filter((l) => l.msg.includes(text)).length;
  return { logger, lines, count };
}

const open = (dir: string, logger: ReturnType<typeof capture>['logger']) =>
  LogManager.open({ logDirs: [dir], defaultConfig: cfg, logger });

test('a full disk at close: close completes, no clean-shutdown marker, the next open recovers every acknowledged batch', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const c = capture();
    const lm = await open(dir, c.logger);
    const log = await lm.createLog('t', 0, cfg);
    for (let i = 0; i < 5; i++) log.append(makeBatch(2, { timestamp: 1000 + i }, 50), { leaderEpoch: 0 });
    await log.flushedUpTo(log.logEndOffset);
    const io = new FaultyIO().add({ op: 'write', kind: 'ENOSPC' });
    await withFileIO(io, async () => {
      for (let i = 0; i < 3; i++) assert.throws(() => log.append(makeBatch(1), { leaderEpoch: 0 }), KafkaStorageError);
      assert.deepEqual(lm.dirStates(), [{ dir, state: 'full' }]);
      await lm.close();
    });
    assert.equal(c.count('log dir is full'), 1, 'one line for the state change, none per refused append');
    assert.equal(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)), false);
    assert.equal(c.count('without a clean-shutdown marker'), 1);

    const c2 = capture();
    const back = await open(dir, c2.logger);
    assert.equal(c2.count('no clean-shutdown marker'), 1);
    assert.equal(back.getLog('t', 0)!.logEndOffset, 10);
    assert.deepEqual(back.dirStates(), [{ dir, state: 'online' }]);
    await back.close();
    assert.equal(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)), true);
  } finally {
    cleanup();
  }
});

test('opening on a full disk: logs readable, appends refused, a successful probe brings the dir back', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = await open(dir, capture().logger);
    const l0 = await first.createLog('t', 0, cfg);
    l0.append(makeBatch(3), { leaderEpoch: 0 });
    await first.close();

    const c = capture();
    const io = new FaultyIO().add({ op: 'write', kind: 'ENOSPC' });
    const lm = await withFileIO(io, async () => {
      const m = await open(dir, c.logger);
      const log = m.getLog('t', 0)!;
      log.setHighWatermark(log.logEndOffset);
      assert.equal(log.read(0, 1 << 20).bytes > 0, true, 'reads served');
      assert.throws(() => log.append(makeBatch(1), { leaderEpoch: 0 }), KafkaStorageError);
      assert.equal(m.probeFullDirs(), false, 'still no space');
      return m;
    });
    assert.deepEqual(lm.dirStates(), [{ dir, state: 'full' }]);
    assert.equal(lm.probeFullDirs(), true);
    assert.equal(c.count('log dir is full'), 1);
    assert.equal(c.count('has space again'), 1);
    const log = lm.getLog('t', 0)!;
    assert.equal(log.append(makeBatch(1), { leaderEpoch: 0 }).firstOffset, 3);
    await lm.close();
  } finally {
    cleanup();
  }
});

test('a failed fsync on one log fails the waiting acks of every log in the dir, for good', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const c = capture();
    const lm = await open(dir, c.logger);
    const a = await lm.createLog('a', 0, cfg);
    const b = await lm.createLog('b', 0, cfg);
    a.append(makeBatch(1), { leaderEpoch: 0 });
    b.append(makeBatch(1), { leaderEpoch: 0 });
    const io = new FaultyIO().add({
      op: 'fdatasync',
      kind: 'EIO',
      file: (p) => p.includes(`${path.sep}a-0${path.sep}`),
      times: 1,
    });
    await withFileIO(io, async () => {
      await assert.rejects(a.flushedUpTo(1), KafkaStorageError);
    });
    await assert.rejects(b.flushedUpTo(1), KafkaStorageError);
    assert.throws(() => b.append(makeBatch(1), { leaderEpoch: 0 }), KafkaStorageError);
    assert.deepEqual(lm.dirStates(), [{ dir, state: 'failed' }]);
    assert.equal(c.count('log dir failed'), 1);
    await lm.close();
    assert.equal(fs.existsSync(path.join(dir, CLEAN_SHUTDOWN_FILE)), false, 'a failed dir is not stopped cleanly');
  } finally {
    cleanup();
  }
});

test('DeleteRecords whose log-start-offset checkpoint cannot be written fails with a storage error', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const lm = await open(dir, capture().logger);
    const log = await lm.createLog('t', 0, cfg);
    for (let i = 0; i < 4; i++) log.append(makeBatch(2), { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    const io = new FaultyIO().add({
      op: 'write',
      kind: 'ENOSPC',
      file: (p) => p.includes('log-start-offset-checkpoint'),
    });
    await withFileIO(io, () => assert.rejects(log.deleteRecordsBefore(4), KafkaStorageError));
    assert.deepEqual(lm.dirStates(), [{ dir, state: 'full' }]);
    await lm.close();
  } finally {
    cleanup();
  }
});
