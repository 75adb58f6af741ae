/**
 * CRC32C validation rate of record batches (produce-path check) against the
 * raw Buffer.copy rate of the same bytes, for 1..64 MiB of 16 KiB batches.
 * Run: node --import tsx bench/protocol-crc.bench.ts [--batch-kib N]
 */
import { randomBytes } from 'node:crypto';
import { isBatchCrcValid } from '../src/protocol/records/batch-header.ts';
import { encodeBatch } from '../src/protocol/records/record-batch.ts';
import { splitBatches, validateBatchForAppend, type BatchPosition } from '../src/protocol/records/validate.ts';
import { bestRate } from './harness/stats.ts';

const MiB = 1024 * 1024;
const SIZES_MIB = [1, 4, 16, 64];
const MIN_SECONDS = 0.5;

const arg = process.argv.indexOf('--batch-kib');
const batchKiB = arg > 0 ? Number(process.argv[arg + 1]) : 16;
const VALUE = 1024;
const perBatch = Math.max(1, Math.floor((batchKiB * 1024) / (VALUE + 16)));

/** Batches of `perBatch` 1 KiB random values, concatenated up to `total` bytes. */
function buildRecords(total: number): Buffer {
  const payload = randomBytes(VALUE * perBatch);
  const parts: Buffer[] = [];
  let size = 0;
  let offset = 0;
  while (size < total) {
    const records = [];
    for (let i = 0; i < perBatch; i++)
      records.push({ value: payload.subarray(i * VALUE, (i + 1) * VALUE), timestamp: 1_700_000_000_000 + i });
    const b = encodeBatch({ baseOffset: offset, records });
    parts.push(b);
    size += b.length;
    offset += perBatch;
  }
  return Buffer.concat(parts, size);
}

const ROUNDS = 5;
function rate(bytes: number, fn: () => void): number {
  return bestRate(bytes, fn, MIN_SECONDS, ROUNDS);
}

const all = buildRecords(SIZES_MIB[SIZES_MIB.length - 1] * MiB);
const allPositions = splitBatches(all);
const rows: string[][] = [];
for (const mib of SIZES_MIB) {
  const positions: BatchPosition[] = [];
  let end = 0;
  for (const p of allPositions) {
    if (end >= mib * MiB) break;
    positions.push(p);
    end = p.at + p.size;
  }
  const data = all.subarray(0, end);
  const target = Buffer.allocUnsafe(end);
  const crc = rate(end, () => {
    for (const { at, size } of splitBatches(data)) {
      if (!isBatchCrcValid(data, at, size)) throw new Error('bad crc');
    }
  });
  const validate = rate(end, () => {
    for (const { at, size } of positions) {
      if (validateBatchForAppend(data, at, size) !== null) throw new Error('invalid');
    }
  });
  const copy = rate(end, () => {
    data.copy(target);
  });
  rows.push([
    (end / MiB).toFixed(1),
    String(positions.length),
    (crc / 1e6).toFixed(0),
    (validate / 1e6).toFixed(0),
    (copy / 1e6).toFixed(0),
    (crc / copy).toFixed(2),
  ]);
}

const head = ['MiB', 'batches', 'split+CRC32C MB/s', 'validateForAppend MB/s', 'Buffer.copy MB/s', 'CRC/copy'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(`record batches of ${perBatch} x ${VALUE} B values (~${batchKiB} KiB), uncompressed`);
console.log(line(head));
for (const r of rows) console.log(line(r));
