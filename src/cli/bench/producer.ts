/**
 * The benchmark producer: fixed-size stamped values, round-robin over the
 * topic's partitions (message i goes to partition i mod P), pipelined
 * Produce requests with one batch per partition, one request per leader.
 * Unpaced, it keeps `maxInFlight` requests of full batches (a request: at
 * most `requestBytes`) in flight per leader (max throughput). Paced, message i is due at start + i / rate;
 * every `lingerMs` what is due goes out (like linger.ms), stamped with its
 * intended send time, so a sender that falls behind shows as latency.
 * Request buffers are pooled; nothing is allocated per record.
 */
import { apiByName } from '../../protocol/apis.ts';
import { check } from '../../client/client.ts';
import type { Connection } from '../../client/connection.ts';
import { BatchTemplate } from './batch-template.ts';
import { monoUs } from './stamp.ts';
import type { TopicRoute } from './route.ts';

export interface ProduceSpec {
  /** Value bytes (at least 16: the stamp). */
  size: number;
  acks: -1 | 0 | 1;
  /** Messages per second; Infinity sends as fast as the cluster acknowledges. */
  rate: number;
  /** Messages to send; Infinity sends until `untilUs`. */
  messages: number;
  /** CLOCK_MONOTONIC µs after which no new request starts. */
  untilUs?: number;
  /** Paced: how long to gather due messages between requests. */
  lingerMs: number;
  /** Produce requests in flight per leader connection. */
  maxInFlight: number;
  /** Largest record batch in bytes (at least one record per batch). */
  batchBytes: number;
  /** Most record bytes per request (default REQUEST_BYTES; at least one record). */
  requestBytes?: number;
  /** The broker's wait for acks=all (Produce timeoutMs). */
  timeoutMs?: number;
  /** Paced: leave requests whose oldest message was due before this (a warm-up) out of `sendLagUs` and `ackUs`. */
  statsFromUs?: number;
}

export interface ProduceStats {
  /** Messages acknowledged (acks=0: written to the socket). */
  sent: number;
  requests: number;
  /** Most requests in flight at once on one connection. */
  maxInFlight: number;
  /** CLOCK_MONOTONIC µs of the first send and the last acknowledgement. */
  firstSendUs: number;
  lastAckUs: number;
  /** Per request (from `statsFromUs`), paced only: µs its oldest message waited past its intended time. */
  sendLagUs: number[];
  /** Per request (from `statsFromUs`): µs from send to acknowledgement. */
  ackUs: number[];
}

interface LeaderState {
  connection: Connection;
  version: number;
  partitions: number[];
  inFlight: number;
}

