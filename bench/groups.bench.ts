/**
 * Offset commits on one broker (in this process, a fresh temp data dir):
 * for each concurrency C, C clients each commit back to back to their own
 * group (OffsetCommit v8, one partition, a new offset each time) for
 * --seconds. Prints commits per second and the commit latency (p50, p99,
 * max) as each client sees it. A commit is answered once __consumer_offsets
 * has it on every in-sync replica and fsynced (concurrent commits share the
 * fsync), so the figures show what that costs on this disk.
 *
 *   npm run bench:groups [-- --clients 1,16,64] [--seconds 5]
 */
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/client/client.ts';
import { startBroker } from '../src/index.ts';
import { ErrorCode, errorName } from '../src/protocol/error-codes.ts';
import { fmt, percentiles } from './harness/stats.ts';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1,16,64' },
    seconds: { type: 'string', default: '5' },
  },
});
const concurrencies = args.clients.split(',').map(Number);
const seconds = Number(args.seconds);
const TOPIC = 'bench-commits';

const commit = (c: KafkaClient, groupId: string, offset: number) =>
  c.groupRequestRaw(groupId, 'OffsetCommit', {
    groupId,
    generationIdOrMemberEpoch: -1,
    memberId: '',
    groupInstanceId: null,
    retentionTimeMs: -1,
    topics: [
      {
        name: TOPIC,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1,
            committedMetadata: null,
          },
        ],
      },
    ],
  });

async function main() {
  const broker = await startBroker({ logLevel: 'warn' });
  const admin = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'bench-admin' });
  try {
    await admin.createTopics([{ name: TOPIC, numPartitions: 1, replicationFactor: 1 }]);
    // __consumer_offsets created and loaded before the clock starts
    for (;;) {
      const r = await commit(admin, 'bench-warmup', 0);
      if (r.topics[0].partitions[0].errorCode === ErrorCode.NONE) break;
    }
    console.log(`offset commits, one broker, ${seconds} s per row`);
    console.log('clients  commits/s  p50 ms  p99 ms  max ms');
    for (const n of concurrencies) {
      const clients = Array.from(
        { length: n },
        (_, i) => new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: `bench-${n}-${i}` }),
      );
      try {
        // one commit each first: connections open and the coordinator found
        await Promise.all(clients.map((c, i) => commit(c, `bench-${n}-${i}`, 0)));
        const latencies: number[] = [];
        const end = performance.now() + seconds * 1000;
        const started = performance.now();
        await Promise.all(
          clients.map(async (c, i) => {
            for (let offset = 1; performance.now() < end; offset++) {
              const t = performance.now();
              const r = await commit(c, `bench-${n}-${i}`, offset);
              const code = r.topics[0].partitions[0].errorCode;
              if (code !== ErrorCode.NONE) throw new Error(`commit answered ${errorName(code)}`);
              latencies.push(performance.now() - t);
            }
          }),
        );
        const elapsed = (performance.now() - started) / 1000;
        const [p50, p99, max] = percentiles(Float64Array.from(latencies), [50, 99, 100]);
        console.log(
          `${String(n).padStart(7)}  ${fmt(latencies.length / elapsed).padStart(9)}  ${fmt(p50).padStart(6)}  ${fmt(p99).padStart(6)}  ${fmt(max).padStart(6)}`,
        );
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    }
  } finally {
    await admin.close();
    await broker.close();
  }
}

await main();
