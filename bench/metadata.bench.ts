/**
 * Metadata operations on a three-node cluster of `samsa start` processes on
 * loopback (the nodes `samsa start --nodes 3` would start; test/helpers/cluster.ts):
 *
 *   1. CreateTopics latency: 100 topics (1 partition each) created one request
 *      at a time through a node that is not the controller (each forwarded to
 *      the active controller, committed by the quorum, and answered once the
 *      forwarding node's image has the topic), then 100 through the controller
 *      itself, then 100 in one request. p50 / p99 / total of each.
 *      The same against the reference Apache Kafka (KRaft, one combined node,
 *      scripts/kafka-ref.sh), with the ratio, when java and its jars are there.
 *   2. Catch-up from a snapshot: a new broker-only node (an observer of the
 *      quorum, empty data dir) joins a cluster whose metadata holds
 *      --partitions partitions (10 topics), after the leader has snapshotted
 *      them and trimmed its log; time from its spawn until the quorum leader
 *      sees it at the high watermark (DescribeQuorum), and until its client
 *      port accepts connections. The same join on the near-empty cluster
 *      first, as the baseline of process start-up.
 *
 *   npm run bench:metadata [-- --topics 100] [--partitions 10000] [--no-kafka]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KafkaClient } from '../src/client/client.ts';
import { clusterInfo } from '../src/cli/cluster.ts';
import { SAMSA_BIN } from '../src/cli/local-cluster.ts';
import { BROKER_NODE_FLAGS, EXIT_WITH_PARENT_ENV } from '../src/cli/start.ts';
import { canConnect, REPO_ROOT } from '../test/helpers/broker.ts';
import { freePortRange, type ProcessCluster, startProcessCluster } from '../test/helpers/cluster.ts';
import { fmt, percentiles, ratio } from './harness/stats.ts';

const { values: args } = parseArgs({
  options: {
    topics: { type: 'string', default: '100' },
    partitions: { type: 'string', default: '10000' },
    'no-kafka': { type: 'boolean', default: false },
  },
});
const TOPICS = Number(args.topics);
const PARTITIONS = Number(args.partitions);
/** Small, so that the leader snapshots right after the last large CreateTopics (each one is far more). */
const SNAPSHOT_BYTES = 4096;

