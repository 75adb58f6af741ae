/**
 * Large topic operations against a broker this script starts in a child
 * process: creates and deletes 10,000 partitions (1 topic x 10,000 and
 * 10 topics x 1,000), and prints for each operation
 *
 *   - the wall time until the CreateTopics / DeleteTopics response,
 *   - for a delete, the time until the partition directories are gone from disk,
 *   - the broker's longest event-loop stall while it ran (max of
 *     perf_hooks.monitorEventLoopDelay in the broker process),
 *   - the slowest ApiVersions round trip from a second connection that sends
 *     one every 2 ms while the operation runs (what another client saw).
 *
 *   node --import tsx bench/topic-ops.ts [layout ...] [--dir DIR]
 *     layout: 1x10000 | 10x1000 | <topics>x<partitions> (default: both)
 *
 *   npm run bench:topics
 *
 * With SAMSA_BENCH_CPU_PROF=DIR the broker process writes a CPU profile there
 * (summarize it with bench/profile-summary.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

type ToChild = { op: 'reset' } | { op: 'report' } | { op: 'stop' };
type FromChild = { port: number } | { maxMs: number; p99Ms: number } | { stopped: true };

/** The broker: started in-process, its event loop sampled every millisecond. */
async function child(dir: string): Promise<void> {
  const { startBroker } = await import('../src/index.ts');
  const { BROKER_PROPERTY_BY_NAME } = await import('../src/config/broker-defs.ts');
  // Removal of deleted partitions starts at once (file.delete.delay.ms 0), so that its cost shows.
  const overrides: Record<string, string> = {
    'auto.create.topics.enable': 'false',
    'log.segment.delete.delay.ms': '0',
  };
  // The caps are raised so that every layout fits (they are absent on older builds).
  if (BROKER_PROPERTY_BY_NAME.has('samsa.max.partitions')) overrides['samsa.max.partitions'] = '1000000';
  if (BROKER_PROPERTY_BY_NAME.has('samsa.max.topics')) overrides['samsa.max.topics'] = '1000000';
  const broker = await startBroker({ dataDir: dir, overrides, logLevel: 'warn' });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  process.on('message', async (m: ToChild) => {
    if (m.op === 'reset') h.reset();
    else if (m.op === 'report')
      process.send!({ maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 } satisfies FromChild);
    else if (m.op === 'stop') {
      h.disable();
      await broker.close();
      process.send!({ stopped: true } satisfies FromChild, () => process.exit(0));
    }
  });
  process.send!({ port: broker.port } satisfies FromChild);
}

function waitFor<T extends FromChild>(c: ChildProcess, accept: (m: FromChild) => m is T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromChild) => {
      if (!accept(m)) return;
      c.off('message', onMsg);
      c.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`broker process exited (${code})`));
    c.on('message', onMsg);
    c.on('exit', onExit);
  });
}

function ask<T extends FromChild>(c: ChildProcess, msg: ToChild, accept: (m: FromChild) => m is T): Promise<T> {
  const answer = waitFor(c, accept);
  c.send(msg);
  return answer;
}

const isReport = (m: FromChild): m is { maxMs: number; p99Ms: number } => 'maxMs' in m;
const isPort = (m: FromChild): m is { port: number } => 'port' in m;
const isStopped = (m: FromChild): m is { stopped: true } => 'stopped' in m;

