/** Running external client programs (kcat, python scripts) from tests. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from './broker.ts';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string | Buffer;
  timeoutMs?: number;
  env?: Record<string, string>;
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    p.stdin.on('error', () => {});
    if (opts.input !== undefined) p.stdin.end(opts.input);
    else p.stdin.end();
  });
}

/** Runs a command and throws (with its output) unless it exits 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} -> code ${r.code} signal ${r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
    );
  }
  return r;
}

/** Debian's python3 (where python3-confluent-kafka and python3-kafka install). */
export const PYTHON = process.env.SAMSA_TEST_PYTHON ?? '/usr/bin/python3';
export const PY_DIR = path.join(REPO_ROOT, 'test', 'interop', 'py');

/**
 * Runs test/interop/py/<script> with args; the script prints one JSON document
 * on its last stdout line, which is returned parsed.
 */
export async function runPy<T = any>(script: string, args: string[], opts: RunOptions = {}): Promise<T> {
  const r = await runOk(PYTHON, [path.join(PY_DIR, script), ...args], { timeoutMs: 120_000, ...opts });
  const lines = r.stdout.trim().split('\n');
  const last = lines[lines.length - 1];
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`${script}: no JSON on the last line of stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
}

export const KCAT = process.env.SAMSA_TEST_KCAT ?? 'kcat';
