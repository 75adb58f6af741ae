/**
 * The cluster metadata log: partition 0 of `__cluster_metadata`, stored as
 * v2 record batches on the same PartitionLog code as every data partition
 * (as KRaft does), in `<metadata dir>/__cluster_metadata-0/`.
 *
 * - One controller commit is one record batch (applied whole); each record's
 *   value is the JSON of one MetadataRecord (see docs/architecture.md).
 * - Offsets and leader epochs are the PartitionLog's: a batch carries the
 *   epoch of the leader that wrote it. On one node every start is a new
 *   "election": the epoch is one more than any in the log or its snapshot.
 * - The committed offset is the log's high watermark: offsets below it are
 *   committed. On one node it follows the fsync (an append resolves once its
 *   batch is fsynced and committed); with Raft it will follow the majority.
 *   Only committed batches are read back and applied.
 * - Truncation (`truncateTo`) drops uncommitted batches, never committed ones
 *   (asserted).
 * - A snapshot `<end offset>-<epoch>.checkpoint` (the names KRaft uses) holds
 *   the image at `end offset` as record batches, replaced atomically through
 *   the write seam; after it is durable the log start offset moves up to it
 *   and the segments below are deleted. Startup = newest snapshot + the
 *   committed batches after it.
 *
 * Write discipline (docs/storage.md): appends go through PartitionLog and the
 * write seam (src/storage/file-io.ts). A failed write is cut back and fails
 * the append (MetadataStorageError); a failed fsync fails it too and, as for
 * any log dir, nothing more is written or acknowledged from this log until
 * the process restarts (the uncommitted batch is cut off, best effort).
 *
 * Damage: at startup every segment is checked batch by batch. Bad bytes with
 * no valid batch anywhere after them are a torn tail (an interrupted append,
 * never acknowledged) and are cut by the PartitionLog's recovery; bad bytes
 * followed by a valid batch mean an acknowledged batch was written after
 * them: the log refuses to load rather than skip or drop it.
 *
 * Space: `cluster-metadata.reserve` (RESERVE_BYTES) is kept beside the log.
 * An append that finds the disk full releases it and tries once more, so
 * that an operator can still delete topics to free space; it is put back by
 * a later append once there is room.
 *
 * A data dir written before this format (`cluster-metadata.log`, JSON frames)
 * is converted on first start: its fold is written as the first snapshot,
 * the log starts after it, and the old file is removed only once that
 * snapshot is durable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import type { MetadataRecord } from './records.ts';
import { MetadataImage } from './image.ts';
import { fsyncDir, fsyncFd, isIoError, replaceFile, writeFully } from '../storage/file-io.ts';
import { PartitionLog, type StorageLogger, silentLogger } from '../storage/partition-log.ts';
import { LogDirHealth } from '../storage/log-dir-health.ts';
import { KafkaStorageError, invariant } from '../storage/errors.ts';
import { defaultLogConfig, type LogConfig } from '../storage/log-config.ts';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  batch as hdr,
  isBatchCrcValid,
  setBaseOffset,
} from '../protocol/records/batch-header.ts';
import { checkBatchBounds, decodeBatch, encodeBatch } from '../protocol/records/record-batch.ts';

export const METADATA_TOPIC = '__cluster_metadata';
/** The metadata partition's directory name in its log dir (LogManager leaves it alone). */
export const METADATA_PARTITION_DIR = `${METADATA_TOPIC}-0`;
/** The JSON-framed log of earlier Samsa versions, converted at first start. */
export const LEGACY_METADATA_LOG_FILE = 'cluster-metadata.log';
export const RESERVE_FILE = 'cluster-metadata.reserve';
export const RESERVE_BYTES = 1024 * 1024;
/** Kafka's metadata.log.max.record.bytes.between.snapshots default (20 MiB). */
export const DEFAULT_MAX_BYTES_BETWEEN_SNAPSHOTS = 20 * 1024 * 1024;

const SNAPSHOT_SUFFIX = '.checkpoint';
const SNAPSHOT_FILE = /^(\d{20})-(\d{10})\.checkpoint$/;
/** Records per batch in a snapshot file. */
const SNAPSHOT_BATCH_RECORDS = 1000;
/** Bytes read from the log at a time when replaying. */
const READ_BYTES = 1024 * 1024;

