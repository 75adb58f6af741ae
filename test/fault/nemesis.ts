/**
 * A fault campaign: three Samsa processes in their own network namespaces
 * (test/fault/cluster.ts), a topic with replication factor 3 and
 * min.insync.replicas=2, idempotent acks=all producers and a consumer
 * (confluent-kafka-python, test/fault/workload.py) running throughout, and a
 * nemesis that, one fault at a time, kills (-9) and restarts brokers, pauses
 * them (SIGSTOP/SIGCONT), isolates one from the others (and from the
 * clients), or drops the packets of one direction between two. Everything is
 * chosen by a seeded generator: the same seed gives the same schedule (the
 * timing of a loaded machine still varies). At the end the network is healed,
 * the producers flush and stop, everything is read back, and the checker
 * (test/fault/checker.ts) gives its verdict.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { sleep } from '../helpers/broker.ts';
import { currentPython } from '../helpers/pyclient.ts';
import { PYTHON } from '../helpers/proc.ts';
import {
  type Ack,
  check,
  compareReplicas,
  describeBatches,
  type FaultEvent,
  parseProducer,
  parseReads,
  percentile,
  type ProducerLog,
  unavailability,
  type Verdict,
} from './checker.ts';
import { CLIENT_PORT, type FaultCluster, type FaultNode, startFaultCluster } from './cluster.ts';

export const WORKLOAD_PY = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workload.py');

/** Broker settings of a campaign: faster failure detection than the defaults, so a campaign sees more failovers. */
export const FAULT_BROKER_OVERRIDES: Record<string, string> = {
  'auto.create.topics.enable': 'false',
  'broker.heartbeat.interval.ms': '1000',
  'broker.session.timeout.ms': '6000',
  'replica.lag.time.max.ms': '10000',
  'replica.fetch.backoff.ms': '200',
};

/** mulberry32: a small seeded generator. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface CampaignOptions {
  seed: number;
  /** How long the nemesis injects faults. */
  durationMs: number;
  partitions?: number;
  producers?: number;
  /** Records a second per producer. */
  rate?: number;
  log?: (line: string) => void;
}

export interface CampaignResult {
  seed: number;
  verdict: Verdict;
  events: FaultEvent[];
  /** Unavailability of each fault that hit a leader (ms; Infinity: never recovered). */
  failovers: { kind: string; node: number; ms: number }[];
  p50: number | undefined;
  p99: number | undefined;
  /** Application-visible client errors (librdkafka error_cb / consumer errors). */
  clientErrors: string[];
  failedSends: number;
  undelivered: number;
  /** Faults after which the cluster did not get back to a full ISR in time. */
  slowRecoveries: string[];
  summary: string;
}

interface Child {
  proc: ChildProcess;
  out(): string;
  err(): string;
  exited: Promise<number | null>;
  stop(): void;
}

function python(): string {
  try {
    return currentPython();
  } catch {
    return PYTHON;
  }
}

function spawnWorkload(args: string[]): Child {
  const proc = spawn(python(), [WORKLOAD_PY, ...args], {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => {
    out += d.toString();
  });
  const keepErr = process.env.SAMSA_FAULT_CLIENT_DEBUG ? 200_000_000 : 100_000;
  proc.stderr!.on('data', (d) => {
    err += d.toString();
    if (err.length > keepErr) err = err.slice(-keepErr / 2);
  });
  proc.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    out: () => out + (err ? `\n# stderr:\n${err.slice(-5000)}` : ''),
    err: () => err,
    exited,
    stop: () => proc.stdin!.end(),
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(t);
  }
}

async function withConnection<T>(node: FaultNode, fn: (c: Connection) => Promise<T>, timeoutMs = 5_000): Promise<T> {
  const c = new Connection({
    host: node.addr,
    port: CLIENT_PORT,
    clientId: 'fault-nemesis',
    requestTimeoutMs: timeoutMs,
  });
  try {
    await withTimeout(c.connect(), timeoutMs, `connect to node ${node.id}`);
    return await fn(c);
  } finally {
    await c.close().catch(() => {});
  }
}

export interface PartitionView {
  leader: number;
  isr: number[];
  epoch: number;
  /** The active controller the answering node knows of. */
  controller: number;
}

