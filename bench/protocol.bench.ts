/**
 * Codec throughput of a Produce request (API key 0) carrying 1 MiB of records
 * over several partitions: decode, encode to slices (`Writer.chunks()`), and
 * encode to one Buffer (`Writer.toBuffer()`), in MB/s, beside the raw
 * `Buffer.copy` rate of the same bytes and the ratio to it.
 *
 * Records fields decode as slices of the frame and big payloads are written
 * by reference, so decode and chunks() should beat a copy by far; toBuffer()
 * pays one allocation and one copy of the frame (compare it with the
 * "allocUnsafeSlow + Buffer.copy" row; fresh 1 MiB allocations are GC-bound).
 *
 * Run: node --import tsx bench/protocol.bench.ts [--partitions N] [--mib N]
 */
import { randomBytes } from 'node:crypto';
import { apiByKey } from '../src/protocol/apis.ts';
import { Reader } from '../src/protocol/reader.ts';
import { Writer } from '../src/protocol/writer.ts';

const MiB = 1024 * 1024;
const MIN_SECONDS = 0.3;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

const partitions = arg('partitions', 8);
const totalBytes = arg('mib', 1) * MiB;

const produce = apiByKey(0);
if (!produce) {
  console.error('Produce (API key 0) is not registered');
  process.exit(1);
}

/** A Produce request: 2 topics, `partitions` partitions in all, records split evenly. */
function request(version: number): Record<string, unknown> {
  const per = Math.floor(totalBytes / partitions);
  const all = randomBytes(per * partitions);
  const topics: { name: string; partitionData: { index: number; records: Buffer }[] }[] = [
    { name: 'bench-a', partitionData: [] },
    { name: 'bench-b', partitionData: [] },
  ];
  for (let p = 0; p < partitions; p++) {
    topics[p % 2].partitionData.push({ index: p >> 1, records: all.subarray(p * per, (p + 1) * per) });
  }
  return { transactionalId: version >= 3 ? null : undefined, acks: -1, timeoutMs: 30000, topicData: topics };
}

/** Runs `fn` for at least MIN_SECONDS; returns MB/s for `bytes` per call. */
function rate(bytes: number, fn: () => unknown): number {
  for (let i = 0; i < 20; i++) fn(); // warm up
  let n = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  let dt = 0;
  do {
    for (let i = 0; i < 20; i++) {
      const r = fn() as { length?: number } | undefined;
      sink += r?.length ?? 1;
    }
    n += 20;
    dt = Number(process.hrtime.bigint() - t0) / 1e9;
  } while (dt < MIN_SECONDS);
  if (sink < 0) console.log(sink);
  return (bytes * n) / dt / 1e6;
}

function row(label: string, mbps: number, base: number): string {
  return `  ${label.padEnd(34)} ${mbps.toFixed(0).padStart(9)} MB/s   ${(mbps / base).toFixed(2).padStart(7)}x copy`;
}

console.log(
  `Produce request codec, ${(totalBytes / MiB).toFixed(1)} MiB of records in ${partitions} partitions (2 topics)`,
);
for (const version of [7, produce.maxVersion]) {
  if (!produce.supports(version)) continue;
  const dec = produce.requestDecoder(version);
  const enc = produce.requestEncoder(version);
  const value = request(version);
  const w0 = new Writer();
  enc(w0, value);
  const frame = Buffer.from(w0.toBuffer()); // one contiguous frame, as read off a socket
  const dst = Buffer.allocUnsafe(frame.length);
  const decoded = dec(new Reader(frame));

  const copy = rate(frame.length, () => frame.copy(dst));
  // What toBuffer() really competes with: a fresh 1 MiB allocation plus the copy.
  const allocCopy = rate(frame.length, () => {
    const b = Buffer.allocUnsafeSlow(frame.length);
    frame.copy(b);
    return b;
  });
  const decode = rate(frame.length, () => dec(new Reader(frame)).topicData);
  const encChunks = rate(frame.length, () => {
    const w = new Writer();
    enc(w, decoded);
    return w.chunks();
  });
  const encBuffer = rate(frame.length, () => {
    const w = new Writer();
    enc(w, decoded);
    return w.toBuffer();
  });
  const roundChunks = rate(frame.length, () => {
    const w = new Writer();
    enc(w, dec(new Reader(frame)));
    return w.chunks();
  });
  const roundBuffer = rate(frame.length, () => {
    const w = new Writer();
    enc(w, dec(new Reader(frame)));
    return w.toBuffer();
  });
  const flex = produce.requestIsFlexible(version) ? 'flexible' : 'classic';
  console.log(`\n v${version} (${flex}), frame ${frame.length} bytes`);
  console.log(row('Buffer.copy (baseline)', copy, copy));
  console.log(row('allocUnsafeSlow + Buffer.copy', allocCopy, copy));
  console.log(row('decode', decode, copy));
  console.log(row('encode -> chunks()', encChunks, copy));
  console.log(row('encode -> toBuffer()', encBuffer, copy));
  console.log(row('decode + encode -> chunks()', roundChunks, copy));
  console.log(row('decode + encode -> toBuffer()', roundBuffer, copy));
}