/** One committed batch, as read back or as appended. */
export interface MetadataBatch {
  baseOffset: number;
  lastOffset: number;
  leaderEpoch: number;
  records: MetadataRecord[];
}

export interface MetadataSnapshot {
  /** Records below this offset are in the snapshot. */
  endOffset: number;
  /** Leader epoch of the record at endOffset - 1. */
  epoch: number;
  records: MetadataRecord[];
}

/** The controller's view of the log (a Raft-replicated log will implement the same). */
export interface MetadataLog {
  /** The newest snapshot and every committed batch after it (startup). */
  load(): { snapshot: MetadataSnapshot | null; batches: MetadataBatch[] };
  /** Append one batch and wait until it is committed; rejects (MetadataStorageError) if it is not. */
  append(records: MetadataRecord[]): Promise<MetadataBatch>;
  /** Batch bytes appended since the newest snapshot (or the log start); truncated ones still count. */
  readonly bytesSinceSnapshot: number;
  /** Write a snapshot of the image at `endOffset` (<= committed offset) and trim the log up to it. */
  writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** An append did not reach the disk, or the log refuses appends: the records were not committed. */
export class MetadataStorageError extends Error {
  readonly errorCode = 'KAFKA_STORAGE_ERROR' as const;
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'MetadataStorageError';
  }
}

export interface MetadataLogOptions {
  logger?: StorageLogger;
  now?: () => number;
  /** Called with the bytes of a torn tail cut at startup. */
  onTruncate?: (droppedBytes: number) => void;
  /** Called once when the log stops taking appends (failed fsync or write), with the reason. */
  onBroken?: (reason: string) => void;
  /**
   * Raft: the committed offset is the quorum's to tell (`markCommitted`); at
   * open only the snapshot is known committed, so the committed offset starts
   * at the log start. Default (one node, which commits what it fsynced): the
   * whole log is committed at open.
   */
  commitByQuorum?: boolean;
}

export function snapshotFileName(endOffset: number, epoch: number): string {
  return `${String(endOffset).padStart(20, '0')}-${String(epoch).padStart(10, '0')}${SNAPSHOT_SUFFIX}`;
}

function metadataLogConfig(): LogConfig {
  // Trimmed by snapshots only; fsynced by every append; trimmed segments go at once.
  return { ...defaultLogConfig(), retentionMs: -1, retentionBytes: -1, fileDeleteDelayMs: 0 };
}

export class FileMetadataLog implements MetadataLog {
  private closed = false;
  private hasReserve = false;
  private _bytesSinceSnapshot = 0;
  private snapshot: MetadataSnapshot | null;

  private constructor(
    /** The log dir holding the partition directory and the reserve file. */
    readonly dir: string,
    /** The PartitionLog under this log (tests look at its offsets and segments). */
    readonly log: PartitionLog,
    /** The state of the log dir (shared with the data logs there: one state per dir). */
    readonly dirHealth: LogDirHealth,
    snapshot: MetadataSnapshot | null,
    /** The leader epoch of this run's appends. */
    readonly leaderEpoch: number,
    private readonly now: () => number,
  ) {
    this.snapshot = snapshot;
  }