/** The partitions of `topic` as `node` answers Metadata (undefined when it does not answer). */
export async function partitionsOf(node: FaultNode, topic: string): Promise<PartitionView[] | undefined> {
  if (!node.alive() || node.paused()) return undefined;
  try {
    return await withConnection(node, async (c) => {
      const md = await c.send('Metadata', {
        topics: [{ name: topic, topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      const t = md.topics[0];
      if (!t || t.errorCode !== ErrorCode.NONE) return undefined;
      return t.partitions
        .slice()
        .sort((a, b) => a.partitionIndex - b.partitionIndex)
        .map((p) => ({
          leader: p.leaderId,
          isr: [...p.isrNodes].sort(),
          epoch: p.leaderEpoch,
          controller: md.controllerId,
        }));
    });
  } catch {
    return undefined;
  }
}

export async function createReplicatedTopic(cluster: FaultCluster, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const n of cluster.nodes) {
      try {
        const code = await withConnection(
          n,
          async (c) => {
            const r = await c.send('CreateTopics', {
              topics: [
                {
                  name: topic,
                  numPartitions: partitions,
                  replicationFactor: 3,
                  assignments: [],
                  configs: [{ name: 'min.insync.replicas', value: '2' }],
                },
              ],
              timeoutMs: 30_000,
              validateOnly: false,
            });
            return r.topics[0].errorCode;
          },
          40_000,
        );
        if (code === ErrorCode.NONE || code === ErrorCode.TOPIC_ALREADY_EXISTS) return;
      } catch {
        /* try the next node */
      }
    }
    if (Date.now() > deadline) throw new Error(`could not create ${topic}`);
    await sleep(500);
  }
}

/** Whether every node answers that every partition has a leader and all three replicas in sync. */
export async function fullyReplicated(cluster: FaultCluster, topic: string, partitions: number): Promise<boolean> {
  const views = await Promise.all(cluster.nodes.map((n) => partitionsOf(n, topic)));
  return views.every(
    (v) => v !== undefined && v.length === partitions && v.every((p) => p.leader >= 0 && p.isr.length === 3),
  );
}

export async function waitFullyReplicated(
  cluster: FaultCluster,
  topic: string,
  partitions: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fullyReplicated(cluster, topic, partitions)) return true;
    await sleep(250);
  }
  return false;
}

/** Leaders of `topic`'s partitions and the active controller, as the first answering node sees them. */
async function leaders(cluster: FaultCluster, topic: string): Promise<{ led: number[]; controller: number }> {
  for (const n of cluster.nodes) {
    const v = await partitionsOf(n, topic);
    if (v) return { led: v.map((p) => p.leader), controller: v[0]?.controller ?? -1 };
  }
  return { led: [], controller: -1 };
}

type FaultKind = 'kill' | 'kill-leader' | 'pause' | 'pause-leader' | 'isolate' | 'isolate-all' | 'one-way';
const FAULTS: [FaultKind, number][] = [
  ['kill-leader', 3],
  ['kill', 2],
  ['pause-leader', 2],
  ['pause', 1],
  ['isolate', 2],
  ['isolate-all', 1],
  ['one-way', 2],
];

