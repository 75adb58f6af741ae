/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof): top functions by self time,
 * and by total (inclusive) time for the broker's own sources.
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile [N] [--filter src/]
 * Broker profiles under load: SAMSA_BENCH_CPU_PROF=DIR npm run bench -- --targets samsa --only p1-1KiB-acks=1
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args[0];
if (!file) {
  console.error('usage: profile-summary.ts FILE.cpuprofile [N] [--filter SUBSTR]');
  process.exit(2);
}
const top = Number(args[1]) > 0 ? Number(args[1]) : 25;
const fi = args.indexOf('--filter');
const filter = fi >= 0 ? args[fi + 1] : 'src/';
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
// self time per node from samples x time deltas (µs)
const selfUs = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++)
  selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i] ?? 0));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const label = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*?\/(src|node_modules|bench)\//, '$1/');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};
const self = new Map<string, number>();
const incl = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  // inclusive: every distinct frame on the stack once
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + us);
  }
}
const pct = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7) + ' ms';
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${prof.samples.length} samples`);
const idle = [...self].filter(([l]) => /^\((idle|program|garbage collector)\)/.test(l));
for (const [l, us] of idle) console.log(`  ${pct(us)} ${ms(us)}  ${l}`);
console.log(`\ntop ${top} by self time:`);
for (const [l, us] of [...self]
  .filter(([l]) => !/^\(idle\)/.test(l))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`  ${pct(us)} ${ms(us)}  ${l}`);
console.log(`\ntop ${top} by total time, frames matching "${filter}":`);
for (const [l, us] of [...incl]
  .filter(([l]) => l.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, top))
  console.log(`  ${pct(us)} ${ms(us)}  ${l}`);
