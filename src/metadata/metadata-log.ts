/**
 * The cluster metadata log on a single node: an append-only file of framed
 * records, fsynced before an append is acknowledged, replayed at startup.
 *
 * Frame: length int32 | crc32c uint32 (of the payload) | payload (JSON of one
 * batch of MetadataRecords, applied atomically).
 *
 * Write discipline (docs/storage.md): an append writes its whole frame at the
 * end of the last good frame, then fdatasyncs; the append resolves only after
 * both. A write that fails (ENOSPC, a short write) is cut back off, so the
 * file always ends with a whole frame and the next append goes right after
 * it; the append rejects with MetadataStorageError. If the cut itself fails,
 * or the fdatasync fails (the kernel may have dropped the pages and will not
 * say so again), the log refuses every later append until the process
 * restarts.
 *
 * Replay stops at the first frame that is not whole and valid. When no valid
 * frame starts anywhere after it, the bytes are a torn tail (a partial
 * frame, zeros or garbage, as a kill -9 or power loss mid-append leaves),
 * never acknowledged, and are cut. When a valid frame follows the damage, it
 * was acknowledged after the damaged one: replay refuses to load rather than
 * skip or drop it.
 *
 * Space: `cluster-metadata.reserve` (RESERVE_BYTES) is kept beside the log.
 * An append that finds the disk full releases it and tries once more, so that
 * an operator can still delete topics to free space; it is put back by a
 * later append once there is room.
 *
 * This is the seam for clustering: a Raft-replicated log will implement the
 * same interface, with the controller as the only writer.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import type { MetadataRecord } from './records.ts';
import { fdatasyncAsync, fsyncDir, fsyncFd, isNoSpace, writeFully } from '../storage/file-io.ts';

export interface MetadataLog {
  /** Records written so far, in order, as batches. */
  replay(): MetadataRecord[][];
  /** Durably append one batch; resolves once it is on disk, rejects (MetadataStorageError) if it is not. */
  append(batch: MetadataRecord[]): Promise<void>;
  close(): void;
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

const MAX_FRAME = 64 * 1024 * 1024;
export const METADATA_LOG_FILE = 'cluster-metadata.log';
export const RESERVE_FILE = 'cluster-metadata.reserve';
export const RESERVE_BYTES = 1024 * 1024;

export class FileMetadataLog implements MetadataLog {
  private fd: number;
  private size: number;
  private readonly file: string;
  private readonly reserveFile: string;
  /** Set once an append could not be cut back or an fsync failed: no more appends. */
  private broken: string | null = null;
  private hasReserve = false;

