/**
 * `npm run sim -- [options]`: runs simulator seeds (test/sim/simulator.ts).
 *
 *   --seeds N        run N seeds (default 1000), from --start (default 1)
 *   --minutes M      run seeds until M minutes have passed (instead of --seeds)
 *   --seed S         run one seed
 *   --verbose        print that seed's trace (every message and state change)
 *   --bug NAME       plant a bug in every core (RaftUnsafe: grantVoteWithoutLogCheck, ...)
 *   --voters N --observers N --fault-ms N --fault-every N --fetch-max-bytes N
 *                    override what the seed draws
 *
 * A failing seed prints one line that replays it deterministically.
 */
import type { RaftUnsafe } from '../../src/raft/types.ts';
import { runSimulation, type SimOptions } from './simulator.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);
const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));

const bug = arg('bug');
const bugs: RaftUnsafe | undefined = bug ? { [bug]: true } : undefined;
const overrides: Partial<SimOptions> = {};
if (num('voters') !== undefined) overrides.voters = num('voters');
if (num('observers') !== undefined) overrides.observers = num('observers');
if (num('fault-ms') !== undefined) overrides.faultMs = num('fault-ms');
if (num('fault-every') !== undefined) overrides.faultEveryMs = num('fault-every');
if (num('fetch-max-bytes') !== undefined) overrides.fetchMaxBytes = num('fetch-max-bytes');
const extra =
  (bug ? ` --bug ${bug}` : '') +
  (overrides.voters !== undefined ? ` --voters ${overrides.voters}` : '') +
  (overrides.observers !== undefined ? ` --observers ${overrides.observers}` : '') +
  (overrides.faultMs !== undefined ? ` --fault-ms ${overrides.faultMs}` : '') +
  (overrides.faultEveryMs !== undefined ? ` --fault-every ${overrides.faultEveryMs}` : '') +
  (overrides.fetchMaxBytes !== undefined ? ` --fetch-max-bytes ${overrides.fetchMaxBytes}` : '');

const one = num('seed');
if (one !== undefined) {
  const verbose = flag('verbose');
  const r = runSimulation({ seed: one, bugs, ...overrides, trace: verbose ? (l) => console.log(l) : undefined });
  console.log(
    `seed ${one}: ${r.ok ? 'ok' : `FAILED at t=${r.failedAt}: ${r.failure}`}\n  ${r.scenario}\n` +
      `  ${r.steps} steps, ${r.simulatedMs} ms simulated, committed ${r.committedOffset}, ` +
      `${r.leaderEpochs} leader epochs, ${r.crashes} crashes, ${r.snapshotsInstalled} snapshots installed, ` +
      `recovered ${r.recoveryMs} ms after healing`,
  );
  process.exit(r.ok ? 0 : 1);
}

const start = num('start') ?? 1;
const minutes = num('minutes');
const seeds = minutes === undefined ? (num('seeds') ?? 1000) : Number.POSITIVE_INFINITY;
const until = minutes === undefined ? Number.POSITIVE_INFINITY : Date.now() + minutes * 60_000;
const began = Date.now();
let lastReport = began;
let ran = 0;
let failed = 0;
let steps = 0;
let recoveryMax = 0;
let recoverySum = 0;
for (let seed = start; seed < start + seeds && Date.now() < until; seed++) {
  const r = runSimulation({ seed, bugs, ...overrides });
  ran++;
  steps += r.steps;
  if (r.ok) {
    recoveryMax = Math.max(recoveryMax, r.recoveryMs);
    recoverySum += r.recoveryMs;
  }
  if (!r.ok) {
    failed++;
    console.log(`seed ${seed} FAILED at t=${r.failedAt}: ${r.failure}`);
    console.log(`  replay: npm run sim -- --seed ${seed}${extra} --verbose`);
  }
  if (Date.now() - lastReport > 5000) {
    lastReport = Date.now();
    const secs = (lastReport - began) / 1000;
    console.log(`... ${ran} seeds, ${failed} failed, ${(ran / secs).toFixed(0)} seeds/s`);
  }
}
const secs = (Date.now() - began) / 1000;
console.log(
  `${ran} seeds (${start}..${start + ran - 1}), ${failed} failed, ${secs.toFixed(1)} s, ` +
    `${(ran / secs).toFixed(0)} seeds/s, ${(steps / ran).toFixed(0)} steps/seed, recovery after healing ` +
    `mean ${(recoverySum / Math.max(1, ran - failed)).toFixed(0)} ms max ${recoveryMax} ms (simulated)`,
);
process.exit(failed === 0 ? 0 : 1);
