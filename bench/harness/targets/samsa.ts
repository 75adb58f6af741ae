/**
 * Samsa under test, as a child process so its CPU and RSS are its own.
 * Started with bin/samsa.mjs when present, else with a small launcher around
 * the embedded startBroker(). Load comes from librdkafka: for max produce, by
 * default the C load generator's produce-max role (bench/loadgen/latency.c),
 * one preallocated value for every message, else (SAMSA_BENCH_PRODUCE=kcat,
 * or when it cannot be built) kcat producers fed from a pre-generated message
 * file (-l); for catch-up, by default the C
 * load generator's catchup role (bench/loadgen/latency.c), which counts
 * messages and value bytes itself, else (SAMSA_BENCH_CONSUME=kcat, or when it
 * cannot be built) kcat -C printing each value's size for the harness to sum.
 * Latency comes from two child processes, a fixed-rate producer
 * and a long-polling consumer: by default the C load generator on librdkafka
 * (bench/loadgen/latency.c, built by bench/loadgen/build.sh), else
 * (SAMSA_BENCH_LATENCY=node, or when it cannot be built) Samsa's own client
 * (samsa-latency-client.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, nowSec, procAgeSec, procCpu, run, sleep, startServer, waitForPort, type Server } from '../proc.ts';
import type { PayloadFiles, Target, Workload } from '../types.ts';
import { BROKER_NODE_FLAGS } from '../../../src/cli/start.ts';

/** Node client: produce requests go out every LINGER_MS with what is due (like linger.ms). */
const LINGER_MS = 2;
/** C generator: librdkafka's linger.ms (a float in librdkafka >= 1.5) and the pacer's wake-up period. */
const C_LINGER_MS = 1;
const C_TICK_US = 500;
/**
 * Tailing consumers fetch up to 8 MiB a partition (as the latency consumer
 * does): with the catch-up role's 1 MiB, a consumer behind a producer at
 * 450 MB/s needs 450 round trips a second to the busy broker.
 */
const TAIL_FETCH_BYTES = String(8 * 1024 * 1024);
/** SAMSA_BENCH_LATENCY_LINGER_MS overrides the latency producer's linger (either generator) for experiments. */
const lingerOverride = (): number | undefined => {
  const v = process.env.SAMSA_BENCH_LATENCY_LINGER_MS;
  return v ? Number(v) : undefined;
};
const ms = (us: number) => (us / 1000).toFixed(2);
const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Node/V8 options of the broker child: BROKER_NODE_FLAGS, what bin/samsa.mjs's
 * #! line gives `npx samsa start` (it is run here as `node bin/samsa.mjs`, which
 * skips that line). SAMSA_BENCH_BROKER_FLAGS=none runs without them, to
 * measure what they change; any other value replaces them (space-separated
 * flags, e.g. "--initial-old-space-size=128").
 */
function brokerFlags(): string[] {
  const v = process.env.SAMSA_BENCH_BROKER_FLAGS;
  if (v === undefined || v === '') return BROKER_NODE_FLAGS;
  return v === 'none' ? [] : v.split(' ').filter(Boolean);
}

/** SAMSA_BENCH_CPU_PROF=DIR: the broker child runs under `node --cpu-prof` (one .cpuprofile per broker run, written on exit). */
function profArgs(): string[] {
  const dir = process.env.SAMSA_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`] : [];
}

/** `overrides` ("key=value" broker settings) are passed to `samsa start` (the bin/ path only). */
export function samsaCommand(
  dir: string,
  port: number,
  overrides: string[] = [],
): { cmd: string; args: string[]; how: string } {
  const bin = path.join(root, 'bin/samsa.mjs');
  if (fs.existsSync(bin)) {
    const settings = [`log.dirs=${dir}`, `listeners=PLAINTEXT://127.0.0.1:${port}`, ...overrides];
    return {
      cmd: process.execPath,
      args: [
        ...brokerFlags(),
        ...profArgs(),
        '--import',
        'tsx',
        bin,
        'start',
        ...settings.flatMap((o) => ['--override', o]),
      ],
      how: 'bin/samsa.mjs start',
    };
  }
  return {
    cmd: process.execPath,
    args: [
      ...brokerFlags(),
      ...profArgs(),
      '--import',
      'tsx',
      path.join(root, 'bench/harness/samsa-child.ts'),
      dir,
      String(port),
    ],
    how: 'startBroker() in a child process',
  };
}

