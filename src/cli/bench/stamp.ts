/**
 * The send-time stamp every benchmark value starts with: 16 ASCII digits of
 * microseconds on CLOCK_MONOTONIC (`process.hrtime`), a clock every process
 * on the machine shares, so a producer and a consumer in different processes
 * can subtract each other's readings. Written and parsed without allocating.
 */

/** Bytes of the stamp at the start of each value. */
export const STAMP_BYTES = 16;

/** Now, in microseconds on CLOCK_MONOTONIC. */
export const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/** Resolves at `us` on CLOCK_MONOTONIC: timers until the last millisecond, then a spin. */
export async function sleepUntilUs(us: number): Promise<void> {
  for (let left = us - monoUs(); left > 1500; left = us - monoUs())
    await new Promise<void>((r) => setTimeout(r, Math.min(50, left / 1000 - 1)));
  while (monoUs() < us) {
    /* spin the last ms */
  }
}

/** Writes `us` (whole, non-negative) as 16 zero-padded decimal digits at `at`. */
export function writeStamp(buf: Buffer, at: number, us: number): void {
  let v = Math.floor(us);
  for (let i = at + STAMP_BYTES - 1; i >= at; i--) {
    const q = Math.floor(v / 10);
    buf[i] = 48 + (v - q * 10);
    v = q;
  }
}

/** The stamp at `at`, or NaN when those bytes are not 16 digits (a value from someone else). */
export function readStamp(buf: Buffer, at: number): number {
  const end = at + STAMP_BYTES;
  let v = 0;
  while (at < end) {
    const digit = buf[at++] - 48;
    if (digit >>> 0 > 9) return NaN; // below '0' wraps to a large unsigned value
    v = v * 10 + digit;
  }
  return v;
}
