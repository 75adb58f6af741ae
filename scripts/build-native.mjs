#!/usr/bin/env node
// Builds native/sendfile.c into native/build/samsa_native.node with the C
// compiler and Node's own headers (no node-gyp, nothing downloaded). Run by
// `npm install` (postinstall) and by scripts/test.sh. A failed build is not an
// error: the broker then serves fetches with pread + write, and says so at
// start-up (see src/server/sendfile.ts).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'native', 'sendfile.c');
const outDir = path.join(root, 'native', 'build');
const out = path.join(outDir, 'samsa_native.node');
const include = path.join(path.dirname(process.execPath), '..', 'include', 'node');

function skip(why) {
  console.log(`samsa: native sendfile not built (${why}); fetches will use pread + write`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`sendfile(2) support is Linux-only, this is ${process.platform}`);
if (!fs.existsSync(path.join(include, 'node_api.h'))) skip(`no Node headers at ${include}`);
try {
  const fresh = fs.statSync(out).mtimeMs >= fs.statSync(src).mtimeMs;
  if (fresh && process.argv[2] !== '--force') process.exit(0);
} catch {
  // not built yet
}
fs.mkdirSync(outDir, { recursive: true });
const cc = process.env.CC || 'cc';
try {
  execFileSync(cc, ['-O2', '-Wall', '-shared', '-fPIC', `-I${include}`, '-o', out + '.tmp', src], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  fs.renameSync(out + '.tmp', out);
} catch (err) {
  skip(`${cc} failed: ${err.message.split('\n')[0]}`);
}
