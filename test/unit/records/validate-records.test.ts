/**
 * Record-level checks on append, as Kafka's log validator does them: a
 * compressed batch must decompress (CORRUPT_MESSAGE when it does not) to
 * exactly its declared records with offset deltas 0..n-1 and consistent
 * record lengths (INVALID_RECORD otherwise), within a bounded output
 * (MESSAGE_TOO_LARGE beyond it); uncompressed batches get the same record
 * walk in place. Batches recorded from real clients still pass.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { apiByKey } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { readRequestHeader } from '../../../src/protocol/headers.ts';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  OFF_LAST_OFFSET_DELTA,
  OFF_RECORD_COUNT,
  computeBatchCrc,
} from '../../../src/protocol/records/batch-header.ts';
import { Compression, compress, compressionName } from '../../../src/protocol/records/compression.ts';
import { encodeBatch, type RecordInput } from '../../../src/protocol/records/record-batch.ts';
import { writeVarintAt } from '../../../src/protocol/records/varint.ts';
import { splitBatches, validateBatchForAppend } from '../../../src/protocol/records/validate.ts';

const T0 = 1_700_000_000_000;
const CODECS = [Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];
const ALL = [Compression.NONE, ...CODECS];

const recs = (n: number, size = 20): RecordInput[] =>
  Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}-`.padEnd(size, 'x'), timestamp: T0 + i }));

function recrc(b: Buffer): Buffer {
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), 17);
  return b;
}

/** A batch whose records section (before compression) is `section`, with the given count. */
function craft(codec: number, section: Buffer, count: number, lastOffsetDelta = count - 1): Buffer {
  const header = encodeBatch({ compression: 0, records: [{ value: 'x', timestamp: T0 }] }).subarray(
    0,
    BATCH_HEADER_SIZE,
  );
  const payload = compress(codec, section);
  const out = Buffer.concat([header, payload]);
  out.writeInt16BE(codec, 21);
  out.writeInt32BE(out.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt32BE(count, OFF_RECORD_COUNT);
  out.writeInt32BE(lastOffsetDelta, OFF_LAST_OFFSET_DELTA);
  return recrc(out);
}

/** The records section of an uncompressed encoding of `records`. */
const sectionOf = (records: RecordInput[], lastOffsetDelta?: number): Buffer =>
  encodeBatch({ records, lastOffsetDelta }).subarray(BATCH_HEADER_SIZE);

function verdict(b: Buffer, opts = {}) {
  return validateBatchForAppend(b, 0, b.length, opts);
}

test('good batches pass for every codec, including many records and large values', () => {
  for (const codec of ALL) {
    for (const [n, size] of [
      [1, 1],
      [3, 20],
      [500, 100],
      [4, 200_000],
    ]) {
      const b = encodeBatch({ compression: codec, records: recs(n, size) });
      assert.equal(verdict(b), null, `${compressionName(codec)} n=${n} size=${size}`);
    }
  }
});

test('garbage compressed payload behind a valid CRC is CORRUPT_MESSAGE, per codec', () => {
  const junk = Buffer.from('definitely not compressed data, but the CRC over it is right');
  // Each codec's real preamble followed by junk, and junk alone.
  const prefixes: Record<number, Buffer> = {
    [Compression.GZIP]: Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]),
    [Compression.SNAPPY]: compress(Compression.SNAPPY, Buffer.from('abc')).subarray(0, 16),
    [Compression.LZ4]: Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]),
    [Compression.ZSTD]: Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]),
  };
  for (const codec of CODECS) {
    for (const payload of [junk, Buffer.concat([prefixes[codec], junk])]) {
      const good = encodeBatch({ compression: codec, records: recs(2) });
      const b = Buffer.concat([good.subarray(0, BATCH_HEADER_SIZE), payload]);
      b.writeInt32BE(b.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
      recrc(b);
      const p = verdict(b);
      assert.equal(p?.errorCode, ErrorCode.CORRUPT_MESSAGE, `${compressionName(codec)}: ${p?.message}`);
    }
    // A real payload with its tail cut off.
    const good = encodeBatch({ compression: codec, records: recs(50) });
    const cut = Buffer.from(good.subarray(0, good.length - 7));
    cut.writeInt32BE(cut.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
    recrc(cut);
    const p = verdict(cut);
    assert.ok(
      p !== null && [ErrorCode.CORRUPT_MESSAGE, ErrorCode.INVALID_RECORD].includes(p.errorCode as 2),
      `${compressionName(codec)} truncated: ${p?.message}`,
    );
  }
});

