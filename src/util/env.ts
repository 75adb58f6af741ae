/**
 * The clock, timers and ids a state machine's edge uses, injected rather
 * than taken from `Date.now`, `setTimeout` and `randomUUID`, so that a test
 * or the cluster simulator can drive it from a seed: `systemEnv` is the real
 * one, `SimulatedEnv` a clock that moves only when told to, timers that fire
 * in deadline order as it moves, and ids from a seeded generator.
 */
import { randomUUID } from 'node:crypto';

export interface TimerHandle {
  cancel(): void;
}

export interface Env {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once, `delayMs` from now; a pending timer never keeps the process alive. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** A fresh random id in UUID form (member ids). */
  uuid(): string;
}

export const systemEnv: Env = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
  uuid: () => randomUUID(),
};

interface SimTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A simulated environment: `now()` stands still until `advance()`, which
 * fires every timer due on the way, earliest first (ties in the order they
 * were set), each with the clock at its deadline. Ids and `random()` come
 * from a generator seeded by `seed` (xorshift128+), so equal seeds give equal runs.
 */
export class SimulatedEnv implements Env {
  private clock: number;
  private seq = 0;
  private timers: SimTimer[] = [];
  private s0: bigint;
  private s1: bigint;

  constructor(
    readonly seed: number,
    startMs = 1_700_000_000_000,
  ) {
    this.clock = startMs;
    // splitmix64 spreads the seed over the generator's state (never all zero)
    let x = BigInt.asUintN(64, BigInt(seed));
    const next = () => {
      x = BigInt.asUintN(64, x + 0x9e3779b97f4a7c15n);
      let z = x;
      z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
      z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
      return z ^ (z >> 31n);
    };
    this.s0 = next();
    this.s1 = next() | 1n;
  }

  now(): number {
    return this.clock;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t: SimTimer = { at: this.clock + Math.max(0, delayMs), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves the clock forward by `ms`, firing the timers due on the way in deadline order. */
  advance(ms: number): void {
    const until = this.clock + ms;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled);
      let first: SimTimer | undefined;
      for (const t of this.timers)
        if (t.at <= until && (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq))) first = t;
      if (!first) break;
      first.cancelled = true;
      this.clock = Math.max(this.clock, first.at);
      first.fn();
    }
    this.clock = until;
  }

  /** 64 random bits from the seeded generator (xorshift128+). */
  private nextBits(): bigint {
    let a = this.s0;
    const b = this.s1;
    this.s0 = b;
    a = BigInt.asUintN(64, a ^ (a << 23n));
    this.s1 = a ^ b ^ (a >> 17n) ^ (b >> 26n);
    return BigInt.asUintN(64, this.s1 + b);
  }

  /** A number in [0, 1) from the seeded generator. */
  random(): number {
    return Number(this.nextBits() >> 11n) / 2 ** 53;
  }

  uuid(): string {
    const hex = (this.nextBits().toString(16).padStart(16, '0') + this.nextBits().toString(16).padStart(16, '0')).split(
      '',
    );
    hex[12] = '4'; // version 4 layout, as randomUUID()
    hex[16] = '89ab'[parseInt(hex[16], 16) & 3];
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}
