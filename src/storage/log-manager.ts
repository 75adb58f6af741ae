/**
 * LogManager: every PartitionLog under the broker's log dirs. Opens them at
 * startup (recovering from the recovery point when the last stop was not
 * clean), creates and deletes them, keeps the per-log-dir checkpoints
 * (recovery-point-offset-checkpoint, log-start-offset-checkpoint,
 * replication-offset-checkpoint) and the clean-shutdown marker, and runs the
 * background retention, flush and checkpoint tasks and the log cleaner's
 * timer (cleaner-scheduler.ts).
 *
 * Each log dir has a LogDirHealth shared by its logs (online, full, failed).
 * A dir that is full at startup or at close does not stop either: logs open
 * read-only (appends answer a storage error), and a close whose writes
 * failed leaves no clean-shutdown marker, so the next start recovers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDir, readPartitionCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { LogCleaner } from './cleaner-scheduler.ts';
import type { LogConfig } from './log-config.ts';
import { PartitionLog, type StorageLogger, silentLogger } from './partition-log.ts';
import type { TimeSlice } from './time-slice.ts';
import { KafkaStorageError } from './errors.ts';
import { LogDirHealth } from './log-dir-health.ts';

export const CLEAN_SHUTDOWN_FILE = '.kafka_cleanshutdown';
export const RECOVERY_POINT_CHECKPOINT = 'recovery-point-offset-checkpoint';
export const LOG_START_OFFSET_CHECKPOINT = 'log-start-offset-checkpoint';
export const REPLICATION_OFFSET_CHECKPOINT = 'replication-offset-checkpoint';

export interface LogManagerOptions {
  logDirs: string[];
  defaultConfig: LogConfig;
  logger?: StorageLogger;
  now?: () => number;
  /** Retention pass period (Kafka's log.retention.check.interval.ms, default 300000). */
  retentionCheckIntervalMs?: number;
  /** Checkpoint period (log.flush.offset.checkpoint.interval.ms, default 60000). */
  checkpointIntervalMs?: number;
  /** flush.ms check period (log.flush.scheduler.interval.ms, default 1000 here). */
  flushCheckIntervalMs?: number;
  /** Passed to every PartitionLog (tests inject a counting or failing fsync). */
  fsync?: (fd: number) => Promise<void>;
  tailCacheBytes?: number;
  /** log.cleaner.enable (default true): compact logs with cleanup.policy=compact. */
  cleanerEnable?: boolean;
  /** log.cleaner.backoff.ms (default 15000): the cleaner's sleep when no log needs cleaning. */
  cleanerBackoffMs?: number;
  /** How often a full log dir is probed for space again (default 1000). */
  fullDirProbeIntervalMs?: number;
  /** Bytes a probe must write before a full dir is online again (default 1 MiB). */
  probeBytes?: number;
  /** States of log dirs that another log in them (the metadata log) already has: shared, one state per dir. */
  dirHealth?: LogDirHealth[];
}

const PARTITION_DIR = /^(.+)-(\d+)$/;
/** `__cluster_metadata-0`: the metadata log (src/metadata/metadata-log.ts) may share a log dir. */
const METADATA_LOG_DIR_NAME = '__cluster_metadata-0';
/** Directories of deleted logs removed at once (each removal is a chain of fs calls on libuv's pool). */
const REMOVAL_CONCURRENCY = 2;

export class LogManager {
  private readonly byName = new Map<string, PartitionLog>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly logger: StorageLogger;
  private readonly now: () => number;
  private closed = false;
  private checkpointChain: Promise<void> = Promise.resolve();
  /** The log cleaner (null when log.cleaner.enable is false); its timer starts with the background tasks. */
  readonly cleaner: LogCleaner | null;
  /** Logs per log dir, so a new log's dir is chosen without a pass over every log. */
  private readonly dirCounts = new Map<string, number>();
  /** `-delete` directories waiting for removal (from `removalHead` on), and removals in flight. */
  private removals: string[] = [];
  private removalHead = 0;
  private removing = 0;
  private drained: (() => void)[] = [];
  private readonly health = new Map<string, LogDirHealth>();

