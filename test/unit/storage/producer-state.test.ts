// ProducerStateManager: duplicate detection, sequence and epoch rules, snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProducerStateManager } from '../../../src/storage/producer-state.ts';
import fs from 'node:fs';
import { tempDir } from './fixtures.ts';

const MAX = 0x7fffffff;

test('duplicates of the last five batches are answered with their offsets; older ones are not', () => {
  const p = new ProducerStateManager('/nonexistent');
  for (let i = 0; i < 7; i++) p.onAppend(1, 0, i * 10, i * 10 + 9, 100 + i * 10, 109 + i * 10, 0);
  assert.deepEqual(p.check(1, 0, 60, 69), { duplicateOf: { firstOffset: 160, lastOffset: 169 } });
  assert.deepEqual(p.check(1, 0, 20, 29), { duplicateOf: { firstOffset: 120, lastOffset: 129 } });
  assert.equal(p.check(1, 0, 10, 19), 'OUT_OF_ORDER_SEQUENCE_NUMBER', 'beyond the five retained');
  assert.equal(p.check(1, 0, 70, 79), 'ok');
  assert.equal(p.check(1, 0, 71, 79), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
});

test('epochs: older is fenced, a newer one must start at sequence 0', () => {
  const p = new ProducerStateManager('/nonexistent');
  p.onAppend(5, 3, 0, 4, 0, 4, 0);
  assert.equal(p.check(5, 2, 5, 5), 'INVALID_PRODUCER_EPOCH');
  assert.equal(p.check(5, 4, 5, 5), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
  assert.equal(p.check(5, 4, 0, 3), 'ok');
  p.onAppend(5, 4, 0, 3, 5, 8, 0);
  assert.equal(p.check(5, 4, 4, 4), 'ok');
  assert.equal(p.check(5, 3, 0, 4), 'INVALID_PRODUCER_EPOCH', 'no duplicate answer across epochs');
});

test('sequences wrap at int32 max; unknown producers are accepted at any sequence', () => {
  const p = new ProducerStateManager('/nonexistent');
  assert.equal(p.check(9, 0, 17, 20), 'ok');
  p.onAppend(9, 0, MAX - 1, MAX + 2, 0, 3, 0); // MAX-1, MAX, 0, 1
  assert.equal(p.get(9)!.batches[0].lastSeq, 1);
  assert.equal(p.check(9, 0, 2, 2), 'ok');
  assert.deepEqual(p.check(9, 0, MAX - 1, MAX + 2), { duplicateOf: { firstOffset: 0, lastOffset: 3 } });
  p.onAppend(8, 0, MAX - 1, MAX, 4, 5, 0);
  assert.equal(p.check(8, 0, 0, 0), 'ok');
  assert.equal(p.check(8, 0, 1, 1), 'OUT_OF_ORDER_SEQUENCE_NUMBER');
});

test('snapshots round-trip; a damaged snapshot is refused; truncateHead forgets producers below the start', () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = new ProducerStateManager(dir);
    p.onAppend(1, 2, 0, 4, 0, 4, 111);
    p.onAppend(2, 0, 10, 10, 5, 5, 222);
    p.writeSnapshot(6);
    const q = new ProducerStateManager(dir);
    assert.deepEqual(q.listSnapshots(), [6]);
    assert.ok(q.readSnapshot(6));
    assert.deepEqual([...q.entries()], [...p.entries()]);
    q.truncateHead(5);
    assert.equal(q.get(1), undefined);
    assert.ok(q.get(2));
    const f = q.snapshotFile(6);
    const b = fs.readFileSync(f);
    b[b.length - 3] ^= 1;
    fs.writeFileSync(f, b);
    assert.equal(new ProducerStateManager(dir).readSnapshot(6), false);
  } finally {
    cleanup();
  }
});
