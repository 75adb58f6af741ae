/**
 * Replication on three `samsa start` processes on loopback (one process per
 * broker, the nodes `samsa start --nodes 3` would start; test/helpers/cluster.ts):
 *
 *   1. Produce throughput (MB/s, records/s) and end-to-end latency (p50 / p99
 *      from the producer's intended send time to the consumer's receipt) of
 *      three topics measured in the same run on the same cluster:
 *      RF=3 acks=all (min.insync.replicas=2), RF=1 acks=all, RF=1 acks=1, with
 *      the ratios to RF=1. Each workload is `samsa bench`'s (src/cli/bench):
 *      max produce, catch-up consume, then the latency phase; every latency
 *      phase runs at the same rate, by default a quarter of RF=3 acks=all's
 *      max (at half of it, the rate `samsa bench` picks, this 2-core machine
 *      ran the three brokers and the two client processes into saturation).
 *      The same workloads at RF=1 against the reference Apache Kafka (KRaft,
 *      one combined node, scripts/kafka-ref.sh) when java and its jars are
 *      there, with the ratios (a three-node Kafka is too heavy for the 2-core
 *      machine this was written on, next to three Samsa nodes).
 *   2. Failover: a topic with RF=3 and min.insync.replicas=2; kill -9 of the
 *      leader of one of its partitions, then one acks=all produce of one
 *      record to that partition after another (each with a fresh metadata
 *      lookup after a failure, 10 ms apart) until one succeeds: the time from
 *      the kill to that success. The killed node is started again and the
 *      partition's ISR waited back to three replicas before the next kill.
 *      Kills alternate between a leader on a node that is not the active
 *      controller and a leader on the active controller's node, reported
 *      apart (the second also costs a controller election).
 *
 *   npm run bench:replication [-- --size 1024] [--messages 100000] [--partitions 1]
 *                              [--rate MSGS_S] [--kills 6] [--no-kafka]
 */
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/client/client.ts';
import { clusterInfo } from '../src/cli/cluster.ts';
import { type BenchPlan, type BenchResult, runBench } from '../src/cli/bench/run.ts';
import { summarize } from '../src/cli/bench/percentiles.ts';
import { type ProcessCluster, startProcessCluster } from '../test/helpers/cluster.ts';
import { fmt, ratio } from './harness/stats.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1024' },
    messages: { type: 'string', default: '100000' },
    partitions: { type: 'string', default: '1' },
    rate: { type: 'string' },
    kills: { type: 'string', default: '6' },
    'no-kafka': { type: 'boolean', default: false },
  },
});
const SIZE = Number(args.size);
const MESSAGES = Number(args.messages);
const PARTITIONS = Number(args.partitions);
const KILLS = Number(args.kills);
const FAILOVER_TOPIC = 'failover';
const FAILOVER_PARTITIONS = 6;

