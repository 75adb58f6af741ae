/**
 * The cost of the Partition (src/server/partition.ts) on the produce path:
 * appends of small batches (4 x 1 KiB records) with an acks=all wait, through
 * the Partition (checkAppend, appendAsLeader, waitForAcks) against the bare
 * PartitionLog calls the produce handler made before it existed (append,
 * setHighWatermark, flushedUpTo). fsync is a no-op, so the figures are the
 * CPU cost of the path, not the disk's. Cases alternate, after a warm-up; the
 * best of three runs is shown.
 *
 *   node --import tsx bench/partition-append.bench.ts [batches per run, default 200000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PartitionLog } from '../src/storage/partition-log.ts';
import { defaultLogConfig } from '../src/storage/log-config.ts';
import { computeBatchCrc, OFF_CRC } from '../src/protocol/records/batch-header.ts';
import { Partition } from '../src/server/partition.ts';
import type { PartitionState, TopicState } from '../src/metadata/image.ts';

const N = Number(process.argv[2] ?? 200_000);
/** acks=all waits in flight before the appender waits for them (as pipelined producers). */
const IN_FLIGHT = 64;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-bench-partition-'));

function batchOf(records: number): Buffer {
  const b = Buffer.alloc(61 + records * 1024, 7);
  b.writeBigInt64BE(0n, 0);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(0, 12);
  b.writeInt8(2, 16);
  b.writeInt16BE(0, 21);
  b.writeInt32BE(records - 1, 23);
  b.writeBigInt64BE(1_700_000_000_000n, 27);
  b.writeBigInt64BE(1_700_000_000_000n, 35);
  b.writeBigInt64BE(-1n, 43);
  b.writeInt16BE(-1, 51);
  b.writeInt32BE(-1, 53);
  b.writeInt32BE(records, 57);
  b.writeUInt32BE(computeBatchCrc(b, 0, b.length), OFF_CRC);
  return b;
}

const BATCH = batchOf(4);
const config = { ...defaultLogConfig(), segmentBytes: 256 * 1024 * 1024 };
let runs = 0;

async function openLog(): Promise<PartitionLog> {
  return PartitionLog.open(path.join(root, `t-${runs++}`), config, { fsync: async () => {} });
}

async function bare(): Promise<number> {
  const log = await openLog();
  const t0 = process.hrtime.bigint();
  let waits: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    log.append(BATCH, { leaderEpoch: 0 });
    log.setHighWatermark(log.logEndOffset);
    waits.push(log.flushedUpTo(log.logEndOffset).catch(() => {}));
    if (waits.length === IN_FLIGHT) {
      await Promise.all(waits);
      waits = [];
    }
  }
  await Promise.all(waits);
  const ns = Number(process.hrtime.bigint() - t0);
  await log.delete();
  return ns / N;
}

async function viaPartition(): Promise<number> {
  const log = await openLog();
  const state: PartitionState = { partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1], isr: [1] };
  const topic: TopicState = { name: 't', topicId: 'x', partitions: [state], configs: new Map() };
  const p = new Partition(topic, 0, log, 1);
  p.update(state);
  const t0 = process.hrtime.bigint();
  let waits: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    if (p.checkAppend(-1) !== 0) throw new Error('refused');
    p.appendAsLeader(BATCH);
    waits.push(p.waitForAcks(log.logEndOffset));
    if (waits.length === IN_FLIGHT) {
      await Promise.all(waits);
      waits = [];
    }
  }
  await Promise.all(waits);
  const ns = Number(process.hrtime.bigint() - t0);
  await log.delete();
  return ns / N;
}

try {
  await bare();
  await viaPartition();
  const best = { bare: Infinity, partition: Infinity };
  for (let r = 0; r < 3; r++) {
    best.bare = Math.min(best.bare, await bare());
    best.partition = Math.min(best.partition, await viaPartition());
  }
  console.log(`${N} appends of 4 x 1 KiB with an acks=all wait (no-op fsync), best of 3:`);
  console.log(`  bare PartitionLog (the handler before): ${(best.bare / 1000).toFixed(2)} us/append`);
  console.log(`  through the Partition:                  ${(best.partition / 1000).toFixed(2)} us/append`);
  console.log(`  ratio: ${(best.partition / best.bare).toFixed(3)}`);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
