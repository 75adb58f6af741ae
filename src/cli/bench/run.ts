/**
 * What `samsa bench` does against a cluster, phase by phase: create the topic
 * (unless it exists), produce as fast as the cluster acknowledges, read the
 * produced range back from its start offsets, run the fixed-rate latency
 * test, and delete the topic if it created it (unless told to keep it).
 */
import { type KafkaClient, parseHostPort } from '../../client/client.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import { UsageError } from '../format.ts';
import { produce } from './producer.ts';
import { TopicReader, readRange } from './consumer.ts';
import { endOffsets, openRoute } from './route.ts';
import { runLatency } from './latency-run.ts';
import { cpuSeconds } from './latency-client.ts';
import { summarize, type Summary } from './percentiles.ts';
import { monoUs } from './stamp.ts';

export interface BenchPlan {
  bootstrap: string;
  topic: string;
  /** undefined: 1 for a new topic, whatever an existing one has */
  partitions?: number;
  replicationFactor: number;
  size: number;
  acks: -1 | 0 | 1;
  /** Max-throughput phase: a message count, or a duration in seconds. */
  messages?: number;
  durationSec?: number;
  batchBytes: number;
  requestBytes: number;
  lingerMs: number;
  maxInFlight: number;
  /** Latency phase: messages/s (undefined: half the measured max), or no latency phase. */
  latency: { rate?: number; warmupSec: number; seconds: number; fetchMaxWaitMs: number; inProcess: boolean } | null;
  keepTopic: boolean;
  requestTimeoutMs: number;
}

export interface Throughput {
  messages: number;
  bytes: number;
  seconds: number;
  /** This process's CPU seconds over the phase (the load generator's share of the limit). */
  cpuSeconds: number;
}