  /** Opens (creating, or converting a legacy file) the metadata log in log dir `dir`. */
  static async open(dir: string, opts: MetadataLogOptions = {}): Promise<FileMetadataLog> {
    const logger = opts.logger ?? silentLogger;
    const now = opts.now ?? Date.now;
    fs.mkdirSync(dir, { recursive: true });
    const partDir = path.join(dir, METADATA_PARTITION_DIR);
    convertLegacyLog(dir, partDir, logger);
    fs.mkdirSync(partDir, { recursive: true });
    const torn = checkSegments(partDir);
    const snapshot = loadNewestSnapshot(partDir);
    const health = new LogDirHealth(dir, logger);
    let reported = false;
    health.onChange((h) => {
      if (h.isFailed() && !reported) {
        reported = true;
        opts.onBroken?.(h.refusal().message);
      }
    });
    const log = await PartitionLog.open(partDir, metadataLogConfig(), {
      logger,
      now,
      // Recovered (rescanned) at every start: the log is small, and a torn tail must be cut before replay.
      cleanShutdown: false,
      recoveryPoint: 0,
      logStartOffset: snapshot?.endOffset,
      dirHealth: health,
    });
    if (torn > 0) opts.onTruncate?.(torn);
    // Segments wholly below the snapshot: a trim the last run did not finish.
    if (log.segmentBaseOffsets[0] < log.logStartOffset) {
      try {
        if (log.logEndOffset === log.logStartOffset) log.roll();
        log.deleteOldSegments();
      } catch (err) {
        if (!isIoError(err)) throw err;
        logger.warn(
          { dir: partDir, err },
          'metadata log: segments below the snapshot not deleted (retried at the next start)',
        );
      }
    }
    let epoch = snapshot?.epoch ?? -1;
    for (const e of log.epochStartOffsets.keys()) if (e > epoch) epoch = e;
    const m = new FileMetadataLog(dir, log, health, snapshot, epoch + 1, now);
    for (const b of m.readCommitted(log.logStartOffset)) m._bytesSinceSnapshot += b.bytes;
    if (opts.commitByQuorum) log.setHighWatermark(log.logStartOffset);
    m.restoreReserve();
    return m;
  }

  get partitionDir(): string {
    return this.log.dir;
  }

  /** Offsets below this are committed (the high watermark). */
  get committedOffset(): number {
    return this.log.highWatermark;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get bytesSinceSnapshot(): number {
    return this._bytesSinceSnapshot;
  }

  /** End offset and epoch of the newest snapshot, or null. */
  get latestSnapshot(): { endOffset: number; epoch: number } | null {
    return this.snapshot && { endOffset: this.snapshot.endOffset, epoch: this.snapshot.epoch };
  }

  /** The newest snapshot with its records, or null. */
  get snapshotData(): MetadataSnapshot | null {
    return this.snapshot;
  }

  load(): { snapshot: MetadataSnapshot | null; batches: MetadataBatch[] } {
    const start = this.snapshot ? this.snapshot.endOffset : this.log.logStartOffset;
    return { snapshot: this.snapshot, batches: this.readCommitted(start).map((b) => b.batch) };
  }

  /**
   * Committed batches from the one holding `from` on, below `end` (default:
   * the committed offset, never above it); control batches (Raft's leader
   * changes) left out.
   */
  readBatches(from: number, end = this.committedOffset): MetadataBatch[] {
    return this.readCommitted(from, end).map((b) => b.batch);
  }

  private readCommitted(from: number, end = this.committedOffset): { batch: MetadataBatch; bytes: number }[] {
    const out: { batch: MetadataBatch; bytes: number }[] = [];
    end = Math.min(end, this.committedOffset);
    let next = Math.max(from, this.log.logStartOffset);
    while (next < end) {
      const r = this.log.read(next, READ_BYTES, { maxOffset: end, minOneBatch: true });
      const before = next;
      for (const buf of r.batches) {
        for (let at = 0; at < buf.length; ) {
          const size = checkBatchBounds(buf, at);
          const last = hdr.lastOffset(buf, at);
          if (last < next) {
            at += size;
            continue;
          }
          if (!hdr.isControl(buf, at)) out.push({ batch: decodeMetadataBatch(buf, at, this.log.dir), bytes: size });
          at += size;
          next = last + 1;
        }
      }
      invariant(
        next > before,
        () => `metadata log read at ${before} returned nothing below the committed offset ${end}`,
      );
    }
    return out;
  }

  async append(records: MetadataRecord[]): Promise<MetadataBatch> {
    const info = this.appendUncommitted(records);
    try {
      await this.log.flushedUpTo(info.lastOffset + 1);
    } catch (err) {
      // Not durable: not committed. Do not leave the batch for a later start to apply (best effort).
      try {
        if (this.log.logEndOffset > info.firstOffset) this.log.truncateTo(info.firstOffset);
      } catch {
        // the log refuses appends either way
      }
      throw new MetadataStorageError(`metadata log ${this.log.dir}: ${(err as Error).message}`, err);
    }
    if (this.closed)
      throw new MetadataStorageError(`metadata log ${this.log.dir} was closed before the append was durable`);
    this.advanceCommittedOffset(info.lastOffset + 1);
    this.restoreReserve();
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, leaderEpoch: this.leaderEpoch, records };
  }

