/**
 * Latency load for Samsa, run as its own process (one producer, one consumer)
 * so the harness, the producer and the consumer do not share one event loop:
 *
 *   node --import tsx samsa-latency-client.ts produce <json config>
 *   node --import tsx samsa-latency-client.ts consume <json config>
 *
 * Producer: fixed rate from a start time given by the harness; every
 * `lingerMs` the messages due so far go out as one pipelined Produce request
 * (one v2 batch per partition, round-robin over partitions, like linger.ms).
 * Each value starts with its *intended* send time (16 ASCII digits, µs on
 * CLOCK_MONOTONIC, which every process on the machine shares), so a sender
 * that falls behind shows as latency, not as fewer samples.
 *
 * Consumer: one long-polling Fetch at a time over all partitions
 * (maxWaitMs, minBytes 1), from the log end offsets taken before the start;
 * latency = receive time - stamp, recorded after the warm-up.
 *
 * Both print one JSON line on stdout with their counts and their own CPU time
 * over the run window; the consumer writes its latencies (Float64, µs) to a file.
 */
import fs from 'node:fs';
import { Connection } from '../../src/client/connection.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { encodeBatch, RecordCursor, splitBatches } from '../../src/protocol/records/index.ts';

export interface LatencyClientConfig {
  host: string;
  port: number;
  topic: string;
  partitions: number;
  size: number;
  /** 1 or -1 (all) */
  acks: 1 | -1;
  rate: number;
  /** CLOCK_MONOTONIC µs at which sending starts (intended time of message 0); read from stdin after 'ready'. */
  startUs: number;
  warmupSec: number;
  seconds: number;
  lingerMs: number;
  maxInFlight: number;
  fetchMaxWaitMs: number;
  /** consumer: where the latencies go */
  outFile?: string;
}

export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function writeStamp(buf: Buffer, at: number, us: number): void {
  buf.write(String(Math.floor(us)).padStart(16, '0'), at, 16, 'latin1');
}

