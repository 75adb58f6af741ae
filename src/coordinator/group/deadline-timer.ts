/**
 * One timer for a state machine's next deadline: re-armed when the deadline
 * moves, never armed twice, silent after close. The coordinators' edges use
 * it so that their pure state machines only report `nextDeadline()`.
 */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private at = Infinity;
  private closed = false;

  constructor(
    private readonly fire: () => void,
    private readonly now: () => number,
  ) {}

  /** Arms the timer for `at` (epoch ms; Infinity disarms). */
  schedule(at: number): void {
    if (this.closed || at === this.at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.at = at;
    if (at === Infinity) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.at = Infinity;
      this.fire();
    }, Math.max(0, at - this.now()));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
