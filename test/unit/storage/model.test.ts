// Model-based property test: random append/read/roll/retention/truncate/delete-records/restart against an in-memory list of batches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { OffsetOutOfRangeError } from '../../../src/storage/errors.ts';
import { batchOffsets, config, joined, makeBatch, tempDir } from './fixtures.ts';

interface ModelBatch {
  base: number;
  last: number;
  bytes: Buffer;
}

type Op =
  | { t: 'append'; batches: number; records: number; valueBytes: number }
  | { t: 'read'; at: number; maxBytes: number }
  | { t: 'hw'; at: number }
  | { t: 'roll' }
  | { t: 'retention'; keepBytes: number }
  | { t: 'truncate'; at: number }
  | { t: 'deleteRecords'; at: number }
  | { t: 'restart'; clean: boolean };

const frac = fc.double({ min: 0, max: 1, noNaN: true });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('append' as const),
      batches: fc.integer({ min: 1, max: 3 }),
      records: fc.integer({ min: 1, max: 4 }),
      valueBytes: fc.integer({ min: 0, max: 300 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('read' as const), at: frac, maxBytes: fc.integer({ min: 1, max: 3000 }) }),
  },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('hw' as const), at: frac }) },
  { weight: 1, arbitrary: fc.constant({ t: 'roll' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant('retention' as const), keepBytes: fc.integer({ min: 0, max: 5000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('truncate' as const), at: frac }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('deleteRecords' as const), at: frac }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), clean: fc.boolean() }) },
);

const pick = <T>(xs: T[], f: number): T => xs[Math.min(xs.length - 1, Math.floor(f * xs.length))];

test('PartitionLog matches an in-memory model under random operations', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(op, { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 300, max: 3000 }),
      async (ops, segmentBytes) => {
        const { dir, cleanup } = tempDir();
        const d = path.join(dir, 'm-0');
        const cfg = config({ segmentBytes, indexIntervalBytes: 128, fileDeleteDelayMs: 0 });
        const fsync = async () => {};
        let log = await PartitionLog.open(d, cfg, { cleanShutdown: true, fsync });
        let model: ModelBatch[] = [];
        let leo = 0;
        let hw = 0;
        let lso = 0;
        const check = () => {
          assert.equal(log.logEndOffset, leo);
          assert.equal(log.highWatermark, hw);
          assert.equal(log.logStartOffset, lso);
          assert.ok(lso <= hw && hw <= leo);
          // A full scan below the high watermark returns exactly the model's batches.
          const served: Buffer[] = [];
          let off = lso;
          while (off < hw) {
            const r = joined(log.read(off, 1 << 20, { maxOffset: hw }));
            assert.ok(r.length > 0);
            served.push(r);
            off = batchOffsets(r).at(-1)!.last + 1;
          }
          const want = model.filter((b) => b.last >= lso && b.last < hw).map((b) => b.bytes);
          assert.deepEqual(Buffer.concat(served), Buffer.concat(want));
        };
        try {
          for (const o of ops) {
            switch (o.t) {
              case 'append': {
                const bs = Array.from({ length: o.batches }, (_, i) =>
                  makeBatch(o.records, { timestamp: 1000 + leo + i }, o.valueBytes),
                );
                const buf = Buffer.concat(bs);
                const info = log.append(buf, { leaderEpoch: 0 });
                assert.equal(info.firstOffset, leo);
                for (let at = 0; at < buf.length; ) {
                  const size = 12 + buf.readInt32BE(at + 8);
                  model.push({ base: leo, last: leo + o.records - 1, bytes: Buffer.from(buf.subarray(at, at + size)) });
                  leo += o.records;
                  at += size;
                }
                assert.equal(info.lastOffset, leo - 1);
                break;
              }
              case 'read': {
                const offs = [
                  lso,
                  ...model.filter((b) => b.base >= lso).map((b) => b.base + Math.floor(o.at * (b.last - b.base + 1))),
                  leo,
                ];
                const off = pick(offs, o.at);
                const r = log.read(off, o.maxBytes, { maxOffset: hw });
                const got = batchOffsets(joined(r));
                if (off >= hw) assert.equal(r.bytes, 0);
                else {
                  const i = model.findIndex((b) => b.last >= off);
                  assert.ok(got.length >= 1);
                  assert.ok(r.bytes <= Math.max(o.maxBytes, model[i].bytes.length));
                  assert.deepEqual(joined(r), Buffer.concat(model.slice(i, i + got.length).map((b) => b.bytes)));
                }
                assert.throws(() => log.read(leo + 1, 10), OffsetOutOfRangeError);
                if (lso > 0) assert.throws(() => log.read(lso - 1, 10), OffsetOutOfRangeError);
                break;
              }
              case 'hw': {
                const bounds = [hw, ...model.filter((b) => b.last + 1 > hw).map((b) => b.last + 1)];
                hw = pick(bounds, o.at);
                log.setHighWatermark(hw);
                break;
              }
              case 'roll':
                log.roll();
                break;
              case 'retention': {
                log.updateConfig({ ...cfg, retentionBytes: o.keepBytes });
                log.deleteOldSegments();
                assert.ok(log.logStartOffset >= lso);
                lso = log.logStartOffset;
                log.updateConfig(cfg);
                break;
              }
              case 'truncate': {
                const bounds = [leo, ...model.filter((b) => b.base >= hw).map((b) => b.base)];
                const to = pick(bounds, o.at);
                log.truncateTo(to);
                model = model.filter((b) => b.base < to);
                leo = Math.min(leo, to);
                break;
              }
              case 'deleteRecords': {
                const to = lso + Math.floor(o.at * (hw - lso));
                await log.deleteRecordsBefore(to);
                lso = Math.max(lso, to);
                break;
              }
              case 'restart': {
                const opts = { logStartOffset: lso, highWatermark: hw, fsync };
                if (o.clean) {
                  await log.close();
                  log = await PartitionLog.open(d, cfg, { ...opts, cleanShutdown: true });
                } else {
                  const rp = log.recoveryPoint;
                  log.abandon();
                  log = await PartitionLog.open(d, cfg, { ...opts, recoveryPoint: rp });
                }
                break;
              }
            }
            check();
          }
        } finally {
          log.abandon();
          cleanup();
        }
      },
    ),
    { numRuns: 40 },
  );
});