  /**
   * Writes `records` as one batch at the log end with this run's leader
   * epoch: not yet durable nor committed (a Raft leader commits it once a
   * majority has it). A full disk releases the reserve and tries once more.
   */
  appendUncommitted(records: MetadataRecord[]): { firstOffset: number; lastOffset: number } {
    if (this.closed) throw new MetadataStorageError(`metadata log ${this.log.dir} is closed`);
    if (records.length === 0) throw new Error('metadata: an empty batch');
    const buf = encodeBatch({ baseTimestamp: this.now(), records: records.map((r) => ({ value: JSON.stringify(r) })) });
    return this.appendBatches(buf, this.leaderEpoch);
  }

  /**
   * Appends whole v2 batches (already checked by the caller) at the log end
   * with `leaderEpoch`: their base offsets are set to follow the log end. Not
   * durable nor committed yet. A full disk releases the reserve and tries
   * once more; a failure appends nothing and throws MetadataStorageError.
   */
  appendBatches(buf: Buffer, leaderEpoch: number): { firstOffset: number; lastOffset: number } {
    if (this.closed) throw new MetadataStorageError(`metadata log ${this.log.dir} is closed`);
    const info = this.writeBatch(buf, leaderEpoch);
    this._bytesSinceSnapshot += buf.length;
    return info;
  }

  private writeBatch(buf: Buffer, leaderEpoch: number): { firstOffset: number; lastOffset: number } {
    // A dir found full by an earlier append takes writes again once a probe write fits.
    if (this.dirHealth.state === 'full') this.dirHealth.probe();
    try {
      return this.log.append(buf, { leaderEpoch });
    } catch (err) {
      if (!(err instanceof KafkaStorageError)) throw err;
      if (this.dirHealth.state === 'full' && this.releaseReserve() && this.dirHealth.probe()) {
        try {
          return this.log.append(buf, { leaderEpoch });
        } catch (again) {
          if (!(again instanceof KafkaStorageError)) throw again;
          throw new MetadataStorageError(`metadata log ${this.log.dir}: ${again.message}`, again);
        }
      }
      throw new MetadataStorageError(`metadata log ${this.log.dir}: ${err.message}`, err);
    }
  }

  /** Offsets below `offset` are committed (one node: once fsynced; Raft: once a majority has them). */
  advanceCommittedOffset(offset: number): void {
    invariant(offset >= this.committedOffset, () => `committed offset ${offset} below ${this.committedOffset}`);
    invariant(
      offset <= this.log.recoveryPoint,
      () => `committed offset ${offset} above the durable end ${this.log.recoveryPoint}`,
    );
    this.log.setHighWatermark(offset);
  }

  /**
   * Raft: the quorum committed the offsets below `offset` (a majority has
   * them durably; this node's copy may still be on its way to the disk).
   */
  markCommitted(offset: number): void {
    invariant(offset >= this.committedOffset, () => `committed offset ${offset} below ${this.committedOffset}`);
    invariant(
      offset <= this.log.logEndOffset,
      () => `committed offset ${offset} above the log end ${this.log.logEndOffset}`,
    );
    this.log.setHighWatermark(offset);
  }

  /** Drop the batches at and above `offset`; never a committed one. */
  truncateTo(offset: number): void {
    invariant(
      offset >= this.committedOffset,
      () => `metadata log truncation to ${offset} below the committed offset ${this.committedOffset}`,
    );
    if (offset >= this.log.logEndOffset) return;
    this.log.truncateTo(offset);
  }

