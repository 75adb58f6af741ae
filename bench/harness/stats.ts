/** Percentiles and number formatting. */

export function percentiles(values: Float64Array, ps: number[]): number[] {
  if (values.length === 0) return ps.map(() => NaN);
  const sorted = Float64Array.from(values).sort();
  return ps.map((p) => {
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
  });
}

export function fmt(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e6) return (x / 1e6).toFixed(2) + 'M';
  if (a >= 1e4) return (x / 1e3).toFixed(1) + 'k';
  if (a >= 100) return x.toFixed(0);
  return x.toPrecision(digits);
}

export function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  return (a / b).toFixed(2) + 'x';
}

export const MB = 1e6;
export const GB = 1e9;

export function sizeName(size: number): string {
  if (size % 1024 === 0) return `${size / 1024}KiB`;
  return `${size}B`;
}

/**
 * Bytes per second of `fn` over `bytes`: the best of `rounds` rounds, each
 * repeating `fn` for `seconds / rounds` after one warm-up call (shared cores
 * make single runs noisy).
 */
export function bestRate(bytes: number, fn: () => void, seconds: number, rounds = 5): number {
  fn();
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    let n = 0;
    const start = process.hrtime.bigint();
    let elapsed = 0;
    do {
      fn();
      n++;
      elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    } while (elapsed < seconds / rounds);
    best = Math.max(best, (bytes * n) / elapsed);
  }
  return best;
}
