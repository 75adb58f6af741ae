/**
 * `npm run sim:repl -- [options]`: runs replication simulator seeds
 * (test/sim-repl/simulator.ts).
 *
 *   --seeds N        run N seeds (default 200), from --start (default 1)
 *   --seed S         run one seed
 *   --verbose        print that seed's trace
 *   --bug NAME       plant a bug (hwFromAnyReplica, followerReportsUnfsynced,
 *                    electOutsideIsr, noTruncateOnDivergence, noMaximalIsr)
 *   --fault-ms N     simulated time with faults (default 3000)
 *   --metadata-delay N  the most a broker's image lags the controller's (ms)
 *
 * A failing seed prints one line that replays it deterministically.
 */
import { BUG_NAMES, type ReplicationBugs, runReplSimulation } from './simulator.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));

const bug = arg('bug');
if (bug !== undefined && !BUG_NAMES.includes(bug as keyof ReplicationBugs)) {
  console.error(`unknown bug ${bug}: one of ${BUG_NAMES.join(', ')}`);
  process.exit(2);
}
const bugs: ReplicationBugs | undefined = bug ? { [bug]: true } : undefined;
const faultMs = num('fault-ms');
const metadataDelayMs = num('metadata-delay');
const extra =
  (bug ? ` --bug ${bug}` : '') +
  (faultMs !== undefined ? ` --fault-ms ${faultMs}` : '') +
  (metadataDelayMs !== undefined ? ` --metadata-delay ${metadataDelayMs}` : '');

const one = num('seed');
if (one !== undefined) {
  const verbose = process.argv.includes('--verbose');
  const r = await runReplSimulation({
    seed: one,
    bugs,
    faultMs,
    metadataDelayMs,
    trace: verbose ? (l) => console.log(l) : undefined,
  });
  console.log(
    `seed ${one}: ${r.ok ? 'ok' : `FAILED at t=${r.failedAt}: ${r.failure}`}\n  ${r.scenario}\n` +
      `  ${r.steps} steps, ${r.simulatedMs} ms simulated, ${r.produced} produces, ${r.acked} acknowledged, ` +
      `committed ${r.committed}, ${r.leaderEpochs} leader epochs, ${r.crashes} crashes, ` +
      `${r.truncations} truncations, ${r.isrChanges} ISR changes`,
  );
  process.exit(r.ok ? 0 : 1);
}

const start = num('start') ?? 1;
const seeds = num('seeds') ?? 200;
const began = Date.now();
let failed = 0;
let acked = 0;
let crashes = 0;
let truncations = 0;
for (let seed = start; seed < start + seeds; seed++) {
  const r = await runReplSimulation({ seed, bugs, faultMs, metadataDelayMs });
  acked += r.acked;
  crashes += r.crashes;
  truncations += r.truncations;
  if (!r.ok) {
    failed++;
    console.log(`seed ${seed} FAILED at t=${r.failedAt}: ${r.failure}`);
    console.log(`  replay: npm run sim:repl -- --seed ${seed}${extra} --verbose`);
  }
}
const secs = (Date.now() - began) / 1000;
console.log(
  `${seeds} seeds (${start}..${start + seeds - 1}), ${failed} failed, ${secs.toFixed(1)} s, ` +
    `${(seeds / secs).toFixed(1)} seeds/s; ${acked} acknowledged produces, ${crashes} crashes, ${truncations} truncations`,
);
process.exit(failed === 0 ? 0 : 1);