  /**
   * Writes the snapshot `<endOffset>-<epoch>.checkpoint` (atomically: temp
   * file, fsync, rename, fsync dir), removes older snapshots, then moves the
   * log start offset up to `endOffset` (older segments deleted). Throws when
   * the snapshot could not be written (nothing changed then); trimming after
   * a durable snapshot is best effort (redone at the next start).
   */
  async writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void> {
    invariant(!this.closed, 'snapshot of a closed metadata log');
    invariant(
      endOffset <= this.committedOffset,
      () => `snapshot at ${endOffset} above the committed offset ${this.committedOffset}`,
    );
    invariant(
      endOffset >= this.log.logStartOffset,
      () => `snapshot at ${endOffset} below the log start offset ${this.log.logStartOffset}`,
    );
    const epoch = this.epochAt(endOffset - 1);
    const dir = this.log.dir;
    replaceFile(path.join(dir, snapshotFileName(endOffset, epoch)), encodeSnapshot(records));
    const previous = this.snapshot;
    this.snapshot = { endOffset, epoch, records };
    this._bytesSinceSnapshot = 0;
    for (const f of fs.readdirSync(dir)) {
      const m = SNAPSHOT_FILE.exec(f);
      if (m && Number(m[1]) < endOffset) fs.rmSync(path.join(dir, f), { force: true });
    }
    if (previous && previous.endOffset === endOffset) return;
    try {
      // Segments end where the snapshot starts, so the ones below can go whole.
      if (this.log.segmentBaseOffsets.at(-1)! < endOffset) this.log.roll();
      await this.log.deleteRecordsBefore(endOffset);
    } catch (err) {
      if (!(err instanceof KafkaStorageError)) throw err;
    }
  }

