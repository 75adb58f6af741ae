/**
 * The package as a user gets it: `npm pack` of this repo (its `prepare`
 * script builds dist/), installed from the tarball into a fresh Node project
 * in a temporary directory outside the repo. There, with only the package's
 * runtime dependencies installed (no tsx, no TypeScript, no src/):
 *
 *  - `import { startBroker } from 'samsa'` in a plain .mjs file starts a
 *    broker; kafkajs (this repo's devDependency, loaded by path) produces to
 *    it and consumes the records back;
 *  - TypeScript resolves `samsa` to the shipped .d.ts;
 *  - `npx samsa --help` works, and the installed `samsa start` (by its #!
 *    line, with the broker's V8 option) listens, serves `samsa bench` (whose
 *    latency phase runs two child processes of the compiled code) and stops
 *    cleanly on SIGTERM.
 *
 * Install scripts: zstd-napi's install compiles zstd from source when its
 * prebuilt binary cannot be downloaded (about 40 s on a loaded machine), so the
 * project is installed with --ignore-scripts, zstd-napi gets the binding this
 * repo's node_modules built for the same version (its own install script runs
 * when the versions differ), and `npm rebuild samsa` runs the package's own
 * postinstall (the native sendfile addon).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/broker.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-pkg-'));
const app = path.join(tmp, 'app');
const installed = path.join(app, 'node_modules', 'samsa');
let tarball = '';

/** The environment without what an enclosing `npm test` sets (npm_config_prefix and the like would redirect npm). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, ...extra };
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = cleanEnv(),
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 << 20 }, (err, out, errOut) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, out, err: errOut });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cmd, args, cwd, env);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.out}\n${r.err}`);
  return r.out;
}

const version = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;

before(async () => {
  await ok('npm', ['pack', '--pack-destination', tmp, '--no-audit', '--no-fund'], REPO_ROOT);
  const tgz = fs.readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  assert.equal(tgz.length, 1, `npm pack left ${tgz.join(', ') || 'no tarball'}`);
  tarball = path.join(tmp, tgz[0]);

  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await ok('npm', ['install', tarball, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], app);
  const zstdHere = path.join(REPO_ROOT, 'node_modules', 'zstd-napi');
  const zstdThere = path.join(app, 'node_modules', 'zstd-napi');
  const binding = path.join(zstdHere, 'build', 'Release', 'binding.node');
  if (fs.existsSync(binding) && version(zstdHere) === version(zstdThere)) {
    fs.mkdirSync(path.join(zstdThere, 'build', 'Release'), { recursive: true });
    fs.copyFileSync(binding, path.join(zstdThere, 'build', 'Release', 'binding.node'));
  } else {
    await ok('npm', ['rebuild', 'zstd-napi'], app);
  }
  await ok('npm', ['rebuild', 'samsa'], app);
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds dist/ (JavaScript and .d.ts), the bin and the native source; no TypeScript sources or tests', async () => {
  const files = (await ok('tar', ['-tzf', tarball], tmp))
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  for (const f of [
    'package.json',
    'bin/samsa.mjs',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/server/index.js',
    'native/sendfile.c',
    'scripts/build-native.mjs',
  ]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  assert.deepEqual(
    files.filter(
      (f) =>
        f.startsWith('src/') ||
        f.startsWith('test/') ||
        f.startsWith('bench/') ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')),
    ),
    [],
  );
});

test('installed: runtime dependencies only, and the postinstall built the sendfile addon', () => {
  for (const dev of ['tsx', 'typescript', 'kafkajs', 'fast-check'])
    assert.ok(!fs.existsSync(path.join(app, 'node_modules', dev)), `${dev} was installed`);
  assert.ok(!fs.existsSync(path.join(installed, 'src')));
  // the repo's own build says whether this machine can compile it
  if (fs.existsSync(path.join(REPO_ROOT, 'native', 'build', 'samsa_native.node'))) {
    assert.ok(
      fs.existsSync(path.join(installed, 'native', 'build', 'samsa_native.node')),
      'native/build/samsa_native.node not built',
    );
  }
});

test("import { startBroker } from 'samsa' in plain Node: kafkajs produces to the broker and consumes the records back", async () => {
  const script = `
import { startBroker } from 'samsa';
import { createRequire } from 'node:module';
const { Kafka, logLevel } = createRequire(process.env.KAFKAJS_FROM)('kafkajs');
const broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } });
const kafka = new Kafka({ clientId: 'pkg-test', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING });
const producer = kafka.producer();
await producer.connect();
await producer.send({ topic: 'pkg', messages: [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }, { key: 'c', value: 'three' }] });
await producer.disconnect();
const consumer = kafka.consumer({ groupId: 'pkg-group' });
await consumer.connect();
await consumer.subscribe({ topic: 'pkg', fromBeginning: true });
const got = [];
await new Promise((resolve) => consumer.run({ eachMessage: async ({ message }) => { got.push(message.key + '=' + message.value); if (got.length === 3) resolve(); } }));
await consumer.disconnect();
await broker.close();
console.log(JSON.stringify({ resolved: import.meta.resolve('samsa'), got, dataDirGone: !(await import('node:fs')).existsSync(broker.logDirs[0]) }));
`;
  fs.writeFileSync(path.join(app, 'embed.mjs'), script);
  const out = await ok(
    process.execPath,
    ['embed.mjs'],
    app,
    cleanEnv({ KAFKAJS_FROM: path.join(REPO_ROOT, 'package.json') }),
  );
  const r = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(r.resolved, `file://${installed}/dist/index.js`);
  assert.deepEqual(r.got, ['a=one', 'b=two', 'c=three']);
  assert.equal(r.dataDirGone, true);
});

test("TypeScript resolves 'samsa' to the shipped declarations", async () => {
  fs.writeFileSync(
    path.join(app, 'types.ts'),
    `import { startBroker, type EmbeddedBroker } from 'samsa';
const b: EmbeddedBroker = await startBroker({ overrides: { 'num.partitions': '3' }, logLevel: 'warn' });
const servers: string = b.bootstrapServers;
// @ts-expect-error: the declarations are typed (an untyped 'any' would make this line an error of its own)
const wrong: number = b.bootstrapServers;
await b.close();
export { servers, wrong };
`,
  );
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [path.join(REPO_ROOT, 'node_modules', '@types')],
    },
    files: ['types.ts'],
  };
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await ok(process.execPath, [tsc, '-p', app, '--traceResolution'], app).then((out) => {
    assert.match(
      out,
      new RegExp(
        `Module name 'samsa' was successfully resolved to '${installed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dist/index\\.d\\.ts'`,
      ),
    );
  });
});

test('npx samsa --help; the installed samsa start listens (with its V8 option), serves samsa bench, and exits 0 on SIGTERM', async () => {
  const help = await ok('npx', ['samsa', '--help'], app);
  assert.match(help, /Usage: samsa/);

  const dir = path.join(tmp, 'data');
  const port = await new Promise<number>((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  // executed as a program, so its #! line (and the V8 option on it) applies
  const proc = spawn(
    path.join(app, 'node_modules', '.bin', 'samsa'),
    ['start', '--override', `log.dirs=${dir}`, '--override', `listeners=PLAINTEXT://127.0.0.1:${port}`],
    {
      cwd: app,
      env: cleanEnv({ SAMSA_LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + 30_000;
  const connects = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  try {
    for (;;) {
      assert.equal(code, undefined, `samsa start exited ${code} before it listened:\n${log}`);
      if (await connects()) break;
      assert.ok(Date.now() < deadline, `samsa start did not listen within 30 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // samsa bench's latency phase runs its producer and consumer as child processes of the compiled code
    const bench = await run(
      path.join(app, 'node_modules', '.bin', 'samsa'),
      [
        'bench',
        '-b',
        `127.0.0.1:${port}`,
        '--messages',
        '1000',
        '--size',
        '100',
        '--warmup',
        '0',
        '--latency-seconds',
        '1',
      ],
      app,
    );
    assert.equal(bench.code, 0, bench.err);
    assert.match(bench.out, /end-to-end latency at \d+ msgs\/s \(producer and consumer in 2 processes/);
  } finally {
    proc.kill('SIGTERM');
  }
  assert.equal(await exited, 0, log);
  assert.ok(fs.readdirSync(dir).length > 0, 'nothing written to log.dirs');
  assert.doesNotMatch(log, /node runs without/);
});
