/**
 * The open-file cap: with more segments than the cap, inactive segments'
 * descriptors are closed and reopened on demand; every read still returns
 * the right batches, the active segment keeps appending, and the process's
 * open descriptors stay bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { OpenFileCache, segmentFiles } from '../../../src/storage/file-cache.ts';
import { batchOffsets, config, joined, makeBatch, silent, tempDir } from './fixtures.ts';

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('segments beyond the open-file cap are closed and reopened on read', async () => {
  const { dir, cleanup } = tempDir();
  const saved = segmentFiles.capacity;
  segmentFiles.capacity = 4;
  try {
    // ~1 batch per segment: 40 segments
    const log = await PartitionLog.open(`${dir}/t-0`, config({ segmentBytes: 200 }), { logger: silent });
    for (let i = 0; i < 40; i++) {
      log.append(makeBatch(2), { leaderEpoch: 0 });
      log.setHighWatermark(log.logEndOffset);
    }
    assert.ok(log.segmentBaseOffsets.length >= 20, `${log.segmentBaseOffsets.length} segments`);
    const before = openFds();
    assert.ok(segmentFiles.size <= 4 + 1, `open segment files ${segmentFiles.size}`);
    // read every batch back, from every segment, twice (reopening evicted files)
    for (let round = 0; round < 2; round++) {
      for (let off = 0; off < 80; off += 2) {
        const r = log.read(off, 1, { maxOffset: log.highWatermark });
        assert.equal(batchOffsets(joined(r))[0].base, off);
      }
    }
    assert.ok(segmentFiles.size <= 4 + 1);
    assert.ok(openFds() <= before + 2, `descriptors stayed bounded (${before} -> ${openFds()})`);
    // the active segment still takes appends and fsyncs
    log.append(makeBatch(2), { leaderEpoch: 0 });
    await log.flushedUpTo(log.logEndOffset);
    assert.equal(log.logEndOffset, 82);
    await log.close();
    // reopen from disk: everything is there
    const again = await PartitionLog.open(`${dir}/t-0`, config({ segmentBytes: 200 }), { logger: silent });
    assert.equal(again.logEndOffset, 82);
    assert.equal(batchOffsets(joined(again.read(40, 1)))[0].base, 40);
    await again.close();
  } finally {
    segmentFiles.capacity = saved;
    cleanup();
  }
});

test('the file being used is never the one evicted, even when every other open file is busy', () => {
  const cache = new OpenFileCache(1);
  const released: string[] = [];
  const file = (name: string, idle: boolean) => ({
    releaseIfIdle: () => {
      if (idle) released.push(name);
      return idle;
    },
  });
  const active = file('active', false); // e.g. an active segment: never closed
  const recovering = file('recovering', true);
  cache.touch(active);
  cache.touch(recovering); // over capacity, but the only idle file is the one in use
  assert.deepEqual(released, []);
  const other = file('other', true);
  cache.touch(other); // now the older idle file goes
  assert.deepEqual(released, ['recovering']);
});
