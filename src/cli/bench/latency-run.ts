/**
 * Runs a fixed-rate latency test: the producer and the consumer side
 * (latency-client.ts) either as two child processes of this Node binary
 * (latency-child.ts; the default, so neither side's event loop delays the
 * other's) or both in this process. Both sides connect first, then start at
 * the same CLOCK_MONOTONIC instant 100 ms later.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
// the same heap setting as the broker: these processes churn network buffers the same way
import { BROKER_NODE_FLAGS } from '../start.ts';
import { fileURLToPath } from 'node:url';
import {
  type ConsumerReport,
  type LatencyClientConfig,
  type ProducerReport,
  prepareLatencyConsumer,
  prepareLatencyProducer,
} from './latency-client.ts';
import type { LatencyRole } from './latency-process.ts';
import { monoUs } from './stamp.ts';

export interface LatencyRun {
  producer: ProducerReport;
  consumer: ConsumerReport;
  /** End-to-end latencies (µs) after the warm-up. */
  latencyUs: Float64Array;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_ROOT = path.resolve(HERE, '../../..');
// compiled (dist/*.js, no tsx installed) or the TypeScript sources run through tsx
const COMPILED = import.meta.url.endsWith('.js');
const CHILD_ENTRY = path.join(HERE, COMPILED ? 'latency-child.js' : 'latency-child.ts');
const CHILD_LOADER = COMPILED ? [] : ['--import', 'tsx'];
const START_DELAY_US = 100_000;

/** Aborting `signal` ends the run early (connections closed or processes killed); it then rejects. */
export async function runLatency(
  cfg: LatencyClientConfig,
  inProcess: boolean,
  signal?: AbortSignal,
): Promise<LatencyRun> {
  signal?.throwIfAborted();
  const run = inProcess ? runInProcess(cfg, signal) : runInChildren(cfg, signal);
  const r = await run;
  signal?.throwIfAborted();
  return r;
}

async function runInProcess(cfg: LatencyClientConfig, signal?: AbortSignal): Promise<LatencyRun> {
  const consumer = await prepareLatencyConsumer(cfg);
  try {
    const producer = await prepareLatencyProducer(cfg);
    const stop = () => void Promise.all([producer.close(), consumer.close()]);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const startUs = monoUs() + START_DELAY_US;
      const [p, c] = await Promise.all([producer.run(startUs), consumer.run(startUs)]);
      return { producer: p, consumer: c.report, latencyUs: c.latencyUs };
    } finally {
      signal?.removeEventListener('abort', stop);
      await producer.close();
    }
  } finally {
    await consumer.close();
  }
}

/** One side as a child process: resolves `ready` once it printed 'ready', `done` to its JSON line. */
class Child {
  private readonly proc: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  readonly ready: Promise<void>;
  readonly done: Promise<unknown>; // the JSON report the child printed

  constructor(
    readonly role: LatencyRole,
    cfg: LatencyClientConfig,
  ) {
    this.proc = spawn(
      process.execPath,
      [...BROKER_NODE_FLAGS, ...CHILD_LOADER, CHILD_ENTRY, role, JSON.stringify(cfg)],
      { cwd: PACKAGE_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.proc.stdout.on('data', (d) => (this.out += d));
    this.proc.stderr.on('data', (d) => (this.err = (this.err + d).slice(-8000)));
    const exited = new Promise<number | null>((resolve, reject) => {
      this.proc.once('error', (e) => reject(new Error(`cannot start the latency ${this.name}: ${e.message}`)));
      this.proc.once('close', (code) => resolve(code));
    });
    this.done = exited.then((code) => {
      if (code !== 0) throw this.failure(code);
      return JSON.parse(this.out.slice(this.out.indexOf('ready\n') + 6).trim());
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const onData = () => {
        if (!this.out.includes('ready\n')) return;
        this.proc.stdout.off('data', onData);
        resolve();
      };
      this.proc.stdout.on('data', onData);
      this.done.then(() => reject(this.failure(0)), reject);
    });
    this.ready.catch(() => {});
    this.done.catch(() => {});
  }

  private get name(): string {
    return this.role === 'produce' ? 'producer' : 'consumer';
  }

  /** The child's own error line (`<role>: <message>`), else the end of its stderr. */
  private failure(code: number | null): Error {
    const lines = this.err.split('\n').filter((l) => l.trim() !== '');
    const own = lines.find((l) => l.startsWith(`${this.role}: `));
    const why = own ? own.slice(this.role.length + 2) : (lines.at(-1) ?? `exit code ${code}`);
    return new Error(`latency ${this.name} failed: ${why}`);
  }

  start(startUs: number): void {
    this.proc.stdin.end(`${startUs}\n`);
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function runInChildren(cfg: LatencyClientConfig, signal?: AbortSignal): Promise<LatencyRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-bench-'));
  const outFile = path.join(dir, 'latency.f64');
  const consumer = new Child('consume', { ...cfg, outFile });
  const producer = new Child('produce', cfg);
  const stop = () => {
    producer.kill();
    consumer.kill();
  };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await Promise.all([consumer.ready, producer.ready]);
    const startUs = monoUs() + START_DELAY_US;
    consumer.start(startUs);
    producer.start(startUs);
    const [p, c] = (await Promise.all([producer.done, consumer.done])) as [ProducerReport, ConsumerReport];
    const raw = fs.readFileSync(outFile);
    const latencyUs = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
    return { producer: p, consumer: c, latencyUs };
  } finally {
    signal?.removeEventListener('abort', stop);
    stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
