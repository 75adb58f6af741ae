/**
 * The log cleaner's schedule: compaction runs on its own timer, apart from
 * retention and off the request path, as Kafka's CleanerThread does. Each
 * turn cleans the filthiest compacted log (cleaner.ts chooses it: dirty ratio,
 * min/max.compaction.lag.ms). After a clean the next turn comes on the next
 * round of the event loop, so requests queued meanwhile are served between two
 * cleans; when no log needs cleaning the cleaner sleeps log.cleaner.backoff.ms.
 *
 * One turn cleans one log synchronously (cleanLog), so a turn blocks the event
 * loop for as long as that log takes to rewrite; it never spans two logs.
 *
 * A log whose clean throws is logged and left alone until the broker restarts
 * (Kafka marks such a partition uncleanable).
 */
import { cleanLog, grabFilthiestLog, type LogToClean } from './cleaner.ts';
import { type PartitionLog, type StorageLogger, silentLogger } from './partition-log.ts';

export interface LogCleanerOptions {
  /** The logs to consider on every turn (the log manager's current set). */
  logs: () => Iterable<PartitionLog>;
  /** log.cleaner.backoff.ms: the sleep when nothing needs cleaning. */
  backoffMs: number;
  now?: () => number;
  logger?: StorageLogger;
  /** Cleans one log (cleanLog by default; tests count or fail it). */
  clean?: (log: PartitionLog, nowMs: number, logger: StorageLogger) => number;
}

export class LogCleaner {
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  private readonly uncleanable = new WeakSet<PartitionLog>();
  private readonly now: () => number;
  private readonly logger: StorageLogger;
  private readonly clean: (log: PartitionLog, nowMs: number, logger: StorageLogger) => number;
  /** Completed cleans (tests and logs). */
  cleans = 0;

  constructor(private readonly opts: LogCleanerOptions) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    this.clean = opts.clean ?? cleanLog;
  }

  /** Start the timer; the first look comes after one backoff. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.opts.backoffMs);
  }

  /** Stop for good (no turn runs after this returns). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Whether `log` was given up on after a failed clean. */
  isUncleanable(log: PartitionLog): boolean {
    return this.uncleanable.has(log);
  }

  /**
   * One turn: clean the filthiest log that qualifies. Returns what was chosen
   * (null: nothing to clean). A failed clean is logged and marks the log
   * uncleanable; it is still returned.
   */
  cleanFilthiestLog(nowMs = this.now()): LogToClean | null {
    const pick = grabFilthiestLog(this.opts.logs(), nowMs, (l) => this.uncleanable.has(l));
    if (!pick) return null;
    const { log } = pick;
    try {
      this.clean(log, nowMs, this.logger);
      this.cleans++;
    } catch (err) {
      this.uncleanable.add(log);
      this.logger.error({ dir: log.dir, err }, 'log cleaning failed: the partition is not cleaned again until the broker restarts');
    }
    return pick;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.turn(), ms);
    this.timer.unref();
  }

  private turn(): void {
    this.timer = null;
    if (this.stopped) return;
    let progress = false;
    try {
      const pick = this.cleanFilthiestLog();
      // A clean moves the log's checkpoint past its first dirty offset; one that did not is not repeated at once.
      progress = pick !== null && (this.uncleanable.has(pick.log) || pick.log.cleanerCheckpoint > pick.firstDirtyOffset);
    } catch (err) {
      this.logger.error({ err }, 'log cleaner turn failed');
    }
    // After a clean look again at once (a timer of 0 lets pending I/O and requests run first).
    this.schedule(progress ? 0 : this.opts.backoffMs);
  }
}
