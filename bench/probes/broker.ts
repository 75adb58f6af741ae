/**
 * What the probes share: a Samsa broker child on a temp dir (with extra Node
 * flags), and readings of its /proc entries: CPU per thread (the main thread
 * against V8's and libuv's helpers) and bytes read and written.
 *
 * Probes repeat one phase of `npm run bench` against one broker, for quick
 * before/after comparisons while working on the broker. They print figures;
 * they assert nothing. See docs/performance.md, "Probes".
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, procCpu, startServer, waitForPort, type Server } from '../harness/proc.ts';
import { createTopics } from '../harness/targets/samsa.ts';
import { BROKER_NODE_FLAGS } from '../../src/cli/start.ts';

export interface ProbeBroker {
  srv: Server;
  port: number;
  dir: string;
  /** Broker CPU seconds so far (all threads). */
  cpu(): number;
  stop(): Promise<void>;
}

/**
 * PROBE_BROKER_FLAGS replaces BROKER_NODE_FLAGS (e.g. "--initial-old-space-size=64 --cpu-prof
 * --cpu-prof-dir=/tmp/prof"); PROBE_BROKER_OVERRIDES adds `--override k=v` pairs (space-separated).
 */
export async function startProbeBroker(topics: Array<{ topic: string; numPartitions: number }>): Promise<ProbeBroker> {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-probe-'));
  const port = await freePort();
  const flags = process.env.PROBE_BROKER_FLAGS?.split(' ').filter(Boolean) ?? BROKER_NODE_FLAGS;
  const overrides = (process.env.PROBE_BROKER_OVERRIDES ?? '').split(' ').filter(Boolean).flatMap((o) => ['--override', o]);
  const args = [...flags, '--import', 'tsx', 'bin/samsa.mjs', 'start', '--override', `log.dirs=${dir}`, '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`, ...overrides];
  const srv = startServer(process.execPath, args, { cwd: root, env: { ...process.env, SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? 'warn' } });
  await waitForPort(port, 60000, '127.0.0.1', () => !srv.exited());
  await createTopics(`127.0.0.1:${port}`, topics);
  return {
    srv,
    port,
    dir,
    cpu: () => procCpu(srv.pid) ?? 0,
    async stop() {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CPU seconds of each thread of `pid`, by thread id (utime + stime). */
export function threadCpu(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const tick = 100; // USER_HZ on Linux
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(tid, (Number(f[11]) + Number(f[12])) / tick);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** "main 1.27 s, others 0.13 0.11 0.15 0.13 s": the change in per-thread CPU between two readings. */
export function threadCpuDelta(pid: number, before: Map<string, number>, after: Map<string, number>): string {
  const main = (after.get(String(pid)) ?? 0) - (before.get(String(pid)) ?? 0);
  const others = [...after].filter(([t]) => t !== String(pid)).map(([t, v]) => v - (before.get(t) ?? 0)).filter((v) => v > 0.005);
  return `main ${main.toFixed(2)} s, others ${others.map((v) => v.toFixed(2)).join(' ') || '-'} s`;
}

/** Bytes and syscalls the process read and wrote (/proc/PID/io). */
export function procIo(pid: number): Record<string, number> {
  return Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/io`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [k, v] = l.split(': ');
        return [k, Number(v)];
      }),
  );
}
