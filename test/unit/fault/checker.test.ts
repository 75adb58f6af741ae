/**
 * The fault checker (test/fault/checker.ts) finds what it is there to find:
 * a lost acknowledged record, a record stored twice, a record acknowledged at
 * another offset, a reordering, a read that later vanished, replicas that
 * differ or lag below the high watermark; and it passes a clean history. The
 * unavailability of a failover is measured from the fault to the next
 * acknowledgement on each partition the node led.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  check,
  compareReplicas,
  parseProducer,
  parseReads,
  percentile,
  replicaBytesBelow,
  unavailability,
  type ReadRecord,
} from '../../fault/checker.ts';

function producer(lines: string[]) {
  return parseProducer(lines.join('\n'));
}

const CLEAN_ACKS = ['A 0 0 p1-0 100 90', 'A 1 0 p1-1 101 91', 'A 0 1 p1-2 102 92', 'D 3 0'];
const CLEAN_READ: ReadRecord[] = [
  { partition: 0, offset: 0, value: 'p1-0' },
  { partition: 0, offset: 1, value: 'p1-2' },
  { partition: 1, offset: 0, value: 'p1-1' },
];
const HW = new Map([
  [0, 2],
  [1, 1],
]);

function verdict(over: { final?: ReadRecord[]; hw?: Map<number, number>; live?: ReadRecord[]; acks?: string[] }) {
  return check({
    producers: [producer(over.acks ?? CLEAN_ACKS)],
    final: over.final ?? CLEAN_READ,
    hw: over.hw ?? HW,
    live: over.live ?? [],
    divergentReplicas: [],
  });
}

describe('fault checker', () => {
  test('a clean history passes', () => {
    const v = verdict({ live: CLEAN_READ.slice(0, 2) });
    assert.equal(v.ok, true);
    assert.equal(v.acknowledged, 3);
  });

  test('an acknowledged record missing from the log is lost', () => {
    const v = verdict({ final: CLEAN_READ.filter((r) => r.value !== 'p1-1'), hw: new Map([[0, 2]]) });
    assert.equal(v.ok, false);
    assert.deepEqual(v.lost, ['p1-1@1:0']);
  });

  test('a value stored twice is a duplicate, acknowledged or not', () => {
    const v = verdict({
      acks: ['A 0 0 p1-0 100 90', 'D 2 0'],
      final: [
        { partition: 0, offset: 0, value: 'p1-0' },
        { partition: 0, offset: 1, value: 'p1-1' },
        { partition: 0, offset: 2, value: 'p1-1' },
      ],
      hw: new Map([[0, 3]]),
    });
    assert.equal(v.ok, false);
    assert.deepEqual(v.duplicated, ['p1-1 x2']);
    assert.equal(v.unacknowledgedPresent, 2);
  });

  test('an acknowledged offset that holds another record is misplaced', () => {
    const v = verdict({
      final: [
        { partition: 0, offset: 0, value: 'p1-2' },
        { partition: 0, offset: 1, value: 'p1-0' },
        { partition: 1, offset: 0, value: 'p1-1' },
      ],
    });
    assert.equal(v.ok, false);
    assert.equal(v.misplaced.length, 2);
    assert.equal(v.reordered.length, 1, 'p1-0 after p1-2 on partition 0');
  });

  test('a gap below the high watermark, and a read that later vanished, fail', () => {
    const gap = verdict({ hw: new Map([[0, 3]]) });
    assert.equal(gap.ok, false);
    assert.ok(gap.gaps.length > 0);
    const unstable = verdict({ live: [{ partition: 0, offset: 2, value: 'p1-9' }] });
    assert.equal(unstable.ok, false);
    assert.deepEqual(unstable.unstableReads, ['0:2 read p1-9, finally absent']);
  });

  test('parses the workload lines; transient errors are not fatal ones', () => {
    const p = producer([
      'A 0 5 p1-7 1000 990',
      'E p1-8 Local:_Message_timed_out 1001',
      'W transport 1002',
      'X fatal 1003',
      'D 9 1',
    ]);
    assert.deepEqual(p.acks, [{ partition: 0, offset: 5, value: 'p1-7', at: 1000, sentAt: 990 }]);
    assert.deepEqual(p.failed, ['p1-8']);
    assert.deepEqual(p.warnings, ['transport']);
    assert.deepEqual(p.errors, ['fatal']);
    assert.equal(p.done && p.sent === 9 && p.undelivered === 1, true);
    const r = parseReads('R 1 2 p2-3\nW x 5\nH 1 3\n');
    assert.deepEqual(r.records, [{ partition: 1, offset: 2, value: 'p2-3' }]);
    assert.deepEqual([...r.hw], [[1, 3]]);
    assert.deepEqual(r.errors, []);
  });

  test('unavailability: from the fault to the acknowledgement of a record sent after it, on every partition the node led', () => {
    // a-1 was sent before the first fault and acknowledged after it: it does not end that fault's unavailability
    const acks = producer(['A 0 0 a-0 100 90', 'A 1 0 a-1 250 150', 'A 0 1 a-2 900 800', 'A 1 1 a-3 1400 1300']).acks;
    const u = unavailability(
      [
        { at: 200, kind: 'kill', node: 1, led: [0, 1] },
        { at: 300, kind: 'pause', node: 2, led: [] },
        { at: 1000, kind: 'kill', node: 3, led: [0] },
      ],
      acks,
    );
    assert.deepEqual(
      u.map((x) => x.ms),
      [1200, Number.POSITIVE_INFINITY],
    );
    assert.equal(percentile([5, 1, 3, 2, 4], 0.5), 3);
    assert.equal(percentile([5, 1, 3, 2, 4], 0.99), 5);
  });

  describe('replica bytes below the high watermark', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fault-checker-'));
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** A record-batch-shaped frame: base offset, length, epoch, magic, crc, attributes, last offset delta, filler. */
    function batch(base: number, count: number, fill: number): Buffer {
      const b = Buffer.alloc(70, fill);
      b.writeBigInt64BE(BigInt(base), 0);
      b.writeInt32BE(70 - 12, 8);
      b.writeInt32BE(count - 1, 23);
      return b;
    }
    function replica(node: number, batches: Buffer[]): string {
      const d = path.join(dir, `node-${node}`, 't-0');
      fs.mkdirSync(d, { recursive: true });
      fs.writeFileSync(path.join(d, `${'0'.padStart(20, '0')}.log`), Buffer.concat(batches));
      return path.join(dir, `node-${node}`);
    }

    test('equal below the high watermark, a divergent tail above it allowed; a difference or a lag below it reported', () => {
      const a = replica(1, [batch(0, 2, 1), batch(2, 3, 2), batch(5, 1, 3)]);
      const b = replica(2, [batch(0, 2, 1), batch(2, 3, 2), batch(5, 1, 9)]);
      const c = replica(3, [batch(0, 2, 1), batch(2, 3, 7)]);
      const d = replica(4, [batch(0, 2, 1)]);
      assert.equal(replicaBytesBelow(path.join(a, 't-0'), 5).end, 5);
      const hw = new Map([[0, 5]]);
      assert.deepEqual(compareReplicas([a, b], 't', hw), { divergent: [], behind: [] });
      assert.deepEqual(compareReplicas([a, c], 't', hw).divergent, [
        'partition 0: replica 2 differs from replica 1 below 5',
      ]);
      assert.deepEqual(compareReplicas([a, d], 't', hw).behind, ['partition 0: replica 2 holds up to 2 of 5']);
    });
  });
});
