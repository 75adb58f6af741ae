/**
 * Interop: batches built by kafkajs's own record-batch encoder (uncompressed
 * and gzip, the codecs kafkajs ships) decode, validate for append, and match
 * field by field; and batches we encode decode with kafkajs's decoder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { decodeBatch, encodeBatch } from '../../../src/protocol/records/record-batch.ts';
import { splitBatches, validateBatchForAppend } from '../../../src/protocol/records/validate.ts';
import { Compression } from '../../../src/protocol/records/compression.ts';

const require = createRequire(import.meta.url);
interface KjsLong {
  toString(): string;
}
const Long = require('kafkajs/src/utils/long') as { fromNumber(n: number): KjsLong };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(args: Record<string, unknown>): Promise<{ buffer: Buffer }>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (r: Record<string, unknown>) => unknown;
const KjsDecoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
const decodeKjsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string;
  records: {
    key: Buffer | null;
    value: Buffer | null;
    offset: string;
    timestamp: string;
    headers: Record<string, Buffer>;
  }[];
}>;
const KJS = require('kafkajs/src/protocol/message/compression') as { Types: { None: number; GZIP: number } };

const T0 = 1_700_000_000_000;

async function kafkajsBatch(compression: number): Promise<Buffer> {
  const records = [
    Record({
      offsetDelta: 0,
      timestampDelta: 0,
      key: Buffer.from('key-0'),
      value: Buffer.from('value-0'),
      headers: { a: Buffer.from('1') },
    }),
    Record({ offsetDelta: 1, timestampDelta: 25, key: null, value: Buffer.from('value-1') }),
    Record({
      offsetDelta: 2,
      timestampDelta: 7,
      key: Buffer.from('key-2'),
      value: null,
      headers: { x: Buffer.from('y'), z: Buffer.alloc(0) },
    }),
  ];
  const encoder = await RecordBatch({
    compression,
    firstOffset: Long.fromNumber(0),
    firstTimestamp: T0,
    maxTimestamp: T0 + 25,
    partitionLeaderEpoch: 0,
    lastOffsetDelta: 2,
    producerId: Long.fromNumber(9001),
    producerEpoch: 2,
    firstSequence: 40,
    records,
  });
  return encoder.buffer;
}

for (const [name, codec] of [
  ['none', 0],
  ['gzip', 1],
] as const) {
  test(`decodes a batch written by kafkajs's encoder (${name})`, async () => {
    const buf = await kafkajsBatch(codec === 0 ? KJS.Types.None : KJS.Types.GZIP);
    assert.deepEqual(splitBatches(buf), [{ at: 0, size: buf.length }]);
    assert.equal(validateBatchForAppend(buf, 0, buf.length), null);
    const d = decodeBatch(buf);
    assert.equal(d.compression, codec);
    assert.equal(d.producerId, 9001);
    assert.equal(d.producerEpoch, 2);
    assert.equal(d.baseSequence, 40);
    assert.equal(d.recordCount, 3);
    assert.equal(d.lastOffsetDelta, 2);
    assert.equal(d.baseTimestamp, T0);
    assert.equal(d.maxTimestamp, T0 + 25);
    const s = (b: Buffer | null) => (b === null ? null : b.toString());
    assert.deepEqual(
      d.records.map((r) => [r.offset, r.timestamp, s(r.key), s(r.value)]),
      [
        [0, T0, 'key-0', 'value-0'],
        [1, T0 + 25, null, 'value-1'],
        [2, T0 + 7, 'key-2', null],
      ],
    );
    assert.deepEqual(
      d.records[0].headers.map((h) => [h.key, s(h.value)]),
      [['a', '1']],
    );
    assert.deepEqual(
      d.records[2].headers.map((h) => [h.key, s(h.value)]),
      [
        ['x', 'y'],
        ['z', ''],
      ],
    );
  });
}

for (const codec of [Compression.NONE, Compression.GZIP]) {
  test(`kafkajs's decoder reads our batch (codec ${codec})`, async () => {
    const ours = encodeBatch({
      baseOffset: 100,
      compression: codec,
      records: [
        { key: 'k', value: 'v', timestamp: T0, headers: [{ key: 'h', value: 'hv' }] },
        { key: null, value: 'w', timestamp: T0 + 3 },
      ],
    });
    const theirs = await decodeKjsBatch(new KjsDecoder(ours));
    assert.equal(theirs.firstOffset, '100');
    assert.deepEqual(
      theirs.records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.toString() ?? null]),
      [
        ['100', String(T0), 'k', 'v'],
        ['101', String(T0 + 3), null, 'w'],
      ],
    );
    assert.equal(theirs.records[0].headers.h.toString(), 'hv');
  });
}