  private constructor(private readonly opts: LogManagerOptions) {
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.cleaner =
      opts.cleanerEnable === false
        ? null
        : new LogCleaner({
            logs: () => this.byName.values(),
            backoffMs: opts.cleanerBackoffMs ?? 15_000,
            now: this.now,
            logger: this.logger,
          });
    for (const d of opts.logDirs) this.dirCounts.set(d, 0);
    for (const h of opts.dirHealth ?? []) this.health.set(h.dir, h);
  }

  static async open(opts: LogManagerOptions): Promise<LogManager> {
    const m = new LogManager(opts);
    for (const d of opts.logDirs) await m.loadDir(d);
    return m;
  }

  /** The state of a log dir (one of opts.logDirs). */
  dirHealth(dir: string): LogDirHealth {
    let h = this.health.get(dir);
    if (!h) {
      h = new LogDirHealth(dir, this.logger, this.opts.probeBytes);
      this.health.set(dir, h);
    }
    return h;
  }

  /** Every log dir's state. */
  dirStates(): { dir: string; state: LogDirHealth['state'] }[] {
    return this.opts.logDirs.map((dir) => ({ dir, state: this.dirHealth(dir).state }));
  }

  /** Probe every full dir (after space may have been freed); returns whether all dirs are online. */
  probeFullDirs(): boolean {
    let all = true;
    for (const d of this.opts.logDirs) if (!this.dirHealth(d).probe()) all = false;
    return all;
  }

  private logOptions(logDir: string, extra: Partial<Parameters<typeof PartitionLog.open>[2]> = {}) {
    return {
      logger: this.logger,
      now: this.now,
      fsync: this.opts.fsync,
      tailCacheBytes: this.opts.tailCacheBytes,
      onLogStartOffsetChange: (log: PartitionLog) => this.checkpointDir(path.dirname(log.dir)),
      ...extra,
      dirHealth: this.dirHealth(logDir),
    };
  }

