#!/usr/bin/env -S node --initial-old-space-size=64
// The `samsa` executable (its V8 option is BROKER_NODE_FLAGS in src/cli/start.ts): runs the compiled CLI in dist/.
// In a source checkout (src/ present) dist/ is used only while it is newer than src/ (scripts/dist-state.mjs);
// otherwise the TypeScript sources run through tsx, so an edit is never hidden behind a stale build.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);
let entry = compiled;
if (fs.existsSync(new URL('src/cli/main.ts', root))) {
  const { distState } = await import('../scripts/dist-state.mjs');
  const state = distState(fileURLToPath(root));
  if (!state.fresh) {
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch {
      // no tsx (devDependencies not installed): only dist/ can run
    }
    if (register) {
      register();
      entry = new URL('src/cli/main.ts', root);
    } else if (fs.existsSync(compiled)) {
      process.stderr.write(`samsa: ${state.why} and tsx is not installed: running the stale dist/ (npm run build)\n`);
    } else {
      process.stderr.write(`samsa: ${state.why} and tsx is not installed: run npm install\n`);
      process.exit(1);
    }
  }
}
const { runCli } = await import(entry.href);
const code = await runCli(process.argv.slice(2));
// Let stdout drain before leaving; exit explicitly so idle handles do not keep the process alive.
process.stdout.write('', () => process.exit(code));