  constructor(
    private readonly dir: string,
    private readonly onTruncate?: (droppedBytes: number) => void,
    /** Called once when the log stops taking appends (failed fsync, failed cut), with the reason. */
    private readonly onBroken?: (reason: string) => void,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, METADATA_LOG_FILE);
    this.reserveFile = path.join(dir, RESERVE_FILE);
    // Not O_APPEND: positional writes must land where the last good frame ends.
    this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    this.size = fs.fstatSync(this.fd).size;
    this.restoreReserve();
  }

  replay(): MetadataRecord[][] {
    const data = this.size > 0 ? fs.readFileSync(this.file) : Buffer.alloc(0);
    const out: MetadataRecord[][] = [];
    let pos = 0;
    let bad: string | null = null;
    while (pos < data.length) {
      if (pos + 8 > data.length) {
        bad = 'frame header runs past the end';
        break;
      }
      const len = data.readInt32BE(pos);
      if (len < 0 || len > MAX_FRAME) {
        bad = `frame length ${len}`;
        break;
      }
      if (pos + 8 + len > data.length) {
        bad = 'frame runs past the end';
        break;
      }
      const payload = data.subarray(pos + 8, pos + 8 + len);
      if ((crc32c(payload) >>> 0) !== data.readUInt32BE(pos + 4)) {
        bad = 'CRC mismatch';
        break;
      }
      let batch: MetadataRecord[];
      try {
        batch = JSON.parse(payload.toString('utf8'));
      } catch {
        bad = 'payload is not a record batch';
        break;
      }
      out.push(batch);
      pos += 8 + len;
    }
    if (bad !== null) {
      if (!isTornTail(data, pos)) {
        throw new Error(
          `${this.file} is damaged at byte ${pos} of ${data.length} (${bad}) with records after it; ` +
            'refusing to load rather than skip or drop acknowledged metadata',
        );
      }
      fs.ftruncateSync(this.fd, pos);
      fsyncFd(this.fd);
      this.size = pos;
      this.onTruncate?.(data.length - pos);
    }
    return out;
  }

  async append(batch: MetadataRecord[]): Promise<void> {
    if (this.broken !== null) throw new MetadataStorageError(`metadata log ${this.file} refuses appends: ${this.broken}`);
    const payload = Buffer.from(JSON.stringify(batch), 'utf8');
    if (payload.length > MAX_FRAME) throw new MetadataStorageError(`metadata record batch of ${payload.length} bytes is larger than ${MAX_FRAME}`);
    const frame = Buffer.allocUnsafe(8 + payload.length);
    frame.writeInt32BE(payload.length, 0);
    frame.writeUInt32BE(crc32c(payload) >>> 0, 4);
    payload.copy(frame, 8);
    const start = this.size;
    const fd = this.fd;
    if (!this.writeAt(frame, start) && !(this.releaseReserve() && this.writeAt(frame, start))) {
      throw new MetadataStorageError(`metadata log ${this.file}: no space for a record batch of ${frame.length} bytes`);
    }
    try {
      await fdatasyncAsync(fd);
      if (this.fd !== fd) throw new Error('the log was closed during the fdatasync');
    } catch (err) {
      if (this.fd !== fd) throw new MetadataStorageError(`metadata log ${this.file} was closed before the append was durable`, err);
      this.setBroken(`fdatasync failed: ${(err as Error).message}`);
      // Best effort: do not leave the unacknowledged frame for a later replay to apply.
      try {
        fs.ftruncateSync(this.fd, start);
      } catch {
        // the log refuses appends either way
      }
      throw new MetadataStorageError(`metadata log ${this.file}: ${this.broken}`, err);
    }
    this.size = start + frame.length;
    this.restoreReserve();
  }

  /**
   * Write the whole frame at `pos`. False when the disk is full (the partial
   * frame was cut off); other failures, or a failed cut, break the log.
   */
  private writeAt(frame: Buffer, pos: number): boolean {
    try {
      writeFully(this.fd, frame, 0, frame.length, pos);
      return true;
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, pos);
      } catch (cut) {
        this.setBroken(`a failed write (${(err as Error).message}) could not be cut off (${(cut as Error).message})`);
        throw new MetadataStorageError(`metadata log ${this.file}: ${this.broken}`, err);
      }
      if (isNoSpace(err)) return false;
      throw new MetadataStorageError(`metadata log ${this.file}: write failed: ${(err as Error).message}`, err);
    }
  }

  private setBroken(reason: string): void {
    this.broken = reason;
    this.onBroken?.(reason);
  }

  private releaseReserve(): boolean {
    if (!this.hasReserve) return false;
    fs.rmSync(this.reserveFile, { force: true });
    this.hasReserve = false;
    return true;
  }

  /** Put the reserve file (back) in place when there is room; quietly nothing when there is not. */
  private restoreReserve(): void {
    if (this.hasReserve) return;
    try {
      if (fs.statSync(this.reserveFile).size === RESERVE_BYTES) {
        this.hasReserve = true;
        return;
      }
    } catch {
      // absent: write it
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.reserveFile, 'w');
      writeFully(fd, Buffer.alloc(RESERVE_BYTES), 0, RESERVE_BYTES, 0);
      fsyncFd(fd);
      fs.closeSync(fd);
      fd = undefined;
      fsyncDir(this.dir);
      this.hasReserve = true;
    } catch {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(this.reserveFile, { force: true });
    }
  }

  /** Close the file; later appends are refused (they must not write through a descriptor number the process may reuse). */
  close(): void {
    if (this.fd < 0) return;
    this.broken = 'closed';
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** A whole, valid frame starts at `pos`. */
function validFrameAt(data: Buffer, pos: number): boolean {
  if (pos + 8 > data.length) return false;
  const len = data.readInt32BE(pos);
  if (len < 2 || len > MAX_FRAME || pos + 8 + len > data.length) return false;
  const payload = data.subarray(pos + 8, pos + 8 + len);
  if ((crc32c(payload) >>> 0) !== data.readUInt32BE(pos + 4)) return false;
  try {
    return Array.isArray(JSON.parse(payload.toString('utf8')));
  } catch {
    return false;
  }
}

/**
 * Whether the bad bytes from `pos` on are what an interrupted last append
 * leaves (a partial frame, zeros, garbage): no valid frame starts anywhere
 * after `pos`. A valid frame after the damage was acknowledged after it.
 */
function isTornTail(data: Buffer, pos: number): boolean {
  for (let p = pos + 1; p + 8 <= data.length; p++) if (validFrameAt(data, p)) return false;
  return true;
}