  private async loadDir(dir: string): Promise<void> {
    fs.mkdirSync(dir, { recursive: true });
    const health = this.dirHealth(dir);
    const marker = path.join(dir, CLEAN_SHUTDOWN_FILE);
    const clean = fs.existsSync(marker);
    const recovery = readPartitionCheckpoint(path.join(dir, RECOVERY_POINT_CHECKPOINT));
    const starts = readPartitionCheckpoint(path.join(dir, LOG_START_OFFSET_CHECKPOINT));
    const hws = readPartitionCheckpoint(path.join(dir, REPLICATION_OFFSET_CHECKPOINT));
    const started = this.now();
    let count = 0;
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      if (name.endsWith('-delete')) {
        // A deletion the last run did not finish: its name is no partition's, so removal can go on in the background.
        this.enqueueRemoval(full);
        continue;
      }
      if (!PARTITION_DIR.test(name) || !fs.statSync(full).isDirectory()) continue;
      if (name === METADATA_LOG_DIR_NAME) continue; // the cluster metadata log, opened by src/metadata
      const log = await PartitionLog.open(
        full,
        this.opts.defaultConfig,
        this.logOptions(dir, {
          cleanShutdown: clean,
          recoveryPoint: recovery.get(name) ?? 0,
          logStartOffset: starts.get(name),
          highWatermark: hws.get(name),
        }),
      );
      this.byName.set(name, log);
      count++;
    }
    this.dirCounts.set(dir, count);
    // From here on a crash is an unclean stop.
    if (clean) {
      fs.rmSync(marker, { force: true });
      fsyncDir(dir);
    } else if (count) {
      this.logger.warn({ dir, logs: count }, 'no clean-shutdown marker: logs recovered from their recovery points');
    }
    try {
      this.writeCheckpoints(dir);
    } catch (err) {
      // A full disk at startup: the logs stay readable; writes wait for space (LogDirHealth).
      const e = health.writeFailed(err, 'checkpoints at startup');
      if (!(e instanceof KafkaStorageError)) throw e;
    }
    this.logger.info({ dir, logs: count, ms: this.now() - started, clean, state: health.state }, 'log dir loaded');
  }

  private static dirName(topic: string, partition: number): string {
    return `${topic}-${partition}`;
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.byName.get(LogManager.dirName(topic, partition));
  }

  /**
   * The log, created (in the log dir holding the fewest) when absent. With
   * `syncDir: false` the new directory's entry in its log dir is not fsynced:
   * the caller creating many logs calls `syncDirs` once for all of them.
   */
  async createLog(
    topic: string,
    partition: number,
    config: LogConfig,
    opts: { syncDir?: boolean } = {},
  ): Promise<PartitionLog> {
    const name = LogManager.dirName(topic, partition);
    const existing = this.byName.get(name);
    if (existing) return existing;
    let dir = this.opts.logDirs[0];
    for (const [d, n] of this.dirCounts) if (n < this.dirCounts.get(dir)!) dir = d;
    const log = await PartitionLog.open(path.join(dir, name), config, this.logOptions(dir, { cleanShutdown: true }));
    if (opts.syncDir !== false) fsyncDir(dir);
    this.byName.set(name, log);
    this.dirCounts.set(dir, this.dirCounts.get(dir)! + 1);
    return log;
  }

  /** Makes new and renamed entries of these log dirs durable. */
  syncDirs(dirs: Iterable<string>): void {
    for (const d of dirs) fsyncDir(d);
  }

  /** Close the log and rename its directory to `<name>.<id>-delete`; removed after file.delete.delay.ms. */
  deleteLog(topic: string, partition: number): Promise<void> {
    return this.deleteLogs([{ topic, partition }]);
  }

  /**
   * Closes the logs and renames their directories to `<name>.<id>-delete`
   * (yielding to the event loop as `slice` says), then fsyncs each log dir
   * touched and rewrites its checkpoints once. When this resolves no log of
   * these partitions is found under its own name, now or after a restart; the
   * renamed directories are removed in the background after file.delete.delay.ms
   * (at once with `removeNow`; should the broker stop first, at the next start).
   */
  async deleteLogs(
    parts: Iterable<{ topic: string; partition: number }>,
    slice?: TimeSlice,
    opts: { removeNow?: boolean } = {},
  ): Promise<void> {
    const parents = new Set<string>();
    for (const { topic, partition } of parts) {
      const name = LogManager.dirName(topic, partition);
      const log = this.byName.get(name);
      if (!log) continue;
      this.byName.delete(name);
      log.abandon();
      const parent = path.dirname(log.dir);
      this.dirCounts.set(parent, Math.max(0, (this.dirCounts.get(parent) ?? 1) - 1));
      const target = path.join(parent, `${name}.${randomBytes(8).toString('hex')}-delete`);
      fs.renameSync(log.dir, target);
      parents.add(parent);
      const delay = opts.removeNow ? 0 : log.config.fileDeleteDelayMs;
      if (delay <= 0) this.enqueueRemoval(target);
      else setTimeout(() => this.enqueueRemoval(target), delay).unref();
      const y = slice?.tick();
      if (y) await y;
    }
    for (const parent of parents) {
      fsyncDir(parent);
      void this.checkpointDir(parent).catch((err) => {
        if (!(err instanceof KafkaStorageError)) this.logger.error({ err, dir: parent }, 'checkpoint failed');
      });
    }
  }

  private enqueueRemoval(dir: string): void {
    this.removals.push(dir);
    this.pumpRemovals();
  }

  private pumpRemovals(): void {
    while (!this.closed && this.removing < REMOVAL_CONCURRENCY && this.removalHead < this.removals.length) {
      const dir = this.removals[this.removalHead++];
      this.removing++;
      fs.promises
        .rm(dir, { recursive: true, force: true })
        .then(() => {
          // The space may be what a full log dir was waiting for.
          const h = this.dirHealth(path.dirname(dir));
          if (h.state === 'full') h.probe();
        })
        .catch((err) => this.logger.warn({ err, dir }, 'removing a deleted log failed; retried at the next start'))
        .finally(() => {
          this.removing--;
          this.pumpRemovals();
        });
    }
    if (this.removalHead === this.removals.length) {
      this.removals = [];
      this.removalHead = 0;
    }
    if (this.removing === 0 && this.removals.length === 0) for (const r of this.drained.splice(0)) r();
  }

  /** Resolves once every deleted log's directory queued for removal so far is gone (or the manager closed). */
  removalsDrained(): Promise<void> {
    if (this.closed || (this.removing === 0 && this.removals.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  logs(): PartitionLog[] {
    return [...this.byName.values()];
  }

  /** Write a log dir's checkpoints (serialized; a write in flight is followed by one more). */
  private checkpointDir(dir: string): Promise<void> {
    const run = this.checkpointChain.then(() => {
      if (this.closed) return;
      try {
        this.writeCheckpoints(dir);
      } catch (err) {
        throw this.dirHealth(dir).writeFailed(err, 'checkpoints');
      }
    });
    this.checkpointChain = run.catch(() => {});
    return run;
  }

  private writeCheckpoints(dir: string): void {
    const rp: (string | number)[][] = [];
    const lso: (string | number)[][] = [];
    const hw: (string | number)[][] = [];
    for (const log of this.byName.values()) {
      if (path.dirname(log.dir) !== dir) continue;
      rp.push([log.topic, log.partition, log.recoveryPoint]);
      lso.push([log.topic, log.partition, log.logStartOffset]);
      hw.push([log.topic, log.partition, log.highWatermark]);
    }
    writeCheckpoint(path.join(dir, RECOVERY_POINT_CHECKPOINT), rp);
    writeCheckpoint(path.join(dir, LOG_START_OFFSET_CHECKPOINT), lso);
    writeCheckpoint(path.join(dir, REPLICATION_OFFSET_CHECKPOINT), hw);
  }

  /** One retention pass over every log. Returns segments deleted. */
  runRetention(nowMs = this.now()): number {
    let n = 0;
    for (const log of this.byName.values()) {
      try {
        n += log.deleteOldSegments(nowMs);
      } catch (err) {
        if (err instanceof KafkaStorageError) continue; // the dir's state change is logged once
        this.logger.error({ dir: log.dir, err }, 'retention pass failed');
      }
    }
    if (n > 0) this.probeFullDirs();
    return n;
  }

  /** flush.ms for every log. */
  runFlushPolicy(nowMs = this.now()): void {
    for (const log of this.byName.values()) log.maybeFlushByTime(nowMs);
  }

  startBackgroundTasks(): void {
    if (this.timers.length || this.closed) return;
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(() => {
        try {
          fn();
        } catch (err) {
          this.logger.error({ err }, 'background storage task failed');
        }
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.opts.retentionCheckIntervalMs ?? 300_000, () => this.runRetention());
    every(this.opts.flushCheckIntervalMs ?? 1000, () => this.runFlushPolicy());
    every(this.opts.checkpointIntervalMs ?? 60_000, () => {
      for (const d of this.opts.logDirs) {
        if (this.dirHealth(d).state !== 'online') continue;
        void this.checkpointDir(d).catch((err) => {
          if (!(err instanceof KafkaStorageError)) this.logger.error({ err, dir: d }, 'checkpoint failed');
        });
      }
    });
    every(this.opts.fullDirProbeIntervalMs ?? 1000, () => {
      for (const d of this.opts.logDirs) if (this.dirHealth(d).state === 'full') this.dirHealth(d).probe();
    });
    this.cleaner?.start();
  }

  /**
   * Flush and close every log, write checkpoints and the clean-shutdown
   * marker. A dir where anything failed (full or failed disk) gets no marker:
   * its next start recovers from the recovery points. Never throws for I/O.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.cleaner?.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    await this.checkpointChain;
    const unclean = new Set<string>();
    for (const log of this.byName.values()) if (!(await log.close())) unclean.add(path.dirname(log.dir));
    this.closed = true;
    for (const r of this.drained.splice(0)) r();
    for (const d of this.opts.logDirs) {
      const health = this.dirHealth(d);
      if (health.state === 'failed') unclean.add(d);
      if (!unclean.has(d)) {
        try {
          this.writeCheckpoints(d);
          const fd = fs.openSync(path.join(d, CLEAN_SHUTDOWN_FILE), 'w');
          fs.closeSync(fd);
          fsyncDir(d);
        } catch (err) {
          const e = health.writeFailed(err, 'clean-shutdown marker');
          if (!(e instanceof KafkaStorageError)) throw e;
          fs.rmSync(path.join(d, CLEAN_SHUTDOWN_FILE), { force: true });
          unclean.add(d);
        }
      }
      if (unclean.has(d))
        this.logger.warn(
          { dir: d, state: health.state },
          'log dir closed without a clean-shutdown marker (writes failed): the next start recovers its logs',
        );
    }
  }

  /** Drop everything without flushing or checkpointing: a simulated crash (tests). */
  abandon(): void {
    void this.cleaner?.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    this.closed = true;
    for (const r of this.drained.splice(0)) r();
    for (const log of this.byName.values()) log.abandon();
  }
}
