/**
 * Start-up cost of the `samsa` executable: wall time of `samsa --help`, and of
 * `samsa start` from spawn until its port accepts a TCP connection (then
 * SIGTERM and wait for the exit). Prints min / median / max over the runs.
 * Plain JavaScript so that it needs nothing to run and can time any copy of
 * the executable: the repo's bin/ (which runs dist/ when it is fresh, tsx
 * otherwise), another checkout's, or an installed node_modules/samsa/bin/.
 *
 *   node bench/startup.bench.mjs [path/to/bin/samsa.mjs, default this repo's] [runs, default 10]
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = path.resolve(
  process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'samsa.mjs'),
);
const runs = Number(process.argv[3] ?? 10);
// the V8 option of the #! line, which `node bin` alone would drop
const flags = (
  fs
    .readFileSync(bin, 'utf8')
    .split('\n')[0]
    .match(/^#!\/usr\/bin\/env -S node ?(.*)$/)?.[1] ?? ''
)
  .split(' ')
  .filter(Boolean);

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  return `min ${s[0].toFixed(0)} ms, median ${s[Math.floor(s.length / 2)].toFixed(0)} ms, max ${s[s.length - 1].toFixed(0)} ms (${s.length} runs)`;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function connects(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startOnce() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-startup-'));
  const port = await freePort();
  const t0 = performance.now();
  const p = spawn(
    process.execPath,
    [...flags, bin, 'start', '--override', `log.dirs=${dir}`, '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`],
    {
      env: { ...process.env, SAMSA_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise((resolve) => p.once('exit', resolve));
  let gone = false;
  exited.then(() => (gone = true));
  try {
    for (;;) {
      if (gone) throw new Error(`${bin} start exited before it listened`);
      if (await connects(port)) return performance.now() - t0;
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    p.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const help = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...flags, bin, '--help'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} --help exited ${r.status}: ${r.stderr}`);
  help.push(performance.now() - t0);
}
const start = [];
for (let i = 0; i < runs; i++) start.push(await startOnce());
console.log(`bin: ${bin}`);
console.log(`samsa --help:               ${stats(help)}`);
console.log(`samsa start, to listening:  ${stats(start)}`);
