/**
 * `samsa bench` output: the result as one JSON object (--json; rates in
 * MB/s with MB = 10^6 bytes of values, latencies in ms), or the same figures
 * as text tables.
 */
import { formatTable } from '../format.ts';
import type { BenchResult, Throughput } from './run.ts';

/** A producer whose p99 wait before its request exceeds this fell behind (the linger is a few ms). */
const LAG_NOTE_MS = 50;

const round = (x: number, digits: number) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
const ms = (us: number) => round(us / 1000, 3);

function rates(t: Throughput) {
  return {
    messages: t.messages,
    bytes: t.bytes,
    seconds: round(t.seconds, 3),
    mbPerSec: round(t.seconds > 0 ? t.bytes / 1e6 / t.seconds : NaN, 1),
    msgsPerSec: round(t.seconds > 0 ? t.messages / t.seconds : NaN, 0),
    clientCpuPct: round(t.seconds > 0 ? (100 * t.cpuSeconds) / t.seconds : NaN, 0),
  };
}

export interface Workload {
  size: number;
  acks: -1 | 0 | 1;
}

export function benchJson(r: BenchResult, w: Workload) {
  const l = r.latency;
  return {
    topic: r.topic,
    created: r.created,
    deleted: r.deleted,
    partitions: r.partitions,
    replicationFactor: r.replicationFactor,
    size: w.size,
    acks: w.acks === -1 ? 'all' : String(w.acks),
    produce: {
      ...rates(r.produce),
      requests: r.produce.requests,
      stored: r.produce.stored,
      ackP50Ms: ms(r.produce.ackUs.p50),
      ackP99Ms: ms(r.produce.ackUs.p99),
    },
    consume: { ...rates(r.consume), fetches: r.consume.fetches },
    latency: l && {
      rate: l.rate,
      processes: l.inProcess ? 1 : 2,
      warmupSeconds: l.warmupSec,
      seconds: l.seconds,
      sent: l.sent,
      received: l.received,
      samples: l.latencyUs.count,
      p50Ms: ms(l.latencyUs.p50),
      p99Ms: ms(l.latencyUs.p99),
      p999Ms: ms(l.latencyUs.p999),
      maxMs: ms(l.latencyUs.max),
      sendLagP50Ms: ms(l.sendLagUs.p50),
      sendLagP99Ms: ms(l.sendLagUs.p99),
      ackP50Ms: ms(l.ackUs.p50),
      ackP99Ms: ms(l.ackUs.p99),
      producerCpuPct: round(l.producerCpuShare * 100, 0),
      consumerCpuPct: round(l.consumerCpuShare * 100, 0),
    },
  };
}

export function benchText(r: BenchResult, w: Workload): string {
  const j = benchJson(r, w);
  const p = j.produce;
  const c = j.consume;
  let s = `topic ${r.topic}: ${r.partitions} partition(s), replication factor ${r.replicationFactor}, ${w.size} B values, acks=${j.acks}\n\n`;
  s += formatTable(
    ['PHASE', 'MESSAGES', 'MB/S', 'MSGS/S', 'SECONDS', 'CLIENT CPU %'],
    [
      ['produce', p.messages, p.mbPerSec, p.msgsPerSec, p.seconds, p.clientCpuPct],
      ['consume', c.messages, c.mbPerSec, c.msgsPerSec, c.seconds, c.clientCpuPct],
    ],
  );
  s += `produce: ${p.requests} requests, round trip p50 ${p.ackP50Ms} ms / p99 ${p.ackP99Ms} ms; ${p.stored} messages stored (ListOffsets)\n`;
  const l = j.latency;
  if (l) {
    const where = l.processes === 2 ? 'producer and consumer in 2 processes' : 'producer and consumer in this process';
    s += `\nend-to-end latency at ${l.rate} msgs/s (${where}; ${l.warmupSeconds} s warm-up, then ${l.seconds} s recorded)\n`;
    s += formatTable(
      ['SAMPLES', 'P50 MS', 'P99 MS', 'P99.9 MS', 'MAX MS'],
      [[l.samples, l.p50Ms, l.p99Ms, l.p999Ms, l.maxMs]],
    );
    s += `sent ${l.sent}, received ${l.received}; after the warm-up, oldest message's wait for its request p50/p99 ${l.sendLagP50Ms}/${l.sendLagP99Ms} ms, produce round trip p50/p99 ${l.ackP50Ms}/${l.ackP99Ms} ms\n`;
    s +=
      l.processes === 2
        ? `client CPU: producer ${l.producerCpuPct}%, consumer ${l.consumerCpuPct}% of a core\n`
        : `client CPU: ${l.producerCpuPct}% of a core\n`;
    if ((l.sendLagP99Ms ?? 0) > LAG_NOTE_MS) {
      s += `note: the producer fell behind its schedule (p99 wait ${l.sendLagP99Ms} ms); the latencies include that backlog: the cluster or this machine did not keep up with ${l.rate} msgs/s (try a lower --rate)\n`;
    }
  }
  s += r.deleted ? `\ntopic ${r.topic} deleted\n` : `\ntopic ${r.topic} kept\n`;
  return s;
}
