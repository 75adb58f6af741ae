/**
 * Latency probe: one broker, one fixed-rate run of the C load generator's
 * producer and consumer (the harness's latency phase, without the rest), and
 * what the broker spent doing it.
 *
 *   node --import tsx bench/probes/latency.ts [partitions=1] [rate=50000] [acks=1|all] [seconds=3]
 *
 * Env: PROBE_RATES (comma-separated msgs/s: runs in a row on the same broker, instead of `rate`; each
 * after a `sync`, as in the harness, unless PROBE_SYNC=0), PROBE_SIZE (bytes, default 1024), PROBE_WARMUP (s, default 1), PROBE_LINGER_MS (default 1, as
 * the harness), PROBE_LOADGEN_JSON (extra generator config, e.g. librdkafka properties), PROBE_OUT
 * (write the recorded latencies, µs as float64, to this file), plus SAMSA_BENCH_BROKER_FLAGS /
 * SAMSA_BENCH_CPU_PROF / PROBE_BROKER_OVERRIDES (broker.ts), PROBE_BEFORE (a shell command run before each rate, after the
 * sync), PROBE_LOAD_CPUS / PROBE_BROKER_CPUS (taskset CPU lists for the generators / every broker thread). Prints
 * p50/p99/p99.9/max, broker CPU as % of a core over the run (main thread, its user and system time, and helper threads
 * apart), how long the broker's main thread, the producer and the consumer waited for a CPU, the broker's syscalls, and
 * the generators' own lines.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep } from '../harness/proc.ts';
import { percentiles } from '../harness/stats.ts';
import { loadProcess, loadgenBinary } from '../harness/targets/samsa.ts';
import { procIo, runqueueWait, startProbeBroker, threadCpu, threadCpuDelta } from './broker.ts';

const [partitions = '1', rate = '50000', acks = '1', seconds = '3'] = process.argv.slice(2);
const bin = loadgenBinary();
if (!bin) throw new Error('bench/loadgen does not build here: run scripts/bench-setup.sh');
const warmup = Number(process.env.PROBE_WARMUP ?? 1);
const broker = await startProbeBroker([{ topic: 'lat', numPartitions: Number(partitions) }]);
const outFile = path.join(broker.dir, 'lat.f64');
const cfg = {
  host: '127.0.0.1',
  port: broker.port,
  topic: 'lat',
  partitions: Number(partitions),
  size: Number(process.env.PROBE_SIZE ?? 1024),
  acks: acks === 'all' ? -1 : 1,
  rate: Number(rate),
  startUs: 0,
  warmupSec: warmup,
  seconds: Number(seconds),
  lingerMs: Number(process.env.PROBE_LINGER_MS ?? 1),
  maxInFlight: 0,
  batchSize: 1_000_000,
  tickUs: 500,
  fetchMaxWaitMs: 100,
  ...JSON.parse(process.env.PROBE_LOADGEN_JSON ?? '{}'),
};

// PROBE_LOAD_CPUS=1: the producer and consumer run under `taskset -c 1`; PROBE_BROKER_CPUS=0 pins every broker thread
const loadCpus = process.env.PROBE_LOAD_CPUS;
const load = (args: string[], name: string) =>
  loadCpus ? loadProcess('taskset', ['-c', loadCpus, bin, ...args], name) : loadProcess(bin, args, name);
if (process.env.PROBE_BROKER_CPUS)
  spawnSync('taskset', ['-a', '-p', '-c', process.env.PROBE_BROKER_CPUS, String(broker.srv.pid)]);

try {
  // PROBE_RATES="300000,200000": several runs in a row on the same broker (e.g. a saturating one first, as in the harness)
  const rates = (process.env.PROBE_RATES ?? rate).split(',').map(Number);
  for (const r of rates) {
    if (process.env.PROBE_SYNC !== '0') spawnSync('sync'); // as the harness does before each latency run
    // PROBE_BEFORE: a shell command run before each rate (e.g. to put the VM's memory in a known state, docs/performance.md)
    if (process.env.PROBE_BEFORE) spawnSync('sh', ['-c', process.env.PROBE_BEFORE], { stdio: 'inherit' });
    const cons = load(['consume', JSON.stringify({ ...cfg, rate: r, outFile })], 'latency consume');
    await cons.ready;
    const prod = load(['produce', JSON.stringify({ ...cfg, rate: r })], 'latency produce');
    await prod.ready;
    const startUs = Number(process.hrtime.bigint() / 1000n) + 100_000;
    cons.c.stdin.end(`${startUs}\n`);
    prod.c.stdin.end(`${startUs}\n`);
    await sleep(100);
    const pid = broker.srv.pid;
    const c0 = broker.cpu();
    const t0 = threadCpu(pid);
    const wait = () => ({
      'broker main thread': runqueueWait(pid, pid),
      producer: runqueueWait(prod.c.pid ?? -1),
      consumer: runqueueWait(cons.c.pid ?? -1),
    });
    const w0 = wait();
    const io0 = procIo(pid);
    const runSec = warmup + Number(seconds);
    await sleep(runSec * 1000);
    const cpu = broker.cpu() - c0;
    const threads = threadCpuDelta(pid, t0, threadCpu(pid));
    const w1 = wait();
    const io1 = procIo(pid);
    await Promise.all([prod.exit, cons.exit]);
    const b = fs.readFileSync(outFile);
    const lat = new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    if (process.env.PROBE_OUT) fs.copyFileSync(outFile, process.env.PROBE_OUT);
    const [p50, p99, p999, max] = percentiles(lat, [50, 99, 99.9, 100]).map((x) => (x / 1000).toFixed(2));
    console.log(
      `p${partitions} ${cfg.size} B acks=${acks} at ${r} msgs/s: n=${lat.length} p50 ${p50} p99 ${p99} p99.9 ${p999} max ${max} ms`,
    );
    console.log(
      `broker: ${((100 * cpu) / runSec).toFixed(0)}% of a core over ${runSec} s (${threads}); ${io1.syscr - io0.syscr} read and ${io1.syscw - io0.syscw} write syscalls`,
    );
    console.log(
      `waiting for a CPU (runqueue): ${Object.entries(w1)
        .map(([k, v]) => `${k} ${(v - w0[k as keyof typeof w0]).toFixed(2)} s`)
        .join(', ')}`,
    );
    console.log(`producer ${JSON.stringify(prod.result())}`);
    console.log(`consumer ${JSON.stringify(cons.result())}`);
  }
} finally {
  await broker.stop();
}