const log = (s: string) => process.stderr.write(`[replication bench] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(bootstrap: string, requestTimeoutMs = 60_000): KafkaClient {
  return new KafkaClient({
    bootstrapServers: bootstrap,
    clientId: 'replication-bench',
    requestTimeoutMs,
    connectTimeoutMs: 5_000,
    retries: 0,
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

interface Workload {
  name: string;
  rf: number;
  acks: -1 | 1;
}
const WORKLOADS: Workload[] = [
  { name: 'RF=3 acks=all', rf: 3, acks: -1 },
  { name: 'RF=1 acks=all', rf: 1, acks: -1 },
  { name: 'RF=1 acks=1', rf: 1, acks: 1 },
];

function plan(bootstrap: string, w: Workload, rate: number | undefined, topic: string): BenchPlan {
  return {
    bootstrap,
    topic,
    partitions: PARTITIONS,
    replicationFactor: w.rf,
    size: SIZE,
    acks: w.acks,
    messages: MESSAGES,
    batchBytes: 1_000_000,
    requestBytes: 1_048_576,
    lingerMs: 2,
    maxInFlight: 8,
    latency: { rate, warmupSec: 1, seconds: 5, fetchMaxWaitMs: 100, inProcess: false },
    keepTopic: false,
    requestTimeoutMs: 60_000,
  };
}

/** The workloads against `bootstrap`; the latency rate is `rate`, or a quarter of the first workload's max. */
async function runWorkloads(
  bootstrap: string,
  label: string,
  workloads: Workload[],
  rate: number | undefined,
): Promise<{ results: BenchResult[]; rate: number }> {
  const admin = client(bootstrap);
  const results: BenchResult[] = [];
  try {
    for (const w of workloads) {
      log(`${label}: ${w.name}${rate ? ` (latency at ${fmt(rate)} msgs/s)` : ''}`);
      const topic = `repl-${w.rf}-${w.acks === -1 ? 'all' : '1'}-${Date.now()}`;
      // created here, so that runBench uses it as it is (and leaves it): min.insync.replicas=2 on the RF=3
      // topic, as a durable deployment sets it, and every replica in sync before the clock starts
      const [created] = await admin.createTopics([
        {
          name: topic,
          numPartitions: PARTITIONS,
          replicationFactor: w.rf,
          configs: w.rf > 1 ? { 'min.insync.replicas': '2' } : {},
        },
      ]);
      if (created.error) throw created.error;
      await until(`ISR of ${topic}`, 60_000, async () => {
        const md = await admin.metadata([topic]);
        const ps = md.topics[0]?.partitions ?? [];
        return ps.length === PARTITIONS && ps.every((p) => p.leader >= 0 && p.isr.length === w.rf) ? true : undefined;
      });
      if (rate === undefined) {
        // the first workload's max sets the rate of every latency phase: measured alone first
        const max = await runBench(admin, { ...plan(bootstrap, w, undefined, topic), latency: null });
        rate = Math.max(1, Math.round(max.produce.messages / max.produce.seconds / 4));
      }
      const r = await runBench(admin, plan(bootstrap, w, rate, topic));
      await admin.deleteTopics([topic]);
      if (r.produce.stored !== r.produce.messages)
        throw new Error(`${w.name}: ${r.produce.messages} acknowledged, ${r.produce.stored} stored`);
      results.push(r);
    }
  } finally {
    await admin.close();
  }
  return { results, rate: rate! };
}

const mbs = (r: BenchResult) => r.produce.bytes / r.produce.seconds / 1e6;
const rps = (r: BenchResult) => r.produce.messages / r.produce.seconds;
const ms = (us: number) => us / 1000;

function printWorkloads(title: string, workloads: Workload[], results: BenchResult[]): void {
  console.log(title);
  console.log(
    `  ${'workload'.padEnd(15)} ${'produce MB/s'.padStart(12)} ${'records/s'.padStart(10)} ${'ack p50/p99 ms'.padStart(16)} ${'consume MB/s'.padStart(12)}   end-to-end p50 / p99 / max ms (received/sent)`,
  );
  results.forEach((r, i) => {
    const l = r.latency!;
    const behind = ms(l.sendLagUs.p99) > 5 ? `; producer behind (send lag p99 ${fmt(ms(l.sendLagUs.p99))} ms)` : '';
    console.log(
      `  ${workloads[i].name.padEnd(15)} ${fmt(mbs(r)).padStart(12)} ${fmt(rps(r)).padStart(10)} ${`${fmt(ms(r.produce.ackUs.p50))} / ${fmt(ms(r.produce.ackUs.p99))}`.padStart(16)} ${fmt(r.consume.bytes / r.consume.seconds / 1e6).padStart(12)}   ` +
        `${fmt(ms(l.latencyUs.p50))} / ${fmt(ms(l.latencyUs.p99))} / ${fmt(ms(l.latencyUs.max))} (${l.received}/${l.sent})${behind}`,
    );
  });
}

function ratios(what: string, a: BenchResult, b: BenchResult): string {
  return (
    `  ${what.padEnd(36)} throughput ${ratio(mbs(a), mbs(b))}, end-to-end p50 ${ratio(a.latency!.latencyUs.p50, b.latency!.latencyUs.p50)}, ` +
    `p99 ${ratio(a.latency!.latencyUs.p99, b.latency!.latencyUs.p99)}`
  );
}

// ---------------------------------------------------------------- failover

interface Kill {
  node: number;
  controller: boolean;
  unavailableMs: number;
  attempts: number;
}

/** kill -9 of the leader of a partition of FAILOVER_TOPIC; ms to the first acknowledged acks=all produce. */
async function killLeader(cluster: ProcessCluster, onController: boolean): Promise<Kill | null> {
  const admin = client(cluster.bootstrapServers, 10_000);
  let target: { partition: number; leader: number };
  let controllerId: number;
  try {
    controllerId = (await clusterInfo(admin)).controllerId;
    const md = await admin.metadata([FAILOVER_TOPIC]);
    const p = md.topics[0].partitions.find(
      (x) => x.leader >= 0 && x.isr.length === 3 && (x.leader === controllerId) === onController,
    );
    if (!p) return null;
    target = { partition: p.partition, leader: p.leader };
  } finally {
    await admin.close();
  }
  // a producer connected to the leader and warmed up before the kill, as one in steady state would be
  const producer = client(cluster.bootstrapServers, 30_000);
  const value = Buffer.alloc(100);
  try {
    await producer.produce(FAILOVER_TOPIC, target.partition, [{ value }], { acks: -1 });
    const node = cluster.node(target.leader);
    const killed = node.kill('SIGKILL');
    const t0 = performance.now();
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await producer.produce(FAILOVER_TOPIC, target.partition, [{ value }], { acks: -1, timeoutMs: 30_000 });
        break;
      } catch {
        if (performance.now() - t0 > 120_000) throw new Error(`no produce succeeded within 120 s of the kill`);
        await sleep(10);
        await producer.refreshMetadata().catch(() => undefined);
      }
    }
    const unavailableMs = performance.now() - t0;
    await killed;
    log(
      `killed node ${target.leader} (leader of ${FAILOVER_TOPIC}-${target.partition}${onController ? ', active controller' : ''}): produce again after ${fmt(unavailableMs)} ms`,
    );
    // back to three in-sync replicas before the next kill
    await node.start();
    await until('ISR back to 3', 180_000, async () => {
      const md = await producer.metadata([FAILOVER_TOPIC]);
      return md.topics[0]?.partitions.every((p) => p.leader >= 0 && p.isr.length === 3) ? true : undefined;
    });
    return { node: target.leader, controller: onController, unavailableMs, attempts };
  } finally {
    await producer.close();
  }
}

async function failover(cluster: ProcessCluster): Promise<Kill[]> {
  const admin = client(cluster.bootstrapServers);
  try {
    const [r] = await admin.createTopics([
      {
        name: FAILOVER_TOPIC,
        numPartitions: FAILOVER_PARTITIONS,
        replicationFactor: 3,
        configs: { 'min.insync.replicas': '2' },
      },
    ]);
    if (r.error) throw r.error;
    await until('failover topic in sync', 60_000, async () => {
      const md = await admin.metadata([FAILOVER_TOPIC]);
      return md.topics[0]?.partitions.every((p) => p.leader >= 0 && p.isr.length === 3) ? true : undefined;
    });
  } finally {
    await admin.close();
  }
  const kills: Kill[] = [];
  for (let i = 0; i < KILLS; i++) {
    const k = (await killLeader(cluster, i % 2 === 1)) ?? (await killLeader(cluster, i % 2 === 0));
    if (!k) throw new Error('no partition with three in-sync replicas to fail over');
    kills.push(k);
  }
  return kills;
}

function printKills(kills: Kill[]): void {
  console.log(
    `Failover, kill -9 of a partition leader to the first acknowledged acks=all produce (RF=3, min.insync.replicas=2):`,
  );
  for (const [what, ks] of [
    ['leader not on the active controller', kills.filter((k) => !k.controller)],
    ['leader on the active controller', kills.filter((k) => k.controller)],
  ] as const) {
    if (ks.length === 0) continue;
    const s = summarize(ks.map((k) => k.unavailableMs));
    console.log(
      `  ${what.padEnd(36)} p50 ${fmt(s.p50)} ms   p99 ${fmt(s.p99)} ms   (${ks.length} kills: ${ks.map((k) => fmt(k.unavailableMs)).join(', ')} ms)`,
    );
  }
}

// ------------------------------------------------------------------- main

async function kafkaReference(rate: number): Promise<BenchResult[] | string> {
  if (args['no-kafka']) return 'skipped (--no-kafka)';
  const { startReferenceKafka } = await import('../test/helpers/kafka-ref.ts');
  let k: Awaited<ReturnType<typeof startReferenceKafka>>;
  try {
    k = await startReferenceKafka();
  } catch (err) {
    return `not run: ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    return (await runWorkloads(k.bootstrapServers, 'reference Kafka', WORKLOADS.slice(1), rate)).results;
  } finally {
    await k.stop();
  }
}