type LatencyLoad = 'c' | 'node';
type ConsumeLoad = 'c' | 'kcat';
type ProduceLoad = 'c' | 'kcat';

let loadgenBin: string | null | undefined;
/** bench/loadgen/build/latency, (re)built if its source is newer; null when it cannot be built (no librdkafka-dev). */
export function loadgenBinary(): string | null {
  if (loadgenBin !== undefined) return loadgenBin;
  const bin = path.join(root, 'bench/loadgen/build/latency');
  try {
    execFileSync('bash', [path.join(root, 'bench/loadgen/build.sh')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? e).trim();
    process.stderr.write(
      `bench/loadgen/build.sh failed${fs.existsSync(bin) ? ' (using the existing binary)' : ''}: ${err.slice(-400)}\n`,
    );
  }
  loadgenBin = fs.existsSync(bin) ? bin : null;
  return loadgenBin;
}

/** The load named by the environment variable `env` (c or one of `others`); by default the C generator when it builds, else `fallback`. */
function chooseLoad<T extends string>(env: string, others: readonly T[], fallback: T): 'c' | T {
  const v = process.env[env];
  if (v && (others as readonly string[]).includes(v)) return v as T;
  if (v && v !== 'c') throw new Error(`${env}=${v}: expected c or ${others.join(' or ')}`);
  if (loadgenBinary()) return 'c';
  if (v === 'c') throw new Error(`${env}=c but bench/loadgen cannot be built (run scripts/bench-setup.sh)`);
  return fallback;
}

/** Which latency load runs: SAMSA_BENCH_LATENCY=c|node, default the C generator when it builds, else node. */
export function latencyLoad(): LatencyLoad {
  return chooseLoad('SAMSA_BENCH_LATENCY', ['node'] as const, 'node');
}

/** Which catch-up consumer runs: SAMSA_BENCH_CONSUME=c|kcat, default the C generator when it builds, else kcat. */
export function consumeLoad(): ConsumeLoad {
  return chooseLoad('SAMSA_BENCH_CONSUME', ['kcat'] as const, 'kcat');
}

/** Which max-produce load runs: SAMSA_BENCH_PRODUCE=c|kcat, default the C generator when it builds, else kcat. */
export function produceLoad(): ProduceLoad {
  return chooseLoad('SAMSA_BENCH_PRODUCE', ['kcat'] as const, 'kcat');
}

/**
 * Max-produce generator processes, each sending its share of the messages.
 * One: measured faster than two here for both 1 and 16 partitions (1 KiB,
 * acks=1). SAMSA_BENCH_PRODUCE_PROCESSES=N for experiments.
 */
const produceProcesses = (): number => Math.max(1, Number(process.env.SAMSA_BENCH_PRODUCE_PROCESSES) || 1);
/**
 * Catch-up consumer processes (default 2), sharing out whole partitions, or
 * with fewer partitions than processes each reading its slice of every
 * partition's offsets: one librdkafka consumer keeps one fetch in flight and
 * spent as much CPU per byte as the broker, so alone it, not the broker, set
 * the pace (p1 1 KiB: 600-835 MB/s alone, 870-1070 MB/s with two, same run).
 */
const consumeProcesses = (): number => Math.max(1, Number(process.env.SAMSA_BENCH_CONSUME_PROCESSES) || 2);

const PRODUCE_NAMES: Record<ProduceLoad, string> = {
  c: 'librdkafka C generator (bench/loadgen produce-max)',
  kcat: 'kcat -P -l FILE',
};

const LOAD_NAMES: Record<LatencyLoad, string> = {
  c: 'librdkafka C generator (bench/loadgen), 2 processes',
  node: 'samsa Node client (samsa-latency-client.ts), 2 processes',
};

const CONSUME_NAMES: Record<ConsumeLoad, string> = {
  c: 'librdkafka C generator (bench/loadgen catchup)',
  kcat: "kcat -C -f '%S\\n' summed by the harness",
};

/** The catch-up consumer's count must be exactly what was produced. */
function exactCount(w: Workload, expected: number, got: { msgs: number; bytes: number }, by: string) {
  if (got.msgs !== expected || got.bytes !== got.msgs * w.size)
    throw new Error(
      `${by}: consumed ${got.msgs} messages (${got.bytes} bytes) of ${expected} (${expected * w.size} bytes)`,
    );
  return got;
}

/**
 * A load process of the ready/start protocol: it prints "ready\n" once
 * connected, waits for the start line on stdin, and ends with one JSON line.
 */
/** Once every process is ready, one start line to all; resolves when all have exited (kills all on a failure). */
async function startTogether(procs: ReturnType<typeof loadProcess>[]): Promise<void> {
  try {
    await Promise.all(procs.map((p) => p.ready));
    const go = `${monoUs()}\n`;
    for (const p of procs) p.c.stdin.end(go);
    await Promise.all(procs.map((p) => p.exit));
  } catch (e) {
    for (const p of procs) p.c.kill('SIGKILL');
    throw e;
  }
}

function producerResults(procs: ReturnType<typeof loadProcess>[]) {
  const rs = procs.map((p) => p.result() as { messages: number; errors: number; seconds: number; cpu: number });
  return {
    msgs: rs.reduce((a, r) => a + r.messages, 0),
    secs: Math.max(...rs.map((r) => r.seconds)),
    cpus: rs.map((r) => r.cpu.toFixed(3)).join(' + '),
  };
}

/** A load generator child: resolves `ready` on its "ready" line; result() parses the JSON after it. */
export function loadProcess(cmd: string, args: string[], name: string) {
  const c = spawn(cmd, args, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  c.stdout.on('data', (d) => (out += d));
  c.stderr.on('data', (d) => (err = (err + d).slice(-3000)));
  const exit = new Promise<void>((resolve, reject) =>
    c.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited ${code}: ${err}`)))),
  );
  exit.catch(() => {});
  const ready = (async () => {
    const t0 = Date.now();
    while (!out.includes('ready\n')) {
      if (c.exitCode !== null || Date.now() - t0 > 60000) throw new Error(`${name} not ready: ${err}`);
      await sleep(10);
    }
  })();
  return { c, exit, ready, result: () => JSON.parse(out.slice(out.indexOf('ready\n') + 6).trim()) };
}

export async function startSamsa(dir: string, port: number, overrides: string[] = []): Promise<Server> {
  const { cmd, args } = samsaCommand(dir, port, overrides);
  const srv = startServer(cmd, args, {
    cwd: root,
    env: { ...process.env, SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? 'warn' },
  });
  try {
    await waitForPort(port, 60000, '127.0.0.1', () => !srv.exited());
  } catch (e) {
    await srv.stop('SIGKILL');
    throw new Error(`${(e as Error).message}\n${srv.log().slice(-1500)}`);
  }
  return srv;
}

/** Creates topics with kafkajs's admin client (already a dependency). */
export async function createTopics(
  bootstrap: string,
  topics: Array<{ topic: string; numPartitions: number }>,
): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'samsa-bench' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((t) => ({ ...t, replicationFactor: 1 })),
      waitForLeaders: true,
      timeout: 60000,
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * One acks=all message into `topic` with kafkajs (after the topics exist);
 * returns the broker process's age in seconds once it is acknowledged.
 */
export async function firstProduce(bootstrap: string, topic: string, pid: number): Promise<number | undefined> {
  const { Kafka, logLevel } = await import('kafkajs');
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING, clientId: 'samsa-bench' });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value: 'first' }] });
    return procAgeSec(pid);
  } finally {
    await producer.disconnect();
  }
}

/** The broker process a target runs: what the phases need of it. */
export type BrokerHandle = Pick<Server, 'pid' | 'stop'>;

export class SamsaTarget implements Target {
  readonly name: string = 'samsa';
  protected srv?: BrokerHandle;
  protected dir?: string;
  protected port = 0;
  private seq = 0;
  /** Seconds from the broker process's start to its first acknowledged produce (topics created first). */
  firstProduceSeconds?: number;
  constructor(protected tmp: string) {}

  /** Starts the broker on `port` with its data in `dir`. */
  protected launch(dir: string, port: number): Promise<BrokerHandle> {
    return startSamsa(dir, port);
  }

  /** The broker and its durability setting, for the mode line. */
  protected brokerMode(w: Workload): string {
    return `acks=${w.acks} (broker default flush policy)`;
  }

  mode(w: Workload): string {
    const n = produceProcesses();
    const produce = produceLoad() === 'c' ? `${PRODUCE_NAMES.c}${n > 1 ? `, ${n} processes` : ''}` : PRODUCE_NAMES.kcat;
    const nc = consumeProcesses();
    const split = w.partitions >= nc ? 'sharing out whole partitions' : "each a slice of every partition's offsets";
    const consume =
      consumeLoad() === 'c'
        ? `${CONSUME_NAMES.c}${nc > 1 ? `, ${nc} processes, ${split}, fetches of 4 MB a partition` : ''}`
        : CONSUME_NAMES.kcat;
    return `${this.brokerMode(w)}; max produce: ${produce}; catch-up: ${consume}; latency load: ${LOAD_NAMES[latencyLoad()]}`;
  }

  pid() {
    return this.srv!.pid;
  }

  private get bootstrap() {
    return `127.0.0.1:${this.port}`;
  }

  async start(w: Workload) {
    this.dir = fs.mkdtempSync(path.join(this.tmp, `${this.name}-`));
    this.port = await freePort();
    this.srv = await this.launch(this.dir, this.port);
    await createTopics(this.bootstrap, [
      { topic: 'bench', numPartitions: w.partitions },
      { topic: 'lat', numPartitions: w.partitions },
      { topic: 'tail', numPartitions: w.partitions },
    ]);
    // into `lat`: the latency consumer starts at the end offsets, so this message is never counted
    this.firstProduceSeconds = await firstProduce(this.bootstrap, 'lat', this.srv.pid);
  }

  /** kcat's producer settings for the max-produce fallback. */
  private producerProps(w: Workload): string[] {
    const props = [
      `acks=${w.acks}`,
      'linger.ms=5',
      'batch.size=1000000',
      'compression.codec=none',
      'queue.buffering.max.messages=1000000',
      'message.max.bytes=2000000',
    ];
    return props.flatMap((p) => ['-X', p]);
  }

  /**
   * Max produce. By default the C load generator's produce-max role
   * (produceProcesses() processes, the messages split between them): every
   * message points at one preallocated value, sticky partitioner (partition 0
   * for 1 partition), linger.ms 5, batch.size 1000000, like the kcat run.
   * The harness times the whole call (process start, connect and exit
   * included), as it does for kcat; the generators start on one start line
   * once all are connected. SAMSA_BENCH_PRODUCE=kcat (or no build): kcat -P
   * on the pre-generated file, one process per files.copies.
   */
  async produce(w: Workload, files: PayloadFiles) {
    if (produceLoad() === 'kcat') return this.produceKcat(w, files);
    const procs = this.maxProducers(w, 'bench');
    await startTogether(procs);
    const { msgs, secs, cpus } = producerResults(procs);
    process.stderr.write(
      `  ${this.name} max producer: ${secs.toFixed(3)} s from start to last delivery report (${((msgs * w.size) / 1e6 / secs).toFixed(1)} MB/s), CPU ${cpus} s\n`,
    );
    if (msgs !== w.messages) throw new Error(`bench/loadgen produce-max: ${msgs} of ${w.messages} messages delivered`);
    return { msgs, bytes: msgs * w.size };
  }

  /**
   * Tailing: the max producer again, into the empty topic `tail`, while
   * catchup consumers (tail mode: assigned at the end, whole partitions
   * shared out between min(consumeProcesses(), partitions) processes) read
   * what arrives. Both start on the same start line; each side's seconds run
   * from it to its last delivery report / last message.
   */
  async tail(w: Workload) {
    if (produceLoad() === 'kcat' || consumeLoad() === 'kcat') return null; // needs bench/loadgen
    const n = Math.min(consumeProcesses(), w.partitions);
    const cfg = {
      host: '127.0.0.1',
      port: this.port,
      topic: 'tail',
      partitions: w.partitions,
      tail: 1,
      expected: n > 1 ? 0 : w.messages,
      fetchMaxWaitMs: 100,
      timeoutSec: 300,
      slices: n,
      'max.partition.fetch.bytes': TAIL_FETCH_BYTES,
    };
    const cons = Array.from({ length: n }, (_, k) =>
      loadProcess(loadgenBinary()!, ['catchup', JSON.stringify({ ...cfg, slice: k })], 'bench/loadgen catchup (tail)'),
    );
    const procs = this.maxProducers(w, 'tail');
    await startTogether([...cons, ...procs]);
    const { msgs, secs, cpus } = producerResults(procs);
    const cs = cons.map((c) => c.result() as { messages: number; bytes: number; seconds: number; cpu: number });
    const consume = {
      msgs: cs.reduce((a, x) => a + x.messages, 0),
      bytes: cs.reduce((a, x) => a + x.bytes, 0),
      seconds: Math.max(...cs.map((x) => x.seconds)),
    };
    const driver = `${procs.length} produce-max + ${n} tailing catchup process${n > 1 ? 'es' : ''} (bench/loadgen); producer CPU ${cpus} s, consumer CPU ${cs.map((x) => x.cpu.toFixed(3)).join(' + ')} s`;
    return { produce: { msgs, bytes: msgs * w.size, seconds: secs }, consume, driver };
  }

  /** The produce-max processes for `w.messages` into `topic`, connected and waiting for the start line. */
  private maxProducers(w: Workload, topic: string) {
    const n = Math.min(produceProcesses(), Math.max(1, w.messages));
    const base = {
      host: '127.0.0.1',
      port: this.port,
      topic,
      partitions: w.partitions,
      size: w.size,
      acks: w.acks === 'all' ? -1 : 1,
      lingerMs: 5,
      batchSize: 1_000_000,
    };
    return Array.from({ length: n }, (_, k) => {
      const messages = Math.floor(w.messages / n) + (k < w.messages % n ? 1 : 0);
      return loadProcess(
        loadgenBinary()!,
        ['produce-max', JSON.stringify({ ...base, messages })],
        'bench/loadgen produce-max',
      );
    });
  }

  /** The kcat max-produce path: kcat -P -l FILE, files.copies processes each sending the whole file. */
  private async produceKcat(w: Workload, files: PayloadFiles) {
    const args = ['-P', '-b', this.bootstrap, '-t', 'bench', ...this.producerProps(w), '-l', files.file];
    if (w.partitions === 1) args.push('-p', '0');
    const runs = await Promise.all(
      Array.from({ length: files.copies }, () => run('kcat', args, { timeoutMs: 600000 })),
    );
    for (const r of runs)
      if (r.code !== 0 || /error|fail/i.test(r.stderr))
        throw new Error(`kcat -P exited ${r.code}: ${r.stderr.slice(-400)}`);
    const msgs = files.lines * files.copies;
    return { msgs, bytes: msgs * w.size };
  }

  /**
   * Catch-up: everything in `bench` from the beginning. By default the C load
   * generator's catchup role: one librdkafka consumer assigned to every
   * partition at its low watermark, reading up to the high watermarks taken
   * before, counting messages and value bytes without reading the payloads.
   * SAMSA_BENCH_CONSUME=kcat (or no build): kcat -C, one line per message.
   * The harness times the whole call (process start and exit included).
   */
  async consume(w: Workload, expected: number) {
    if (consumeLoad() === 'kcat') return exactCount(w, expected, await this.consumeKcat(expected), 'kcat -C');
    const n = consumeProcesses();
    // With one process it must see `expected`; with several, each takes what lies in its slice and the sum must be `expected`.
    const cfg = {
      host: '127.0.0.1',
      port: this.port,
      topic: 'bench',
      partitions: w.partitions,
      expected: n > 1 ? 0 : expected,
      fetchMaxWaitMs: 10,
      timeoutSec: 300,
      slices: n,
    };
    const t0 = nowSec();
    const runs = await Promise.all(
      Array.from({ length: n }, (_, k) =>
        run(loadgenBinary()!, ['catchup', JSON.stringify({ ...cfg, slice: k })], { timeoutMs: 600000 }),
      ),
    );
    const seconds = nowSec() - t0;
    for (const r of runs)
      if (r.code !== 0) throw new Error(`bench/loadgen catchup exited ${r.code}: ${r.stderr.slice(-400)}`);
    const cs = runs.map(
      (r) => JSON.parse(r.stdout.trim()) as { messages: number; bytes: number; seconds: number; cpu: number },
    );
    const c = {
      messages: cs.reduce((a, x) => a + x.messages, 0),
      bytes: cs.reduce((a, x) => a + x.bytes, 0),
      seconds: Math.max(...cs.map((x) => x.seconds)),
    };
    process.stderr.write(
      `  ${this.name} catch-up consumer${n > 1 ? `s (${n})` : ''}: ${c.seconds.toFixed(3)} s from assign to last message (${(c.bytes / 1e6 / c.seconds).toFixed(1)} MB/s), CPU ${cs.map((x) => x.cpu.toFixed(3)).join(' + ')} s; processes ${seconds.toFixed(3)} s\n`,
    );
    return exactCount(w, expected, { msgs: c.messages, bytes: c.bytes }, 'bench/loadgen catchup');
  }

  /** The kcat catch-up path: -f '%S\n' prints only the value size, so counting bytes costs nothing in kcat. */
  private async consumeKcat(expected: number) {
    const r = await run(
      'kcat',
      ['-C', '-b', this.bootstrap, '-t', 'bench', '-o', 'beginning', '-e', '-q', '-c', String(expected), '-f', '%S\n'],
      {
        timeoutMs: 600000,
      },
    );
    if (r.code !== 0) throw new Error(`kcat -C exited ${r.code}: ${r.stderr.slice(-400)}`);
    let msgs = 0;
    let bytes = 0;
    for (const l of r.stdout.split('\n')) {
      if (!l) continue;
      msgs++;
      bytes += Number(l);
    }
    return { msgs, bytes };
  }

  /**
   * Fixed-rate latency run with a producer and a consumer in two child
   * processes, started at the same CLOCK_MONOTONIC time. Default: the C load
   * generator (bench/loadgen/latency.c): librdkafka producer paced every
   * C_TICK_US with linger.ms C_LINGER_MS, librdkafka consumer assigned at the
   * end offsets. SAMSA_BENCH_LATENCY=node: Samsa's own client
   * (bench/harness/samsa-latency-client.ts): a producer sending every
   * LINGER_MS what is due as one pipelined Produce request, and a consumer
   * long-polling one Fetch at a time.
   */
  async latency(w: Workload, rate: number, seconds: number) {
    const load = latencyLoad();
    const bin = load === 'c' ? loadgenBinary()! : '';
    const linger = lingerOverride() ?? (load === 'c' ? C_LINGER_MS : LINGER_MS);
    const outFile = path.join(this.dir!, `lat-${++this.seq}.f64`);
    const base = {
      host: '127.0.0.1',
      port: this.port,
      topic: 'lat',
      partitions: w.partitions,
      size: w.size,
      acks: w.acks === 'all' ? -1 : 1,
      rate,
      startUs: 0,
      warmupSec: 1,
      seconds,
      fetchMaxWaitMs: 100,
      // the C generator leaves max.in.flight at librdkafka's default (0 = not set)
      ...(load === 'c'
        ? { lingerMs: linger, maxInFlight: 0, batchSize: 1_000_000, tickUs: C_TICK_US }
        : { lingerMs: linger, maxInFlight: 32 }),
    };
    const script = path.join(root, 'bench/harness/samsa-latency-client.ts');
    const child = (role: string, cfg: object) =>
      load === 'c'
        ? loadProcess(bin, [role, JSON.stringify(cfg)], `latency ${role}`)
        : loadProcess(
            process.execPath,
            [...BROKER_NODE_FLAGS, '--import', 'tsx', script, role, JSON.stringify(cfg)],
            `latency ${role}`,
          );
    const cons = child('consume', { ...base, outFile });
    await cons.ready;
    const prod = child('produce', base);
    try {
      await prod.ready;
      const startUs = monoUs() + 100_000;
      const go = `${startUs}\n`;
      cons.c.stdin.end(go);
      prod.c.stdin.end(go);
      // broker CPU over the sending window, sampled at its start and end
      await sleep((startUs - monoUs()) / 1000);
      const s0 = procCpu(this.srv!.pid) ?? 0;
      const windowSec = 1 + seconds;
      await sleep(windowSec * 1000);
      const serverCpu = (procCpu(this.srv!.pid) ?? s0) - s0;
      await Promise.all([prod.exit, cons.exit]);
      const p = prod.result();
      const c = cons.result();
      const lat = fs.readFileSync(outFile);
      const latenciesUs = new Float64Array(lat.buffer.slice(lat.byteOffset, lat.byteOffset + lat.length));
      fs.rmSync(outFile, { force: true });
      const lost = p.sent - c.received;
      if (lost !== 0)
        process.stderr.write(
          `  ${this.name} latency: the consumer received ${c.received} of the ${p.sent} messages the producer sent\n`,
        );
      const driver =
        load === 'c'
          ? `${LOAD_NAMES.c}, librdkafka ${p.librdkafka}: linger.ms ${p.lingerMs}, batch.size ${p.batchSize}, pacer every ${p.tickUs / 1000} ms (${p.requests} produce requests; pacer lateness p50/p99 ${ms(p.sendLagP50Us)}/${ms(p.sendLagP99Us)} ms, hand-off to delivery report p50/p99 ${ms(p.ackP50Us)}/${ms(p.ackP99Us)} ms), fetch.wait.max.ms 100 (${c.fetches} fetches); sent ${p.sent}, received ${c.received}`
          : `${LOAD_NAMES.node}: linger ${linger} ms (${p.requests} produce requests, max ${p.maxInFlight} in flight; oldest message's wait before its request p50/p99 ${ms(p.sendLagP50Us)}/${ms(p.sendLagP99Us)} ms, produce round trip p50/p99 ${ms(p.ackP50Us)}/${ms(p.ackP99Us)} ms), fetch maxWait 100 ms (${c.fetches} fetches); sent ${p.sent}, received ${c.received}`;
      return {
        sent: Math.floor(rate * seconds),
        received: latenciesUs.length,
        latenciesUs,
        window: {
          seconds: windowSec,
          serverCpu,
          clients: [
            { name: 'producer', cpu: p.cpu, seconds: p.wall },
            { name: 'consumer', cpu: c.cpu, seconds: c.wall },
          ],
          driver,
        },
      };
    } catch (e) {
      prod.c.kill('SIGKILL');
      cons.c.kill('SIGKILL');
      throw e;
    }
  }

  async stop() {
    await this.srv?.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
