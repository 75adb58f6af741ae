/**
 * Side-by-side benchmark harness (OpenMessaging-Benchmark style): runs each
 * workload against Samsa and its peers on loopback in one run, prints one
 * table per workload with ratios, writes bench/results/latest.json and
 * docs/bench-latest.svg. runBench() is the entry point for bench/run.ts and
 * for the CLI.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientCpu, hasCommand, nowSec, procCpu, procRss, rssSampler, sleep } from './proc.ts';
import { measureCeilings } from './ceilings.ts';
import { measureStartup } from './startup.ts';
import { payloadFiles } from './payload.ts';
import { percentiles } from './stats.ts';
import { ceilingsTable, startupTable, workloadTable, type WorkloadReport } from './report.ts';
import { renderSvg } from './svg.ts';
import { KafkaTarget } from './targets/kafka.ts';
import { NatsTarget } from './targets/nats.ts';
import { RedisTarget } from './targets/redis.ts';
import { SamsaTarget } from './targets/samsa.ts';
import { workloads as allWorkloads } from '../workloads/index.ts';
import type {
  BenchOptions,
  Ceilings,
  LatencyResult,
  PhaseResult,
  StartupResult,
  Target,
  TargetResult,
  Workload,
} from './types.ts';

export type { BenchOptions } from './types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BenchResults {
  date: string;
  machine: { cpus: number; cpuModel: string; memGB: number; kernel: string; node: string };
  quick: boolean;
  ceilings?: Ceilings;
  startup?: StartupResult;
  workloads: WorkloadReport[];
  missingTools: string[];
}

async function measured<T extends { msgs: number; bytes: number }>(
  pid: number,
  fn: () => Promise<T>,
): Promise<PhaseResult> {
  const s0 = procCpu(pid) ?? 0;
  const c0 = clientCpu();
  const t0 = nowSec();
  const r = await fn();
  const seconds = nowSec() - t0;
  return { msgs: r.msgs, bytes: r.bytes, seconds, serverCpu: (procCpu(pid) ?? s0) - s0, clientCpu: clientCpu() - c0 };
}

/**
 * Before a latency run: write back what earlier phases left dirty in the page
 * cache (GBs at max speed). Otherwise the kernel flushes it during the run,
 * and the run measures that: p99 of a probe at 12k msgs/s of 16 KiB went from
 * 7 to 62 ms with 2.5 GB being written back.
 */
