/**
 * The workload matrix: 1 and 16 partitions x 100 B / 1 KiB / 16 KiB x
 * acks=1 / acks=all. Message counts aim at a few seconds per max-throughput
 * run on a 2-core machine; --quick keeps two workloads at a tenth the size.
 */
import type { Workload } from '../harness/types.ts';
import { sizeName } from '../harness/stats.ts';

const SIZES = [100, 1024, 16384];
/** Messages per max-throughput run, by size (about 50-200 MB each). */
const MESSAGES: Record<number, number> = { 100: 500_000, 1024: 150_000, 16384: 12_000 };

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
