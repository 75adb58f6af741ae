/**
 * Cooperative slicing of long loops (creating or deleting thousands of
 * partition logs): `tick()` returns a promise that yields to the event loop
 * (through setImmediate, so pending I/O and timers run first) once `budgetMs`
 * has passed since the last yield, and undefined otherwise, so a loop pays
 * for a promise only when it actually yields:
 *
 *   const slice = new TimeSlice();
 *   for (const x of items) { work(x); const y = slice.tick(); if (y) await y; }
 */
export class TimeSlice {
  private since = performance.now();

  constructor(private readonly budgetMs = 10) {}

  tick(): Promise<void> | undefined {
    if (performance.now() - this.since < this.budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.since = performance.now();
        resolve();
      }),
    );
  }
}