function readStamp(buf: Buffer, at: number): number {
  let v = 0;
  for (let i = at; i < at + 16; i++) {
    const c = buf[i] - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v;
}

/** Prints 'ready', then waits for the start time (one line on stdin). */
async function ready(cfg: LatencyClientConfig): Promise<void> {
  process.stdout.write('ready\n');
  let buf = '';
  for await (const chunk of process.stdin) {
    buf += chunk;
    const nl = buf.indexOf('\n');
    if (nl >= 0) {
      cfg.startUs = Number(buf.slice(0, nl));
      return;
    }
  }
  throw new Error('stdin closed before the start time came');
}

const cpuSec = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function connect(cfg: LatencyClientConfig, id: string): Promise<Connection> {
  const c = new Connection({ host: cfg.host, port: cfg.port, clientId: id, requestTimeoutMs: 60_000 });
  await c.connect();
  return c;
}

async function produce(cfg: LatencyClientConfig) {
  const conn = await connect(cfg, 'bench-lat-producer');
  const produceApi = apiByName('Produce');
  const produceVersion = conn.versionOf('Produce');
  const total = Math.floor(cfg.rate * (cfg.warmupSec + cfg.seconds));
  const interval = 1e6 / cfg.rate;
  const tpl = Buffer.alloc(cfg.size, 'x'.charCodeAt(0));
  let i = 0;
  let inFlight = 0;
  let requests = 0;
  let maxInFlight = 0;
  let failed: Error | undefined;
  /** µs from the oldest message's intended time to the request's send, and from send to the answer. */
  const lags: number[] = [];
  const rtts: number[] = [];
  let wake: (() => void) | undefined;
  await ready(cfg);
  const acked = () => {
    inFlight--;
    wake?.();
  };
  while (monoUs() < cfg.startUs) await sleep(Math.max(0, Math.min(50, (cfg.startUs - monoUs()) / 1000 - 1)));
  while (monoUs() < cfg.startUs) {
    /* spin the last ms */
  }
  const cpu0 = cpuSec();
  const t0 = cfg.startUs;
  while (i < total && !failed) {
    const due = Math.min(total, Math.floor((monoUs() - t0) / interval) + 1);
    // a sender that fell behind catches up in requests of at most ~512 KiB (under message.max.bytes)
    const maxPerRequest = Math.max(1, Math.floor((512 * 1024) / cfg.size));
    while (due > i && inFlight < cfg.maxInFlight) {
      const n = Math.min(due - i, maxPerRequest);
      // one values buffer for this request; records are views into it
      const buf = Buffer.allocUnsafe(n * cfg.size);
      const perPart: { value: Buffer }[][] = Array.from({ length: cfg.partitions }, () => []);
      for (let k = 0; k < n; k++, i++) {
        const at = k * cfg.size;
        tpl.copy(buf, at);
        writeStamp(buf, at, t0 + i * interval);
        perPart[i % cfg.partitions].push({ value: buf.subarray(at, at + cfg.size) });
      }
      const sentUs = monoUs();
      lags.push(sentUs - (t0 + (i - n) * interval));
      const now = Date.now();
      const partitionData = [];
      for (let p = 0; p < cfg.partitions; p++) {
        if (perPart[p].length) partitionData.push({ index: p, records: encodeBatch({ baseTimestamp: now, records: perPart[p] }) });
      }
      inFlight++;
      requests++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      conn
        .sendAt(produceApi, produceVersion, { transactionalId: null, acks: cfg.acks, timeoutMs: 30_000, topicData: [{ name: cfg.topic, partitionData }] })
        .then((res: any) => {
          rtts.push(monoUs() - sentUs);
          for (const t of res.responses) for (const pr of t.partitionResponses) if (pr.errorCode) failed ??= new Error(`produce error code ${pr.errorCode}`);
          acked();
        }, (e: Error) => {
          failed ??= e;
          acked();
        });
    }
    if (inFlight >= cfg.maxInFlight) await new Promise<void>((r) => (wake = r));
    else await sleep(cfg.lingerMs);
    wake = undefined;
  }
  while (inFlight > 0 && !failed) await new Promise<void>((r) => (wake = r));
  const wall = (monoUs() - t0) / 1e6;
  const cpu = cpuSec() - cpu0;
  await conn.close();
  if (failed) throw failed;
  const pct = (xs: number[], q: number) => {
    const a = Float64Array.from(xs).sort();
    return a.length ? a[Math.min(a.length - 1, Math.floor((q / 100) * a.length))] : 0;
  };
  const split = { sendLagP50Us: pct(lags, 50), sendLagP99Us: pct(lags, 99), ackP50Us: pct(rtts, 50), ackP99Us: pct(rtts, 99) };
  process.stdout.write(JSON.stringify({ sent: i, requests, maxInFlight, cpu, wall, ...split }) + '\n');
}

async function consume(cfg: LatencyClientConfig) {
  const conn = await connect(cfg, 'bench-lat-consumer');
  const listRes = await conn.send('ListOffsets', {
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: cfg.topic, partitions: Array.from({ length: cfg.partitions }, (_, p) => ({ partitionIndex: p, currentLeaderEpoch: -1, timestamp: -1, maxNumOffsets: 1 })) }],
    timeoutMs: 30_000,
  });
  const offsets = new Array<number>(cfg.partitions).fill(0);
  for (const pr of listRes.topics[0].partitions) offsets[pr.partitionIndex] = Number(pr.offset);
  const fetchApi = apiByName('Fetch');
  const fetchVersion = Math.min(conn.versionOf('Fetch'), 12); // v13+ names topics by id
  const total = Math.floor(cfg.rate * (cfg.warmupSec + cfg.seconds));
  let lat = new Float64Array(Math.max(1024, Math.ceil(cfg.rate * cfg.seconds * 1.05)));
  let count = 0;
  let received = 0;
  let fetches = 0;
  await ready(cfg);
  const recordFrom = cfg.startUs + cfg.warmupSec * 1e6;
  const endUs = cfg.startUs + (cfg.warmupSec + cfg.seconds) * 1e6;
  let lastRecv = monoUs();
  let cpu0 = -1;
  while (received < total) {
    const now = monoUs();
    if (cpu0 < 0 && now >= cfg.startUs) cpu0 = cpuSec();
    if (now > endUs + 20e6 || (now > endUs && now - lastRecv > 3e6)) break;
    const res = await conn.sendAt(fetchApi, fetchVersion, {
      replicaId: -1,
      maxWaitMs: cfg.fetchMaxWaitMs,
      minBytes: 1,
      maxBytes: 64 * 1024 * 1024,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: cfg.topic,
          partitions: offsets.map((o, p) => ({ partition: p, currentLeaderEpoch: -1, fetchOffset: o, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: 8 * 1024 * 1024 })),
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    fetches++;
    const recvUs = monoUs();
    for (const t of res.responses) {
      for (const pr of t.partitions) {
        if (pr.errorCode) throw new Error(`fetch error code ${pr.errorCode} on partition ${pr.partitionIndex}`);
        const recs: Buffer | null = pr.records;
        if (!recs || recs.length === 0) continue;
        const p = pr.partitionIndex;
        for (const pos of splitBatches(recs, 0, recs.length, { allowPartialTail: true })) {
          const cur = new RecordCursor(recs, pos.at, { verifyCrc: false });
          while (cur.next()) {
            const off = cur.offset;
            if (off < offsets[p]) continue;
            offsets[p] = off + 1;
            received++;
            lastRecv = recvUs;
            if (cur.valueLength < 16) continue;
            const st = readStamp(cur.section, cur.valueStart);
            if (!(st >= recordFrom)) continue;
            if (count === lat.length) {
              const n = new Float64Array(lat.length * 2);
              n.set(lat);
              lat = n;
            }
            lat[count++] = recvUs - st;
          }
        }
      }
    }
  }
  const wall = (lastRecv - cfg.startUs) / 1e6;
  const cpu = cpuSec() - (cpu0 < 0 ? cpuSec() : cpu0);
  await conn.close();
  if (cfg.outFile) fs.writeFileSync(cfg.outFile, Buffer.from(lat.buffer, 0, count * 8));
  process.stdout.write(JSON.stringify({ received, recorded: count, fetches, cpu, wall }) + '\n');
}

const [role, json] = process.argv.slice(2);
if (role === 'produce' || role === 'consume') {
  const cfg = JSON.parse(json) as LatencyClientConfig;
  (role === 'produce' ? produce(cfg) : consume(cfg)).then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`${role}: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
