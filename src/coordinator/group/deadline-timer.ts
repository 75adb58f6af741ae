/**
 * One timer for a state machine's next deadline: re-armed when the deadline
 * moves, never armed twice, silent after close. The coordinators' edges use
 * it so that their pure state machines only report `nextDeadline()`; the
 * clock and timers are the edge's injected environment.
 */
import type { Env, TimerHandle } from '../../util/env.ts';

export class DeadlineTimer {
  private timer: TimerHandle | undefined;
  private at = Infinity;
  private closed = false;

  constructor(
    private readonly fire: () => void,
    private readonly env: Env,
  ) {}

  /** Arms the timer for `at` (epoch ms; Infinity disarms). */
  schedule(at: number): void {
    if (this.closed || at === this.at) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.at = at;
    if (at === Infinity) return;
    this.timer = this.env.setTimer(Math.max(0, at - this.env.now()), () => {
      this.timer = undefined;
      this.at = Infinity;
      this.fire();
    });
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
