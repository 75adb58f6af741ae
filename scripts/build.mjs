#!/usr/bin/env node
// Compiles src/ to dist/ (JavaScript + .d.ts, tsconfig.build.json), the code
// the package runs and exports. Run by `npm install`/`npm ci` in a checkout
// and by `npm pack`/`npm publish` (the `prepare` script), and by
// scripts/test.sh. Does nothing while dist/ is fresh (scripts/dist-state.mjs)
// unless given --force. Builds into dist.tmp/ and swaps it in only after tsc
// succeeded, so a failed build leaves no dist/ that looks fresh.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, distState } from './dist-state.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv[2] !== '--force' && distState(root).fresh) process.exit(0);

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  console.error(
    'samsa: cannot build dist/: the devDependency typescript is not installed (run npm install without --omit=dev)',
  );
  process.exit(1);
}
const started = Date.now();
const tmp = path.join(root, 'dist.tmp');
const dist = path.join(root, 'dist');
fs.rmSync(tmp, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', tmp], {
    stdio: 'inherit',
    cwd: root,
  });
} catch {
  fs.rmSync(tmp, { recursive: true, force: true });
  console.error('samsa: tsc -p tsconfig.build.json failed; dist/ not built');
  process.exit(1);
}
fs.writeFileSync(path.join(tmp, STAMP), String(started));
fs.rmSync(dist, { recursive: true, force: true });
fs.renameSync(tmp, dist);
