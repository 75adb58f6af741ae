/**
 * The simulator's world apart from storage: a seeded PRNG, a simulated clock
 * with its event queue, and a network whose links delay, drop, duplicate and
 * reorder messages and can be cut (both ways or one way) and healed.
 *
 * The network plays the transport the core expects: every request sent gets
 * exactly one answer, its response or a `sendFailed` (connection refused
 * when the peer is down, a timeout when the request or its response was
 * lost), unless the sender crashes first. A request may still be delivered
 * twice (a duplicate on the wire), and with `duplicateResponses` a response
 * too, to prove the core ignores what it did not ask for.
 */

/** sfc32 seeded through splitmix32: small, fast, and good enough for fault schedules. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** An independent generator derived from this one. */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}

/** A min-heap of timed events; equal times run in insertion order. */
export class EventQueue<E> {
  private readonly heap: { at: number; seq: number; event: E }[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, event: E): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  peekTime(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Number.POSITIVE_INFINITY;
  }

  pop(): { at: number; event: E } | null {
    const h = this.heap;
    if (h.length === 0) return null;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return { at: top.at, event: top.event };
  }

  private less(x: { at: number; seq: number }, y: { at: number; seq: number }): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}

export interface NetworkFaults {
  /** Probability that one message is lost. */
  drop: number;
  /** Probability that one message is delivered twice. */
  duplicate: number;
  /** Delay of a message: uniform in [minDelayMs, maxDelayMs], sometimes much more (reordering). */
  minDelayMs: number;
  maxDelayMs: number;
  /** Probability that a message is held back up to `slowDelayMs`. */
  slow: number;
  slowDelayMs: number;
  /** Deliver extra copies of responses even after their request was answered (a broken transport). */
  duplicateResponses: boolean;
}

export const calmNetwork: NetworkFaults = {
  drop: 0,
  duplicate: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  slow: 0,
  slowDelayMs: 0,
  duplicateResponses: false,
};

/** Which links are cut: `from>to` keys. */
export class Links {
  private readonly blocked = new Set<string>();

  connected(from: number, to: number): boolean {
    return !this.blocked.has(`${from}>${to}`);
  }

  cut(from: number, to: number): void {
    this.blocked.add(`${from}>${to}`);
  }

  /** Splits `nodes` into `group` and the rest, both ways. */
  partition(group: readonly number[], nodes: readonly number[]): void {
    for (const a of group) {
      for (const b of nodes) {
        if (group.includes(b)) continue;
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  healAll(): void {
    this.blocked.clear();
  }

  get anyCut(): boolean {
    return this.blocked.size > 0;
  }

  describe(): string {
    return [...this.blocked].sort().join(' ');
  }

  /** How long one message takes, or null when it is lost. */
  static delay(rng: Rng, faults: NetworkFaults): number | null {
    if (rng.chance(faults.drop)) return null;
    let d = rng.int(faults.minDelayMs, faults.maxDelayMs);
    if (faults.slow > 0 && rng.chance(faults.slow)) d += rng.int(0, faults.slowDelayMs);
    return d;
  }
}
