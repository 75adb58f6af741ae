/** Console tables: one per workload, Samsa beside each peer, ratios against peers and the ceiling. */
import { GB, MB, fmt, ratio } from './stats.ts';
import type { Ceilings, StartupResult, TargetResult, Workload } from './types.ts';

export interface WorkloadReport {
  workload: Workload;
  results: TargetResult[];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  const sep = '|' + widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|') + '|';
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

export function produceCeiling(c: Ceilings): number | undefined {
  const xs = [c.loopbackMBps, c.diskWriteMBps].filter((x): x is number => x !== undefined);
  return xs.length ? Math.min(...xs) : undefined;
}

const mbps = (p?: { bytes: number; seconds: number }) => (p ? p.bytes / MB / p.seconds : undefined);
const mps = (p?: { msgs: number; seconds: number }) => (p ? p.msgs / p.seconds : undefined);
function cpuPerGB(r: TargetResult, side: 'serverCpu' | 'clientCpu') {
  if (!r.produce || !r.consume) return undefined;
  return (r.produce[side] + r.consume[side]) / ((r.produce.bytes + r.consume.bytes) / GB);
}
const ms = (us?: number) => (us === undefined ? undefined : us / 1000);

export function workloadTable(rep: WorkloadReport, ceilings: Ceilings): string {
  const rs = rep.results;
  const samsa = rs.find((r) => r.target === 'samsa');
  const peers = rs.filter((r) => r.target !== 'samsa');
  const head = [
    'metric',
    ...rs.map((r) => r.target),
    ...(samsa ? peers.map((p) => `samsa/${p.target}`) : []),
    ...(samsa ? ['samsa/ceiling'] : []),
  ];
  const pc = produceCeiling(ceilings);
  type Row = [string, (r: TargetResult) => number | undefined, number | undefined];
  type LatencyKey = 'latency' | 'latencyLight' | 'latencyTailed' | 'latencyCommon';
  const lat = (k: LatencyKey, f: 'p50' | 'p99' | 'p999') => (r: TargetResult) => ms(r[k]?.[f]);
  /** CPU over the latency run as % of one core (the machine has os.cpus().length of them). */
  const cpuPct = (k: LatencyKey, side: 'serverCpu' | 'clientCpu') => (r: TargetResult) => {
    const l = r[k];
    return l && l.cpuSeconds > 0 ? (100 * l[side]) / l.cpuSeconds : undefined;
  };
  /** One latency run's rows: its rate, percentiles and CPU. */
  const latencyRows = (label: string, k: LatencyKey): Row[] => [
    [`latency rate msgs/s (${label})`, (r) => r[k]?.targetRate, undefined],
    ['  e2e p50 ms', lat(k, 'p50'), undefined],
    ['  e2e p99 ms', lat(k, 'p99'), undefined],
    ['  e2e p99.9 ms', lat(k, 'p999'), undefined],
    ['  server CPU % of a core', cpuPct(k, 'serverCpu'), undefined],
    ['  client CPU % of a core', cpuPct(k, 'clientCpu'), undefined],
  ];
  const defs: Row[] = [
    ['produce MB/s', (r) => mbps(r.produce), pc],
    ['produce msgs/s', (r) => mps(r.produce), undefined],
    ['consume MB/s', (r) => mbps(r.consume), ceilings.loopbackMBps],
    ['produce MB/s, tailed', (r) => mbps(r.tail?.produce), pc],
    ['  tailing consume MB/s', (r) => mbps(r.tail?.consume), undefined],
    ['server CPU s/GB', (r) => cpuPerGB(r, 'serverCpu'), undefined],
    ['client CPU s/GB', (r) => cpuPerGB(r, 'clientCpu'), undefined],
    ...latencyRows('50%', 'latency'),
    ...latencyRows('10%', 'latencyLight'),
    ...latencyRows('50% of tailed', 'latencyTailed'),
    ...latencyRows("common: 50% of kafka's max", 'latencyCommon'),
    ['RSS at rest MB', (r) => (r.rssRest ? r.rssRest / MB : undefined), undefined],
    [
      'RSS peak MB, max throughput',
      (r) => (r.rssPeakMaxThroughput ? r.rssPeakMaxThroughput / MB : undefined),
      undefined,
    ],
    ['RSS peak MB, whole run', (r) => (r.rssPeak ? r.rssPeak / MB : undefined), undefined],
    ['start + create topics s', (r) => r.startSeconds, undefined],
    ['process start to first produce s', (r) => r.firstProduceSeconds, undefined],
  ];
  const rows: string[][] = [head];
  for (const [label, f, ceil] of defs) {
    const row = [label, ...rs.map((r) => fmt(f(r)))];
    if (samsa) {
      for (const p of peers) row.push(ratio(f(samsa), f(p)));
      row.push(ceil !== undefined ? ratio(f(samsa), ceil) : '');
    }
    rows.push(row);
  }
  const notes = rs.map((r) => `  ${r.target}: ${r.error ? 'FAILED: ' + r.error : (r.mode ?? '')}`);
  for (const r of rs) {
    for (const [k, l] of [
      ['50%', r.latency],
      ['10%', r.latencyLight],
      ['50% of tailed', r.latencyTailed],
      ['common rate', r.latencyCommon === r.latency ? undefined : r.latencyCommon],
    ] as const) {
      if (l?.clients)
        notes.push(
          `  ${r.target} latency ${k}: ${l.clients.map((c) => `${c.name} ${Math.round((100 * c.cpu) / c.seconds)}%`).join(', ')} of a core; ${l.driver ?? ''}`,
        );
    }
  }
  return `### ${rep.workload.name} (${rep.workload.messages} msgs)\n\n${table(rows)}\n${notes.join('\n')}\n`;
}

export function ceilingsTable(c: Ceilings): string {
  const rows = [
    ['ceiling', 'value'],
    ['loopback TCP (iperf3) MB/s', fmt(c.loopbackMBps)],
    ['disk seq write O_DIRECT 1 MiB (fio) MB/s', fmt(c.diskWriteMBps)],
    ['disk seq write + fdatasync 64 KiB (fio) MB/s', fmt(c.diskFsyncMBps)],
    ['fdatasync per s', fmt(c.diskFsyncIops)],
    ['fdatasync p99 ms', fmt(c.diskFsyncP99Ms)],
  ];
  return table(rows) + (c.notes.length ? '\n' + c.notes.map((n) => `  note: ${n}`).join('\n') : '') + '\n';
}

export function startupTable(s: StartupResult): string {
  if (s.error && s.afterCleanPortSeconds === undefined)
    return `Samsa startup with ${s.partitions} partitions: FAILED: ${s.error}\n`;
  const rows = [
    [`samsa, ${s.partitions} partitions`, 'seconds'],
    ['create all partitions', fmt(s.createSeconds)],
    ['clean shutdown (SIGTERM)', fmt(s.cleanShutdownSeconds)],
    ['restart after clean shutdown: port open', fmt(s.afterCleanPortSeconds)],
    ['restart after clean shutdown: all partitions led', fmt(s.afterCleanReadySeconds)],
    ['restart after kill -9: port open', fmt(s.afterKillPortSeconds)],
    ['restart after kill -9: all partitions led', fmt(s.afterKillReadySeconds)],
    [`RSS with ${s.partitions} partitions, at rest (MB)`, fmt(s.rssRest ? s.rssRest / MB : undefined)],
  ];
  return table(rows) + (s.error ? `\n  error: ${s.error}` : '') + '\n';
}
