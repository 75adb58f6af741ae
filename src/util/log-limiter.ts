/**
 * Rate limit for log lines that a client can cause (a bad frame, a refused
 * connection): at most one line per key (e.g. the message and the client's
 * address) per interval. The line that is let through after a quiet spell
 * carries how many were suppressed since the previous one, so a client loop
 * that opens thousands of bad connections costs a line every interval, not a
 * line per connection.
 *
 *   const limiter = new LogLimiter(10_000);
 *   const suppressed = limiter.take(`frame-size|${ip}`);
 *   if (suppressed !== null) logger.warn({ ip, suppressed }, 'closing connection: ...');
 *
 * The table of keys is bounded (`maxKeys`): beyond it, keys whose interval
 * has passed are dropped, then the oldest.
 */
export class LogLimiter {
  /** key -> when its last line was let through, and how many were held back since. */
  private readonly keys = new Map<string, { at: number; suppressed: number }>();

  constructor(
    readonly intervalMs = 10_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether a line for `key` may be written now: null when it must be
   * suppressed, otherwise the number of lines suppressed for this key since
   * the last one written (0 for the first).
   */
  take(key: string): number | null {
    const now = this.now();
    const e = this.keys.get(key);
    if (e && now - e.at < this.intervalMs) {
      e.suppressed++;
      return null;
    }
    const suppressed = e?.suppressed ?? 0;
    if (e) {
      e.at = now;
      e.suppressed = 0;
      return suppressed;
    }
    if (this.keys.size >= this.maxKeys) this.trim(now);
    this.keys.set(key, { at: now, suppressed: 0 });
    return 0;
  }

  private trim(now: number): void {
    for (const [k, e] of this.keys) if (now - e.at >= this.intervalMs) this.keys.delete(k);
    for (const k of this.keys.keys()) {
      if (this.keys.size < this.maxKeys) break;
      this.keys.delete(k);
    }
  }
}
