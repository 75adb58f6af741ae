/**
 * npm run bench:perf-test [-- --records N] [--size BYTES] [--partitions N]
 *                         [--acks 1,all] [--targets samsa,kafka] [--json FILE]
 *
 * A second, independent load generator: Apache Kafka's own
 * kafka-producer-perf-test and kafka-consumer-perf-test
 * (org.apache.kafka.tools.ProducerPerformance / ConsumerPerformance from
 * kafka-tools 4.3.1, on the classpath scripts/kafka-ref.sh resolves), run
 * against Samsa and against the reference Kafka, each broker started fresh
 * for every acks setting. The producer runs unthrottled (--throughput -1)
 * with the Java client's defaults apart from acks; the consumer reads the
 * same records back in a consumer group. Prints records/s, MB/s, the tools'
 * own latency figures and the broker's CPU, and the Samsa/Kafka ratios.
 * MB here is 10^6 bytes; the tools print MiB, converted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, ratio } from './harness/stats.ts';
import { freePort, nowSec, procCpu, procRss, run } from './harness/proc.ts';
import { KAFKA_VERSION, startKafka } from './harness/targets/kafka.ts';
import { type BrokerHandle, createTopics, startSamsa } from './harness/targets/samsa.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;

interface Opts {
  records: number;
  size: number;
  partitions: number;
  acks: string[];
  targets: string[];
  json?: string;
}

function parseArgs(argv: string[]): Opts {
  const o: Opts = { records: 500_000, size: 1024, partitions: 1, acks: ['1', 'all'], targets: ['samsa', 'kafka'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a} needs a positive integer`);
      return n;
    };
    if (a === '--records') o.records = num();
    else if (a === '--size') o.size = num();
    else if (a === '--partitions') o.partitions = num();
    else if (a === '--acks') o.acks = val().split(',');
    else if (a === '--targets') o.targets = val().split(',');
    else if (a === '--json') o.json = val();
    else if (a === '-h' || a === '--help') {
      console.log(
        'usage: npm run bench:perf-test -- [--records N] [--size BYTES] [--partitions N] [--acks 1,all] [--targets samsa,kafka] [--json FILE]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  for (const a of o.acks) if (a !== '1' && a !== 'all') throw new Error(`--acks: ${a} is not 1 or all`);
  for (const t of o.targets)
    if (t !== 'samsa' && t !== 'kafka') throw new Error(`--targets: ${t} is not samsa or kafka`);
  return o;
}

/** The tools' classpath (scripts/kafka-ref.sh resolves the jars on first use). */
function classpath(): string {
  const r = spawnSync('bash', [path.join(root, 'scripts/kafka-ref.sh'), 'classpath'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`scripts/kafka-ref.sh classpath failed: ${r.stderr.slice(-600)}`);
  return r.stdout.trim().split('\n').pop()!;
}

interface ProducerFigures {
  records: number;
  recordsPerSec: number;
  MBps: number;
  avgMs: number;
  maxMs: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  brokerCpuSec: number;
}

interface ConsumerFigures {
  records: number;
  /** Over the whole run, group join included. */
  recordsPerSec: number;
  MBps: number;
  /** Over the fetch time only (the tool's fetch.* columns: the whole run less the rebalance). */
  fetchRecordsPerSec: number;
  fetchMBps: number;
  rebalanceMs: number;
  brokerCpuSec: number;
}

interface Row {
  target: string;
  acks: string;
  producer?: ProducerFigures;
  consumer?: ConsumerFigures;
  rssPeakMB?: number;
  error?: string;
}

async function java(cp: string, main: string, args: string[]) {
  const r = await run(
    'java',
    [
      '-Xmx512m',
      '-XX:ActiveProcessorCount=2',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      '-cp',
      cp,
      main,
      ...args,
    ],
    { timeoutMs: 600_000 },
  );
  if (r.code !== 0) throw new Error(`${main} exited ${r.code}: ${(r.stderr || r.stdout).slice(-800)}`);
  return r.stdout;
}

/** "N records sent, X records/sec (Y MB/sec), A ms avg latency, M ms max latency, P ms 50th, …, Q ms 99th, R ms 99.9th." */
function parseProducer(out: string): Omit<ProducerFigures, 'brokerCpuSec'> {
  const line = out
    .trim()
    .split('\n')
    .reverse()
    .find((l) => /records sent/.test(l) && /99\.9th/.test(l));
  const m = line
    ? /([\d.]+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/.exec(
        line,
      )
    : null;
  if (!m) throw new Error(`ProducerPerformance: no summary line in ${out.slice(-400)}`);
  const n = m.slice(1).map(Number);
  return {
    records: n[0],
    recordsPerSec: n[1],
    MBps: (n[2] * MIB) / 1e6,
    avgMs: n[3],
    maxMs: n[4],
    p50Ms: n[5],
    p99Ms: n[7],
    p999Ms: n[8],
  };
}

/** The CSV line under "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec". */
function parseConsumer(out: string): Omit<ConsumerFigures, 'brokerCpuSec'> {
  const lines = out.trim().split('\n');
  const h = lines.findIndex((l) => l.startsWith('start.time'));
  if (h < 0 || !lines[h + 1]) throw new Error(`ConsumerPerformance: no figures in ${out.slice(-400)}`);
  const names = lines[h].split(',').map((s) => s.trim());
  const vals = lines[h + 1].split(',').map((s) => s.trim());
  const get = (k: string) => {
    const i = names.indexOf(k);
    if (i < 0) throw new Error(`ConsumerPerformance: no column ${k}`);
    return Number(vals[i]);
  };
  return {
    records: get('data.consumed.in.nMsg'),
    recordsPerSec: get('nMsg.sec'),
    MBps: (get('MB.sec') * MIB) / 1e6,
    fetchRecordsPerSec: get('fetch.nMsg.sec'),
    fetchMBps: (get('fetch.MB.sec') * MIB) / 1e6,
    rebalanceMs: get('rebalance.time.ms'),
  };
}

async function runOne(cp: string, o: Opts, target: string, acks: string, tmp: string): Promise<Row> {
  const row: Row = { target, acks };
  const dir = fs.mkdtempSync(path.join(tmp, `${target}-`));
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  let broker: BrokerHandle | undefined;
  let peak = 0;
  const sample = () => {
    const r = broker ? procRss(broker.pid) : undefined;
    if (r !== undefined && r > peak) peak = r;
  };
  const timer = setInterval(sample, 100);
  try {
    broker = target === 'kafka' ? await startKafka(path.join(dir, 'kafka'), port) : await startSamsa(dir, port);
    await createTopics(bootstrap, [{ topic: 'perf', numPartitions: o.partitions }]);
    const pid = broker.pid;
    let c0 = procCpu(pid) ?? 0;
    const t0 = nowSec();
    const pout = await java(cp, 'org.apache.kafka.tools.ProducerPerformance', [
      '--topic',
      'perf',
      '--num-records',
      String(o.records),
      '--record-size',
      String(o.size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      `acks=${acks}`,
    ]);
    row.producer = { ...parseProducer(pout), brokerCpuSec: (procCpu(pid) ?? c0) - c0 };
    const p = row.producer;
    console.error(
      `  ${target} acks=${acks}: producer ${fmt(p.recordsPerSec)} records/s, ${fmt(p.MBps)} MB/s, p99 ${p.p99Ms} ms (${(nowSec() - t0).toFixed(1)} s with JVM start)`,
    );
    if (p.records !== o.records) throw new Error(`ProducerPerformance sent ${p.records} of ${o.records}`);
    c0 = procCpu(pid) ?? 0;
    const cout = await java(cp, 'org.apache.kafka.tools.ConsumerPerformance', [
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'perf',
      '--num-records',
      String(o.records),
      '--group',
      `perf-${acks}`,
      '--timeout',
      '60000',
    ]);
    row.consumer = { ...parseConsumer(cout), brokerCpuSec: (procCpu(pid) ?? c0) - c0 };
    const c = row.consumer;
    console.error(
      `  ${target} acks=${acks}: consumer ${fmt(c.recordsPerSec)} records/s, ${fmt(c.MBps)} MB/s (fetch only ${fmt(c.fetchMBps)} MB/s, rebalance ${c.rebalanceMs} ms)`,
    );
    if (c.records < o.records) throw new Error(`ConsumerPerformance read ${c.records} of ${o.records}`);
  } catch (e) {
    row.error = (e as Error).message.split('\n').slice(0, 3).join(' / ');
    console.error(`  ${target} acks=${acks}: FAILED: ${(e as Error).message.slice(0, 600)}`);
  } finally {
    sample();
    clearInterval(timer);
    row.rssPeakMB = peak ? peak / 1e6 : undefined;
    await broker?.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return row;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

function report(o: Opts, rows: Row[]): string {
  const out: string[] = [];
  for (const acks of o.acks) {
    const rs = o.targets.map((t) => rows.find((r) => r.target === t && r.acks === acks)!);
    const samsa = rs.find((r) => r.target === 'samsa');
    const kafka = rs.find((r) => r.target === 'kafka');
    const both = samsa && kafka;
    const defs: Array<[string, (r: Row) => number | undefined]> = [
      ['producer records/s', (r) => r.producer?.recordsPerSec],
      ['producer MB/s', (r) => r.producer?.MBps],
      ['producer latency avg ms', (r) => r.producer?.avgMs],
      ['producer latency p50 ms', (r) => r.producer?.p50Ms],
      ['producer latency p99 ms', (r) => r.producer?.p99Ms],
      ['producer latency p99.9 ms', (r) => r.producer?.p999Ms],
      [
        'broker CPU s/GB, produce',
        (r) => (r.producer ? r.producer.brokerCpuSec / ((r.producer.records * o.size) / 1e9) : undefined),
      ],
      ['consumer records/s', (r) => r.consumer?.recordsPerSec],
      ['consumer MB/s', (r) => r.consumer?.MBps],
      ['consumer MB/s, fetch time only', (r) => r.consumer?.fetchMBps],
      ['consumer group join ms', (r) => r.consumer?.rebalanceMs],
      [
        'broker CPU s/GB, consume',
        (r) => (r.consumer ? r.consumer.brokerCpuSec / ((r.consumer.records * o.size) / 1e9) : undefined),
      ],
      ['broker RSS peak MB', (r) => r.rssPeakMB],
    ];
    const head = ['metric', ...rs.map((r) => r.target), ...(both ? ['samsa/kafka'] : [])];
    const body = defs.map(([label, f]) => [
      label,
      ...rs.map((r) => fmt(f(r))),
      ...(both ? [ratio(f(samsa), f(kafka))] : []),
    ]);
    const notes = rs.filter((r) => r.error).map((r) => `  ${r.target}: FAILED: ${r.error}`);
    out.push(
      `### kafka-producer-perf-test / kafka-consumer-perf-test, ${o.records} records of ${o.size} B, ${o.partitions} partition${o.partitions > 1 ? 's' : ''}, acks=${acks}\n\n${table([head, ...body])}${notes.length ? `\n${notes.join('\n')}` : ''}\n`,
    );
  }
  return out.join('\n');
}

const o = parseArgs(process.argv.slice(2));
const cp = classpath();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-perf-test-'));
const rows: Row[] = [];
try {
  console.error(
    `kafka-tools ${KAFKA_VERSION}: ${o.records} records of ${o.size} B into ${o.partitions} partition(s), acks ${o.acks.join(', ')}`,
  );
  for (const acks of o.acks) for (const t of o.targets) rows.push(await runOne(cp, o, t, acks, tmp));
  console.log(report(o, rows));
  if (o.json) {
    fs.mkdirSync(path.dirname(path.resolve(o.json)), { recursive: true });
    fs.writeFileSync(o.json, JSON.stringify({ date: new Date().toISOString(), options: o, rows }, null, 2) + '\n');
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
if (rows.some((r) => r.error)) process.exitCode = 1;
