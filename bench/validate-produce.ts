/**
 * Cost of record-level validation on the produce path, per codec, same run:
 * the same batches validated with the header checks only (size, magic,
 * CRC32C, codec, count vs lastOffsetDelta: what the broker did before
 * compressed batches were decompressed) and with the full validation
 * (decompression within the limit plus the in-place record walk). For
 * uncompressed batches the full path is also compared with the record walk
 * the broker used before (RecordCursor). Rates are MB/s of batch bytes as
 * they arrive on the wire (compressed), best of 5 rounds.
 *
 * Run: npm run bench:validate -- [--batch-kib N] [--seconds S]
 */
import { randomBytes } from 'node:crypto';
import { Compression, compressionName } from '../src/protocol/records/compression.ts';
import { RecordCursor, encodeBatch } from '../src/protocol/records/record-batch.ts';
import { validateBatchForAppend } from '../src/protocol/records/validate.ts';
import { bestRate } from './harness/stats.ts';

const MiB = 1024 * 1024;
const argOf = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const batchKiB = argOf('--batch-kib', 64);
const seconds = argOf('--seconds', 1);
const TOTAL = 16 * MiB; // uncompressed bytes of records per codec
const ROUNDS = 5;

/** Log-line-like values (~200 B): mostly text, a random id, so they compress about 3-5x as real payloads do. */
function makeValues(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomBytes(8).toString('hex');
    out.push(
      Buffer.from(
        `{"ts":${1_700_000_000_000 + i},"level":"info","service":"checkout","trace":"${id}","msg":"order ${i} placed by user ${i % 977} with ${i % 7} items","latency_ms":${i % 250}}`,
      ),
    );
  }
  return out;
}

function buildBatches(codec: number): { batches: Buffer[]; wire: number } {
  const values = makeValues(2048);
  const perBatch = Math.max(1, Math.floor((batchKiB * 1024) / (values[0].length + 20)));
  const batches: Buffer[] = [];
  let raw = 0;
  let wire = 0;
  for (let v = 0; raw < TOTAL; v += perBatch) {
    const records = [];
    for (let i = 0; i < perBatch; i++) {
      const value = values[(v + i) % values.length];
      raw += value.length + 20;
      records.push({ key: `user-${i % 977}`, value, timestamp: 1_700_000_000_000 + i });
    }
    const b = encodeBatch({ compression: codec, records });
    batches.push(b);
    wire += b.length;
  }
  return { batches, wire };
}

function rate(bytes: number, fn: () => void): number {
  return bestRate(bytes, fn, seconds, ROUNDS);
}

const head = ['codec', 'batches', 'wire MiB', 'ratio', 'header-only MB/s', 'full MB/s', 'full/header', 'old walk MB/s'];
const rows: string[][] = [];
for (const codec of [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD]) {
  const { batches, wire } = buildBatches(codec);
  const check = (checkRecords: boolean) => () => {
    for (const b of batches)
      if (validateBatchForAppend(b, 0, b.length, { checkRecords }) !== null) throw new Error('invalid batch');
  };
  const header = rate(wire, check(false));
  const full = rate(wire, check(true));
  let old = '';
  if (codec === Compression.NONE) {
    old = (
      rate(wire, () => {
        for (const b of batches) {
          if (validateBatchForAppend(b, 0, b.length, { checkRecords: false }) !== null)
            throw new Error('invalid batch');
          const c = new RecordCursor(b, 0, { verifyCrc: false });
          let expected = 0;
          while (c.next()) if (c.offsetDelta !== expected++) throw new Error('bad delta');
        }
      }) / 1e6
    ).toFixed(0);
  }
  rows.push([
    compressionName(codec),
    String(batches.length),
    (wire / MiB).toFixed(1),
    (TOTAL / wire).toFixed(1),
    (header / 1e6).toFixed(0),
    (full / 1e6).toFixed(0),
    (full / header).toFixed(3),
    old,
  ]);
}

const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(
  `produce-path validation, ~${batchKiB} KiB of records per batch, ${TOTAL / MiB} MiB of records per codec, best of ${ROUNDS} x ${seconds / ROUNDS}s`,
);
console.log(line(head));
for (const r of rows) console.log(line(r));
