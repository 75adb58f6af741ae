/**
 * Test fixtures for storage tests: build valid magic-v2 record batches (real
 * record encoding with zig-zag varints, correct CRC32C) and temp log dirs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BATCH_HEADER_SIZE,
  OFF_ATTRIBUTES,
  OFF_BASE_SEQUENCE,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_LAST_OFFSET_DELTA,
  OFF_MAGIC,
  OFF_MAX_TIMESTAMP,
  OFF_PRODUCER_EPOCH,
  OFF_PRODUCER_ID,
  OFF_RECORD_COUNT,
  computeBatchCrc,
} from '../../../src/protocol/records/batch-header.ts';
import { defaultLogConfig, type LogConfig } from '../../../src/storage/log-config.ts';

export interface FixtureRecord {
  key?: Buffer | string | null;
  value?: Buffer | string | null;
}

function varint(out: number[], v: number): void {
  let z = v >= 0 ? v * 2 : -v * 2 - 1; // zig-zag, exact for |v| < 2^52
  while (z >= 0x80) {
    out.push((z % 0x80) | 0x80);
    z = Math.floor(z / 0x80);
  }
  out.push(z);
}

function bytesField(out: number[], b: Buffer | string | null | undefined): void {
  if (b === null || b === undefined) {
    varint(out, -1);
    return;
  }
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  varint(out, buf.length);
  for (const x of buf) out.push(x);
}

function i64(buf: Buffer, at: number, v: number): void {
  buf.writeBigInt64BE(BigInt(v), at);
}

export interface BatchOptions {
  baseOffset?: number;
  timestamp?: number;
  /** Per-record timestamp step (ms). */
  step?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  attributes?: number;
}

/** A valid v2 batch holding `records` (or `count` records with `valueBytes`-byte values). */
export function makeBatch(records: FixtureRecord[] | number, opts: BatchOptions = {}, valueBytes = 10): Buffer {
  const recs: FixtureRecord[] =
    typeof records === 'number'
      ? Array.from({ length: records }, (_, i) => ({ key: null, value: Buffer.alloc(valueBytes, i & 0xff) }))
      : records;
  const ts = opts.timestamp ?? 1_700_000_000_000;
  const step = opts.step ?? 0;
  const body: number[] = [];
  recs.forEach((r, i) => {
    const rec: number[] = [0];
    varint(rec, i * step);
    varint(rec, i);
    bytesField(rec, r.key);
    bytesField(rec, r.value);
    varint(rec, 0);
    varint(body, rec.length);
    for (const x of rec) body.push(x);
  });
  const buf = Buffer.alloc(BATCH_HEADER_SIZE + body.length);
  i64(buf, 0, opts.baseOffset ?? 0);
  buf.writeInt32BE(buf.length - 12, OFF_BATCH_LENGTH);
  buf.writeInt32BE(0, 12);
  buf.writeInt8(2, OFF_MAGIC);
  buf.writeInt16BE(opts.attributes ?? 0, OFF_ATTRIBUTES);
  buf.writeInt32BE(recs.length - 1, OFF_LAST_OFFSET_DELTA);
  i64(buf, OFF_BASE_TIMESTAMP, ts);
  i64(buf, OFF_MAX_TIMESTAMP, ts + (recs.length - 1) * step);
  i64(buf, OFF_PRODUCER_ID, opts.producerId ?? -1);
  buf.writeInt16BE(opts.producerEpoch ?? -1, OFF_PRODUCER_EPOCH);
  buf.writeInt32BE(opts.baseSequence ?? -1, OFF_BASE_SEQUENCE);
  buf.writeInt32BE(recs.length, OFF_RECORD_COUNT);
  Buffer.from(body).copy(buf, BATCH_HEADER_SIZE);
  buf.writeUInt32BE(computeBatchCrc(buf, 0, buf.length), OFF_CRC);
  return buf;
}

export function tempDir(prefix = 'samsa-storage-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function config(over: Partial<LogConfig> = {}): LogConfig {
  return { ...defaultLogConfig(), ...over };
}

export const silent = { info() {}, warn() {}, error() {} };

/** Concatenate the slices a read returned. */
export function joined(r: { batches: Buffer[] }): Buffer {
  return Buffer.concat(r.batches);
}

/** Base offsets of the whole batches in `buf`. */
export function batchOffsets(buf: Buffer): { base: number; last: number }[] {
  const out: { base: number; last: number }[] = [];
  for (let at = 0; at < buf.length; ) {
    const base = Number(buf.readBigInt64BE(at));
    const size = 12 + buf.readInt32BE(at + 8);
    out.push({ base, last: base + buf.readInt32BE(at + OFF_LAST_OFFSET_DELTA) });
    at += size;
  }
  return out;
}
