/**
 * bin/samsa.mjs in a source checkout: it runs dist/ only while dist/ is newer
 * than src/ (scripts/dist-state.mjs), else the sources through tsx; without
 * tsx it runs a stale dist/ with a warning, and with neither it says what to
 * do. Exercised on a copy of bin/ and scripts/dist-state.mjs in a temporary
 * package whose dist/ and src/ CLIs only say which of them ran.
 */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let root = '';

const cli = (which: string) =>
  `export async function runCli(argv) { process.stdout.write('${which} ' + argv.join(' ') + '\\n'); return 0; }\n`;

/** Sets the modification time of `p` and, for a directory, of everything under it. */
function setMtime(p: string, ms: number): void {
  if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) setMtime(path.join(p, e), ms);
  fs.utimesSync(p, ms / 1000, ms / 1000);
}

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

function runBin(...args: string[]) {
  return spawnSync(process.execPath, [path.join(root, 'bin', 'samsa.mjs'), ...args], { encoding: 'utf8' });
}

const NOW = Date.now();
const BUILT = NOW - 60_000;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-bin-'));
  fs.mkdirSync(path.join(root, 'bin'));
  fs.copyFileSync(path.join(REPO_ROOT, 'bin', 'samsa.mjs'), path.join(root, 'bin', 'samsa.mjs'));
  write('scripts/dist-state.mjs', fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'dist-state.mjs'), 'utf8'));
  write('package.json', JSON.stringify({ name: 'samsa', type: 'module' }));
  write('src/cli/main.ts', cli('src'));
  write('src/other/x.ts', 'export const x: number = 1;\n');
  write('dist/cli/main.js', cli('dist'));
  write('dist/.build-stamp', String(BUILT));
  setMtime(path.join(root, 'src'), BUILT - 60_000);
  // tsx resolves from the repo's node_modules, as in a checkout
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
});

afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

test('dist/ newer than every file and directory under src/: runs dist/', () => {
  const r = runBin('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'dist --help\n');
  assert.equal(r.stderr, '');
});

test('a source file modified after the build: runs src/ through tsx', () => {
  fs.utimesSync(path.join(root, 'src', 'other', 'x.ts'), NOW / 1000, NOW / 1000);
  const r = runBin('start');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'src start\n');
});

test('a source file deleted after the build (its directory changed): runs src/', () => {
  fs.rmSync(path.join(root, 'src', 'other', 'x.ts'));
  assert.equal(runBin().stdout, 'src \n');
});

test('a build config modified after the build: runs src/', () => {
  write('tsconfig.build.json', '{}');
  assert.equal(runBin().stdout, 'src \n');
});

test('no stamp (a build that did not finish): runs src/', () => {
  fs.rmSync(path.join(root, 'dist', '.build-stamp'));
  assert.equal(runBin().stdout, 'src \n');
});

test('stale dist/ and no tsx: runs dist/ and says it is stale', () => {
  fs.unlinkSync(path.join(root, 'node_modules'));
  fs.utimesSync(path.join(root, 'src', 'cli', 'main.ts'), NOW / 1000, NOW / 1000);
  const r = runBin('--version');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'dist --version\n');
  assert.equal(
    r.stderr,
    'samsa: src/ changed after dist/ was built and tsx is not installed: running the stale dist/ (npm run build)\n',
  );
});

test('no dist/ and no tsx: exit 1 with one line', () => {
  fs.unlinkSync(path.join(root, 'node_modules'));
  fs.rmSync(path.join(root, 'dist'), { recursive: true });
  const r = runBin();
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'samsa: dist/ is not built and tsx is not installed: run npm install\n');
});

test('an installed package (no src/): runs dist/ without looking for tsx or the build state', () => {
  fs.rmSync(path.join(root, 'src'), { recursive: true });
  fs.rmSync(path.join(root, 'scripts'), { recursive: true });
  fs.unlinkSync(path.join(root, 'node_modules'));
  const r = runBin('x');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'dist x\n');
});