test('declared count must equal the records in the (decompressed) section', () => {
  for (const codec of ALL) {
    const section = sectionOf(recs(3));
    for (const count of [2, 4]) {
      const p = verdict(craft(codec, section, count));
      assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)} count ${count}: ${p?.message}`);
    }
    assert.equal(verdict(craft(codec, section, 3)), null, compressionName(codec));
  }
});

test('a bogus count of 2^31-1 is INVALID_RECORD for every codec', () => {
  for (const codec of ALL) {
    const p = verdict(craft(codec, sectionOf(recs(1)), 2 ** 31 - 1));
    assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)}: ${p?.message}`);
  }
});

test('offset deltas must run 0..n-1 in order; the error names the record', () => {
  for (const codec of ALL) {
    for (const deltas of [
      [0, 2],
      [1, 0],
      [0, 0],
      [0, 1, 1],
    ]) {
      const records = deltas.map((offsetDelta, i) => ({ value: `v${i}`, timestamp: T0, offsetDelta }));
      const b = encodeBatch({ compression: codec, records, lastOffsetDelta: deltas.length - 1 });
      const p = verdict(b);
      assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)} ${deltas}: ${p?.message}`);
      assert.equal(
        p?.recordIndex,
        deltas.findIndex((d, i) => d !== i),
      );
    }
  }
});

test('a record length past the end of the section, or short of its fields, is INVALID_RECORD', () => {
  for (const codec of ALL) {
    const section = sectionOf(recs(2));
    // First record's length (a one-byte varint) replaced by 1000 (two bytes).
    const first = section[0] >> 1;
    const huge = Buffer.alloc(2);
    writeVarintAt(huge, 0, 1000);
    const past = Buffer.concat([huge, section.subarray(1)]);
    let p = verdict(craft(codec, past, 2));
    assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)} past the end: ${p?.message}`);
    assert.equal(p?.recordIndex, 0);
    // Second record's length one short of its fields.
    const second = Buffer.from(section);
    const at = 1 + first;
    second[at] = ((second[at] >> 1) - 1) << 1;
    p = verdict(craft(codec, second, 2));
    assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)} short record: ${p?.message}`);
    // Trailing bytes after the last record.
    p = verdict(craft(codec, Buffer.concat([section, Buffer.from([0, 0, 0])]), 2));
    assert.equal(p?.errorCode, ErrorCode.INVALID_RECORD, `${compressionName(codec)} trailing bytes: ${p?.message}`);
  }
});

test('a decompression bomb is refused at the output limit, before the output is held', () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  for (const codec of CODECS) {
    const b = encodeBatch({ compression: codec, records: [{ value: zeros, timestamp: T0 }] });
    assert.ok(b.length < zeros.length / 20, `${compressionName(codec)} compresses ${zeros.length} to ${b.length}`);
    const p = verdict(b, { maxDecompressedBytes: 1024 * 1024 });
    assert.equal(p?.errorCode, ErrorCode.MESSAGE_TOO_LARGE, `${compressionName(codec)}: ${p?.message}`);
    // lz4 is bounded by its block count (4 MiB blocks here: three of them), the others by what they decode
    assert.equal(verdict(b, { maxDecompressedBytes: 12 * 1024 * 1024 }), null, compressionName(codec));
  }
});

test('batches recorded from real clients (kcat, kafkajs, confluent-kafka-python) pass, every codec', () => {
  const root = path.resolve(import.meta.dirname, '../../fixtures/captures');
  const codecs = new Set<number>();
  let batches = 0;
  for (const client of ['kcat', 'kafkajs', 'confluent-kafka-python']) {
    for (const file of fs.readdirSync(path.join(root, client)).filter((f) => f.startsWith('Produce-'))) {
      const frame = fs.readFileSync(path.join(root, client, file));
      const api = apiByKey(frame.readInt16BE(0))!;
      const version = frame.readInt16BE(2);
      const r = new Reader(frame);
      readRequestHeader(r, api.requestIsFlexible(version));
      const body = api.requestDecoder(version)(r);
      for (const td of body.topicData) {
        for (const pd of td.partitionData) {
          for (const { at, size } of splitBatches(pd.records)) {
            assert.equal(validateBatchForAppend(pd.records, at, size), null, `${client}/${file}`);
            codecs.add(pd.records.readInt16BE(at + 21) & 7);
            batches++;
          }
        }
      }
    }
  }
  assert.ok(batches >= 10, `${batches} batches`);
  assert.deepEqual([...codecs].sort(), ALL);
});
