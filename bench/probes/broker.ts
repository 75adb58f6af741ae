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

/** CPU seconds of one thread: user and system (kernel) time apart. */
export interface ThreadTimes {
  user: number;
  sys: number;
}

/** CPU seconds of each thread of `pid`, by thread id. */
export function threadCpu(pid: number): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  const tick = 100; // USER_HZ on Linux
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out.set(tid, { user: Number(f[11]) / tick, sys: Number(f[12]) / tick });
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** "main 1.27 s (user 0.80, sys 0.47), others 0.13 0.11 s": the change in per-thread CPU between two readings. */
export function threadCpuDelta(pid: number, before: Map<string, ThreadTimes>, after: Map<string, ThreadTimes>): string {
  const zero: ThreadTimes = { user: 0, sys: 0 };
  const d = (t: string): ThreadTimes => {
    const a = after.get(t) ?? zero;
    const b = before.get(t) ?? zero;
    return { user: a.user - b.user, sys: a.sys - b.sys };
  };
  const main = d(String(pid));
  const others = [...after.keys()]
    .filter((t) => t !== String(pid))
    .map((t) => {
      const v = d(t);
      return v.user + v.sys;
    })
    .filter((v) => v > 0.005);
  return `main ${(main.user + main.sys).toFixed(2)} s (user ${main.user.toFixed(2)}, sys ${main.sys.toFixed(2)}), others ${others.map((v) => v.toFixed(2)).join(' ') || '-'} s`;
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

/** Seconds the threads of `pid` spent runnable but waiting for a CPU, summed (/proc/PID/task/TID/schedstat); `tid` limits it to one thread. */
export function runqueueWait(pid: number, tid?: number): number {
  let ns = 0;
  let tids: string[] = [];
  try {
    tids = tid === undefined ? fs.readdirSync(`/proc/${pid}/task`) : [String(tid)];
  } catch {
    // the process ended
  }
  for (const t of tids) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // the thread or process ended
    }
  }
  return ns / 1e9;
}