async function main(): Promise<void> {
  log('starting three samsa processes');
  const cluster = await startProcessCluster({ nodes: 3, env: { SAMSA_LOG_LEVEL: 'warn' } });
  let results: BenchResult[];
  let rate: number;
  let kills: Kill[];
  try {
    const admin = client(cluster.bootstrapServers, 10_000);
    await until('three live brokers', 120_000, async () => {
      const info = await clusterInfo(admin);
      return info.brokers.filter((b) => b.fenced !== true).length === 3 ? true : undefined;
    }).finally(() => admin.close());
    ({ results, rate } = await runWorkloads(
      cluster.bootstrapServers,
      'samsa',
      WORKLOADS,
      args.rate === undefined ? undefined : Number(args.rate),
    ));
    kills = await failover(cluster);
  } catch (err) {
    console.error(cluster.output().slice(-10_000));
    throw err;
  } finally {
    await cluster.close();
  }
  const kafka = await kafkaReference(rate);

  console.log(
    `Replication, three samsa processes on loopback (${new Date().toISOString()}); ${MESSAGES} x ${SIZE} B, ${PARTITIONS} partition(s); latency at ${fmt(rate)} msgs/s`,
  );
  console.log('');
  printWorkloads('Samsa:', WORKLOADS, results);
  console.log(ratios('RF=3 acks=all / RF=1 acks=all', results[0], results[1]));
  console.log(ratios('RF=3 acks=all / RF=1 acks=1', results[0], results[2]));
  console.log('');
  if (typeof kafka === 'string') console.log(`Reference Kafka: ${kafka}`);
  else {
    printWorkloads('Reference Kafka 4.3.1 (KRaft, 1 node):', WORKLOADS.slice(1), kafka);
    console.log(ratios('Samsa RF=3 acks=all / Kafka RF=1 acks=all', results[0], kafka[0]));
    console.log(ratios('Samsa RF=1 acks=all / Kafka RF=1 acks=all', results[1], kafka[0]));
    console.log(ratios('Samsa RF=1 acks=1 / Kafka RF=1 acks=1', results[2], kafka[1]));
  }
  console.log('');
  printKills(kills);
}

await main();
process.exit(0);