export interface BenchResult {
  topic: string;
  created: boolean;
  deleted: boolean;
  partitions: number;
  replicationFactor: number;
  produce: Throughput & { requests: number; stored: number; ackUs: Summary };
  consume: Throughput & { fetches: number };
  latency: null | {
    rate: number;
    inProcess: boolean;
    warmupSec: number;
    seconds: number;
    sent: number;
    received: number;
    latencyUs: Summary;
    sendLagUs: { p50: number; p99: number };
    ackUs: { p50: number; p99: number };
    /** CPU time over wall time of each side (in one process: both the process's). */
    producerCpuShare: number;
    consumerCpuShare: number;
  };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Aborting `signal` stops the run where it is (connections closed, latency
 * processes killed); the topic it created is still deleted, then the run rejects.
 */
export async function runBench(admin: KafkaClient, plan: BenchPlan, signal?: AbortSignal): Promise<BenchResult> {
  const [created] = await admin.createTopics([
    { name: plan.topic, numPartitions: plan.partitions ?? 1, replicationFactor: plan.replicationFactor },
  ]);
  if (created.error && created.error.code !== ErrorCode.TOPIC_ALREADY_EXISTS) throw created.error;
  const isNew = !created.error;
  const deleteTopic = () =>
    admin.deleteTopics([plan.topic]).then(
      ([d]) => d.error,
      (e: Error) => e,
    );
  let result: BenchResult;
  try {
    result = await runPhases(admin, plan, isNew, signal);
  } catch (err) {
    // After a failure, the first error is the one reported; a failed delete is then left unsaid.
    if (isNew && !plan.keepTopic) await deleteTopic();
    throw err;
  }
  if (isNew && !plan.keepTopic) {
    const failed = await deleteTopic();
    if (failed) throw failed;
    result.deleted = true;
  }
  return result;
}

async function runPhases(
  admin: KafkaClient,
  plan: BenchPlan,
  isNew: boolean,
  signal?: AbortSignal,
): Promise<BenchResult> {
  signal?.throwIfAborted();
  const route = await openRoute(plan.topic, {
    bootstrap: plan.bootstrap,
    clientId: 'samsa-bench',
    requestTimeoutMs: plan.requestTimeoutMs,
  });
  // closing the producer's and consumer's connections ends phases 1 and 2 at once
  const stop = () => void route.close();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    if (!isNew && plan.partitions !== undefined && plan.partitions !== route.partitions) {
      throw new UsageError(
        `topic '${plan.topic}' already exists with ${route.partitions} partitions, not ${plan.partitions}`,
      );
    }
    const md = await admin.metadata([plan.topic]);
    const replicationFactor = md.topics[0]?.partitions[0]?.replicas.length ?? plan.replicationFactor;

    // 1. max produce
    const start = await endOffsets(route);
    const pCpu0 = cpuSeconds();
    const t0 = monoUs();
    const p = await produce(
      route,
      {
        size: plan.size,
        acks: plan.acks,
        rate: Infinity,
        messages: plan.messages ?? Infinity,
        untilUs: plan.durationSec === undefined ? undefined : t0 + plan.durationSec * 1e6,
        lingerMs: plan.lingerMs,
        maxInFlight: plan.maxInFlight,
        batchBytes: plan.batchBytes,
        requestBytes: plan.requestBytes,
        timeoutMs: plan.requestTimeoutMs,
      },
      t0,
    );
    const pCpu = cpuSeconds() - pCpu0;
    const end = await endOffsets(route);
    const produced: BenchResult['produce'] = {
      messages: p.sent,
      bytes: p.sent * plan.size,
      seconds: (p.lastAckUs - p.firstSendUs) / 1e6,
      cpuSeconds: pCpu,
      requests: p.requests,
      stored: sum(end) - sum(start),
      ackUs: summarize(p.ackUs),
    };

    signal?.throwIfAborted();
    // 2. catch-up consume of exactly that range
    const reader = new TopicReader(route, start, { maxWaitMs: 100 });
    const cCpu0 = cpuSeconds();
    const c0 = monoUs();
    const read = await readRange(reader, end);
    const consumed = {
      ...read,
      seconds: (monoUs() - c0) / 1e6,
      cpuSeconds: cpuSeconds() - cCpu0,
      fetches: reader.fetches,
    };

    signal?.throwIfAborted();
    // 3. fixed-rate end-to-end latency
    let latency: BenchResult['latency'] = null;
    if (plan.latency) {
      const maxRate = produced.seconds > 0 ? produced.messages / produced.seconds : 1000;
      const rate = plan.latency.rate ?? Math.max(1, Math.round(maxRate / 2));
      const { host, port } = parseHostPort(plan.bootstrap.split(',')[0]);
      const cfg = {
        host,
        port,
        bootstrap: plan.bootstrap,
        topic: plan.topic,
        partitions: route.partitions,
        size: plan.size,
        acks: plan.acks,
        rate,
        startUs: 0,
        warmupSec: plan.latency.warmupSec,
        seconds: plan.latency.seconds,
        lingerMs: plan.lingerMs,
        maxInFlight: plan.maxInFlight,
        fetchMaxWaitMs: plan.latency.fetchMaxWaitMs,
        batchBytes: plan.batchBytes,
        requestBytes: plan.requestBytes,
        statsAfterWarmup: true,
        requestTimeoutMs: plan.requestTimeoutMs,
      };
      const r = await runLatency(cfg, plan.latency.inProcess, signal);
      latency = {
        rate,
        inProcess: plan.latency.inProcess,
        warmupSec: plan.latency.warmupSec,
        seconds: plan.latency.seconds,
        sent: r.producer.sent,
        received: r.consumer.received,
        latencyUs: summarize(r.latencyUs),
        sendLagUs: { p50: r.producer.sendLagP50Us, p99: r.producer.sendLagP99Us },
        ackUs: { p50: r.producer.ackP50Us, p99: r.producer.ackP99Us },
        producerCpuShare: r.producer.cpu / r.producer.wall,
        consumerCpuShare: r.consumer.cpu / r.consumer.wall,
      };
    }
    return {
      topic: plan.topic,
      created: isNew,
      deleted: false,
      partitions: route.partitions,
      replicationFactor,
      produce: produced,
      consume: consumed,
      latency,
    };
  } finally {
    signal?.removeEventListener('abort', stop);
    await route.close();
  }
}
