/**
 * Codec tests: every codec round-trips, snappy reads both xerial-framed (Java
 * client) and raw (librdkafka, kafkajs-snappy) input and writes xerial,
 * corrupt or oversized input is a ProtocolError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import snappy from 'snappy';
import { CompressStream } from 'zstd-napi';
import { compressFrameSync } from 'lz4-napi';
import {
  Compression,
  XERIAL_BLOCK_SIZE,
  XERIAL_MAGIC,
  compress,
  compressionByName,
  compressionName,
  decompress,
  isXerialFramed,
  rawSnappyCompress,
} from '../../../src/protocol/records/compression.ts';
import { ProtocolError } from '../../../src/protocol/protocol-error.ts';

const CODECS = [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD];

function sample(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 7)) & 0xff;
  return b;
}

test('every codec round-trips empty, small and multi-block input', () => {
  for (const codec of CODECS) {
    for (const n of [0, 1, 100, XERIAL_BLOCK_SIZE + 17, 300_000]) {
      const data = sample(n);
      const out = decompress(codec, compress(codec, data));
      assert.ok(out.equals(data), `${compressionName(codec)} n=${n}`);
    }
  }
});

test('codec names', () => {
  assert.equal(compressionName(2), 'snappy');
  assert.equal(compressionName(9), 'unknown(9)');
  assert.equal(compressionByName('ZSTD'), 4);
  assert.throws(() => compressionByName('brotli'), RangeError);
});

test('snappy writes xerial framing with 32 KiB blocks, like the Java client', () => {
  const data = sample(XERIAL_BLOCK_SIZE * 2 + 5);
  const framed = compress(Compression.SNAPPY, data);
  assert.ok(isXerialFramed(framed));
  assert.ok(framed.subarray(0, 8).equals(XERIAL_MAGIC));
  assert.equal(framed.readInt32BE(8), 1);
  assert.equal(framed.readInt32BE(12), 1);
  // Three blocks: walk them and decode each as raw snappy.
  let pos = 16;
  const parts: Buffer[] = [];
  while (pos < framed.length) {
    const len = framed.readInt32BE(pos);
    parts.push(snappy.uncompressSync(framed.subarray(pos + 4, pos + 4 + len), { asBuffer: true }) as Buffer);
    pos += 4 + len;
  }
  assert.equal(parts.length, 3);
  assert.deepEqual(
    parts.map((p) => p.length),
    [XERIAL_BLOCK_SIZE, XERIAL_BLOCK_SIZE, 5],
  );
  assert.ok(Buffer.concat(parts).equals(data));
});

test('snappy reads a raw block (librdkafka / kafkajs-snappy output)', () => {
  const data = Buffer.from('raw snappy block '.repeat(500));
  const raw = rawSnappyCompress(data);
  assert.ok(!isXerialFramed(raw));
  assert.ok(decompress(Compression.SNAPPY, raw).equals(data));
});

test('gzip reads concatenated members', () => {
  const two = Buffer.concat([zlib.gzipSync(Buffer.from('abc')), zlib.gzipSync(Buffer.from('def'))]);
  assert.equal(decompress(Compression.GZIP, two).toString(), 'abcdef');
});

test('zstd reads a streamed frame without a content size', async () => {
  const data = sample(200_000);
  const s = new CompressStream();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => s.on('end', resolve));
  s.end(data);
  await done;
  const framed = Buffer.concat(chunks);
  assert.ok(decompress(Compression.ZSTD, framed).equals(data));
  assert.throws(() => decompress(Compression.ZSTD, framed.subarray(0, framed.length - 3)), ProtocolError);
});

test('output beyond the limit is refused for every codec', () => {
  const data = Buffer.alloc(100_000, 0x61);
  for (const codec of CODECS.slice(1)) {
    assert.throws(() => decompress(codec, compress(codec, data), 50_000), ProtocolError, compressionName(codec));
  }
  // raw snappy: the declared length alone is enough to refuse
  assert.throws(
    () => decompress(Compression.SNAPPY, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]), 1000),
    /exceed/,
  );
});

test('corrupt input is a ProtocolError for every codec', () => {
  const junk = Buffer.from('definitely not compressed data at all, no sir');
  for (const codec of CODECS.slice(1)) {
    assert.throws(() => decompress(codec, junk), ProtocolError, compressionName(codec));
  }
  const framed = compress(Compression.SNAPPY, sample(1000));
  assert.throws(() => decompress(Compression.SNAPPY, framed.subarray(0, framed.length - 1)), ProtocolError);
  const hostile = Buffer.concat([framed.subarray(0, 16), Buffer.from([0x7f, 0xff, 0xff, 0xff])]);
  assert.throws(() => decompress(Compression.SNAPPY, hostile), ProtocolError);
  assert.throws(() => decompress(7, junk), ProtocolError);
});

test('zstd: a failed decode leaves the reused context ready for the next frame', () => {
  const data = sample(50_000);
  const good = compress(Compression.ZSTD, data);
  const cut = good.subarray(0, good.length >> 1);
  for (let i = 0; i < 3; i++) {
    assert.throws(() => decompress(Compression.ZSTD, cut), ProtocolError);
    assert.throws(
      () => decompress(Compression.ZSTD, Buffer.concat([good.subarray(0, 6), Buffer.alloc(40, 0xee)])),
      ProtocolError,
    );
    assert.ok(decompress(Compression.ZSTD, good).equals(data));
  }
});

test('lz4: frames with block and content checksums, concatenated frames, and hostile headers', () => {
  const data = sample(300_000);
  const checked = compressFrameSync(data, { contentChecksum: true, blockChecksums: true });
  assert.ok(decompress(Compression.LZ4, checked).equals(data));
  const plain = compress(Compression.LZ4, data);
  assert.ok(decompress(Compression.LZ4, Buffer.concat([plain, plain])).equals(Buffer.concat([data, data])));
  // A frame declaring 2^40 bytes of content is refused from its header.
  const huge = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x68, 0x40, 0, 0, 0, 0, 0, 1, 0, 0, 0x00, 0, 0, 0, 0]);
  assert.throws(() => decompress(Compression.LZ4, huge), /exceed/);
  // A block length beyond the frame's 64 KiB maximum.
  const big = Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x01, 0x00, 0x01, 0x00]);
  assert.throws(() => decompress(Compression.LZ4, Buffer.concat([big, Buffer.alloc(70_000)])), /maximum/);
  // A match reaching before the start of the output.
  const back = Buffer.from([
    0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0x05, 0, 0, 0, 0x14, 0x61, 0x09, 0x00, 0x00, 0, 0, 0, 0,
  ]);
  assert.throws(() => decompress(Compression.LZ4, back), ProtocolError);
  // A bomb: 8 MiB of zeros stops at the limit.
  assert.throws(() => decompress(Compression.LZ4, compress(Compression.LZ4, Buffer.alloc(8 << 20)), 1 << 20), /exceed/);
});