function settleDisk(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

async function latencyRun(t: Target, w: Workload, rate: number, seconds: number): Promise<LatencyResult> {
  settleDisk();
  const pid = t.pid();
  const s0 = procCpu(pid) ?? 0;
  const c0 = clientCpu();
  const t0 = nowSec();
  const r = await t.latency(w, rate, seconds);
  const wall = nowSec() - t0;
  const [p50, p99, p999, max] = percentiles(r.latenciesUs, [50, 99, 99.9, 100]);
  return {
    targetRate: rate,
    achievedRate: r.received / seconds,
    sent: r.sent,
    received: r.received,
    p50,
    p99,
    p999,
    max,
    ...(r.window
      ? {
          serverCpu: r.window.serverCpu,
          clientCpu: r.window.clients.reduce((a, c) => a + c.cpu, 0),
          cpuSeconds: r.window.seconds,
          clients: r.window.clients,
          driver: r.window.driver,
        }
      : { serverCpu: (procCpu(pid) ?? s0) - s0, clientCpu: clientCpu() - c0, cpuSeconds: wall }),
  };
}

function cpuNote(l: LatencyResult): string {
  const pct = (x: number) => `${Math.round((100 * x) / l.cpuSeconds)}%`;
  const parts = [
    `server ${pct(l.serverCpu)}`,
    ...(l.clients?.map((c) => `${c.name} ${Math.round((100 * c.cpu) / c.seconds)}%`) ?? [`client ${pct(l.clientCpu)}`]),
  ];
  return ` (received ${l.received}/${l.sent}; CPU of one core: ${parts.join(', ')})${l.driver ? `\n    ${l.driver}` : ''}`;
}

async function runTarget(
  t: Target,
  w: Workload,
  tmp: string,
  quick: boolean,
  log: (s: string) => void,
  commonRate?: number,
): Promise<TargetResult> {
  const res: TargetResult = { target: t.name, mode: t.mode(w) };
  const files = payloadFiles(tmp, w, w.partitions > 1 ? 2 : 1);
  const t0 = nowSec();
  try {
    await t.start(w);
    res.startSeconds = nowSec() - t0;
    res.firstProduceSeconds = t.firstProduceSeconds;
    await sleep(300);
    res.rssRest = procRss(t.pid());
    const rss = rssSampler(t.pid());
    try {
      res.produce = await measured(t.pid(), () => t.produce(w, files));
      const mps = res.produce.msgs / res.produce.seconds;
      log(
        `  ${t.name}: produce ${(res.produce.bytes / 1e6 / res.produce.seconds).toFixed(1)} MB/s, ${mps.toFixed(0)} msgs/s`,
      );
      res.consume = await measured(t.pid(), () => t.consume(w, res.produce!.msgs));
      log(
        `  ${t.name}: consume ${(res.consume.bytes / 1e6 / res.consume.seconds).toFixed(1)} MB/s (${res.consume.msgs} msgs)`,
      );
      if (res.consume.msgs < res.produce.msgs) throw new Error(`consumed ${res.consume.msgs} of ${res.produce.msgs}`);
      res.rssPeakMaxThroughput = rss.peakSoFar();
      if (w.latencySeconds > 0) {
        res.latency = await latencyRun(t, w, Math.max(10, Math.floor(mps * 0.5)), w.latencySeconds);
        log(
          `  ${t.name}: latency @${res.latency.targetRate} msgs/s p50 ${(res.latency.p50 / 1000).toFixed(2)} p99 ${(res.latency.p99 / 1000).toFixed(2)} p99.9 ${(res.latency.p999 / 1000).toFixed(2)} ms${cpuNote(res.latency)}`,
        );
        if (!quick) {
          res.latencyLight = await latencyRun(t, w, Math.max(10, Math.floor(mps * 0.1)), w.latencySeconds);
          log(
            `  ${t.name}: latency @${res.latencyLight.targetRate} msgs/s p50 ${(res.latencyLight.p50 / 1000).toFixed(2)} p99 ${(res.latencyLight.p99 / 1000).toFixed(2)} p99.9 ${(res.latencyLight.p999 / 1000).toFixed(2)} ms${cpuNote(res.latencyLight)}`,
          );
        }
      }
      if (commonRate !== undefined && w.latencySeconds > 0) {
        if (res.latency?.targetRate === commonRate) res.latencyCommon = res.latency;
        else if (commonRate <= 0.9 * mps) {
          res.latencyCommon = await latencyRun(t, w, commonRate, w.latencySeconds);
          const l = res.latencyCommon;
          log(
            `  ${t.name}: latency @${l.targetRate} msgs/s (the common rate) p50 ${(l.p50 / 1000).toFixed(2)} p99 ${(l.p99 / 1000).toFixed(2)} p99.9 ${(l.p999 / 1000).toFixed(2)} ms${cpuNote(l)}`,
          );
        }
      }
      // After the latency runs: its writes would otherwise still be flushing while they measure.
      if (t.tail) {
        // A failed tailing phase costs only its own rows, not the workload's other figures.
        try {
          const s0 = procCpu(t.pid()) ?? 0;
          const c0 = clientCpu();
          const r = await t.tail(w, files);
          if (r) {
            const mb = (x: { bytes: number; seconds: number }) => (x.bytes / 1e6 / x.seconds).toFixed(1);
            log(
              `  ${t.name}: produce with tailing consumers ${mb(r.produce)} MB/s, tailing consume ${mb(r.consume)} MB/s (${r.consume.msgs} msgs)\n    ${r.driver}`,
            );
            if (r.consume.msgs < r.produce.msgs)
              throw new Error(`tailing consumers got ${r.consume.msgs} of ${r.produce.msgs}`);
            res.tail = { ...r, serverCpu: (procCpu(t.pid()) ?? s0) - s0, clientCpu: clientCpu() - c0 };
          }
        } catch (e) {
          log(`  ${t.name}: tailing phase FAILED: ${(e as Error).message.slice(0, 300)}`);
        }
        // 50% of the end-to-end max: what OMB calls the max rate, the rate producers and consumers
        // sustain together. That is the lower of the two tailed rates: when the consumers fall behind
        // a saturating producer, the producer's rate is not one the pipeline sustains (before 2026-11-23
        // 18:34 UTC the produce rate alone was used, and p16 1 KiB came out above the producer-only max).
        if (res.tail && w.latencySeconds > 0 && !quick) {
          const tailedMps = tailedMaxMps(res.tail);
          res.latencyTailed = await latencyRun(t, w, Math.max(10, Math.floor(tailedMps * 0.5)), w.latencySeconds);
          const l = res.latencyTailed;
          log(
            `  ${t.name}: latency @${l.targetRate} msgs/s (50% of tailed max) p50 ${(l.p50 / 1000).toFixed(2)} p99 ${(l.p99 / 1000).toFixed(2)} p99.9 ${(l.p999 / 1000).toFixed(2)} ms${cpuNote(l)}`,
          );
        }
      }
    } finally {
      res.rssPeak = rss.stop();
    }
  } catch (e) {
    res.error = (e as Error).message.split('\n').slice(0, 3).join(' / ');
    log(`  ${t.name}: FAILED: ${(e as Error).message.slice(0, 600)}`);
  } finally {
    await t.stop().catch(() => {});
  }
  return res;
}

/** msgs/s that went all the way through in the tailing phase: the lower of the produce and the tailing consume rate. */
function tailedMaxMps(tail: {
  produce: { msgs: number; seconds: number };
  consume: { msgs: number; seconds: number };
}): number {
  return Math.min(tail.produce.msgs / tail.produce.seconds, tail.consume.msgs / tail.consume.seconds);
}

export async function runBench(opts: BenchOptions = {}): Promise<BenchResults> {
  const verbose = opts.verbose ?? true;
  const log = (s: string) => verbose && console.error(s);
  const quick = !!opts.quick;
  const tmp = fs.mkdtempSync(path.join(opts.tmpDir ?? os.tmpdir(), 'samsa-bench-'));
  const missingTools = ['kcat', 'nats-server', 'redis-server', 'redis-benchmark', 'iperf3', 'fio'].filter(
    (c) => !hasCommand(c),
  );
  if (missingTools.length) log(`missing tools: ${missingTools.join(', ')} (run scripts/bench-setup.sh)`);

  const want = opts.targets ?? ['samsa', 'kafka', 'nats', 'redis'];
  const targets: Target[] = [];
  if (want.includes('samsa') && hasCommand('kcat')) targets.push(new SamsaTarget(tmp));
  if (want.includes('kafka') && hasCommand('kcat') && hasCommand('java')) targets.push(new KafkaTarget(tmp));
  else if (want.includes('kafka')) log('kafka: needs java and kcat; skipped');
  if (want.includes('nats') && hasCommand('nats-server')) targets.push(new NatsTarget(tmp));
  if (want.includes('redis') && hasCommand('redis-server') && hasCommand('redis-benchmark'))
    targets.push(new RedisTarget(tmp));

  const cpus = os.cpus();
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: {
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? '?',
      memGB: Math.round(os.totalmem() / 2 ** 30),
      kernel: os.release(),
      node: process.version,
    },
    quick,
    workloads: [],
    missingTools,
  };

  try {
    if (opts.ceilings !== false) results.ceilings = await measureCeilings(tmp, quick, log);
    const ceilings = results.ceilings ?? { notes: ['not measured'] };

    let wls = allWorkloads(quick);
    if (opts.only?.length) wls = wls.filter((w) => opts.only!.some((o) => w.name.includes(o)));
    const broken = new Set<string>();
    for (const w of wls) {
      log(`workload ${w.name}: ${w.messages} msgs`);
      const rep: WorkloadReport = { workload: w, results: [] };
      // The reference Kafka runs first: 50% of its max produce is the common latency rate of the others.
      const order = [...targets].sort((a, b) => Number(b.name === 'kafka') - Number(a.name === 'kafka'));
      let commonRate: number | undefined;
      const byName = new Map<string, TargetResult>();
      for (const t of order) {
        if (broken.has(t.name)) {
          byName.set(t.name, { target: t.name, error: 'skipped: failed to start earlier in this run' });
          continue;
        }
        const r = await runTarget(t, w, tmp, quick, log, commonRate);
        if (r.error && r.startSeconds === undefined) broken.add(t.name);
        if (t.name === 'kafka' && r.latency) {
          r.latencyCommon = r.latency;
          commonRate = r.latency.targetRate;
        }
        byName.set(t.name, r);
      }
      for (const t of targets) rep.results.push(byName.get(t.name)!);
      results.workloads.push(rep);
      console.log(workloadTable(rep, ceilings));
    }

    if (opts.startup !== false && targets.some((t) => t.name === 'samsa') && !broken.has('samsa')) {
      results.startup = await measureStartup(tmp, 1000, log);
    } else if (opts.startup !== false) {
      results.startup = { partitions: 1000, error: broken.has('samsa') ? 'samsa did not start' : 'samsa not selected' };
    }

    console.log('## Ceilings\n');
    console.log(ceilingsTable(ceilings));
    if (results.startup) console.log(startupTable(results.startup));

    const jsonFile = opts.resultsFile ?? path.join(root, 'bench/results/latest.json');
    fs.mkdirSync(path.dirname(jsonFile), { recursive: true });
    fs.writeFileSync(jsonFile, JSON.stringify(results, null, 2) + '\n');
    const svgFile = opts.svgFile ?? path.join(root, 'docs/bench-latest.svg');
    fs.mkdirSync(path.dirname(svgFile), { recursive: true });
    const title = `Samsa vs peers, loopback, ${results.machine.cpus} cores, ${results.date.slice(0, 10)}${quick ? ' (quick)' : ''}`;
    fs.writeFileSync(svgFile, renderSvg(results.workloads, ceilings, title));
    log(`wrote ${path.relative(process.cwd(), jsonFile)} and ${path.relative(process.cwd(), svgFile)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}
