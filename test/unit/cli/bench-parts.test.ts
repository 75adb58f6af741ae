// Tests of samsa bench's building blocks: batches from the template decode as Kafka batches with the right stamps,
// stamps round-trip, and percentiles are nearest-rank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchTemplate } from '../../../src/cli/bench/batch-template.ts';
import { readStamp, writeStamp, STAMP_BYTES } from '../../../src/cli/bench/stamp.ts';
import { rank, summarize } from '../../../src/cli/bench/percentiles.ts';
import { decodeBatch, encodeBatch, splitBatches } from '../../../src/protocol/records/index.ts';

test('template batches: any record count, placed anywhere, decode with a valid CRC and carry their stamps', () => {
  for (const [size, cap] of [
    [16, 4096],
    [100, 1_000_000],
    [1024, 65_536],
    [16 * 1024, 1000], // smaller than one record: one record per batch
  ]) {
    const t = new BatchTemplate(size, cap);
    assert.ok(t.maxRecords >= 1);
    if (t.maxRecords > 1) {
      assert.ok(t.sizeOf(t.maxRecords) <= cap);
      const oneMore = encodeBatch({
        records: Array.from({ length: t.maxRecords + 1 }, () => ({ value: Buffer.alloc(size) })),
      });
      assert.ok(oneMore.length > cap, `${t.maxRecords} records is not the most that fit in ${cap}`);
    }
    for (const count of new Set([1, 2, Math.ceil(t.maxRecords / 3), t.maxRecords])) {
      if (count > t.maxRecords) continue;
      const out = Buffer.alloc(7 + 2 * t.sizeOf(count));
      const n1 = t.write(out, 7, count, 1_700_000_000_123, 5_000_000, 250);
      const n2 = t.write(out, 7 + n1, count, 1_700_000_000_124, 9_000_000, 0);
      assert.equal(n1, t.sizeOf(count));
      assert.deepEqual(
        splitBatches(out, 7, 7 + n1 + n2).map((p) => p.size),
        [n1, n2],
      );
      const b = decodeBatch(out, 7); // verifies the CRC
      assert.equal(b.records.length, count);
      assert.equal(b.lastOffsetDelta, count - 1);
      assert.equal(b.baseTimestamp, 1_700_000_000_123);
      assert.equal(b.maxTimestamp, 1_700_000_000_123);
      b.records.forEach((r, i) => {
        assert.equal(r.offsetDelta, i);
        assert.equal(r.key, null);
        assert.equal(r.value!.length, size);
        assert.equal(readStamp(r.value!, 0), 5_000_000 + i * 250);
        assert.ok(r.value!.subarray(STAMP_BYTES).every((c) => c === 0x78));
      });
      assert.ok(decodeBatch(out, 7 + n1).records.every((r) => readStamp(r.value!, 0) === 9_000_000));
    }
  }
  assert.throws(() => new BatchTemplate(15, 1000), /at least 16 bytes/);
});

test('stamps: 16 digits, fractions dropped, non-digits read as NaN', () => {
  const b = Buffer.alloc(20, '-');
  writeStamp(b, 2, 1_234_567_890_123_456);
  assert.equal(b.toString('latin1'), '--1234567890123456--');
  assert.equal(readStamp(b, 2), 1_234_567_890_123_456);
  writeStamp(b, 2, 98_765_432_109.75);
  assert.equal(readStamp(b, 2), 98_765_432_109);
  writeStamp(b, 0, 7);
  assert.equal(b.toString('latin1', 0, 16), '0000000000000007');
  assert.equal(readStamp(b, 0), 7);
  assert.ok(Number.isNaN(readStamp(Buffer.from('00000000000000/0'), 0)));
  assert.ok(Number.isNaN(readStamp(Buffer.from('00000000000000:0'), 0)));
});

test('percentiles are nearest-rank', () => {
  const xs = Float64Array.from({ length: 1000 }, (_, i) => 1000 - i); // 1000..1
  assert.deepEqual(summarize(xs), { count: 1000, p50: 500, p99: 990, p999: 999, max: 1000 });
  assert.equal(xs[0], 1000, 'input left unsorted');
  assert.equal(rank(Float64Array.of(3), 99.9), 3);
  assert.ok(Number.isNaN(summarize([]).p50));
});
