/**
 * scripts/build.mjs (the `prepare` script) on a small package with this
 * repo's tsconfig.json and tsconfig.build.json: .ts imports are rewritten to
 * .js and declarations emitted; a failed tsc leaves no dist/ that looks fresh
 * (and keeps the last good one); a fresh dist/ is not rebuilt unless --force.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-build-'));

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

const build = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs'), ...args], { cwd: root, encoding: 'utf8' });
const state = async () =>
  (await import(path.join(root, 'scripts', 'dist-state.mjs'))).distState(root) as { fresh: boolean; why: string };

before(() => {
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs', 'scripts/dist-state.mjs'])
    write(f, fs.readFileSync(path.join(REPO_ROOT, f), 'utf8'));
  write('package.json', JSON.stringify({ name: 'samsa', type: 'module' }));
  write('src/index.ts', "export { twice } from './lib/twice.ts';\n");
  write('src/lib/twice.ts', 'export function twice(n: number): number {\n  return 2 * n;\n}\n');
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
});

after(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

test('builds dist/: runnable JavaScript with .js imports, declarations, and a stamp that makes it fresh', async () => {
  const r = build();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(fs.readFileSync(path.join(root, 'dist', 'index.js'), 'utf8'), /from "\.\/lib\/twice\.js"/);
  assert.match(
    fs.readFileSync(path.join(root, 'dist', 'lib', 'twice.d.ts'), 'utf8'),
    /export declare function twice\(n: number\): number;/,
  );
  const { twice } = await import(path.join(root, 'dist', 'index.js'));
  assert.equal(twice(21), 42);
  assert.deepEqual(await state(), { fresh: true, why: '' });
  assert.ok(!fs.existsSync(path.join(root, 'dist.tmp')));
});

test('fresh: a second run builds nothing; --force rebuilds', () => {
  const stamp = path.join(root, 'dist', '.build-stamp');
  const before = fs.readFileSync(stamp, 'utf8');
  assert.equal(build().status, 0);
  assert.equal(fs.readFileSync(stamp, 'utf8'), before);
  const r = build('--force');
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(Number(fs.readFileSync(stamp, 'utf8')) >= Number(before));
});

test('a type error: exit 1, the previous dist/ kept but stale, no dist.tmp/ left', async () => {
  write('src/lib/twice.ts', 'export function twice(n: number): number {\n  return "two";\n}\n');
  const r = build();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /tsc -p tsconfig\.build\.json failed; dist\/ not built/);
  assert.ok(fs.existsSync(path.join(root, 'dist', 'index.js')));
  assert.deepEqual(await state(), { fresh: false, why: 'src/ changed after dist/ was built' });
  assert.ok(!fs.existsSync(path.join(root, 'dist.tmp')));
});
