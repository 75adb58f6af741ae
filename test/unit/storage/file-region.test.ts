// Reads handed out as file regions (for sendfile): the same whole batches a
// read into memory returns, bounded by max bytes and the max offset, found
// without reading the batches; the segment's descriptor stays open while a
// region holds it, even past the segment's deletion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { FileRegion } from '../../../src/storage/file-region.ts';
import { FILE_REGION_MIN_BYTES, type Pin } from '../../../src/storage/segment.ts';
import { batchOffsets, config, joined, makeBatch, tempDir } from './fixtures.ts';

async function withLog(fn: (log: PartitionLog, dir: string) => Promise<void> | void, over = {}) {
  const { dir, cleanup } = tempDir();
  const log = await PartitionLog.open(path.join(dir, 'topic-0'), config({ indexIntervalBytes: 4096, ...over }), {
    cleanShutdown: true,
    tailCacheBytes: 64 * 1024,
  });
  try {
    await fn(log, dir);
  } finally {
    log.abandon();
    cleanup();
  }
}

/** Batches of assorted sizes (2..40 records of 300 B), so the index points between batch starts. */
function fill(log: PartitionLog, n: number): void {
  for (let i = 0; i < n; i++) log.append(makeBatch(2 + ((i * 7) % 39), {}, 300), { leaderEpoch: 0 });
  log.setHighWatermark(log.logEndOffset);
}

test('a region covers exactly the whole batches a read into memory returns', async () => {
  await withLog((log) => {
    fill(log, 400); // ~2.6 MB: far beyond the 64 KiB tail cache
    for (const [from, maxBytes, maxOffset] of [
      [0, 1 << 20, undefined],
      [137, 300_000, undefined],
      [1000, 100_000, 1500],
      [2000, 1 << 20, 2600],
      [500, 70_000, undefined],
    ] as [number, number, number | undefined][]) {
      const pins: Pin[] = [];
      const r = log.read(from, maxBytes, { maxOffset, pins, regions: true });
      const copy = log.read(from, maxBytes, { maxOffset });
      assert.ok(r.region, `read at ${from} of ${maxBytes} is a region`);
      assert.equal(r.batches.length, 0);
      assert.equal(r.bytes, r.region.length);
      assert.ok(r.region.length >= FILE_REGION_MIN_BYTES && r.region.length <= maxBytes);
      const bytes = r.region.read(0, r.region.length);
      assert.ok(bytes.equals(joined(copy)), `read at ${from} of ${maxBytes}: the same bytes as a read into memory`);
      const offs = batchOffsets(bytes);
      assert.ok(offs[0].base <= from && offs[0].last >= from);
      if (maxOffset !== undefined) assert.ok(offs[offs.length - 1].last < maxOffset, 'no offset at or past maxOffset');
      assert.deepEqual(pins, [r.region]);
      for (const p of pins) p.unpin();
    }
    assert.equal(FileRegion.outstanding, 0);
  });
});

test('small reads, tail reads and reads without pins are not regions', async () => {
  await withLog((log) => {
    fill(log, 400);
    const pins: Pin[] = [];
    assert.equal(log.read(0, 32 * 1024, { pins, regions: true }).region, undefined, 'below FILE_REGION_MIN_BYTES');
    assert.equal(log.read(0, 1 << 20, { regions: true }).region, undefined, 'without pins the caller owns copies');
    const tailStart = log.logEndOffset - 5;
    assert.equal(
      log.read(tailStart, 1 << 20, { pins, regions: true }).region,
      undefined,
      'newest bytes: the tail cache',
    );
    for (const p of pins) p.unpin();
  });
});

test('a region keeps its segment file open past the segment being rolled and deleted', async () => {
  await withLog(
    async (log) => {
      fill(log, 200);
      const pins: Pin[] = [];
      const r = log.read(0, 1 << 20, { pins, regions: true });
      const region = r.region!;
      const expect = region.read(0, region.length);
      log.roll();
      fill(log, 1);
      await log.deleteRecordsBefore(log.logEndOffset - 1); // the first segment goes
      assert.ok(!fs.readdirSync(log.dir).includes('00000000000000000000.log'), 'renamed away');
      assert.ok(region.read(0, region.length).equals(expect), 'still readable through the held descriptor');
      const fd = region.fd;
      region.unpin();
      assert.throws(() => fs.fstatSync(fd), /EBADF/, 'closed once unpinned');
      assert.throws(() => region.unpin(), /twice/);
    },
    { segmentBytes: 16 * 1024 * 1024 },
  );
});
