/**
 * Storage engine throughput beside the raw disk in the same run:
 * append MB/s (1 KiB records in 16 KiB and 1 MiB batches; no fsync, and
 * group-committed fsync every 1 MiB) against sequential fs.writeSync of the
 * same bytes (and fdatasync at the same points), then a sequential read of
 * the log against raw 1 MiB fs.readSync calls. Prints the ratios. Each case
 * runs twice, alternating with its raw twin, after a warm-up; the best of two
 * is shown (the JIT and the page cache otherwise favour whoever runs last).
 *
 *   node --import tsx bench/storage.bench.ts [MiB per case, default 64] [dir]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PartitionLog } from '../src/storage/partition-log.ts';
import { defaultLogConfig } from '../src/storage/log-config.ts';
import { computeBatchCrc, OFF_CRC } from '../src/protocol/records/batch-header.ts';

const totalMiB = Number(process.argv[2] ?? 64);
const root = fs.mkdtempSync(path.join(process.argv[3] ?? os.tmpdir(), 'samsa-bench-'));
const fdatasync = promisify(fs.fdatasync);
const TOTAL = totalMiB * 1024 * 1024;
const RECORD = 1024;

/** One v2 batch of `n` 1 KiB records (record bodies are opaque filler: storage never decodes them). */
function batchOf(bytes: number): Buffer {
  const n = Math.max(1, Math.floor(bytes / RECORD));
  const b = Buffer.alloc(61 + n * RECORD, 7);
  b.writeBigInt64BE(0n, 0);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(0, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0, 21);
  b.writeInt32BE(n - 1, 23);
  b.writeBigInt64BE(BigInt(Date.now()), 27);
  b.writeBigInt64BE(BigInt(Date.now()), 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(n, 57);
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), OFF_CRC);
  return b;
}

const mbps = (bytes: number, ms: number) => bytes / 1048576 / (ms / 1000);

async function rawWrite(batch: Buffer, syncEvery: number): Promise<number> {
  const f = path.join(root, `raw-${Math.random()}`);
  const fd = fs.openSync(f, 'w');
  const t0 = performance.now();
  let pos = 0;
  let sinceSync = 0;
  while (pos < TOTAL) {
    fs.writeSync(fd, batch, 0, batch.length, pos);
    pos += batch.length;
    sinceSync += batch.length;
    if (syncEvery && sinceSync >= syncEvery) {
      await fdatasync(fd);
      sinceSync = 0;
    }
  }
  if (syncEvery) await fdatasync(fd);
  const ms = performance.now() - t0;
  fs.closeSync(fd);
  fs.rmSync(f);
  return mbps(pos, ms);
}

async function logAppend(batch: Buffer, syncEvery: number, keep = false): Promise<{ rate: number; log: PartitionLog }> {
  const dir = path.join(root, `log-${Math.random().toString(36).slice(2)}-0`);
  const log = await PartitionLog.open(dir, defaultLogConfig(), { cleanShutdown: true });
  const t0 = performance.now();
  let bytes = 0;
  let sinceSync = 0;
  let waits: Promise<void>[] = [];
  while (bytes < TOTAL) {
    const info = log.append(batch, { leaderEpoch: 0 });
    bytes += batch.length;
    sinceSync += batch.length;
    if (syncEvery) {
      // each append is an acks=all producer waiting for durability; they share fsyncs
      waits.push(log.flushedUpTo(info.lastOffset + 1));
      if (sinceSync >= syncEvery) {
        await Promise.all(waits);
        waits = [];
        sinceSync = 0;
      }
    }
  }
  await Promise.all(waits);
  if (syncEvery) await log.flush();
  const ms = performance.now() - t0;
  log.setHighWatermark(log.logEndOffset);
  if (!keep) await log.delete();
  return { rate: mbps(bytes, ms), log };
}

function rawRead(file: string): number {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  const size = fs.fstatSync(fd).size;
  const t0 = performance.now();
  let pos = 0;
  while (pos < size) pos += fs.readSync(fd, Buffer.allocUnsafe(1 << 20), 0, buf.length, pos);
  const ms = performance.now() - t0;
  fs.closeSync(fd);
  return mbps(size, ms);
}

function logRead(log: PartitionLog): number {
  const t0 = performance.now();
  let off = log.logStartOffset;
  let bytes = 0;
  while (off < log.highWatermark) {
    const r = log.read(off, 1 << 20);
    bytes += r.bytes;
    const last = r.batches[r.batches.length - 1];
    // next offset = last batch's base + lastOffsetDelta + 1 (walk to the last batch of the last slice)
    let at = 0;
    let lastAt = 0;
    while (at < last.length) {
      lastAt = at;
      at += 12 + last.readInt32BE(at + 8);
    }
    off = Number(last.readBigInt64BE(lastAt)) + last.readInt32BE(lastAt + 23) + 1;
  }
  return mbps(bytes, performance.now() - t0);
}

const row = (name: string, ours: number, raw: number) =>
  console.log(
    `${name.padEnd(44)} ${ours.toFixed(0).padStart(7)} MB/s   raw ${raw.toFixed(0).padStart(7)} MB/s   ratio ${(ours / raw).toFixed(2)}`,
  );

try {
  console.log(`storage bench: ${totalMiB} MiB per case in ${root}`);
  await logAppend(batchOf(16 * 1024), 0); // warm-up
  for (const [label, size] of [
    ['16 KiB batches', 16 * 1024],
    ['1 MiB batches', 1024 * 1024],
  ] as const) {
    const b = batchOf(size);
    for (const [name, every] of [
      ['no fsync', 0],
      ['group fsync per MiB', 1 << 20],
    ] as const) {
      let ours = 0;
      let raw = 0;
      for (let i = 0; i < 2; i++) {
        raw = Math.max(raw, await rawWrite(b, every));
        ours = Math.max(ours, (await logAppend(b, every)).rate);
      }
      row(`append, ${label}, ${name}`, ours, raw);
    }
  }
  const { log } = await logAppend(batchOf(16 * 1024), 0, true);
  const seg = path.join(log.dir, '00000000000000000000.log');
  logRead(log); // warm the page cache
  rawRead(seg);
  row(
    'sequential read (16 KiB batches, 1 MiB fetches)',
    Math.max(logRead(log), logRead(log)),
    Math.max(rawRead(seg), rawRead(seg)),
  );
  await log.delete();
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
