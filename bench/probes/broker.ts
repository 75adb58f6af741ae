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
import { freePort, procCpu, type Server } from '../harness/proc.ts';
import { createTopics, startSamsa } from '../harness/targets/samsa.ts';

export interface ProbeBroker {
  srv: Server;
  port: number;
  dir: string;
  /** Broker CPU seconds so far (all threads). */
  cpu(): number;
  stop(): Promise<void>;
}

/**
 * Started as the harness starts it (`startSamsa`), so SAMSA_BENCH_BROKER_FLAGS and
 * SAMSA_BENCH_CPU_PROF apply; PROBE_BROKER_OVERRIDES adds broker settings ("k=v k=v").
 */
export async function startProbeBroker(topics: Array<{ topic: string; numPartitions: number }>): Promise<ProbeBroker> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-probe-'));
  const port = await freePort();
  // info level, for the broker's sendfile account at shutdown (the harness runs it at warn)
  process.env.SAMSA_LOG_LEVEL ??= 'info';
  const srv = await startSamsa(dir, port, (process.env.PROBE_BROKER_OVERRIDES ?? '').split(' ').filter(Boolean));
  await createTopics(`127.0.0.1:${port}`, topics);
  return {
    srv,
    port,
    dir,
    cpu: () => procCpu(srv.pid) ?? 0,
    async stop() {
      await srv.stop();
      // The broker's own account of fetch bytes sent in place (sendfile) and copied.
      for (const line of srv.log().split('\n')) if (line.includes('"sendfile"')) console.log(`broker: ${line.trim()}`);
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