async function parent(): Promise<void> {
  const { Connection } = await import('../src/client/connection.ts');
  const args = process.argv.slice(2);
  const dirAt = args.indexOf('--dir');
  const base = dirAt >= 0 ? args.splice(dirAt, 2)[1] : os.tmpdir();
  const layouts = (args.length ? args : ['1x10000', '10x1000']).map((l) => {
    const m = /^(\d+)x(\d+)$/.exec(l);
    if (!m) throw new Error(`layout must be <topics>x<partitions>, not '${l}'`);
    return { topics: Number(m[1]), partitions: Number(m[2]), label: l };
  });
  const dir = fs.mkdtempSync(path.join(base, 'samsa-topic-ops-'));
  const prof = process.env.SAMSA_BENCH_CPU_PROF;
  const execArgv = ['--import', 'tsx', ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])];
  const broker = fork(fileURLToPath(import.meta.url), ['--child', dir], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const { port } = await waitFor(broker, isPort);
    const connect = async (clientId: string) => {
      const c = new Connection({ host: '127.0.0.1', port, clientId, requestTimeoutMs: 900_000 });
      await c.connect();
      return c;
    };
    const admin = await connect('topic-ops-admin');
    const probe = await connect('topic-ops-probe');
    const rows: string[][] = [
      ['operation', 'response s', 'files gone s', 'max loop stall ms', 'max ApiVersions rtt ms', 'probes answered'],
    ];

    /** Runs `op` while the probe pings; returns the figures. */
    const measure = async (op: () => Promise<void>) => {
      broker.send({ op: 'reset' } satisfies ToChild);
      let running = true;
      let maxRtt = 0;
      let answered = 0;
      const pinging = (async () => {
        while (running) {
          const t = performance.now();
          await probe.send('ApiVersions', { clientSoftwareName: 'topic-ops', clientSoftwareVersion: '1' });
          maxRtt = Math.max(maxRtt, performance.now() - t);
          answered++;
          await sleep(2);
        }
      })();
      const t0 = performance.now();
      await op();
      const seconds = (performance.now() - t0) / 1000;
      const stall = await ask(broker, { op: 'report' }, isReport);
      running = false;
      await pinging;
      return { seconds, stallMs: stall.maxMs, maxRtt, answered };
    };
    // asynchronous, so that listing a large directory does not delay the probe's round trips
    const partitionDirs = async () =>
      (await fs.promises.readdir(dir)).filter((n) => /-\d+(\.[0-9a-f]+-delete)?$/.test(n) && !n.startsWith('__'))
        .length;

    for (const l of layouts) {
      const names = Array.from({ length: l.topics }, (_, i) => `bench-${l.label}-${i}`);
      const created = await measure(async () => {
        const res = await admin.send('CreateTopics', {
          topics: names.map((name) => ({
            name,
            numPartitions: l.partitions,
            replicationFactor: 1,
            assignments: [],
            configs: [],
          })),
          timeoutMs: 900_000,
          validateOnly: false,
        });
        const bad = res.topics.find((t: any) => t.errorCode !== 0);
        if (bad) throw new Error(`CreateTopics ${bad.name}: error ${bad.errorCode} ${bad.errorMessage ?? ''}`);
      });
      rows.push([
        `create ${l.label}`,
        created.seconds.toFixed(2),
        '',
        created.stallMs.toFixed(0),
        created.maxRtt.toFixed(0),
        String(created.answered),
      ]);
      let responded = 0;
      const t0 = performance.now();
      const deleted = await measure(async () => {
        const res = await admin.send('DeleteTopics', {
          topics: names.map((name) => ({ name })),
          topicNames: names,
          timeoutMs: 900_000,
        });
        const bad = res.responses.find((t: any) => t.errorCode !== 0);
        if (bad) throw new Error(`DeleteTopics ${bad.name}: error ${bad.errorCode}`);
        responded = performance.now();
        // the files: poll the directory until the last partition directory is gone
        while ((await partitionDirs()) > 0) await sleep(50);
      });
      const gone = (performance.now() - t0) / 1000;
      rows.push([
        `delete ${l.label}`,
        ((responded - t0) / 1000).toFixed(2),
        gone.toFixed(2),
        deleted.stallMs.toFixed(0),
        deleted.maxRtt.toFixed(0),
        String(deleted.answered),
      ]);
    }
    await admin.close();
    await probe.close();
    const exited = new Promise((resolve) => broker.once('exit', resolve));
    await ask(broker, { op: 'stop' }, isStopped);
    await exited;
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(`topic operations, ${os.cpus().length} CPUs, Node ${process.version}, data in ${dir}`);
    for (const r of rows)
      console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  } finally {
    if (broker.exitCode === null) broker.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]);
else await parent();