  /**
   * Bytes `[position, position + maxBytes)` of snapshot `<endOffset>-<epoch>`
   * and its size; null when that snapshot is not (any longer) here or
   * `position` is past its end.
   */
  readSnapshot(
    endOffset: number,
    epoch: number,
    position: number,
    maxBytes: number,
  ): { bytes: Buffer; size: number } | null {
    if (!Number.isSafeInteger(position) || position < 0 || !(maxBytes > 0)) return null;
    let fd: number;
    try {
      fd = fs.openSync(path.join(this.log.dir, snapshotFileName(endOffset, epoch)), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (position > size) return null;
      const n = Math.min(maxBytes, size - position);
      const bytes = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const r = fs.readSync(fd, bytes, done, n - done, position + done);
        if (r === 0) break;
        done += r;
      }
      return { bytes: bytes.subarray(0, done), size };
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Raft follower: a snapshot fetched whole from the leader. Checked (batch
   * by batch, CRC, records) before anything changes, written atomically as
   * `<endOffset>-<epoch>.checkpoint`; then every other snapshot is removed
   * and the log starts over, empty, at `endOffset` (committed up to there).
   * Throws when the bytes are not a snapshot (nothing changed) or a write
   * fails (MetadataStorageError).
   */
  installSnapshot(endOffset: number, epoch: number, bytes: Uint8Array): MetadataSnapshot {
    invariant(!this.closed, 'snapshot installed in a closed metadata log');
    invariant(
      endOffset >= this.committedOffset,
      () => `snapshot at ${endOffset} below the committed offset ${this.committedOffset}`,
    );
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const name = snapshotFileName(endOffset, epoch);
    const records = decodeSnapshot(data, name);
    const dir = this.log.dir;
    try {
      replaceFile(path.join(dir, name), data);
      for (const f of fs.readdirSync(dir))
        if (SNAPSHOT_FILE.test(f) && f !== name) fs.rmSync(path.join(dir, f), { force: true });
      this.log.truncateFullyAndStartAt(endOffset);
    } catch (err) {
      if (err instanceof KafkaStorageError || isIoError(err)) {
        if (isIoError(err)) this.dirHealth.writeFailed(err, `snapshot ${name}`);
        throw new MetadataStorageError(`metadata log ${dir}: ${(err as Error).message}`, err);
      }
      throw err;
    }
    this.snapshot = { endOffset, epoch, records };
    this._bytesSinceSnapshot = 0;
    return this.snapshot;
  }

  /** The leader epoch of the record at `offset` (the snapshot's epoch at or below its end). */
  private epochAt(offset: number): number {
    let epoch = this.snapshot && offset < this.snapshot.endOffset ? this.snapshot.epoch : -1;
    for (const [e, start] of this.log.epochStartOffsets) if (start <= offset && e > epoch) epoch = e;
    return Math.max(epoch, 0);
  }

  private releaseReserve(): boolean {
    if (!this.hasReserve) return false;
    fs.rmSync(path.join(this.dir, RESERVE_FILE), { force: true });
    this.hasReserve = false;
    return true;
  }

  /** Put the reserve file (back) in place when there is room; quietly nothing when there is not. */
  private restoreReserve(): void {
    if (this.hasReserve) return;
    const file = path.join(this.dir, RESERVE_FILE);
    try {
      if (fs.statSync(file).size === RESERVE_BYTES) {
        this.hasReserve = true;
        return;
      }
    } catch {
      // absent: write it
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(file, 'w');
      writeFully(fd, Buffer.alloc(RESERVE_BYTES), 0, RESERVE_BYTES, 0);
      fsyncFd(fd);
      fs.closeSync(fd);
      fd = undefined;
      fsyncDir(this.dir);
      this.hasReserve = true;
    } catch {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(file, { force: true });
    }
  }

  /** Close the log; later appends are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.log.close();
  }
}

// ---- encoding ----------------------------------------------------------------

function decodeMetadataBatch(buf: Buffer, at: number, where: string): MetadataBatch {
  const b = decodeBatch(buf, at, { verifyCrc: true });
  const records = b.records.map((r) => {
    try {
      return JSON.parse(r.value?.toString('utf8') ?? '') as MetadataRecord;
    } catch {
      throw new Error(`${where}: the record at offset ${r.offset} is not a metadata record`);
    }
  });
  return {
    baseOffset: b.baseOffset,
    lastOffset: b.baseOffset + b.lastOffsetDelta,
    leaderEpoch: b.partitionLeaderEpoch,
    records,
  };
}

/** A snapshot file: the records as v2 batches (offsets from 0), CRC-checked when read. */
export function encodeSnapshot(records: readonly MetadataRecord[]): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < records.length; i += SNAPSHOT_BATCH_RECORDS) {
    const chunk = records.slice(i, i + SNAPSHOT_BATCH_RECORDS);
    const b = encodeBatch({ baseTimestamp: 0, records: chunk.map((r) => ({ value: JSON.stringify(r) })) });
    setBaseOffset(b, 0, i);
    parts.push(b);
  }
  return Buffer.concat(parts);
}

function decodeSnapshot(data: Buffer, file: string): MetadataRecord[] {
  const out: MetadataRecord[] = [];
  for (let at = 0; at < data.length; ) {
    const size = validBatchAt(data, at);
    if (size <= 0) throw new Error(`snapshot ${file} is damaged at byte ${at} of ${data.length}; refusing to load it`);
    for (const r of decodeMetadataBatch(data, at, file).records) out.push(r);
    at += size;
  }
  return out;
}

function loadNewestSnapshot(partDir: string): MetadataSnapshot | null {
  let best: { name: string; endOffset: number; epoch: number } | null = null;
  for (const f of fs.readdirSync(partDir)) {
    const m = SNAPSHOT_FILE.exec(f);
    if (m && (!best || Number(m[1]) > best.endOffset)) best = { name: f, endOffset: Number(m[1]), epoch: Number(m[2]) };
  }
  if (!best) return null;
  const file = path.join(partDir, best.name);
  return { endOffset: best.endOffset, epoch: best.epoch, records: decodeSnapshot(fs.readFileSync(file), file) };
}

// ---- startup checks ----------------------------------------------------------

/** Size of the valid v2 batch at `at` (bounds, magic, CRC), or 0. */
function validBatchAt(data: Buffer, at: number): number {
  if (data.length - at < BATCH_HEADER_SIZE || hdr.magic(data, at) !== 2) return 0;
  const size = LOG_OVERHEAD + hdr.batchLength(data, at);
  if (size < BATCH_HEADER_SIZE || size > data.length - at) return 0;
  return isBatchCrcValid(data, at, size) ? size : 0;
}

/**
 * Checks every segment batch by batch: returns the bytes of a torn tail
 * (recovery cuts them); throws when a valid batch follows damaged bytes.
 */
function checkSegments(partDir: string): number {
  const files = fs
    .readdirSync(partDir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .sort();
  let torn = 0;
  let next = -1;
  for (let i = 0; i < files.length; i++) {
    const file = path.join(partDir, files[i]);
    const data = fs.readFileSync(file);
    let pos = 0;
    while (pos < data.length) {
      const size = validBatchAt(data, pos);
      if (size === 0) break;
      const base = hdr.baseOffset(data, pos);
      const last = base + hdr.lastOffsetDelta(data, pos);
      if (base < next || last < base) break;
      next = last + 1;
      pos += size;
    }
    if (pos === data.length) continue;
    const laterData = files.slice(i + 1).some((f) => fs.statSync(path.join(partDir, f)).size > 0);
    let validAfter = laterData;
    for (let p = pos + 1; !validAfter && p + BATCH_HEADER_SIZE <= data.length; p++)
      if (validBatchAt(data, p) > 0) validAfter = true;
    if (validAfter) {
      throw new Error(
        `${file} is damaged at byte ${pos} of ${data.length} with record batches after it; ` +
          'refusing to load rather than skip or drop committed metadata',
      );
    }
    torn += data.length - pos;
  }
  return torn;
}

// ---- the legacy format -------------------------------------------------------

const LEGACY_MAX_FRAME = 64 * 1024 * 1024;

/** A whole, valid legacy frame starts at `pos`: its length, or 0. */
function legacyFrameAt(data: Buffer, pos: number): number {
  if (pos + 8 > data.length) return 0;
  const len = data.readInt32BE(pos);
  if (len < 2 || len > LEGACY_MAX_FRAME || pos + 8 + len > data.length) return 0;
  const payload = data.subarray(pos + 8, pos + 8 + len);
  if (crc32c(payload) >>> 0 !== data.readUInt32BE(pos + 4)) return 0;
  try {
    return Array.isArray(JSON.parse(payload.toString('utf8'))) ? len : 0;
  } catch {
    return 0;
  }
}

/**
 * The batches of a legacy `cluster-metadata.log` (frames: length int32 |
 * crc32c uint32 | JSON array of records). A torn tail (no valid frame after
 * the damage) is ignored; damage followed by a valid frame throws.
 */
export function readLegacyMetadataLog(file: string): MetadataRecord[][] {
  const data = fs.readFileSync(file);
  const out: MetadataRecord[][] = [];
  let pos = 0;
  while (pos < data.length) {
    const len = legacyFrameAt(data, pos);
    if (len === 0) break;
    out.push(JSON.parse(data.subarray(pos + 8, pos + 8 + len).toString('utf8')));
    pos += 8 + len;
  }
  for (let p = pos + 1; p + 8 <= data.length; p++) {
    if (legacyFrameAt(data, p) > 0) {
      throw new Error(
        `${file} is damaged at byte ${pos} of ${data.length} with records after it; ` +
          'refusing to load rather than skip or drop acknowledged metadata',
      );
    }
  }
  return out;
}

/**
 * Converts `<dir>/cluster-metadata.log` when present: its fold becomes the
 * snapshot at offset N (N = its record count, so the metadata offset goes on
 * from N - 1), written durably before the old file is removed. A snapshot
 * already there means an earlier start converted and stopped before the
 * removal.
 */
function convertLegacyLog(dir: string, partDir: string, logger: StorageLogger): void {
  const legacy = path.join(dir, LEGACY_METADATA_LOG_FILE);
  if (!fs.existsSync(legacy)) return;
  const converted = fs.existsSync(partDir) && fs.readdirSync(partDir).some((f) => SNAPSHOT_FILE.test(f));
  if (!converted) {
    if (
      fs.existsSync(partDir) &&
      fs.readdirSync(partDir).some((f) => /^\d{20}\.log$/.test(f) && fs.statSync(path.join(partDir, f)).size > 0)
    ) {
      throw new Error(`both ${legacy} and a metadata log in ${partDir}: refusing to guess which holds the metadata`);
    }
    const image = new MetadataImage();
    let count = 0;
    for (const batch of readLegacyMetadataLog(legacy)) {
      count += batch.length;
      image.applyBatch(batch, count - 1);
    }
    if (count > 0) {
      fs.mkdirSync(partDir, { recursive: true });
      fsyncDir(dir);
      replaceFile(path.join(partDir, snapshotFileName(count, 0)), encodeSnapshot(image.toRecords()));
    }
    logger.info(
      { file: legacy, records: count, topics: image.topicCount },
      `metadata: converted ${LEGACY_METADATA_LOG_FILE} to the ${METADATA_TOPIC} log (as its first snapshot)`,
    );
  }
  fs.rmSync(legacy);
  fsyncDir(dir);
}