/** Default cap on the record bytes of one Produce request (Kafka's max.request.size default). */
export const REQUEST_BYTES = 1 << 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Sends `spec.messages` (or until `untilUs`) to `route`'s topic; message 0 is due at `startUs`. */
export async function produce(route: TopicRoute, spec: ProduceSpec, startUs: number): Promise<ProduceStats> {
  const P = route.partitions;
  const tpl = new BatchTemplate(spec.size, spec.batchBytes);
  // one batch per partition per request, at most requestBytes of them (but at least one record)
  const perRequest = Math.max(
    1,
    Math.min(P * tpl.maxRecords, Math.floor((spec.requestBytes ?? REQUEST_BYTES) / tpl.sizeOf(1))),
  );
  const paced = Number.isFinite(spec.rate);
  const interval = paced ? 1e6 / spec.rate : 0;
  const api = apiByName('Produce');
  const leaders: LeaderState[] = route.leaders.map((l) => ({
    connection: l.connection,
    version: l.connection.versionOf('Produce'),
    partitions: l.partitions,
    inFlight: 0,
  }));
  const counts = new Int32Array(P);
  const firstIndex = new Float64Array(P);
  const pool: Buffer[] = [];
  const stats: ProduceStats = {
    sent: 0,
    requests: 0,
    maxInFlight: 0,
    firstSendUs: 0,
    lastAckUs: 0,
    sendLagUs: [],
    ackUs: [],
  };
  let failed: Error | undefined;
  let pending = 0;
  let wake: (() => void) | undefined;
  const full = () => leaders.some((l) => l.inFlight >= spec.maxInFlight);

  const sendRequest = (
    l: LeaderState,
    bytes: number,
    sentUs: number,
    nowMs: number,
    stampStep: number,
    measured: boolean,
  ) => {
    let buf = pool.pop();
    if (!buf || buf.length < bytes) buf = Buffer.allocUnsafe(Math.max(bytes, (buf?.length ?? 0) * 2));
    const partitionData = [];
    let at = 0;
    let n = 0;
    for (const p of l.partitions) {
      const k = counts[p];
      if (k === 0) continue;
      const size = tpl.write(buf, at, k, nowMs, paced ? startUs + firstIndex[p] * interval : sentUs, stampStep);
      partitionData.push({ index: p, records: buf.subarray(at, at + size) });
      at += size;
      n += k;
    }
    const body = {
      transactionalId: null,
      acks: spec.acks,
      timeoutMs: spec.timeoutMs ?? 30_000,
      topicData: [{ name: route.topic, partitionData }],
    };
    l.inFlight++;
    pending++;
    stats.requests++;
    if (l.inFlight > stats.maxInFlight) stats.maxInFlight = l.inFlight;
    const done = (err?: Error) => {
      l.inFlight--;
      pending--;
      pool.push(buf);
      if (err) failed ??= err;
      else {
        stats.sent += n;
        stats.lastAckUs = monoUs();
        if (measured) stats.ackUs.push(stats.lastAckUs - sentUs);
      }
      wake?.();
    };
    l.connection.sendAt(api, l.version, body, { noResponse: spec.acks === 0 }).then(
      (res) => {
        try {
          if (res)
            for (const t of res.responses)
              for (const pr of t.partitionResponses)
                check(pr.errorCode, `produce to ${t.name}-${pr.index}`, pr.errorMessage);
          done();
        } catch (err) {
          done(err as Error);
        }
      },
      (err: Error) => done(err),
    );
  };

  /** Sends messages i..i+n-1: counts per partition, then one request per leader. */
  const sendMessages = (i: number, n: number) => {
    for (let p = 0; p < P; p++) {
      const d = (p - (i % P) + P) % P;
      counts[p] = d < n ? Math.floor((n - 1 - d) / P) + 1 : 0;
      firstIndex[p] = i + d;
    }
    const sentUs = monoUs();
    if (stats.requests === 0) stats.firstSendUs = sentUs;
    const dueUs = paced ? startUs + i * interval : sentUs;
    const measured = spec.statsFromUs === undefined || dueUs >= spec.statsFromUs;
    if (paced && measured) stats.sendLagUs.push(sentUs - dueUs);
    const nowMs = Date.now();
    for (const l of leaders) {
      let bytes = 0;
      for (const p of l.partitions) if (counts[p] > 0) bytes += tpl.sizeOf(counts[p]);
      if (bytes > 0) sendRequest(l, bytes, sentUs, nowMs, P * interval, measured);
    }
  };

  let i = 0;
  while (i < spec.messages && !failed) {
    const now = monoUs();
    if (spec.untilUs !== undefined && now >= spec.untilUs) break;
    const due = paced ? Math.min(spec.messages, Math.floor((now - startUs) / interval) + 1) : spec.messages;
    while (due > i && !failed && !full()) {
      const n = Math.min(due - i, perRequest);
      sendMessages(i, n);
      i += n;
    }
    if (full()) await new Promise<void>((r) => (wake = r));
    else if (paced) await sleep(spec.lingerMs);
    wake = undefined;
  }
  while (pending > 0 && !failed) {
    await new Promise<void>((r) => (wake = r));
    wake = undefined;
  }
  if (failed) throw failed;
  return stats;
}