function pick(r: () => number): FaultKind {
  const total = FAULTS.reduce((s, [, w]) => s + w, 0);
  let x = r() * total;
  for (const [k, w] of FAULTS) {
    x -= w;
    if (x < 0) return k;
  }
  return FAULTS[0][0];
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const partitions = opts.partitions ?? 4;
  const producerCount = opts.producers ?? 2;
  const rate = opts.rate ?? 100;
  const topic = `nemesis-${opts.seed}`;
  log(`# nemesis seed ${opts.seed}, ${Math.round(opts.durationMs / 1000)} s of faults, ${partitions} partitions`);

  const cluster = await startFaultCluster({ overrides: FAULT_BROKER_OVERRIDES });
  const children: Child[] = [];
  const t0 = Date.now();
  try {
    await createReplicatedTopic(cluster, topic, partitions);
    if (!(await waitFullyReplicated(cluster, topic, partitions, 90_000)))
      throw new Error(`${topic} did not get a leader and a full ISR on every partition`);
    const bootstrap = cluster.bootstrapServers;
    const producers = Array.from({ length: producerCount }, (_, i) =>
      spawnWorkload(['produce', bootstrap, topic, String(partitions), `p${i + 1}`, String(rate)]),
    );
    children.push(...producers);
    const reader = spawnWorkload(['consume', bootstrap, topic, String(partitions)]);
    children.push(reader);
    // the latest acknowledgement time of each partition, read incrementally from the producers' output
    const lastAckAt = new Map<number, number>();
    const scanned = producers.map(() => 0);
    let acked = 0;
    const scanAcks = () => {
      producers.forEach((p, i) => {
        const out = p.out();
        const end = out.lastIndexOf('\n', out.indexOf('\n# stderr:') >= 0 ? out.indexOf('\n# stderr:') : out.length);
        if (end <= scanned[i]) return;
        for (const line of out.slice(scanned[i], end).split('\n')) {
          if (!line.startsWith('A ')) continue;
          const f = line.split(' ');
          acked++;
          lastAckAt.set(Number(f[1]), Math.max(lastAckAt.get(Number(f[1])) ?? 0, Number(f[4])));
        }
        scanned[i] = end;
      });
    };
    const ackedSoFar = () => {
      scanAcks();
      return acked;
    };
    /** Every partition has had a record acknowledged after `since`. */
    const producingSince = (since: number) => {
      scanAcks();
      return Array.from({ length: partitions }, (_, p) => p).every((p) => (lastAckAt.get(p) ?? 0) > since);
    };
    {
      const deadline = Date.now() + 60_000;
      while (ackedSoFar() < partitions * producerCount) {
        if (Date.now() > deadline) throw new Error('the producers got no acknowledgements before the faults');
        await sleep(100);
      }
    }

    const events: FaultEvent[] = [];
    const slowRecoveries: string[] = [];
    const end = Date.now() + opts.durationMs;
    let round = 0;
    while (Date.now() < end) {
      round++;
      const kind = pick(r);
      const hold = 1_000 + Math.floor(r() * 9_000);
      const gap = 500 + Math.floor(r() * 2_000);
      const overlap = r() < 0.3;
      const { led, controller } = await leaders(cluster, topic);
      let node: number;
      if (kind.endsWith('-leader') && led.some((l) => l > 0)) {
        const valid = led.filter((l) => l > 0);
        node = valid[Math.floor(r() * valid.length)];
      } else node = 1 + Math.floor(r() * 3);
      const other = 1 + ((node + Math.floor(r() * 2)) % 3);
      const target = cluster.node(node);
      const ledByTarget = led.flatMap((l, p) => (l === node ? [p] : []));
      const at = Date.now();
      let desc: string;
      switch (kind) {
        case 'kill':
        case 'kill-leader':
          await target.signal('SIGKILL');
          desc = `kill -9 node ${node}`;
          break;
        case 'pause':
        case 'pause-leader':
          target.pause();
          desc = `SIGSTOP node ${node}`;
          break;
        case 'isolate':
          cluster.net.isolate(node);
          desc = `isolate node ${node} from the other brokers`;
          break;
        case 'isolate-all':
          cluster.net.isolate(node, { clients: true });
          desc = `isolate node ${node} from brokers and clients`;
          break;
        case 'one-way':
          cluster.net.drop(other, node);
          desc = `drop packets node ${other} -> node ${node}`;
          break;
      }
      // a fault of the active controller's node is a failover of the controller too
      const label = controller === node && kind !== 'one-way' ? `${kind}+controller` : kind;
      events.push({ at, kind: label, node, led: kind === 'one-way' ? [] : ledByTarget });
      log(
        `# ${((at - t0) / 1000).toFixed(1)} s round ${round}: ${desc}${ledByTarget.length ? ` (leader of ${ledByTarget.join(',')})` : ''}${controller === node ? ' (active controller)' : ''} for ${hold} ms${overlap ? ', the next fault without waiting for a full ISR' : ''}`,
      );
      await sleep(hold);
      if (kind.startsWith('kill')) await target.start();
      else if (kind.startsWith('pause')) target.resume();
      else cluster.net.heal();
      // most faults wait for a full ISR again; the others overlap the next fault with the catch-up
      // a full ISR as every node sees it, and records acknowledged on every partition since the heal
      if (!overlap) {
        const healedAt = Date.now();
        const deadline = healedAt + 90_000;
        let recovered = false;
        while (!recovered && Date.now() < deadline) {
          recovered = producingSince(healedAt) && (await fullyReplicated(cluster, topic, partitions));
          if (!recovered) await sleep(250);
        }
        if (!recovered) {
          slowRecoveries.push(`round ${round} (${desc})`);
          log(`# round ${round}: no full ISR and acknowledged produce on every partition 90 s after the heal`);
        }
      }
      await sleep(gap);
    }

    log(`# ${((Date.now() - t0) / 1000).toFixed(1)} s: faults over, healing and draining`);
    cluster.net.heal();
    for (const n of cluster.nodes) {
      n.resume();
      if (!n.alive()) await n.start();
    }
    const healed = await waitFullyReplicated(cluster, topic, partitions, 120_000);
    for (const p of producers) p.stop();
    const codes = await withTimeout(Promise.all(producers.map((p) => p.exited)), 300_000, 'producers flush');
    const logs: ProducerLog[] = producers.map((p) => parseProducer(p.out()));
    // the consumer stops once it has read up to what the producers last had acknowledged
    const lastAcked = new Map<number, number>();
    for (const a of logs.flatMap((l) => l.acks))
      lastAcked.set(a.partition, Math.max(lastAcked.get(a.partition) ?? -1, a.offset));
    {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const seen = new Map<number, number>();
        for (const rec of parseReads(reader.out()).records)
          seen.set(rec.partition, Math.max(seen.get(rec.partition) ?? -1, rec.offset));
        if ([...lastAcked].every(([p, o]) => (seen.get(p) ?? -1) >= o) || Date.now() > deadline) break;
        await sleep(200);
      }
    }
    reader.stop();
    await withTimeout(reader.exited, 60_000, 'consumer stop');
    const live = parseReads(reader.out());

    const finalRead = spawnWorkload(['read', bootstrap, topic, String(partitions)]);
    children.push(finalRead);
    await withTimeout(finalRead.exited, 240_000, 'final read');
    const final = parseReads(finalRead.out());
    if (final.hw.size !== partitions)
      throw new Error(`the final read did not finish:\n${finalRead.out().slice(-3000)}`);

    // every replica's log below the high watermark, once the followers have caught up
    let cmp = compareReplicas(
      cluster.nodes.map((n) => n.dataDir),
      topic,
      final.hw,
    );
    {
      const deadline = Date.now() + 60_000;
      while ((cmp.behind.length > 0 || cmp.divergent.length > 0) && Date.now() < deadline) {
        await sleep(500);
        cmp = compareReplicas(
          cluster.nodes.map((n) => n.dataDir),
          topic,
          final.hw,
        );
      }
    }
    const divergent = [...cmp.divergent, ...cmp.behind];

    const verdict = check({
      producers: logs,
      final: final.records,
      hw: final.hw,
      live: live.records,
      divergentReplicas: divergent,
    });
    const acks: Ack[] = logs.flatMap((l) => l.acks);
    const failovers = unavailability(events, acks).map((u) => ({ kind: u.event.kind, node: u.event.node, ms: u.ms }));
    const times = failovers.map((f) => f.ms);
    const p50 = times.length ? percentile(times, 0.5) : undefined;
    const p99 = times.length ? percentile(times, 0.99) : undefined;
    const clientErrors = [
      ...logs.flatMap((l, i) => l.errors.map((e) => `producer ${i + 1}: ${e}`)),
      ...live.errors.map((e) => `consumer: ${e}`),
      ...final.errors.map((e) => `final read: ${e}`),
      ...codes.flatMap((c, i) => (c === 0 ? [] : [`producer ${i + 1} exited with ${c}`])),
      ...logs.flatMap((l, i) => (l.done ? [] : [`producer ${i + 1} did not finish`])),
    ];
    if (!healed) slowRecoveries.push('final heal');
    const failedSends = logs.reduce((s, l) => s + l.failed.length, 0);
    const undelivered = logs.reduce((s, l) => s + l.undelivered, 0);
    const fmt = (x: number | undefined) => (x === undefined ? '-' : Number.isFinite(x) ? `${x} ms` : 'never');
    const summary = [
      `nemesis seed ${opts.seed}: ${events.length} faults in ${Math.round(opts.durationMs / 1000)} s; ${verdict.ok ? 'PASS' : 'FAIL'}`,
      `  acknowledged ${verdict.acknowledged}, lost ${verdict.lost.length}, duplicated ${verdict.duplicated.length}, misplaced ${verdict.misplaced.length}, reordered ${verdict.reordered.length}, gaps ${verdict.gaps.length}, unstable reads ${verdict.unstableReads.length}, divergent replicas ${divergent.length}`,
      `  unacknowledged but present ${verdict.unacknowledgedPresent}, failed sends ${failedSends}, undelivered at the end ${undelivered}, live reads ${live.records.length}`,
      `  failovers ${failovers.length}: unavailability p50 ${fmt(p50)}, p99 ${fmt(p99)}`,
      ...[...new Set(failovers.map((f) => f.kind))].sort().map((kind) => {
        const ms = failovers.filter((f) => f.kind === kind).map((f) => f.ms);
        return `    ${kind}: ${ms.length}, p50 ${fmt(percentile(ms, 0.5))}, max ${fmt(Math.max(...ms))} (${ms.map((m) => (Number.isFinite(m) ? m : 'never')).join(' ')})`;
      }),
      `  transient client errors (retried by the client) ${logs.reduce((s, l) => s + l.warnings.length, 0)}`,
      `  client errors ${clientErrors.length}${clientErrors.length ? `: ${[...new Set(clientErrors)].slice(0, 10).join('; ')}` : ''}`,
      `  slow recoveries ${slowRecoveries.length}${slowRecoveries.length ? `: ${slowRecoveries.join('; ')}` : ''}`,
      ...(verdict.ok
        ? []
        : [
            `  details: ${JSON.stringify({
              lost: verdict.lost.slice(0, 10),
              duplicated: verdict.duplicated.slice(0, 10),
              misplaced: verdict.misplaced.slice(0, 10),
              reordered: verdict.reordered.slice(0, 10),
              gaps: verdict.gaps.slice(0, 10),
              unstableReads: verdict.unstableReads.slice(0, 10),
              divergent: divergent.slice(0, 10),
            })}`,
            `  re-run: npm run nemesis -- --seed ${opts.seed} --minutes ${(opts.durationMs / 60_000).toFixed(2)}`,
          ]),
    ].join('\n');
    log(summary);
    if (!verdict.ok && process.env.SAMSA_FAULT_KEEP_LOGS !== '0') {
      const file = path.join(process.env.SAMSA_FAULT_LOG_DIR ?? os.tmpdir(), `nemesis-${opts.seed}-${Date.now()}.log`);
      try {
        // the batches of every replica around each problem offset
        const offsets = new Map<number, number[]>();
        for (const line of [...verdict.lost, ...verdict.misplaced, ...verdict.reordered, ...verdict.duplicated]) {
          for (const m of line.matchAll(/(?:@|at |partition )(\d+)[: ](?:offset )?(\d+)/g)) {
            const l = offsets.get(Number(m[1])) ?? [];
            l.push(Number(m[2]));
            offsets.set(Number(m[1]), l);
          }
        }
        const dupValues = new Set(verdict.duplicated.map((d) => d.split(' ')[0]));
        for (const r of final.records)
          if (dupValues.has(r.value)) offsets.set(r.partition, [...(offsets.get(r.partition) ?? []), r.offset]);
        const batches = [...offsets].flatMap(([p, os]) =>
          cluster.nodes.map(
            (n) =>
              `# node ${n.id} ${topic}-${p} batches near ${os.join(',')}\n${describeBatches(
                path.join(n.dataDir, `${topic}-${p}`),
                Math.min(...os) - 20,
                Math.max(...os) + 20,
              ).join('\n')}`,
          ),
        );
        fs.writeFileSync(
          file,
          `${summary}\n\n${batches.join('\n')}\n\n${cluster.output(100_000)}\n\n# producers\n${producers.map((p) => p.out()).join('\n# ---\n')}\n\n# producers' stderr\n${producers.map((p) => p.err()).join('\n# ---\n')}`,
        );
        log(`  broker and client logs: ${file}`);
      } catch {
        /* best effort */
      }
    }
    return {
      seed: opts.seed,
      verdict,
      events,
      failovers,
      p50,
      p99,
      clientErrors,
      failedSends,
      undelivered,
      slowRecoveries,
      summary,
    };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await cluster.close();
  }
}
