/**
 * Process plumbing for the benchmark harness: spawning servers and load
 * generators, waiting for a port, and reading CPU time and RSS from /proc so
 * the server's cost is measured apart from the load generator's.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { execFileSync } from 'node:child_process';

let clkTck = 100;
try {
  clkTck = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
} catch {
  /* keep 100 */
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function nowSec(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Fields of /proc/<pid>/stat after the command name, 0-based from field 3 (state). */
function statFields(pid: number | 'self'): string[] | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime+stime of a process (with all its threads), in seconds; undefined once it is gone. */
export function procCpu(pid: number): number | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  return (Number(f[11]) + Number(f[12])) / clkTck;
}

/**
 * CPU of the load generator side: this process (Node clients) plus every child
 * it has reaped (kcat, redis-benchmark exit before a phase ends; servers are
 * reaped only when stopped, outside any measured phase).
 */
export function clientCpu(): number {
  const f = statFields('self')!;
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clkTck;
}

/** Seconds since a process started (from its start time in /proc, clock-tick resolution); undefined once it is gone. */
export function procAgeSec(pid: number): number | undefined {
  const f = statFields(pid);
  if (!f) return undefined;
  try {
    const uptime = Number(fs.readFileSync('/proc/uptime', 'latin1').split(' ')[0]);
    return uptime - Number(f[19]) / clkTck;
  } catch {
    return undefined;
  }
}

/** Resident set size in bytes (VmRSS), undefined once the process is gone. */
export function procRss(pid: number): number | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples a process's RSS until stopped; returns the peak seen. */
export function rssSampler(pid: number, everyMs = 100) {
  let peak = procRss(pid) ?? 0;
  const t = setInterval(() => {
    const r = procRss(pid);
    if (r !== undefined && r > peak) peak = r;
  }, everyMs);
  t.unref();
  return {
    /** The peak up to now (sampling goes on). */
    peakSoFar(): number {
      const r = procRss(pid);
      if (r !== undefined && r > peak) peak = r;
      return peak;
    },
    stop(): number {
      clearInterval(t);
      const r = procRss(pid);
      if (r !== undefined && r > peak) peak = r;
      return peak;
    },
  };
}

export async function waitForPort(
  port: number,
  timeoutMs: number,
  host = '127.0.0.1',
  alive?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (alive && !alive()) throw new Error(`process exited before port ${port} opened`);
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** A free TCP port on loopback (bound then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface Server {
  child: ChildProcess;
  pid: number;
  /** Last lines of stderr/stdout, for error messages. */
  log(): string;
  exited(): boolean;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
}

export function startServer(cmd: string, args: string[], opts: SpawnOptions = {}): Server {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let tail = '';
  // SAMSA_BENCH_SERVER_LOG=FILE: every server's whole output is appended there too (e.g. the broker under --trace-gc)
  const whole = process.env.SAMSA_BENCH_SERVER_LOG;
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
    if (whole) fs.appendFileSync(whole, d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exitP = new Promise<void>((r) =>
    child.once('exit', () => {
      done = true;
      r();
    }),
  );
  child.once('error', (e) => {
    tail += `\nspawn error: ${e.message}`;
    done = true;
  });
  return {
    child,
    pid: child.pid ?? -1,
    log: () => tail,
    exited: () => done,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15000) {
      if (done) return;
      child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exitP;
      clearTimeout(t);
    },
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command to completion; stdout is kept unless `stdoutTo` names a file (e.g. /dev/null). */
export function run(
  cmd: string,
  args: string[],
  opts: { stdoutTo?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const outFd = opts.stdoutTo ? fs.openSync(opts.stdoutTo, 'w') : undefined;
    const t0 = nowSec();
    const child = spawn(cmd, args, {
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', outFd ?? 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-8000)));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : undefined;
    child.once('error', (e) => {
      if (outFd !== undefined) fs.closeSync(outFd);
      reject(e);
    });
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      if (outFd !== undefined) fs.closeSync(outFd);
      resolve({ code, stdout, stderr, seconds: nowSec() - t0 });
    });
  });
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
