/**
 * Control records: key and marker value layouts, commit/abort marker batches,
 * and short or null inputs as ProtocolError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../src/protocol/protocol-error.ts';
import {
  ControlRecordType,
  decodeControlKey,
  decodeEndTxnMarkerValue,
  encodeControlKey,
  encodeEndTxnMarkerValue,
  encodeTxnMarkerBatch,
} from '../../../src/protocol/records/control.ts';
import { decodeBatch } from '../../../src/protocol/records/record-batch.ts';

test('control key is version int16 + type int16', () => {
  const k = encodeControlKey(ControlRecordType.COMMIT);
  assert.deepEqual([...k], [0, 0, 0, 1]);
  assert.deepEqual(decodeControlKey(k), { version: 0, type: 1 });
  assert.deepEqual(decodeControlKey(Buffer.from([0, 0, 0, 0])), { version: 0, type: ControlRecordType.ABORT });
});

test('marker value is version int16 + coordinatorEpoch int32; later versions may append', () => {
  const v = encodeEndTxnMarkerValue(0x01020304);
  assert.deepEqual([...v], [0, 0, 1, 2, 3, 4]);
  assert.deepEqual(decodeEndTxnMarkerValue(v), { version: 0, coordinatorEpoch: 0x01020304 });
  const v1 = Buffer.concat([encodeEndTxnMarkerValue(9, 1), Buffer.from([0, 2])]);
  assert.deepEqual(decodeEndTxnMarkerValue(v1), { version: 1, coordinatorEpoch: 9 });
});

test('short, null or negative-version inputs are ProtocolErrors', () => {
  assert.throws(() => decodeControlKey(null), ProtocolError);
  assert.throws(() => decodeControlKey(Buffer.from([0, 0, 0])), ProtocolError);
  assert.throws(() => decodeControlKey(Buffer.from([0xff, 0xff, 0, 1])), ProtocolError);
  assert.throws(() => decodeEndTxnMarkerValue(Buffer.from([0, 0, 0, 0, 1])), ProtocolError);
  assert.throws(() => decodeEndTxnMarkerValue(null), ProtocolError);
});

test('commit and abort marker batches', () => {
  for (const commit of [true, false]) {
    const b = encodeTxnMarkerBatch({
      commit,
      producerId: 77,
      producerEpoch: 4,
      coordinatorEpoch: 12,
      baseOffset: 500,
      partitionLeaderEpoch: 2,
      timestamp: 1234,
    });
    const d = decodeBatch(b);
    assert.equal(d.isControl, true);
    assert.equal(d.isTransactional, true);
    assert.equal(d.producerId, 77);
    assert.equal(d.producerEpoch, 4);
    assert.equal(d.baseSequence, -1);
    assert.equal(d.baseOffset, 500);
    assert.equal(d.partitionLeaderEpoch, 2);
    assert.equal(d.recordCount, 1);
    assert.equal(d.lastOffsetDelta, 0);
    assert.equal(d.maxTimestamp, 1234);
    const r = d.records[0];
    assert.deepEqual(decodeControlKey(r.key), {
      version: 0,
      type: commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT,
    });
    assert.deepEqual(decodeEndTxnMarkerValue(r.value), { version: 0, coordinatorEpoch: 12 });
  }
});
