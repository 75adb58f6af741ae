/**
 * The log cleaner's schedule: compaction runs on its own timer, apart from
 * retention and off the request path, as Kafka's CleanerThread does. Each
 * turn cleans the filthiest compacted log (cleaner.ts chooses it: dirty ratio,
 * min/max.compaction.lag.ms). After a clean the next turn comes on a fresh
 * timer, so requests queued meanwhile are served between two cleans; when no
 * log needs cleaning the cleaner sleeps log.cleaner.backoff.ms.
 *
 * A turn takes on at most `maxDirtyBytesPerClean` (16 MiB) of a log's dirty
 * segments; a log with more is finished by the turns that follow (each picks
 * the filthiest log again). The clean itself runs synchronously, so a turn
 * holds the event loop for the rewrite of those dirty segments plus the
 * log's already-clean segments below them, which every clean rescans (as in
 * Kafka, newer keys may supersede records there).
 *
 * A log whose clean throws is logged and left alone until the broker restarts
 * (Kafka marks such a partition uncleanable).
 */
import { cleanLog, grabFilthiestLog, type LogToClean } from './cleaner.ts';
import { type PartitionLog, type StorageLogger, silentLogger } from './partition-log.ts';

/** Cleans up to `maxDirtyBytes` of dirty segments of `log`; may return a promise. */
export type CleanFn = (log: PartitionLog, nowMs: number, logger: StorageLogger, maxDirtyBytes: number) => unknown;

export interface LogCleanerOptions {
  /** The logs to consider on every turn (the log manager's current set). */
  logs: () => Iterable<PartitionLog>;
  /** log.cleaner.backoff.ms: the sleep when nothing needs cleaning. */
  backoffMs: number;
  now?: () => number;
  logger?: StorageLogger;
  /** Most dirty bytes one turn cleans (default 16 MiB; at least one segment). */
  maxDirtyBytesPerClean?: number;
  /** Cleans one log (cleanLog by default; tests count or fail it). */
  clean?: CleanFn;
}

export const DEFAULT_MAX_DIRTY_BYTES_PER_CLEAN = 16 * 1024 * 1024;

export class LogCleaner {
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  /** The turn under way, if any. */
  private inFlight: Promise<void> | null = null;
  private readonly uncleanable = new WeakSet<PartitionLog>();
  private readonly now: () => number;
  private readonly logger: StorageLogger;
  private readonly clean: CleanFn;
  private readonly maxDirtyBytes: number;
  /** Completed cleans (tests and logs). */
  cleans = 0;

  constructor(private readonly opts: LogCleanerOptions) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? silentLogger;
    this.clean = opts.clean ?? ((log, nowMs, logger, maxDirtyBytes) => cleanLog(log, nowMs, logger, {}, maxDirtyBytes));
    this.maxDirtyBytes = opts.maxDirtyBytesPerClean ?? DEFAULT_MAX_DIRTY_BYTES_PER_CLEAN;
  }

  /** Start the timer; the first look comes after one backoff. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.opts.backoffMs);
  }

  /** Stop: no turn starts after this; resolves once a turn under way has finished. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    return this.inFlight ?? Promise.resolve();
  }

  /** Whether `log` was given up on after a failed clean. */
  isUncleanable(log: PartitionLog): boolean {
    return this.uncleanable.has(log);
  }

  /**
   * One turn: clean the filthiest log that qualifies. Resolves to what was
   * chosen (null: nothing to clean). A failed clean is logged and marks the
   * log uncleanable; it is still returned.
   */
  async cleanFilthiestLog(nowMs = this.now()): Promise<LogToClean | null> {
    const pick = grabFilthiestLog(this.opts.logs(), nowMs, (l) => this.uncleanable.has(l));
    if (!pick) return null;
    const { log } = pick;
    try {
      await this.clean(log, nowMs, this.logger, this.maxDirtyBytes);
      this.cleans++;
    } catch (err) {
      this.uncleanable.add(log);
      this.logger.error(
        { dir: log.dir, err },
        'log cleaning failed: the partition is not cleaned again until the broker restarts',
      );
    }
    return pick;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.turn().finally(() => (this.inFlight = null));
    }, ms);
    this.timer.unref();
  }

  private async turn(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    let progress = false;
    try {
      const pick = await this.cleanFilthiestLog();
      // A clean moves the log's checkpoint past its first dirty offset; one that did not is not repeated at once.
      progress =
        pick !== null && (this.uncleanable.has(pick.log) || pick.log.cleanerCheckpoint > pick.firstDirtyOffset);
    } catch (err) {
      this.logger.error({ err }, 'log cleaner turn failed');
    }
    this.schedule(progress ? 0 : this.opts.backoffMs);
  }
}