const log = (s: string) => process.stderr.write(`[metadata bench] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(bootstrap: string): KafkaClient {
  return new KafkaClient({
    bootstrapServers: bootstrap,
    clientId: 'metadata-bench',
    requestTimeoutMs: 180_000,
    connectTimeoutMs: 10_000,
    retries: 0,
  });
}

interface Latencies {
  p50: number;
  p99: number;
  totalMs: number;
}

/** `count` CreateTopics, one topic each, one after the other; the latency of each. */
async function createOneByOne(bootstrap: string, prefix: string, count: number): Promise<Latencies> {
  const c = client(bootstrap);
  try {
    // connected and negotiated before the clock starts; no Metadata, so that every request goes to `bootstrap`
    // (a client that knows the brokers sends admin requests to the first one it lists)
    await c.anyConnection();
    const ms = new Float64Array(count);
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      const [r] = await c.createTopics([{ name: `${prefix}-${i}`, numPartitions: 1 }], { timeoutMs: 60_000 });
      if (r.error) throw r.error;
      ms[i] = performance.now() - t;
    }
    const totalMs = performance.now() - t0;
    const [p50, p99] = percentiles(ms, [50, 99]);
    return { p50, p99, totalMs };
  } finally {
    await c.close();
  }
}

/** One CreateTopics of `count` topics; its wall time. */
async function createInOne(bootstrap: string, prefix: string, count: number, partitions = 1): Promise<number> {
  const c = client(bootstrap);
  try {
    await c.anyConnection();
    const t = performance.now();
    const res = await c.createTopics(
      Array.from({ length: count }, (_, i) => ({ name: `${prefix}-${i}`, numPartitions: partitions })),
      { timeoutMs: 180_000 },
    );
    const bad = res.find((r) => r.error);
    if (bad) throw bad.error;
    return performance.now() - t;
  } finally {
    await c.close();
  }
}

/** The newest snapshot of a node's metadata log: its end offset and size (-1 / 0 without one). */
function newestSnapshot(dataDir: string): { end: number; bytes: number } {
  const dir = path.join(dataDir, '__cluster_metadata-0');
  let best = { end: -1, bytes: 0 };
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const m = /^(\d{20})-\d{10}\.checkpoint$/.exec(f);
    if (m && Number(m[1]) > best.end) best = { end: Number(m[1]), bytes: fs.statSync(path.join(dir, f)).size };
  }
  return best;
}

async function quorum(bootstrap: string) {
  const c = client(bootstrap);
  try {
    return await clusterInfo(c);
  } finally {
    await c.close();
  }
}

interface JoinResult {
  caughtUpMs: number | null;
  listeningMs: number;
}

/**
 * Starts a broker-only node (an observer of the quorum) on an empty dir and
 * times its catch-up to `target` (the high watermark when it started), then
 * stops it.
 */
async function joinObserver(cluster: ProcessCluster, nodeId: number, target: number): Promise<JoinResult> {
  const port = await freePortRange(1);
  const dir = path.join(cluster.dataDir, `observer-${nodeId}`);
  const voters = cluster.nodes.map((n) => `${n.nodeId}@127.0.0.1:${n.controllerPort}`).join(',');
  const props = [
    `node.id=${nodeId}`,
    'process.roles=broker',
    `listeners=PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names=CONTROLLER',
    `controller.quorum.voters=${voters}`,
    `log.dirs=${dir}`,
  ];
  const leader = cluster.nodes[0].bootstrap;
  let out = '';
  const t0 = performance.now();
  const p: ChildProcess = spawn(
    process.execPath,
    [...BROKER_NODE_FLAGS, SAMSA_BIN, 'start', ...props.flatMap((x) => ['-o', x])],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, SAMSA_LOG_LEVEL: 'warn', SAMSA_LOG_FORMAT: 'json', [EXIT_WITH_PARENT_ENV]: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  const exited = new Promise((r) => p.once('exit', r));
  let caughtUpMs: number | null = null;
  let listeningMs: number | null = null;
  try {
    const deadline = Date.now() + 300_000;
    while (caughtUpMs === null || listeningMs === null) {
      if (p.exitCode !== null) throw new Error(`node ${nodeId} exited with code ${p.exitCode}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`node ${nodeId} did not catch up within 300 s:\n${out}`);
      if (listeningMs === null && (await canConnect('127.0.0.1', port))) listeningMs = performance.now() - t0;
      if (caughtUpMs === null) {
        const q = (await quorum(leader).catch(() => null))?.quorum;
        const me = q?.observers.find((o) => o.nodeId === nodeId);
        if (me && me.logEndOffset >= target) caughtUpMs = performance.now() - t0;
      }
      await sleep(20);
      // an observer the leader does not list (an older DescribeQuorum): the listening time alone
      if (listeningMs !== null && caughtUpMs === null && performance.now() - t0 > listeningMs + 30_000) break;
    }
  } finally {
    p.kill('SIGTERM');
    await exited;
  }
  return { caughtUpMs, listeningMs: listeningMs! };
}

async function kafkaReference(): Promise<{ one: Latencies; batch: number } | string> {
  if (args['no-kafka']) return 'skipped (--no-kafka)';
  const { startReferenceKafka } = await import('../test/helpers/kafka-ref.ts');
  let k: Awaited<ReturnType<typeof startReferenceKafka>>;
  try {
    k = await startReferenceKafka({ 'auto.create.topics.enable': 'false' });
  } catch (err) {
    return `not run: ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    await createOneByOne(k.bootstrapServers, 'warm', 5);
    const one = await createOneByOne(k.bootstrapServers, 'one', TOPICS);
    const batch = await createInOne(k.bootstrapServers, 'batch', TOPICS);
    return { one, batch };
  } finally {
    await k.stop();
  }
}

const line = (what: string, l: Latencies) =>
  `${what.padEnd(52)} p50 ${fmt(l.p50)} ms   p99 ${fmt(l.p99)} ms   total ${fmt(l.totalMs)} ms`;

async function main(): Promise<void> {
  log('starting a three-node cluster');
  const cluster = await startProcessCluster({
    nodes: 3,
    overrides: {
      'auto.create.topics.enable': 'false',
      'metadata.log.max.record.bytes.between.snapshots': String(SNAPSHOT_BYTES),
      'samsa.max.partitions': String(PARTITIONS * 2 + 10_000),
    },
    env: { SAMSA_LOG_LEVEL: 'warn' },
  });
  try {
    const info = await quorum(cluster.nodes[0].bootstrap);
    const controller = cluster.node(info.controllerId);
    const follower = cluster.nodes.find((n) => n !== controller)!;
    log(`controller: node ${controller.nodeId}; forwarding through node ${follower.nodeId}`);

    await createOneByOne(follower.bootstrap, 'warm', 5);
    const forwarded = await createOneByOne(follower.bootstrap, 'fwd', TOPICS);
    const direct = await createOneByOne(controller.bootstrap, 'ctl', TOPICS);
    const batch = await createInOne(follower.bootstrap, 'batch', TOPICS);

    log('observer join on the near-empty cluster (baseline)');
    const hw0 = (await quorum(controller.bootstrap)).quorum!.highWatermark;
    const baseline = await joinObserver(cluster, 4, hw0);

    log(`creating ${PARTITIONS} partitions (10 topics)`);
    const bigStart = performance.now();
    for (let i = 0; i < 10; i++) await createInOne(follower.bootstrap, `big${i}`, 1, Math.ceil(PARTITIONS / 10));
    const bigMs = performance.now() - bigStart;
    const bigEnd = (await quorum(controller.bootstrap)).quorum!.highWatermark;
    const leaderNow = cluster.node((await quorum(controller.bootstrap)).controllerId);
    // a snapshot holding every partition: small topics until the leader snapshots past the large ones
    for (let i = 0; newestSnapshot(leaderNow.dataDir).end < bigEnd; i++) {
      if (i >= 200) throw new Error(`the leader took no snapshot at or past ${bigEnd}`);
      await createInOne(follower.bootstrap, `filler${i}`, 1);
    }
    const snap = newestSnapshot(leaderNow.dataDir);
    const hw = (await quorum(controller.bootstrap)).quorum!.highWatermark;
    log(`snapshot at ${snap.end} (${snap.bytes} bytes); joining a new node`);
    const joined = await joinObserver(cluster, 5, hw);

    const kafka = await kafkaReference();

    console.log(`Metadata operations, three samsa processes on loopback (${new Date().toISOString()})`);
    console.log('');
    console.log(`CreateTopics, ${TOPICS} topics of 1 partition:`);
    console.log(line(`  one per request, through node ${follower.nodeId} (forwarded)`, forwarded));
    console.log(line(`  one per request, through the controller (node ${controller.nodeId})`, direct));
    console.log(`  ${TOPICS} in one request, forwarded${''.padEnd(28)} total ${fmt(batch)} ms`);
    if (typeof kafka === 'string') console.log(`  reference Kafka: ${kafka}`);
    else {
      console.log(line('  reference Kafka 4.3.1 (KRaft, 1 node), one per request', kafka.one));
      console.log(`  reference Kafka, ${TOPICS} in one request${''.padEnd(22)} total ${fmt(kafka.batch)} ms`);
      console.log(
        `  Samsa/Kafka latency: forwarded p50 ${ratio(forwarded.p50, kafka.one.p50)}, p99 ${ratio(forwarded.p99, kafka.one.p99)}; ` +
          `through the controller p50 ${ratio(direct.p50, kafka.one.p50)}; one request ${ratio(batch, kafka.batch)}`,
      );
    }
    console.log('');
    console.log(`Catch-up of a new broker-only node (observer, empty data dir):`);
    const ms = (x: number | null) => (x === null ? 'n/a (not listed by DescribeQuorum)' : `${fmt(x)} ms`);
    console.log(
      `  near-empty metadata (high watermark ${hw0}):  at the high watermark after ${ms(baseline.caughtUpMs)}, listening after ${fmt(baseline.listeningMs)} ms`,
    );
    console.log(
      `  ${PARTITIONS} partitions (created in ${fmt(bigMs)} ms; high watermark ${hw}; leader's snapshot ${fmt(snap.bytes / 1024)} KiB at ${snap.end}):`,
    );
    console.log(
      `    at the high watermark after ${ms(joined.caughtUpMs)}, listening after ${fmt(joined.listeningMs)} ms`,
    );
  } finally {
    await cluster.close();
  }
}

await main();
process.exit(0);
