/**
 * Produce-path checks: splitBatches positions and truncation, and
 * validateBatchForAppend verdicts (magic, length, CRC, counts, control
 * batches, record walk of uncompressed batches; the record-level checks of
 * compressed batches are in validate-records.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { ProtocolError } from '../../../src/protocol/protocol-error.ts';
import {
  BATCH_HEADER_SIZE,
  OFF_LAST_OFFSET_DELTA,
  OFF_RECORD_COUNT,
  computeBatchCrc,
} from '../../../src/protocol/records/batch-header.ts';
import { Compression } from '../../../src/protocol/records/compression.ts';
import { encodeTxnMarkerBatch } from '../../../src/protocol/records/control.ts';
import { encodeBatch } from '../../../src/protocol/records/record-batch.ts';
import { splitBatches, validateBatchForAppend } from '../../../src/protocol/records/validate.ts';

const T0 = 1_700_000_000_000;
const one = (value: string, compression = 0): Buffer =>
  encodeBatch({
    compression,
    records: [
      { value, timestamp: T0 },
      { value: value + '2', timestamp: T0 },
    ],
  });

function recrc(b: Buffer): Buffer {
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17);
  return b;
}

test('splitBatches returns the position of each concatenated batch', () => {
  const a = one('a');
  const b = one('bb', Compression.ZSTD);
  const c = one('ccc');
  const all = Buffer.concat([a, b, c]);
  assert.deepEqual(splitBatches(all), [
    { at: 0, size: a.length },
    { at: a.length, size: b.length },
    { at: a.length + b.length, size: c.length },
  ]);
  assert.deepEqual(splitBatches(Buffer.alloc(0)), []);
  assert.deepEqual(splitBatches(all, a.length, a.length + b.length), [{ at: a.length, size: b.length }]);
});

test('splitBatches rejects truncated and impossible batches', () => {
  const all = Buffer.concat([one('a'), one('b')]);
  for (const cut of [1, 10, 16, 60, all.length - 1]) {
    assert.throws(() => splitBatches(all.subarray(0, all.length - cut)), ProtocolError, `cut ${cut}`);
  }
  const tiny = Buffer.from(one('a'));
  tiny.writeInt32BE(10, 8);
  assert.throws(() => splitBatches(tiny), /below/);
  const negative = Buffer.from(one('a'));
  negative.writeInt32BE(-5, 8);
  assert.throws(() => splitBatches(negative), ProtocolError);
  const partial = splitBatches(all.subarray(0, all.length - 5), 0, all.length - 5, { allowPartialTail: true });
  assert.equal(partial.length, 1);
});

test('a well-formed batch passes, uncompressed or compressed', () => {
  for (const codec of [0, 1, 2, 3, 4]) {
    const b = one('ok', codec);
    assert.equal(validateBatchForAppend(b, 0, b.length), null, `codec ${codec}`);
  }
  const both = Buffer.concat([one('x'), one('y')]);
  for (const { at, size } of splitBatches(both)) assert.equal(validateBatchForAppend(both, at, size), null);
});

test('magic, length and CRC problems', () => {
  const b = one('v');
  const magic = Buffer.from(b);
  magic[16] = 1;
  assert.equal(validateBatchForAppend(magic, 0, magic.length)?.errorCode, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT);
  assert.equal(validateBatchForAppend(b, 0, b.length - 1)?.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal(validateBatchForAppend(b, 0, 40)?.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal(validateBatchForAppend(b, 5, b.length)?.errorCode, ErrorCode.CORRUPT_MESSAGE);
  const flipped = Buffer.from(b);
  flipped[flipped.length - 1] ^= 0x20;
  const p = validateBatchForAppend(flipped, 0, flipped.length);
  assert.equal(p?.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.match(p?.message ?? '', /CRC/);
});

test('record count and offset range must agree (without decompressing)', () => {
  for (const codec of [0, 1]) {
    const count = recrc(Buffer.from(one('v', codec)));
    count.writeInt32BE(0, OFF_RECORD_COUNT);
    recrc(count);
    assert.equal(validateBatchForAppend(count, 0, count.length)?.errorCode, ErrorCode.INVALID_RECORD);
    const delta = Buffer.from(one('v', codec));
    delta.writeInt32BE(5, OFF_LAST_OFFSET_DELTA);
    recrc(delta);
    assert.equal(validateBatchForAppend(delta, 0, delta.length)?.errorCode, ErrorCode.INVALID_RECORD);
  }
  // A compressed batch whose section is garbage is refused once decompressed.
  const gz = Buffer.from(one('v', Compression.GZIP));
  gz.fill(0x55, BATCH_HEADER_SIZE);
  recrc(gz);
  assert.equal(validateBatchForAppend(gz, 0, gz.length)?.errorCode, ErrorCode.CORRUPT_MESSAGE);
  assert.equal(validateBatchForAppend(gz, 0, gz.length, { checkRecords: false }), null);
});

test('uncompressed records are walked: structure and offset deltas', () => {
  const gap = encodeBatch({
    lastOffsetDelta: 1,
    records: [
      { value: 'a', timestamp: T0, offsetDelta: 0 },
      { value: 'b', timestamp: T0, offsetDelta: 5 },
    ],
  });
  assert.equal(validateBatchForAppend(gap, 0, gap.length)?.errorCode, ErrorCode.INVALID_RECORD);
  const broken = Buffer.from(one('v'));
  broken[BATCH_HEADER_SIZE] = 0x7e; // first record length beyond the section
  recrc(broken);
  assert.equal(validateBatchForAppend(broken, 0, broken.length)?.errorCode, ErrorCode.INVALID_RECORD);
  assert.equal(validateBatchForAppend(broken, 0, broken.length, { checkRecords: false }), null);
});

test('control batches are refused from clients, accepted for the broker', () => {
  const marker = encodeTxnMarkerBatch({
    commit: true,
    producerId: 1,
    producerEpoch: 0,
    coordinatorEpoch: 3,
    timestamp: T0,
  });
  assert.equal(validateBatchForAppend(marker, 0, marker.length)?.errorCode, ErrorCode.INVALID_RECORD);
  assert.equal(validateBatchForAppend(marker, 0, marker.length, { allowControl: true }), null);
});

test('requireKeys (a compacted topic) refuses a record without a key, naming it, compressed or not', () => {
  for (const compression of [Compression.NONE, Compression.GZIP]) {
    const keyed = encodeBatch({
      compression,
      records: [
        { key: 'a', value: 'x', timestamp: T0 },
        { key: '', value: null, timestamp: T0 },
      ],
    });
    assert.equal(
      validateBatchForAppend(keyed, 0, keyed.length, { requireKeys: true }),
      null,
      'an empty key and a tombstone are keyed records',
    );
    const unkeyed = encodeBatch({
      compression,
      records: [
        { key: 'a', value: 'x', timestamp: T0 },
        { key: null, value: 'y', timestamp: T0 },
      ],
    });
    const p = validateBatchForAppend(unkeyed, 0, unkeyed.length, { requireKeys: true });
    assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD);
    assert.equal(p?.recordIndex, 1);
    assert.equal(validateBatchForAppend(unkeyed, 0, unkeyed.length), null, 'keys are optional by default');
  }
});
