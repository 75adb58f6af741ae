/**
 * Broker harness for tests.
 *
 *   const b = await startTestBroker({ overrides: { 'num.partitions': '3' } });   // in-process
 *   const c = await startChildBroker({ overrides: {...} });                      // a real process
 *   await c.kill('SIGKILL'); await c.restart();                                    // same dir, same port
 *
 * Both expose `bootstrapServers` ("127.0.0.1:PORT") and `close()`.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BROKER_NODE_FLAGS } from '../../src/cli/start.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TestBroker {
  host: string;
  port: number;
  bootstrapServers: string;
  logDirs: string[];
  close(): Promise<void>;
}

export interface StartOptions {
  overrides?: Record<string, string>;
}

/** Starts a broker inside this process (src/index.ts's startBroker). */
export async function startTestBroker(opts: StartOptions = {}): Promise<TestBroker> {
  const mod = await import('../../src/index.ts');
  const b = await mod.startBroker({ overrides: opts.overrides });
  return {
    host: b.host,
    port: b.port,
    bootstrapServers: b.bootstrapServers,
    logDirs: b.logDirs,
    close: () => b.close(),
  };
}

/** A port nobody listens on right now (the OS picks it; we release it at once). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  // once closed, a port may be handed out by the OS again: never give the same one twice in this process
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, host, () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!portsGiven.has(port)) {
      portsGiven.add(port);
      return port;
    }
  }
}

const portsGiven = new Set<number>();

/** Resolves true once something accepts TCP connections on host:port. */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ChildBroker extends TestBroker {
  /** Data directory (survives restarts; removed by close() if the harness created it). */
  dataDir: string;
  readonly pid: number | undefined;
  /** stdout+stderr of the current process (for failure messages). */
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the broker again on the same data dir and port (kills it first if it is running). */
  restart(): Promise<void>;
  /** Resident set size of the broker process (and its children), in KiB, from /proc. */
  rssKiB(): number;
  /** Whether the broker process is alive. */
  alive(): boolean;
}

export interface ChildOptions extends StartOptions {
  dataDir?: string;
  /** How long to wait for the port to accept connections (default 60 s). */
  readyTimeoutMs?: number;
  env?: Record<string, string>;
}

/**
 * Starts `node bin/samsa.mjs start --override log.dirs=DIR --override listeners=PLAINTEXT://127.0.0.1:PORT`
 * as a child process and waits until the port accepts connections.
 */
export async function startChildBroker(opts: ChildOptions = {}): Promise<ChildBroker> {
  const host = '127.0.0.1';
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-child-'));
  const port = await freePort(host);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;

  let proc: ChildProcess | undefined;
  let out = '';
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const args = [
      path.join(REPO_ROOT, 'bin', 'samsa.mjs'),
      'start',
      '--override',
      `log.dirs=${dataDir}`,
      '--override',
      `listeners=PLAINTEXT://${host}:${port}`,
    ];
    for (const [k, v] of Object.entries(opts.overrides ?? {})) args.push('--override', `${k}=${v}`);
    out = '';
    const p = spawn(process.execPath, [...BROKER_NODE_FLAGS, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, SAMSA_LOG_LEVEL: process.env.SAMSA_LOG_LEVEL ?? 'warn', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc = p;
    const keep = (d: Buffer) => {
      out += d.toString();
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    p.stdout!.on('data', keep);
    p.stderr!.on('data', keep);
    let exitInfo: string | undefined;
    exited = new Promise<void>((resolve) => {
      p.once('exit', (code, sig) => {
        exitInfo = `exited code=${code} signal=${sig}`;
        resolve();
      });
    });
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (exitInfo) throw new Error(`broker ${exitInfo} before it accepted connections:\n${out}`);
      if (await canConnect(host, port)) return;
      if (Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`broker did not accept connections on ${host}:${port} within ${readyTimeoutMs} ms:\n${out}`);
      }
      await sleep(100);
    }
  };

  const isAlive = () => !!proc && proc.exitCode === null && proc.signalCode === null;

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!proc || !isAlive()) return;
    // kill the whole tree in case bin/samsa.mjs re-executes itself
    for (const pid of descendants(proc.pid!)) {
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    }
    proc.kill(signal);
    await exited;
  };

  await launch();

  return {
    host,
    port,
    bootstrapServers: `${host}:${port}`,
    logDirs: [dataDir],
    dataDir,
    get pid() {
      return proc?.pid;
    },
    output: () => out,
    kill,
    alive: isAlive,
    async restart() {
      await kill('SIGKILL');
      await launch();
    },
    rssKiB() {
      if (!proc?.pid) return 0;
      let total = 0;
      for (const pid of [proc.pid, ...descendants(proc.pid)]) total += vmRssKiB(pid);
      return total;
    },
    async close() {
      if (isAlive()) {
        const timer = setTimeout(() => proc?.kill('SIGKILL'), 10_000);
        await kill('SIGTERM');
        clearTimeout(timer);
      }
      if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function vmRssKiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** All descendant pids of `root`, from /proc/<pid>/stat. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(e), ppid);
    } catch {
      /* raced with exit */
    }
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        frontier.push(child);
      }
    }
  }
  return out;
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  stepMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) throw lastErr ?? new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(stepMs);
  }
}
