/**
 * How long one log clean holds the event loop. Builds a compacted log of
 * 1 KiB records (16 per batch, uncompressed) over a number of keys in 8 MiB
 * segments, then lets the cleaner (LogCleaner, on its timer, turn after turn)
 * compact it while a 1 ms interval timer stands in for request handling;
 * prints the log size, the turns and wall time, and the longest gap the timer
 * saw (what a produce or fetch arriving during the clean would wait).
 *
 *   node --import tsx bench/cleaner.bench.ts [MiB, default 64] [keys, default 1000] [dirty MiB per turn, default 16] [dir]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog } from '../src/storage/partition-log.ts';
import { defaultLogConfig } from '../src/storage/log-config.ts';
import { DEFAULT_MAX_DIRTY_BYTES_PER_CLEAN, LogCleaner } from '../src/storage/cleaner-scheduler.ts';
import { cleanLog, needsCleaning } from '../src/storage/cleaner.ts';
import { encodeBatch } from '../src/protocol/records/record-batch.ts';

const totalMiB = Number(process.argv[2] ?? 64);
const keys = Number(process.argv[3] ?? 1000);
const perTurn = Number(process.argv[4] ?? DEFAULT_MAX_DIRTY_BYTES_PER_CLEAN / 1048576) * 1048576;
const root = fs.mkdtempSync(path.join(process.argv[5] ?? os.tmpdir(), 'samsa-bench-cleaner-'));
const PER_BATCH = 16;
const VALUE = Buffer.alloc(1000, 7);

async function main(): Promise<void> {
  const cfg = { ...defaultLogConfig(), cleanupPolicy: 'compact' as const, segmentBytes: 8 << 20, fileDeleteDelayMs: 0 };
  const log = await PartitionLog.open(path.join(root, 'c-0'), cfg, {
    cleanShutdown: true,
    recoveryPoint: 0,
    fsync: async () => {},
  });
  const now = Date.now();
  let n = 0;
  let bytes = 0;
  while (bytes < totalMiB * 1048576) {
    const records = Array.from({ length: PER_BATCH }, () => ({
      key: `key-${n++ % keys}`,
      value: VALUE,
      timestamp: now,
    }));
    const b = encodeBatch({ records });
    log.append(b, { leaderEpoch: 0 });
    bytes += b.length;
  }
  log.roll();
  log.setHighWatermark(log.logEndOffset);
  const before = log.segmentList.reduce((s, x) => s + x.size, 0);

  let last = performance.now();
  let maxGap = 0;
  const tick = setInterval(() => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
  }, 1);
  const turns: number[] = [];
  const cleaner = new LogCleaner({
    logs: () => [log],
    backoffMs: 1,
    maxDirtyBytesPerClean: perTurn,
    clean: (l, t, lg, max) => {
      const s = performance.now();
      cleanLog(l, t, lg, {}, max);
      turns.push(performance.now() - s);
    },
  });
  const t0 = performance.now();
  cleaner.start();
  while (needsCleaning(log, Date.now())) await new Promise((r) => setTimeout(r, 1));
  const ms = performance.now() - t0;
  cleaner.stop();
  // Let the interval run once more: it measures the gap the clean left.
  const ticked = last;
  while (last === ticked) await new Promise((r) => setTimeout(r, 1));
  clearInterval(tick);
  const after = log.segmentList.reduce((s, x) => s + x.size, 0);
  console.log(
    `log ${(before / 1048576).toFixed(1)} MiB in ${log.segmentList.length - 1} rolled segments, ${n} records over ${keys} keys -> ${(after / 1048576).toFixed(2)} MiB`,
  );
  console.log(
    `cleaned in ${cleaner.cleans} turns of at most ${perTurn / 1048576} MiB dirty: ${ms.toFixed(0)} ms (${(before / 1048576 / (ms / 1000)).toFixed(0)} MiB/s); longest event-loop gap: ${maxGap.toFixed(0)} ms`,
  );
  console.log(`turns (ms): ${turns.map((t) => t.toFixed(0)).join(' ')}`);
  await log.close();
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(root, { recursive: true, force: true }));
