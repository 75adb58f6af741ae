/**
 * Record batch v2 tests: encode/decode round trips under every codec, null
 * keys and values, headers, header fields and CRC, the reusable cursor,
 * corruption and truncation as ProtocolError, and fast-check properties.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BATCH_HEADER_SIZE,
  OFF_RECORD_COUNT,
  batch,
  computeBatchCrc,
  isBatchCrcValid,
  setBaseOffset,
  setLogAppendTime,
} from '../../../src/protocol/records/batch-header.ts';
import { Compression } from '../../../src/protocol/records/compression.ts';
import {
  RecordCursor,
  TimestampType,
  decodeBatch,
  encodeBatch,
  forEachRecord,
  iterateRecords,
  readBatchHeader,
  type RecordInput,
} from '../../../src/protocol/records/record-batch.ts';
import { ProtocolError } from '../../../src/protocol/protocol-error.ts';

const CODECS = [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];
const T0 = 1_700_000_000_000;

const RECORDS: RecordInput[] = [
  { key: 'k0', value: 'v0', timestamp: T0 },
  { key: null, value: 'no key', timestamp: T0 + 5 },
  { key: 'tombstone', value: null, timestamp: T0 - 3 },
  { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: T0 + 1 },
  {
    key: 'h',
    value: Buffer.from([0, 1, 2, 255]),
    timestamp: T0 + 2,
    headers: [
      { key: 'trace', value: 'abc' },
      { key: 'empty', value: Buffer.alloc(0) },
      { key: 'nil', value: null },
      { key: 'trace', value: 'dup key kept in order' },
      { key: 'ünïcode', value: '✓' },
    ],
  },
];

function str(b: Buffer | null): string | null {
  return b === null ? null : b.toString('utf8');
}

for (const codec of CODECS) {
  test(`round trip with codec ${codec}`, () => {
    const buf = encodeBatch({
      baseOffset: 1000,
      partitionLeaderEpoch: 7,
      compression: codec,
      producerId: 4242,
      producerEpoch: 3,
      baseSequence: 17,
      isTransactional: true,
      records: RECORDS,
    });
    assert.equal(batch.totalSize(buf), buf.length);
    assert.ok(isBatchCrcValid(buf, 0, buf.length));
    const d = decodeBatch(buf);
    assert.equal(d.magic, 2);
    assert.equal(d.compression, codec);
    assert.equal(d.baseOffset, 1000);
    assert.equal(d.partitionLeaderEpoch, 7);
    assert.equal(d.producerId, 4242);
    assert.equal(d.producerEpoch, 3);
    assert.equal(d.baseSequence, 17);
    assert.equal(d.isTransactional, true);
    assert.equal(d.isControl, false);
    assert.equal(d.timestampType, TimestampType.CREATE_TIME);
    assert.equal(d.recordCount, 5);
    assert.equal(d.lastOffsetDelta, 4);
    assert.equal(d.baseTimestamp, T0);
    assert.equal(d.maxTimestamp, T0 + 5);
    assert.deepEqual(
      d.records.map((r) => [r.offset, r.offsetDelta, r.timestamp, str(r.key), str(r.value)]),
      [
        [1000, 0, T0, 'k0', 'v0'],
        [1001, 1, T0 + 5, null, 'no key'],
        [1002, 2, T0 - 3, 'tombstone', null],
        [1003, 3, T0 + 1, '', ''],
        [1004, 4, T0 + 2, 'h', '\u0000\u0001\u0002\ufffd'],
      ],
    );
    assert.equal(d.records[2].timestampDelta, -3);
    assert.deepEqual(
      d.records[4].headers.map((h) => [h.key, str(h.value)]),
      [
        ['trace', 'abc'],
        ['empty', ''],
        ['nil', null],
        ['trace', 'dup key kept in order'],
        ['ünïcode', '✓'],
      ],
    );
    assert.deepEqual(d.records[0].headers, []);
  });
}

test('uncompressed values are views into the batch, not copies', () => {
  const buf = encodeBatch({ records: [{ key: 'k', value: 'value', timestamp: T0 }] });
  const d = decodeBatch(buf);
  const v = d.records[0].value as Buffer;
  assert.equal(v.buffer, buf.buffer);
  v[0] = 0x56; // 'V'
  assert.equal(buf.includes('Value'), true);
});

test('cursor walks records reusing one object; forEachRecord and iterateRecords agree', () => {
  const buf = encodeBatch({ baseOffset: 50, compression: Compression.LZ4, records: RECORDS });
  const seen: RecordCursor[] = [];
  const offsets: number[] = [];
  const n = forEachRecord(buf, (r) => {
    seen.push(r);
    offsets.push(r.offset);
  });
  assert.equal(n, 5);
  assert.deepEqual(offsets, [50, 51, 52, 53, 54]);
  assert.ok(seen.every((r) => r === seen[0]));
  const values = [...iterateRecords(buf)].length;
  assert.equal(values, 5);
  const c = new RecordCursor(buf);
  assert.equal(c.next(), true);
  assert.equal(str(c.key()), 'k0');
  assert.equal(c.headerCount, 0);
  assert.equal(c.next(), true);
  assert.equal(c.key(), null);
  assert.equal(c.timestamp, T0 + 5);
});

test('batches are read at an offset inside a larger buffer', () => {
  const a = encodeBatch({ baseOffset: 0, records: [{ value: 'a', timestamp: T0 }] });
  const b = encodeBatch({ baseOffset: 1, compression: Compression.GZIP, records: [{ value: 'b', timestamp: T0 }] });
  const both = Buffer.concat([a, b]);
  const d = decodeBatch(both, a.length);
  assert.equal(str(d.records[0].value), 'b');
  assert.equal(d.records[0].offset, 1);
  assert.equal(readBatchHeader(both, a.length).compression, Compression.GZIP);
});

test('LogAppendTime: records report the batch max timestamp', () => {
  const buf = encodeBatch({
    records: [
      { value: 'x', timestamp: T0 },
      { value: 'y', timestamp: T0 + 9 },
    ],
  });
  setLogAppendTime(buf, 0, buf.length, T0 + 1000);
  const d = decodeBatch(buf);
  assert.equal(d.timestampType, TimestampType.LOG_APPEND_TIME);
  assert.deepEqual(
    d.records.map((r) => r.timestamp),
    [T0 + 1000, T0 + 1000],
  );
  const encoded = encodeBatch({
    timestampType: TimestampType.LOG_APPEND_TIME,
    maxTimestamp: T0 + 77,
    records: [{ value: 'z', timestamp: T0 }],
  });
  assert.equal(decodeBatch(encoded).records[0].timestamp, T0 + 77);
});

test('base offset and leader epoch patches leave the CRC valid', () => {
  const buf = encodeBatch({ records: [{ value: 'x', timestamp: T0 }] });
  setBaseOffset(buf, 0, 2 ** 40 + 3);
  assert.equal(decodeBatch(buf).records[0].offset, 2 ** 40 + 3);
});

test('explicit offsetDeltas and lastOffsetDelta (a compacted batch) are kept', () => {
  const buf = encodeBatch({
    lastOffsetDelta: 9,
    records: [
      { value: 'a', offsetDelta: 0, timestamp: T0 },
      { value: 'b', offsetDelta: 4, timestamp: T0 },
    ],
  });
  const d = decodeBatch(buf);
  assert.equal(d.lastOffsetDelta, 9);
  assert.deepEqual(
    d.records.map((r) => r.offsetDelta),
    [0, 4],
  );
});

test('an empty batch has no timestamps and no records', () => {
  const d = decodeBatch(encodeBatch({ records: [] }));
  assert.equal(d.recordCount, 0);
  assert.equal(d.baseTimestamp, -1);
  assert.equal(d.maxTimestamp, -1);
  assert.deepEqual(d.records, []);
});

test('CRC corruption is detected in header fields and in records, for every codec', () => {
  for (const codec of CODECS) {
    const buf = encodeBatch({ compression: codec, records: RECORDS });
    for (const pos of [22, 30, BATCH_HEADER_SIZE + 2, buf.length - 1]) {
      const bad = Buffer.from(buf);
      bad[pos] ^= 0x01;
      assert.throws(() => decodeBatch(bad), /CRC mismatch/, `codec ${codec} byte ${pos}`);
    }
  }
});

test('truncated batches are ProtocolErrors at every length', () => {
  const buf = encodeBatch({ compression: Compression.NONE, records: RECORDS });
  for (let n = 0; n < buf.length; n++) {
    assert.throws(() => decodeBatch(buf.subarray(0, n)), ProtocolError, `length ${n}`);
  }
});

test('structurally bad records are ProtocolErrors even with a valid CRC', () => {
  const fix = (b: Buffer): Buffer => {
    b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17);
    return b;
  };
  const base = encodeBatch({
    records: [
      { key: 'k', value: 'v', timestamp: T0 },
      { key: 'k2', value: 'v2', timestamp: T0 },
    ],
  });
  // record count larger than the records present
  const more = Buffer.from(base);
  more.writeInt32BE(3, OFF_RECORD_COUNT);
  assert.throws(() => decodeBatch(fix(more)), ProtocolError);
  // record count smaller: bytes left over
  const fewer = Buffer.from(base);
  fewer.writeInt32BE(1, OFF_RECORD_COUNT);
  assert.throws(() => decodeBatch(fix(fewer)), /after the last/);
  // hostile record count: refused before any allocation
  const huge = Buffer.from(base);
  huge.writeInt32BE(0x7fffffff, OFF_RECORD_COUNT);
  assert.throws(() => decodeBatch(fix(huge)), /cannot fit/);
  const negative = Buffer.from(base);
  negative.writeInt32BE(-1, OFF_RECORD_COUNT);
  assert.throws(() => decodeBatch(fix(negative)), ProtocolError);
  // first record's length varint claims more than the section
  const long = Buffer.from(base);
  long[BATCH_HEADER_SIZE] = 0x7e;
  assert.throws(() => decodeBatch(fix(long)), ProtocolError);
  // unknown codec id
  const codec = Buffer.from(base);
  codec.writeInt16BE(6, 21);
  assert.throws(() => decodeBatch(fix(codec)), /compression/);
  // wrong magic
  const magic = Buffer.from(base);
  magic[16] = 1;
  assert.throws(() => decodeBatch(magic), /magic/);
  // a compressed section that is not valid for its codec
  const gz = encodeBatch({ compression: Compression.GZIP, records: [{ value: 'x'.repeat(100), timestamp: T0 }] });
  gz[BATCH_HEADER_SIZE + 12] ^= 0xff;
  assert.throws(() => decodeBatch(fix(gz)), ProtocolError);
});

const bytes = fc.oneof(
  fc.constant(null),
  fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
);
const recordArb = fc.record({
  key: bytes,
  value: bytes,
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  headers: fc.array(fc.record({ key: fc.string({ maxLength: 12 }), value: bytes }), { maxLength: 3 }),
});

test('property: decode(encode(x)) preserves every record field, any codec', () => {
  fc.assert(
    fc.property(
      fc.array(recordArb, { maxLength: 12 }),
      fc.constantFrom(...CODECS),
      fc.integer({ min: 0, max: 2 ** 50 }),
      (records, codec, baseOffset) => {
        const buf = encodeBatch({ baseOffset, compression: codec, records });
        const d = decodeBatch(buf);
        assert.equal(d.recordCount, records.length);
        if (records.length > 0) {
          assert.equal(d.maxTimestamp, Math.max(...records.map((r) => r.timestamp)));
          assert.equal(d.lastOffsetDelta, records.length - 1);
        }
        d.records.forEach((r, i) => {
          const want = records[i];
          assert.equal(r.offset, baseOffset + i);
          assert.equal(r.timestamp, want.timestamp);
          assert.deepEqual(r.key, want.key);
          assert.deepEqual(r.value, want.value);
          assert.deepEqual(
            r.headers,
            want.headers.map((h) => ({ key: h.key, value: h.value })),
          );
        });
      },
    ),
    { numRuns: 150 },
  );
});

test('property: arbitrary bytes never crash the decoder, only ProtocolError', () => {
  const seed = encodeBatch({ records: RECORDS });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: seed.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.boolean(),
      (edits, keepCrc) => {
        const b = Buffer.from(seed);
        for (const [pos, v] of edits) b[pos] = v;
        if (keepCrc && b.length >= 21) b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17);
        try {
          decodeBatch(b);
        } catch (e) {
          assert.ok(e instanceof ProtocolError, String(e));
        }
      },
    ),
    { numRuns: 400 },
  );
});
