/**
 * `npm run nemesis -- --minutes M [--seed S] [--partitions P] [--rate R]`: one
 * fault campaign (test/fault/nemesis.ts) of M minutes of faults; without
 * --seed a random seed, printed first. Exits 1 when the checker finds a
 * violation (the summary then ends with the command that re-runs the seed).
 * Needs root, `ip` and `iptables`.
 */
import { parseArgs } from 'node:util';
import { netnsUnsupported } from './netns.ts';
import { runCampaign } from './nemesis.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    seed: { type: 'string' },
    partitions: { type: 'string', default: '4' },
    rate: { type: 'string', default: '100' },
  },
});
const minutes = Number(values.minutes);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (!(minutes > 0) || !Number.isInteger(seed)) {
  console.error('usage: npm run nemesis -- --minutes M [--seed S] [--partitions P] [--rate R]');
  process.exit(2);
}
const why = netnsUnsupported();
if (why) {
  console.error(`nemesis: ${why}`);
  process.exit(2);
}
console.log(`# seed ${seed} (re-run: npm run nemesis -- --seed ${seed} --minutes ${minutes})`);
const result = await runCampaign({
  seed,
  durationMs: minutes * 60_000,
  partitions: Number(values.partitions),
  rate: Number(values.rate),
});
process.exit(result.verdict.ok ? 0 : 1);
