/**
 * PartitionLog: one partition's log in `<log dir>/<topic>-<partition>/` —
 * an ordered list of segments, the last one active. Owns offsets (log start
 * offset <= high watermark <= log end offset, recovery point), appends and
 * reads of opaque v2 batches, group-committed fsync, retention of whole
 * segments, truncation, the leader-epoch cache and producer state.
 *
 * Everything but flushing is synchronous: the broker appends and reads on
 * the event loop (writes land in the page cache, where reads see them at
 * once); fsyncs run on the thread pool and are shared by concurrent waiters.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BATCH_HEADER_SIZE,
  batch as hdr,
  isBatchCrcValid,
  NO_PRODUCER_ID,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
} from '../protocol/records/batch-header.ts';
import { fsyncDir } from './checkpoint.ts';
import { fdatasyncAsync } from './file-io.ts';
import {
  CorruptRecordError,
  InvariantViolation,
  KafkaStorageError,
  OffsetOutOfRangeError,
  invariant,
} from './errors.ts';
import { LogDirHealth } from './log-dir-health.ts';
import { type EpochEntry, LeaderEpochCache } from './leader-epoch-cache.ts';
import type { LogConfig } from './log-config.ts';
import { ProducerStateManager } from './producer-state.ts';
import { INT32_MAX, LogSegment, type Pin, type SegmentSettings, segmentFileName } from './segment.ts';
import { TailCache } from './tail-cache.ts';
import { type AbortedTxn, readTxnMarker } from './txn-index.ts';
import type { FileRegion } from './file-region.ts';

export interface AppendInfo {
  firstOffset: number;
  lastOffset: number;
  /** The append time written into the batches, -1 for CreateTime. */
  logAppendTime: number;
  maxTimestamp: number;
  logStartOffset: number;
}

export interface ReadResult {
  /** In offset order; each element holds one or more whole batches. */
  batches: Buffer[];
  bytes: number;
  /** Set instead of `batches` when the read asked for `regions` and got one. */
  region?: FileRegion;
}

/** The subset of pino's Logger the storage engine uses. */
export interface StorageLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: StorageLogger = { info() {}, warn() {}, error() {} };

export interface PartitionLogOptions {
  logger?: StorageLogger;
  now?: () => number;
  /** The previous run stopped cleanly: trust index files, don't rescan (default false). */
  cleanShutdown?: boolean;
  /** Offsets below this were fsynced before the last stop (default 0: recover everything). */
  recoveryPoint?: number;
  /** Checkpointed log start offset (default: the first segment's base offset). */
  logStartOffset?: number;
  /** Checkpointed high watermark (default: the log end offset). */
  highWatermark?: number;
  /** fsync used for data (default fs.fdatasync); injectable to count or fail. */
  fsync?: (fd: number) => Promise<void>;
  /** Bytes of the active segment's tail kept in memory for tail reads (default 1 MiB). */
  tailCacheBytes?: number;
  /** Called (and awaited by deleteRecordsBefore) when the log start offset moves. */
  onLogStartOffsetChange?: (log: PartitionLog) => void | Promise<void>;
  /** The state of the log dir holding this log, shared by its logs (default: one of its own). */
  dirHealth?: LogDirHealth;
}

const fdatasync = fdatasyncAsync;

