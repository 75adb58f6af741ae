/**
 * The workload matrix: 1 and 16 partitions x 100 B / 1 KiB / 16 KiB x
 * acks=1 / acks=all. Message counts aim at a few seconds per max-throughput
 * run on a 2-core machine; --quick keeps two workloads at a tenth the size.
 */
import type { Workload } from '../harness/types.ts';
import { sizeName } from '../harness/stats.ts';

const SIZES = [100, 1024, 16384];
/** Messages per max-throughput run, by size: 100-650 MB, so each phase lasts seconds, not the
 * fraction of a second in which start-up and ramp-up would dominate (1 KiB went 150k -> 600k
 * once the C producer made Samsa's produce phase 0.3 s long). */
const MESSAGES: Record<number, number> = { 100: 1_000_000, 1024: 600_000, 16384: 40_000 };

export function workloads(quick = false): Workload[] {
  const all: Workload[] = [];
  for (const partitions of [1, 16])
    for (const size of SIZES)
      for (const acks of ['1', 'all'] as const)
        all.push({
          name: `p${partitions}-${sizeName(size)}-acks=${acks}`,
          partitions,
          size,
          acks,
          messages: MESSAGES[size],
          latencySeconds: 2,
        });
  if (!quick) return all;
  return all
    .filter((w) => w.name === 'p1-1KiB-acks=1' || w.name === 'p16-1KiB-acks=all')
    .map((w) => ({ ...w, messages: Math.floor(w.messages / 5), latencySeconds: 1 }));
}
