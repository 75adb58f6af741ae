/**
 * Fixed-rate sending with send-time stamps embedded in each message, and the
 * receive side that turns stamps into latencies. The stamp is the *intended*
 * send time (start + i/rate), so a stalled sender shows up as latency rather
 * than as fewer samples (no coordinated omission).
 */
import { sleep } from './proc.ts';
import { monoUs as nowUs } from '../../src/cli/bench/stamp.ts';

// The stamp and its clock are the ones `samsa bench` uses (CLOCK_MONOTONIC µs, 16 digits).
export { readStamp, writeStamp } from '../../src/cli/bench/stamp.ts';

export class LatencyRecorder {
  private lat: Float64Array;
  count = 0;
  received = 0;
  /** Stamps before this are warm-up and not recorded. */
  recordFrom = Infinity;
  constructor(capacity: number) {
    this.lat = new Float64Array(Math.max(1024, capacity));
  }
  onStamp(stampUs: number) {
    if (!Number.isFinite(stampUs)) return;
    this.received++;
    if (stampUs < this.recordFrom) return;
    const l = nowUs() - stampUs;
    if (this.count === this.lat.length) {
      const n = new Float64Array(this.lat.length * 2);
      n.set(this.lat);
      this.lat = n;
    }
    this.lat[this.count++] = l;
  }
  values(): Float64Array {
    return this.lat.subarray(0, this.count);
  }
}

/**
 * Calls send(stampUs) `rate` times a second for warmup + seconds, in 1 ms ticks,
 * then flush(). Returns how many were sent in the recorded window.
 */
export async function pace(
  rate: number,
  warmupSec: number,
  seconds: number,
  rec: LatencyRecorder,
  send: (stampUs: number) => void,
  flush: () => Promise<void> | void,
): Promise<number> {
  const t0 = nowUs();
  const interval = 1e6 / rate;
  rec.recordFrom = t0 + warmupSec * 1e6;
  const total = Math.floor(rate * (warmupSec + seconds));
  let i = 0;
  let recorded = 0;
  while (i < total) {
    const due = Math.min(total, Math.floor((nowUs() - t0) / interval) + 1);
    while (i < due) {
      const st = t0 + i * interval;
      send(st);
      if (st >= rec.recordFrom) recorded++;
      i++;
    }
    await flush();
    await sleep(1);
  }
  return recorded;
}

/** Waits until `received()` reaches `target` or stops growing for `idleMs`. */
export async function drain(received: () => number, target: number, idleMs = 3000, maxMs = 20000): Promise<void> {
  const t0 = Date.now();
  let last = received();
  let lastChange = Date.now();
  while (received() < target && Date.now() - t0 < maxMs) {
    await sleep(20);
    const r = received();
    if (r !== last) {
      last = r;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > idleMs) break;
  }
}