interface FlushWaiter {
  offset: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class PartitionLog {
  readonly topic: string;
  readonly partition: number;
  private segments: LogSegment[] = [];
  private _logStartOffset = 0;
  private _highWatermark = 0;
  private _recoveryPoint = 0;
  private readonly epochs: LeaderEpochCache;
  readonly producerState: ProducerStateManager;
  private readonly logger: StorageLogger;
  private readonly now: () => number;
  private readonly fsync: (fd: number) => Promise<void>;
  private readonly tailCacheBytes: number;
  private readonly onLogStartOffsetChange?: (log: PartitionLog) => void | Promise<void>;
  private waiters: FlushWaiter[] = [];
  private flushing: Promise<void> | null = null;
  private dirDirty = false;
  /** Truncations so far: a flush that overlapped one proves nothing about what was appended after it. */
  private truncations = 0;
  private lastFlushMs: number;
  private closed = false;
  /** A write to an aborted-transaction index failed: no snapshot at close, so that the next open replays the markers. */
  private txnIndexLost = false;
  /** fsyncs issued (log and index files), for tests and metrics. */
  fsyncCount = 0;
  /** Online, full or failed: appends and flushes are refused unless online (flushes: unless failed). */
  readonly dirHealth: LogDirHealth;

  private constructor(
    readonly dir: string,
    private _config: LogConfig,
    opts: PartitionLogOptions,
  ) {
    const m = /^(.*)-(\d+)$/.exec(path.basename(dir));
    this.topic = m ? m[1] : path.basename(dir);
    this.partition = m ? Number(m[2]) : 0;
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
    this.dirHealth = opts.dirHealth ?? new LogDirHealth(path.dirname(dir), this.logger);
    const fsync = opts.fsync ?? fdatasync;
    this.fsync = async (fd) => {
      this.fsyncCount++;
      try {
        await fsync(fd);
      } catch (err) {
        throw this.dirHealth.fsyncFailed(err, `fsync in ${this.dir}`);
      }
    };
    this.tailCacheBytes = opts.tailCacheBytes ?? 1024 * 1024;
    this.onLogStartOffsetChange = opts.onLogStartOffsetChange;
    this.epochs = new LeaderEpochCache(dir);
    this.producerState = new ProducerStateManager(dir);
    this.lastFlushMs = this.now();
  }

  // ---- opening and recovery -------------------------------------------------

  static async open(dir: string, config: LogConfig, opts: PartitionLogOptions = {}): Promise<PartitionLog> {
    fs.mkdirSync(dir, { recursive: true });
    const log = new PartitionLog(dir, config, opts);
    await log.load(opts);
    return log;
  }

  private get settings(): SegmentSettings {
    return {
      indexIntervalBytes: this._config.indexIntervalBytes,
      segmentIndexBytes: this._config.segmentIndexBytes,
      tailCacheBytes: this.tailCacheBytes,
    };
  }

  private async load(opts: PartitionLogOptions): Promise<void> {
    const clean = opts.cleanShutdown === true;
    const bases: number[] = [];
    for (const f of fs.readdirSync(this.dir)) {
      if (f.endsWith('.log.swap')) {
        // A compacted segment whose swap did not finish: complete it (indexes rebuilt).
        this.completeSwap(path.join(this.dir, f));
        bases.push(Number(f.slice(0, 20)));
        continue;
      }
      if (f.endsWith('.deleted') || f.endsWith('.cleaned') || f.endsWith('.tmp')) {
        fs.rmSync(path.join(this.dir, f), { force: true });
        continue;
      }
      const m = /^(\d{20})\.log$/.exec(f);
      if (m) bases.push(Number(m[1]));
    }
    bases.sort((a, b) => a - b);
    for (let i = bases.length - 1; i > 0; i--) if (bases[i] === bases[i - 1]) bases.splice(i, 1);
    this.epochs.load();
    const recoveryPoint = clean ? Infinity : (opts.recoveryPoint ?? 0);
    let recovered = false;
    for (let i = 0; i < bases.length; i++) {
      const seg = LogSegment.open(this.dir, bases[i], this.settings);
      const prev = this.segments[this.segments.length - 1];
      const mayHoldUnflushed = i === bases.length - 1 || bases[i + 1] > recoveryPoint;
      let ok = !mayHoldUnflushed && seg.loadTail();
      if (!mayHoldUnflushed && !ok)
        this.logger.warn(
          { dir: this.dir, segment: bases[i] },
          'index files missing or inconsistent: rebuilding from the log',
        );
      if (ok && prev && seg.baseOffset < prev.nextOffset) ok = false;
      if (!ok) {
        recovered = true;
        const r = seg.recover(prev ? prev.nextOffset : 0);
        this.auxWrite(() => seg.persistIndexes(), 'index files of a recovered segment');
        if (r.droppedBytes > 0) {
          this.logger.warn(
            {
              dir: this.dir,
              segment: bases[i],
              validBytes: r.validBytes,
              droppedBytes: r.droppedBytes,
              reason: r.reason,
            },
            'recovery truncated a torn or corrupt segment tail',
          );
        }
        // Assign epochs from what survives (the checkpoint may be behind).
        seg.scan(0, seg.size, false, (b, at) => {
          const e = hdr.partitionLeaderEpoch(b, at);
          if (e > this.epochs.latestEpoch) this.epochs.assign(e, hdr.baseOffset(b, at));
        });
        if (seg.size === 0 && prev && seg.baseOffset < prev.nextOffset) {
          this.logger.warn(
            { dir: this.dir, segment: bases[i] },
            'recovery dropped an empty segment overlapping the one before',
          );
          seg.markDeleted();
          continue;
        }
        if (r.droppedBytes > 0 && i < bases.length - 1) {
          this.segments.push(seg);
          for (let j = i + 1; j < bases.length; j++) {
            const later = LogSegment.open(this.dir, bases[j], this.settings);
            this.logger.warn(
              { dir: this.dir, segment: bases[j], bytes: later.size },
              'recovery dropped a segment after a truncated one',
            );
            later.markDeleted();
          }
          break;
        }
      }
      this.segments.push(seg);
    }
    if (this.segments.length === 0) {
      const base = Math.max(0, opts.logStartOffset ?? 0);
      this.segments.push(LogSegment.create(this.dir, base, this.settings, this.now()));
      this.dirDirty = true;
    }
    const leo = this.logEndOffset;
    let lso = Math.max(opts.logStartOffset ?? 0, this.segments[0].baseOffset);
    if (lso > leo) {
      // The checkpointed start is past what survived: start over there, empty.
      this.logger.warn(
        { dir: this.dir, logStartOffset: lso, logEndOffset: leo },
        'log start offset beyond the recovered log end: starting empty',
      );
      for (const s of this.segments) s.markDeleted();
      this.segments = [LogSegment.create(this.dir, lso, this.settings, this.now())];
      this.dirDirty = true;
      this.epochs.clear();
      lso = this.logEndOffset;
    }
    this._logStartOffset = lso;
    const cutEnd = this.epochs.truncateFromEnd(this.logEndOffset);
    const cutStart = this.epochs.truncateFromStart(lso);
    if (recovered || cutEnd || cutStart) this.auxWrite(() => this.epochs.save(), 'leader-epoch checkpoint');
    this._highWatermark = Math.min(Math.max(opts.highWatermark ?? this.logEndOffset, lso), this.logEndOffset);
    // Writes appended after this point go through a tail cache on the active segment.
    if (!this.active.tail) this.enableTailCache(this.active);
    this.rebuildProducerState();
    if (recovered || !clean) {
      // What recovery kept is only known durable once fsynced.
      this._recoveryPoint = Math.min(opts.recoveryPoint ?? 0, this.logEndOffset);
      await this.flush();
    } else {
      this._recoveryPoint = this.logEndOffset;
    }
  }

  /**
   * A write the log does not depend on for correctness: index files (checked
   * at load, rebuilt when wrong) and a leader-epoch checkpoint that load
   * re-cuts to the log's offsets. A failure marks the dir (full or failed)
   * and is otherwise carried: the next write of the same file retries.
   * Returns whether it worked.
   */
  private auxWrite(fn: () => void, what: string): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      const e = this.dirHealth.writeFailed(err, what);
      if (!(e instanceof KafkaStorageError)) throw e;
      return false;
    }
  }

  private enableTailCache(seg: LogSegment): void {
    seg.tail = new TailCache(this.tailCacheBytes);
  }

  /**
   * Producer state after the batch at `buf[at..]` (a whole batch) was
   * appended: a COMMIT or ABORT marker closes its producer's transaction,
   * and an ABORT that closed one is added to the aborted-transaction index
   * of the segment holding the marker. Throws KafkaStorageError when that
   * index cannot be written.
   */
  private onProducerBatch(buf: Buffer, at: number): void {
    this.producerState.onBatchHeader(buf, at);
    if (!hdr.isControl(buf, at) || !hdr.isTransactional(buf, at)) return;
    const marker = readTxnMarker(buf, at);
    if (!marker) return;
    const producerId = hdr.producerId(buf, at);
    const offset = hdr.baseOffset(buf, at);
    const done = this.producerState.completeTxn(producerId, offset, marker.coordinatorEpoch);
    if (!done || marker.commit) return;
    const seg = this.segments[this.segmentIndexFor(offset)];
    try {
      seg.txnIndex.append({
        producerId,
        firstOffset: done.firstOffset,
        lastOffset: offset,
        lastStableOffset: done.lastStableOffset,
      });
    } catch (err) {
      this.txnIndexLost = true;
      throw this.dirHealth.writeFailed(err, `aborted-transaction index of ${this.topic}-${this.partition}`);
    }
  }

  /**
   * Producer state from the newest readable snapshot <= log end offset plus
   * the batches after it; the aborted-transaction index entries of the
   * markers replayed are written anew.
   */
  private rebuildProducerState(): void {
    const leo = this.logEndOffset;
    this.producerState.pruneSnapshots(0, leo, Infinity);
    this.producerState.clear();
    let from = this._logStartOffset;
    const snaps = this.producerState.listSnapshots();
    for (let i = snaps.length - 1; i >= 0; i--) {
      if (snaps[i] >= this.segments[0].baseOffset && this.producerState.readSnapshot(snaps[i])) {
        from = snaps[i];
        break;
      }
    }
    for (let i = this.segmentIndexFor(from); i < this.segments.length; i++)
      this.segments[i].txnIndex.truncateFrom(from);
    if (from < leo) this.replayProducerState(from);
    this.producerState.truncateHead(this._logStartOffset);
  }

  /** Producer state through the batches from the one holding `fromOffset` (control batches read whole). */
  private replayProducerState(fromOffset: number): void {
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length; i++) {
      const seg = this.segments[i];
      if (seg.nextOffset <= fromOffset) continue;
      const first = seg.locate(fromOffset);
      if (!first) continue;
      seg.scan(first.pos, seg.size, false, (b, at, pos, size) => {
        if (hdr.producerId(b, at) === NO_PRODUCER_ID) return;
        if (!hdr.isControl(b, at)) {
          this.producerState.onBatchHeader(b, at);
          return;
        }
        const whole = Buffer.allocUnsafe(size);
        for (let n = 0; n < size; ) {
          const r = fs.readSync(seg.fd, whole, n, size - n, pos + n);
          if (r === 0) throw new CorruptRecordError(`control batch at position ${pos} of ${seg.file('.log')} is torn`);
          n += r;
        }
        this.onProducerBatch(whole, 0);
      });
    }
  }

  // ---- offsets ----------------------------------------------------------------

  private get active(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  get config(): LogConfig {
    return this._config;
  }

  get logStartOffset(): number {
    return this._logStartOffset;
  }

  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  get highWatermark(): number {
    return this._highWatermark;
  }

  /**
   * The last stable offset (KIP-98): the first offset of the oldest
   * transaction still open or whose marker is not below the high watermark
   * yet; the high watermark when there is none. read_committed consumers
   * read below it.
   */
  get lastStableOffset(): number {
    const hw = this._highWatermark;
    const first = this.producerState.firstUnstableOffset(hw);
    return first < hw ? Math.max(first, this._logStartOffset) : hw;
  }

  /**
   * Aborted transactions overlapping [fetchOffset, upperBoundOffset) (Kafka's
   * collectAbortedTransactions): from the segment holding `fetchOffset` on,
   * until an entry's last stable offset shows no later one can overlap.
   */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): AbortedTxn[] {
    const out: AbortedTxn[] = [];
    for (let i = this.segmentIndexFor(fetchOffset); i < this.segments.length; i++)
      if (this.segments[i].txnIndex.collect(fetchOffset, upperBoundOffset, out)) break;
    return out;
  }

  /** Offsets below this are fsynced. */
  get recoveryPoint(): number {
    return this._recoveryPoint;
  }

  /** Bytes of all segments. */
  get size(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /** Base offsets of the segments, oldest first. */
  get segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  /** Leader epoch -> the first offset written in it. */
  get epochStartOffsets(): Map<number, number> {
    return new Map(this.epochs.all.map((e: EpochEntry) => [e.epoch, e.startOffset]));
  }

  private checkOffsets(): void {
    invariant(
      this._logStartOffset <= this._highWatermark && this._highWatermark <= this.logEndOffset,
      () =>
        `offsets out of order: log start ${this._logStartOffset}, high watermark ${this._highWatermark}, log end ${this.logEndOffset}`,
    );
  }

  setHighWatermark(offset: number): void {
    invariant(offset <= this.logEndOffset, () => `high watermark ${offset} above log end offset ${this.logEndOffset}`);
    invariant(
      offset >= this._logStartOffset,
      () => `high watermark ${offset} below log start offset ${this._logStartOffset}`,
    );
    this._highWatermark = offset;
  }

  updateConfig(config: LogConfig): void {
    this._config = config;
    for (const s of this.segments) s.updateSettings(this.settings);
  }

  // ---- append -----------------------------------------------------------------

  /**
   * Append whole batches. Throws KafkaStorageError, with nothing appended,
   * when the log dir is full or failed or a write fails (see LogDirHealth).
   */
  append(records: Buffer, opts: { leaderEpoch: number; logAppendTime?: number }): AppendInfo {
    invariant(!this.closed, 'append to a closed log');
    if (this.dirHealth.state !== 'online') throw this.dirHealth.refusal();
    if (records.length < BATCH_HEADER_SIZE)
      throw new CorruptRecordError(`${records.length} bytes are not a record batch`);
    const firstOffset = this.logEndOffset;
    let next = firstOffset;
    let maxTimestamp = -1;
    let hasProducer = false;
    for (let at = 0; at < records.length; ) {
      if (records.length - at < BATCH_HEADER_SIZE)
        throw new CorruptRecordError(`trailing ${records.length - at} bytes after the last batch`);
      const size = hdr.totalSize(records, at);
      if (size < BATCH_HEADER_SIZE || at + size > records.length)
        throw new CorruptRecordError(`batch at byte ${at} claims ${size} bytes`);
      if (hdr.magic(records, at) !== 2)
        throw new CorruptRecordError(`batch at byte ${at} has magic ${hdr.magic(records, at)}`);
      const delta = hdr.lastOffsetDelta(records, at);
      if (delta < 0) throw new CorruptRecordError(`batch at byte ${at} has last offset delta ${delta}`);
      setBaseOffset(records, at, next);
      setPartitionLeaderEpoch(records, at, opts.leaderEpoch);
      if (opts.logAppendTime !== undefined) setLogAppendTime(records, at, size, opts.logAppendTime);
      const ts = hdr.maxTimestamp(records, at);
      if (ts > maxTimestamp) maxTimestamp = ts;
      if (hdr.producerId(records, at) !== NO_PRODUCER_ID) hasProducer = true;
      next += delta + 1;
      at += size;
    }
    const lastOffset = next - 1;
    let seg: LogSegment;
    let newEpoch = false;
    try {
      this.maybeRoll(records.length, maxTimestamp, lastOffset);
      newEpoch = this.epochs.assign(opts.leaderEpoch, firstOffset);
      if (newEpoch) this.epochs.save();
      seg = this.active;
      const before = seg.nextOffset;
      invariant(before === firstOffset, () => `append at ${firstOffset} but log end offset is ${before}`);
      seg.append(records);
    } catch (err) {
      // Nothing was appended: no epoch starts here (a saved checkpoint entry past the log end is cut at load).
      if (newEpoch) this.epochs.truncateFromEnd(firstOffset);
      throw this.dirHealth.writeFailed(err, `append to ${this.topic}-${this.partition}`);
    }
    invariant(seg.nextOffset === next, () => `segment next offset ${seg.nextOffset} after append, expected ${next}`);
    if (hasProducer) {
      for (let at = 0; at < records.length; at += hdr.totalSize(records, at)) this.onProducerBatch(records, at);
    }
    if (next - this._recoveryPoint >= this._config.flushMessages) this.kickFlush();
    return {
      firstOffset,
      lastOffset,
      logAppendTime: opts.logAppendTime ?? -1,
      maxTimestamp,
      logStartOffset: this._logStartOffset,
    };
  }

  /**
   * Replication: append batches as the leader wrote them, keeping their
   * offsets and leader epochs (a follower's append). Whole batches only, the
   * first at or after the log end offset, offsets increasing, CRCs valid,
   * epochs never older than the latest here; otherwise CorruptRecordError
   * with nothing appended. Throws KafkaStorageError, nothing appended, when
   * the log dir is full or failed or the write fails. Returns the offsets
   * appended (firstOffset is the first batch's base offset).
   */
  appendAsFollower(records: Buffer): AppendInfo {
    invariant(!this.closed, 'append to a closed log');
    if (this.dirHealth.state !== 'online') throw this.dirHealth.refusal();
    if (records.length < BATCH_HEADER_SIZE)
      throw new CorruptRecordError(`${records.length} bytes are not a record batch`);
    let next = this.logEndOffset;
    let latestEpoch = this.epochs.latestEpoch;
    let maxTimestamp = -1;
    let hasProducer = false;
    const firstOffset = hdr.baseOffset(records, 0);
    for (let at = 0; at < records.length; ) {
      if (records.length - at < BATCH_HEADER_SIZE)
        throw new CorruptRecordError(`trailing ${records.length - at} bytes after the last batch`);
      const size = hdr.totalSize(records, at);
      if (size < BATCH_HEADER_SIZE || at + size > records.length)
        throw new CorruptRecordError(`batch at byte ${at} claims ${size} bytes`);
      if (hdr.magic(records, at) !== 2)
        throw new CorruptRecordError(`batch at byte ${at} has magic ${hdr.magic(records, at)}`);
      const base = hdr.baseOffset(records, at);
      const delta = hdr.lastOffsetDelta(records, at);
      if (delta < 0) throw new CorruptRecordError(`batch at byte ${at} has last offset delta ${delta}`);
      if (base < next) throw new CorruptRecordError(`batch at offset ${base} is below the next offset ${next}`);
      if (!isBatchCrcValid(records, at, size)) throw new CorruptRecordError(`batch at offset ${base}: CRC mismatch`);
      const epoch = hdr.partitionLeaderEpoch(records, at);
      if (epoch < latestEpoch)
        throw new CorruptRecordError(`batch at offset ${base} has leader epoch ${epoch}, older than ${latestEpoch}`);
      latestEpoch = epoch;
      const ts = hdr.maxTimestamp(records, at);
      if (ts > maxTimestamp) maxTimestamp = ts;
      if (hdr.producerId(records, at) !== NO_PRODUCER_ID) hasProducer = true;
      next = base + delta + 1;
      at += size;
    }
    const lastOffset = next - 1;
    const assigned: number[] = [];
    let seg: LogSegment;
    try {
      this.maybeRoll(records.length, maxTimestamp, lastOffset);
      for (let at = 0; at < records.length; at += hdr.totalSize(records, at)) {
        const epoch = hdr.partitionLeaderEpoch(records, at);
        if (this.epochs.assign(epoch, hdr.baseOffset(records, at))) assigned.push(epoch);
      }
      if (assigned.length) this.epochs.save();
      seg = this.active;
      seg.append(records);
    } catch (err) {
      if (assigned.length) this.epochs.truncateFromEnd(this.logEndOffset);
      throw this.dirHealth.writeFailed(err, `append to ${this.topic}-${this.partition}`);
    }
    invariant(seg.nextOffset === next, () => `segment next offset ${seg.nextOffset} after append, expected ${next}`);
    if (hasProducer) {
      for (let at = 0; at < records.length; at += hdr.totalSize(records, at)) this.onProducerBatch(records, at);
    }
    if (next - this._recoveryPoint >= this._config.flushMessages) this.kickFlush();
    return { firstOffset, lastOffset, logAppendTime: -1, maxTimestamp, logStartOffset: this._logStartOffset };
  }

  /** The latest leader epoch with records in this log (-1: none). */
  get latestEpoch(): number {
    return this.epochs.latestEpoch;
  }

  private maybeRoll(incomingBytes: number, incomingMaxTs: number, lastOffset: number): void {
    const seg = this.active;
    if (seg.size === 0) return;
    const waited =
      seg.firstBatchTimestamp >= 0 && incomingMaxTs >= 0
        ? incomingMaxTs - seg.firstBatchTimestamp
        : this.now() - seg.createdMs;
    let reason: string | null = null;
    if (seg.size + incomingBytes > this._config.segmentBytes) reason = 'segment.bytes';
    else if (seg.isIndexFull) reason = 'segment.index.bytes';
    else if (lastOffset - seg.baseOffset > INT32_MAX) reason = 'relative offset overflow';
    else if (waited > maxSegmentMs(this._config)) reason = 'segment.ms';
    if (reason) this.roll();
  }

  /** Close the active segment to appends and start a new one at the log end offset. */
  roll(): void {
    const old = this.active;
    const base = old.nextOffset;
    if (old.size === 0) return;
    // Writes first (each may throw, leaving the old segment active and the roll to be retried).
    old.prepareRoll();
    this.producerState.writeSnapshot(base);
    const seg = LogSegment.create(this.dir, base, this.settings, this.now());
    old.onRoll();
    this.segments.push(seg);
    this.dirDirty = true;
    this.producerState.pruneSnapshots(this.segments[0].baseOffset, base);
  }

  // ---- flushing (group commit) ----------------------------------------------

  /** Resolves once every offset below `offset` is fsynced; concurrent callers share fsyncs. */
  flushedUpTo(offset: number): Promise<void> {
    if (offset <= this._recoveryPoint) return Promise.resolve();
    if (this.dirHealth.state === 'failed') return Promise.reject(this.dirHealth.refusal());
    return new Promise((resolve, reject) => {
      this.waiters.push({ offset, resolve, reject });
      this.kickFlush();
    });
  }

  /** fsync everything appended so far. */
  flush(): Promise<void> {
    return this.flushedUpTo(this.logEndOffset);
  }

  /** flush.ms: fsync if unflushed data is older than the setting. Called by the scheduler. */
  maybeFlushByTime(nowMs = this.now()): void {
    if (this.logEndOffset > this._recoveryPoint && nowMs - this.lastFlushMs >= this._config.flushMs) this.kickFlush();
  }

  private kickFlush(): void {
    if (this.flushing || this.closed) return;
    this.flushing = this.runFlushes().finally(() => {
      this.flushing = null;
      if (this.waiters.length) this.kickFlush();
    });
  }

  private async runFlushes(): Promise<void> {
    for (;;) {
      const target = this.logEndOffset;
      try {
        if (this.dirHealth.state === 'failed') throw this.dirHealth.refusal();
        await this.flushTo(target);
        // Another log's fsync in this dir failed meanwhile: nothing more is acknowledged from it.
        if (this.dirHealth.isFailed()) throw this.dirHealth.refusal();
      } catch (err) {
        // The dir's state change is logged once by LogDirHealth; anything else is a bug.
        const e = this.dirHealth.writeFailed(err, `flush of ${this.topic}-${this.partition}`);
        if (!(e instanceof KafkaStorageError)) this.logger.error({ dir: this.dir, err }, 'flush failed');
        const ws = this.waiters;
        this.waiters = [];
        for (const w of ws) w.reject(e);
        return;
      }
      const still: FlushWaiter[] = [];
      for (const w of this.waiters) w.offset <= this._recoveryPoint ? w.resolve() : still.push(w);
      this.waiters = still;
      if (!still.length) return;
    }
  }

  /**
   * After a truncation: a wait for offsets that are gone ends once what
   * remains below the new log end is fsynced (a flush pass would otherwise
   * loop on a waiter it can never satisfy, starving the event loop).
   */
  private clampFlushWaiters(): void {
    const leo = this.logEndOffset;
    for (const w of this.waiters) if (w.offset > leo) w.offset = leo;
    if (this.waiters.length > 0) this.kickFlush();
  }

  private async flushTo(target: number): Promise<void> {
    const rp = this._recoveryPoint;
    const truncations = this.truncations;
    const segs = this.segments.filter((s) => s.dirty || (s.nextOffset > rp && s.baseOffset < target));
    const active = this.active;
    const dirDirty = this.dirDirty;
    this.dirDirty = false;
    for (const s of segs) await s.sync(this.fsync, s !== active);
    if (dirDirty) {
      this.fsyncCount++;
      try {
        fsyncDir(this.dir);
      } catch (err) {
        throw this.dirHealth.fsyncFailed(err, `fsync of directory ${this.dir}`);
      }
    }
    // A truncation during the fsync (it lowered the recovery point) may have been followed by appends
    // below `target` that this fsync did not cover: the next pass flushes them.
    if (truncations === this.truncations)
      this._recoveryPoint = Math.max(this._recoveryPoint, Math.min(target, this.logEndOffset));
    this.lastFlushMs = this.now();
  }

  // ---- reads ------------------------------------------------------------------

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /**
   * Whole batches from the one holding `fetchOffset` (it may start before),
   * up to `maxBytes` (but the first batch whole when minOneBatch, KIP-74),
   * never a batch holding an offset >= maxOffset (default log end offset).
   * Reads one segment at most. Throws OffsetOutOfRangeError outside
   * [log start offset, log end offset].
   *
   * `pins` (for readers that pass the slices on, like Fetch): read into pooled
   * memory, whose buffers are pushed onto `pins`, pinned; unpin each once the
   * bytes have left (see buffer-pool.ts). Without it the slices are the
   * caller's own. `regions` (with `pins`): a large read from a segment file
   * comes back as `region`, a FileRegion the transport sends in place.
   */
  read(
    fetchOffset: number,
    maxBytes: number,
    opts: { maxOffset?: number; minOneBatch?: boolean; pins?: Pin[]; regions?: boolean } = {},
  ): ReadResult {
    const leo = this.logEndOffset;
    if (fetchOffset < this._logStartOffset || fetchOffset > leo)
      throw new OffsetOutOfRangeError(fetchOffset, this._logStartOffset, leo);
    const maxOffset = Math.min(opts.maxOffset ?? leo, leo);
    if (fetchOffset >= maxOffset) return { batches: [], bytes: 0 };
    const minOne = opts.minOneBatch ?? true;
    for (let i = this.segmentIndexFor(fetchOffset); i < this.segments.length; i++) {
      const r = this.segments[i].read(
        fetchOffset,
        maxBytes,
        maxOffset,
        minOne,
        opts.pins ?? null,
        opts.regions ?? false,
      );
      if (r) return r;
    }
    return { batches: [], bytes: 0 };
  }

  /**
   * Walk batch headers (61 bytes at buf[at..]; valid only during the call)
   * from the batch holding `fromOffset`; return false to stop.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: as BatchVisitor, a callback that never stops returns nothing
  forEachBatchHeader(fromOffset: number, cb: (buf: Buffer, at: number) => boolean | void): void {
    let stop = false;
    for (let i = this.segmentIndexFor(fromOffset); i < this.segments.length && !stop; i++) {
      const seg = this.segments[i];
      if (seg.nextOffset <= fromOffset) continue;
      const first = seg.locate(fromOffset);
      if (!first) continue;
      seg.scan(first.pos, seg.size, false, (b, at) => {
        if (cb(b, at) === false) {
          stop = true;
          return false;
        }
      });
    }
  }

  /** First batch whose max timestamp >= ts (via the time indexes): its base offset and max timestamp. */
  offsetForTimestamp(ts: number): { offset: number; timestamp: number } | null {
    for (const seg of this.segments) {
      if (seg.maxTimestamp < ts || seg.nextOffset <= this._logStartOffset) continue;
      const rel = seg.timeIndex.lookup(ts);
      const from = rel < 0 ? 0 : seg.offsetIndex.lookup(rel);
      let found: { offset: number; timestamp: number } | null = null;
      seg.scan(from, seg.size, false, (b, at) => {
        const t = hdr.maxTimestamp(b, at);
        if (t >= ts && hdr.lastOffset(b, at) >= this._logStartOffset) {
          found = { offset: Math.max(hdr.baseOffset(b, at), this._logStartOffset), timestamp: t };
          return false;
        }
      });
      if (found) return found;
    }
    return null;
  }

  /** ListOffsets MAX_TIMESTAMP (-3): the batch with the largest timestamp (first such), or null when empty. */
  latestTimestampOffset(): { offset: number; timestamp: number } | null {
    let best: { offset: number; timestamp: number } | null = null;
    for (const seg of this.segments) {
      if (
        seg.maxTimestamp >= 0 &&
        seg.nextOffset > this._logStartOffset &&
        (!best || seg.maxTimestamp > best.timestamp)
      ) {
        best = { offset: Math.max(seg.maxTimestampOffset, this._logStartOffset), timestamp: seg.maxTimestamp };
      }
    }
    return best;
  }

  /** OffsetForLeaderEpoch. */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } {
    return this.epochs.endOffsetFor(epoch, this.logEndOffset);
  }

  // ---- moving the start and the end ------------------------------------------

  /** DeleteRecords: the log now starts at `offset` (<= high watermark); whole segments below go. */
  async deleteRecordsBefore(offset: number): Promise<void> {
    if (offset > this._highWatermark || offset < 0)
      throw new OffsetOutOfRangeError(offset, this._logStartOffset, this._highWatermark);
    if (offset <= this._logStartOffset) return;
    this.moveLogStartOffset(offset);
    this.deleteSegmentsWhile(() => false);
    await this.onLogStartOffsetChange?.(this);
  }

  private moveLogStartOffset(offset: number): void {
    if (offset <= this._logStartOffset) return;
    this._logStartOffset = offset;
    if (this.epochs.truncateFromStart(offset)) this.auxWrite(() => this.epochs.save(), 'leader-epoch checkpoint');
    this.producerState.truncateHead(offset);
    this.checkOffsets();
  }

  /**
   * Delete the oldest segments (never the active one, never one holding an
   * offset >= high watermark) while they lie below the log start offset or
   * `extra(segment)` says so. Returns how many went.
   */
  private deleteSegmentsWhile(extra: (seg: LogSegment) => boolean): number {
    let n = 0;
    while (this.segments.length > 1) {
      const seg = this.segments[0];
      if (seg.nextOffset > this._highWatermark) break;
      if (!(seg.nextOffset <= this._logStartOffset || extra(seg))) break;
      this.segments.shift();
      this.scheduleDelete(seg.markDeleted());
      n++;
    }
    if (n) {
      this.moveLogStartOffset(this.segments[0].baseOffset);
      this.producerState.pruneSnapshots(this.segments[0].baseOffset, this.logEndOffset);
    }
    return n;
  }

  private scheduleDelete(files: string[]): void {
    const rm = () => {
      for (const f of files) fs.rmSync(f, { force: true });
    };
    if (this._config.fileDeleteDelayMs <= 0) rm();
    else setTimeout(rm, this._config.fileDeleteDelayMs).unref();
  }

  /**
   * Retention (retention.ms / retention.bytes, and segments wholly below the
   * log start offset). Returns the number of segments deleted.
   */
  deleteOldSegments(nowMs = this.now()): number {
    const policyDelete = this._config.cleanupPolicy.includes('delete');
    const { retentionMs, retentionBytes } = this._config;
    let excess = retentionBytes >= 0 ? this.size - retentionBytes : -1;
    const n = this.deleteSegmentsWhile((seg) => {
      if (!policyDelete) return false;
      const newest = seg.maxTimestamp >= 0 ? seg.maxTimestamp : seg.createdMs;
      const byTime = retentionMs >= 0 && nowMs - newest > retentionMs;
      const bySize = retentionBytes >= 0 && excess - seg.size >= 0;
      if (byTime || bySize) {
        excess -= seg.size;
        return true;
      }
      return false;
    });
    if (n)
      void Promise.resolve(this.onLogStartOffsetChange?.(this)).catch((err) =>
        this.logger.error({ dir: this.dir, err }, 'log start offset checkpoint failed'),
      );
    return n;
  }

  /** Replication: drop everything at and above `offset` (never below the high watermark). */
  truncateTo(offset: number): void {
    invariant(
      offset >= this._highWatermark,
      () => `truncation to ${offset} below the high watermark ${this._highWatermark}`,
    );
    if (offset >= this.logEndOffset) return;
    while (this.segments.length > 1 && this.active.baseOffset >= offset) {
      const seg = this.segments.pop()!;
      this.scheduleDelete(seg.markDeleted());
    }
    const seg = this.active;
    seg.truncateTo(offset);
    if (!seg.tail) this.enableTailCache(seg);
    invariant(
      this.logEndOffset >= this._highWatermark,
      () =>
        `truncation to ${offset} left log end offset ${this.logEndOffset} below the high watermark ${this._highWatermark}`,
    );
    this._recoveryPoint = Math.min(this._recoveryPoint, this.logEndOffset);
    this.truncations++;
    this.clampFlushWaiters();
    if (this.epochs.truncateFromEnd(this.logEndOffset))
      this.auxWrite(() => this.epochs.save(), 'leader-epoch checkpoint');
    this.rebuildProducerState();
    this.checkOffsets();
  }

  /**
   * A replica that starts over (from a snapshot, or a follower; Kafka's truncateFullyAndStartAt): every
   * segment goes and the log is empty at `offset` (log start = high
   * watermark = log end), leader epochs and producer state forgotten. A
   * follower does this when its log ends before the leader's log start, and
   * when the first batch it fetches straddles its empty log's start (then
   * `offset` may be below the high watermark of that empty log). The
   * directory is fsynced before this returns; a failure marks the log dir
   * and throws KafkaStorageError.
   */
  truncateFullyAndStartAt(offset: number): void {
    invariant(!this.closed, 'truncation of a closed log');
    invariant(
      offset >= this._highWatermark || this.logEndOffset === this._logStartOffset,
      () => `restart at ${offset} below the high watermark ${this._highWatermark}`,
    );
    if (this.dirHealth.state === 'failed') throw this.dirHealth.refusal();
    let keep = this.segments.find((s) => s.baseOffset === offset);
    try {
      if (keep) keep.truncateTo(offset);
      else keep = LogSegment.create(this.dir, offset, this.settings, this.now());
    } catch (err) {
      throw this.dirHealth.writeFailed(err, `truncation of ${this.topic}-${this.partition}`);
    }
    const old = this.segments.filter((s) => s !== keep);
    this.segments = [keep];
    if (!keep.tail) this.enableTailCache(keep);
    this._logStartOffset = offset;
    this._highWatermark = offset;
    this._recoveryPoint = offset;
    this.truncations++;
    this.clampFlushWaiters();
    this.epochs.clear();
    this.producerState.clear();
    this.producerState.pruneSnapshots(offset + 1, offset); // an empty range: none is kept
    this.dirDirty = true;
    try {
      for (const s of old) this.scheduleDelete(s.markDeleted());
      this.epochs.save();
    } catch (err) {
      throw this.dirHealth.writeFailed(err, `truncation of ${this.topic}-${this.partition}`);
    }
    try {
      fsyncDir(this.dir);
      this.dirDirty = false;
    } catch (err) {
      throw this.dirHealth.fsyncFailed(err, `fsync of directory ${this.dir}`);
    }
    this.checkOffsets();
  }

  // ---- compaction support ----------------------------------------------------

  /** Offsets below this were compacted by the last cleaner pass (in memory only). */
  cleanerCheckpoint = 0;

  /** The segments, oldest first (for the cleaner; do not mutate). */
  get segmentList(): readonly LogSegment[] {
    return this.segments;
  }

  private completeSwap(swapFile: string): void {
    const logFile = swapFile.slice(0, -'.swap'.length);
    const stem = logFile.slice(0, -'.log'.length);
    fs.rmSync(stem + '.index', { force: true });
    fs.rmSync(stem + '.timeindex', { force: true });
    fs.renameSync(swapFile, logFile);
  }

  /** Replace the rolled segment at `baseOffset` with the compacted `<base>.log.swap`. */
  swapInCleanedSegment(baseOffset: number, swapFile: string): void {
    const i = this.segments.findIndex((s) => s.baseOffset === baseOffset);
    invariant(i >= 0 && i < this.segments.length - 1, () => `no rolled segment at ${baseOffset} to swap`);
    const old = this.segments[i];
    old.close();
    this.completeSwap(swapFile);
    fsyncDir(this.dir);
    const seg = LogSegment.open(this.dir, baseOffset, this.settings);
    const r = seg.recover(i > 0 ? this.segments[i - 1].nextOffset : 0);
    this.auxWrite(() => seg.persistIndexes(), 'index files of a compacted segment');
    invariant(r.droppedBytes === 0, () => `compacted segment ${baseOffset} failed validation: ${r.reason}`);
    if (seg.size === 0) seg.nextOffset = old.nextOffset; // keep the offset range even when nothing is left
    this.segments[i] = seg;
  }

  // ---- lifetime ---------------------------------------------------------------

  /**
   * Flush, write indexes, a producer-state snapshot and the epoch checkpoint,
   * close files. Resolves true when all of that was written and fsynced (the
   * stop was clean); false when the dir is failed or a write failed (full
   * disk): the files are closed all the same, and the next open recovers.
   */
  async close(): Promise<boolean> {
    if (this.closed) return true;
    let clean = this.dirHealth.state !== 'failed';
    try {
      await this.flush();
      if (this.flushing) await this.flushing;
    } catch (err) {
      if (!(err instanceof KafkaStorageError)) throw err;
      clean = false;
    }
    this.closed = true;
    if (clean) {
      try {
        const active = this.active;
        active.persistIndexes();
        await active.sync(this.fsync, true);
        if (!this.txnIndexLost) {
          this.producerState.writeSnapshot(this.logEndOffset);
          this.producerState.pruneSnapshots(this.segments[0].baseOffset, this.logEndOffset);
        }
        this.epochs.save();
        fsyncDir(this.dir);
      } catch (err) {
        const e = this.dirHealth.writeFailed(err, `close of ${this.topic}-${this.partition}`);
        if (!(e instanceof KafkaStorageError)) throw e;
        clean = false;
      }
    }
    for (const s of this.segments) s.close();
    return clean;
  }

  /** Close file descriptors without flushing or writing anything: what a crash leaves (tests). */
  abandon(): void {
    this.closed = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.reject(new InvariantViolation('log abandoned'));
    for (const s of this.segments) s.close();
  }

  /** Close and remove the partition directory. */
  async delete(): Promise<void> {
    this.abandon();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * segment.ms, or max.compaction.lag.ms when lower on a compacted log (KIP-354,
 * Kafka's LogConfig.maxSegmentMs): records leave the active segment, which the
 * cleaner never touches, within the lag.
 */
function maxSegmentMs(c: LogConfig): number {
  return c.cleanupPolicy.includes('compact') && c.maxCompactionLagMs > 0
    ? Math.min(c.maxCompactionLagMs, c.segmentMs)
    : c.segmentMs;
}

export { segmentFileName };
