/**
 * The two sides of a fixed-rate end-to-end latency run, as `npm run bench`
 * (bench/harness/samsa-latency-client.ts) and `samsa bench` use them, in one
 * process or in two. Each side connects first (`prepare*`), then runs from a
 * shared start time on CLOCK_MONOTONIC:
 *
 * - producer: message i is due at start + i / rate; every `lingerMs` what is
 *   due goes out as one pipelined Produce request per leader (one batch per
 *   partition, round-robin), each value stamped with its intended send time;
 * - consumer: one long-polling Fetch per leader from the log end offsets
 *   taken before the start; latency = answer's arrival - stamp, for the
 *   messages stamped after the warm-up.
 *
 * Each reports its own CPU seconds over the run (in one process both see
 * the process's CPU).
 */
import { produce } from './producer.ts';
import { TopicReader, readLatencies } from './consumer.ts';
import { endOffsets, openRoute, type TopicRoute } from './route.ts';
import { summarize } from './percentiles.ts';
import { monoUs, sleepUntilUs } from './stamp.ts';

export interface LatencyClientConfig {
  host: string;
  port: number;
  /** 'host:port,...' to bootstrap from instead of host:port (any Kafka cluster). */
  bootstrap?: string;
  topic: string;
  partitions: number;
  size: number;
  /** 1 or -1 (all); 0 sends without answers */
  acks: -1 | 0 | 1;
  rate: number;
  /** CLOCK_MONOTONIC µs at which sending starts (intended time of message 0); read from stdin after 'ready'. */
  startUs: number;
  warmupSec: number;
  seconds: number;
  lingerMs: number;
  maxInFlight: number;
  fetchMaxWaitMs: number;
  /** Largest batch per partition per request (default 512 KiB, under message.max.bytes). */
  batchBytes?: number;
  /** Most record bytes per request (default 512 KiB): a producer that fell behind catches up in requests of this. */
  requestBytes?: number;
  /** Request timeout (default 60 s). */
  requestTimeoutMs?: number;
  /** producer: wait and round-trip percentiles without the warm-up, as the latencies (default: the whole run) */
  statsAfterWarmup?: boolean;
  /** consumer: where the latencies go */
  outFile?: string;
}

/** What the producer prints. */
export interface ProducerReport {
  sent: number;
  requests: number;
  maxInFlight: number;
  cpu: number;
  wall: number;
  sendLagP50Us: number;
  sendLagP99Us: number;
  ackP50Us: number;
  ackP99Us: number;
}

/** What the consumer prints. */
export interface ConsumerReport {
  received: number;
  recorded: number;
  fetches: number;
  cpu: number;
  wall: number;
}

export const cpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Messages the producer sends over warm-up + recorded window. */
export const totalMessages = (cfg: LatencyClientConfig): number => Math.floor(cfg.rate * (cfg.warmupSec + cfg.seconds));

const LATENCY_REQUEST_BYTES = 512 * 1024;

const orZero = (x: number) => (Number.isFinite(x) ? x : 0);

function connect(cfg: LatencyClientConfig, clientId: string): Promise<TopicRoute> {
  const bootstrap = cfg.bootstrap ?? `${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${cfg.port}`;
  return openRoute(cfg.topic, { bootstrap, clientId, requestTimeoutMs: cfg.requestTimeoutMs ?? 60_000 });
}

/** A side that is connected and waits to be run. */
export interface LatencySide<R> {
  /** Runs from `startUs` (CLOCK_MONOTONIC µs) to the end of the window. */
  run(startUs: number): Promise<R>;
  close(): Promise<void>;
}

/** Connects the producer. */
export async function prepareLatencyProducer(cfg: LatencyClientConfig): Promise<LatencySide<ProducerReport>> {
  const route = await connect(cfg, 'bench-lat-producer');
  const run = async (startUs: number): Promise<ProducerReport> => {
    await sleepUntilUs(startUs);
    const cpu0 = cpuSeconds();
    const s = await produce(
      route,
      {
        size: cfg.size,
        acks: cfg.acks,
        rate: cfg.rate,
        messages: totalMessages(cfg),
        lingerMs: cfg.lingerMs,
        maxInFlight: cfg.maxInFlight,
        batchBytes: cfg.batchBytes ?? LATENCY_REQUEST_BYTES,
        requestBytes: cfg.requestBytes ?? LATENCY_REQUEST_BYTES,
        statsFromUs: cfg.statsAfterWarmup ? startUs + cfg.warmupSec * 1e6 : undefined,
      },
      startUs,
    );
    const wall = (monoUs() - startUs) / 1e6;
    const cpu = cpuSeconds() - cpu0;
    const lag = summarize(s.sendLagUs);
    const ack = summarize(s.ackUs);
    return {
      sent: s.sent,
      requests: s.requests,
      maxInFlight: s.maxInFlight,
      cpu,
      wall,
      sendLagP50Us: orZero(lag.p50),
      sendLagP99Us: orZero(lag.p99),
      ackP50Us: orZero(ack.p50),
      ackP99Us: orZero(ack.p99),
    };
  };
  return { run, close: () => route.close() };
}

export interface ConsumerResult {
  report: ConsumerReport;
  /** End-to-end latencies (µs) of the messages after the warm-up. */
  latencyUs: Float64Array;
}

/** Connects the consumer and takes the log end offsets it will read from. */
export async function prepareLatencyConsumer(cfg: LatencyClientConfig): Promise<LatencySide<ConsumerResult>> {
  const route = await connect(cfg, 'bench-lat-consumer');
  let reader: TopicReader;
  try {
    reader = new TopicReader(route, await endOffsets(route), { maxWaitMs: cfg.fetchMaxWaitMs });
  } catch (err) {
    await route.close();
    throw err;
  }
  const run = async (startUs: number): Promise<ConsumerResult> => {
    await sleepUntilUs(startUs);
    const cpu0 = cpuSeconds();
    const r = await readLatencies(reader, {
      total: totalMessages(cfg),
      recordFromUs: startUs + cfg.warmupSec * 1e6,
      endUs: startUs + (cfg.warmupSec + cfg.seconds) * 1e6,
      expected: Math.ceil(cfg.rate * cfg.seconds * 1.05),
    });
    const report = {
      received: r.received,
      recorded: r.latencyUs.length,
      fetches: reader.fetches,
      cpu: cpuSeconds() - cpu0,
      wall: (r.lastRecvUs - startUs) / 1e6,
    };
    return { report, latencyUs: r.latencyUs };
  };
  return { run, close: () => route.close() };
}
