#!/usr/bin/env -S node --initial-old-space-size=64
// The `samsa` executable (its V8 option is BROKER_NODE_FLAGS in src/cli/start.ts): registers tsx so the TypeScript sources run as they are, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/main.ts');
const code = await runCli(process.argv.slice(2));
// Let stdout drain before leaving; exit explicitly so idle handles do not keep the process alive.
process.stdout.write('', () => process.exit(code));
