/**
 * A segment's two sparse indexes, kept in memory and written to their files
 * at roll, flush of a rolled segment, and close:
 *
 *   .index      entries of 8 bytes: relative offset int32 | position int32
 *               (the batch at `position` has last offset base + relative offset)
 *   .timeindex  entries of 12 bytes: timestamp int64 | relative offset int32
 *               (the segment's running max timestamp first reached `timestamp`
 *               in the batch whose last offset is base + relative offset)
 *
 * Both are big-endian, sorted and strictly increasing in both fields, as in
 * Kafka. A file that breaks that (torn write, corruption) fails to load and
 * its segment rebuilds the index from the log.
 */
import fs from 'node:fs';
import { writeFully } from './file-io.ts';

const TWO_32 = 4294967296;

abstract class EntryIndex {
  protected buf: Buffer;
  count = 0;
  /** Entries already written to the file. */
  private persisted = 0;
  /** The file holds entries beyond `count` (after a truncation): shrink it. */
  private fileTooLong = false;

  constructor(
    readonly file: string,
    readonly entrySize: number,
    public maxEntries: number,
  ) {
    this.buf = Buffer.alloc(entrySize * 64);
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  get sizeInBytes(): number {
    return this.count * this.entrySize;
  }

  protected grow(): void {
    if ((this.count + 1) * this.entrySize <= this.buf.length) return;
    const next = Buffer.alloc(this.buf.length * 2);
    this.buf.copy(next, 0, 0, this.count * this.entrySize);
    this.buf = next;
  }

  /** Drop entries from index `n` on. */
  truncateEntries(n: number): void {
    if (n >= this.count) return;
    this.count = n;
    if (this.persisted > n) {
      this.persisted = n;
      this.fileTooLong = true;
    }
  }

  /** Load entries from the file; false when it is missing or its length is not whole entries. */
  loadFile(): boolean {
    let data: Buffer;
    try {
      data = fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    if (data.length % this.entrySize !== 0) return false;
    this.buf = Buffer.alloc(Math.max(data.length, this.entrySize * 64));
    data.copy(this.buf);
    this.count = this.persisted = data.length / this.entrySize;
    this.fileTooLong = false;
    return true;
  }

  /**
   * Write the entries not yet in the file (no fsync). On failure the file is
   * cut back to the entries it held (best effort; a file that still holds a
   * partial entry fails to load and is rebuilt) and the error is thrown.
   */
  persist(): void {
    if (this.persisted === this.count && !this.fileTooLong && fs.existsSync(this.file)) return;
    const fd = fs.openSync(this.file, fs.existsSync(this.file) ? 'r+' : 'w');
    try {
      const from = this.persisted * this.entrySize;
      const to = this.count * this.entrySize;
      if (this.fileTooLong) fs.ftruncateSync(fd, Math.min(from, to));
      if (to > from) {
        try {
          writeFully(fd, this.buf, from, to - from, from);
        } catch (err) {
          try {
            fs.ftruncateSync(fd, from);
          } catch {
            // the write error is the one to report
          }
          throw err;
        }
      }
      if (this.fileTooLong) fs.ftruncateSync(fd, to);
    } finally {
      fs.closeSync(fd);
    }
    this.persisted = this.count;
    this.fileTooLong = false;
  }

  /** Replace everything with no entries, file included. */
  reset(): void {
    this.count = 0;
    this.persisted = 0;
    this.fileTooLong = true;
  }

  /** Index of the last entry whose key <= target, or -1. */
  protected floorEntry(target: number, keyAt: (i: number) => number): number {
    let lo = 0;
    let hi = this.count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (keyAt(mid) <= target) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

export class OffsetIndex extends EntryIndex {
  static readonly ENTRY_SIZE = 8;

  constructor(file: string, maxIndexBytes: number) {
    super(file, OffsetIndex.ENTRY_SIZE, Math.max(1, Math.floor(maxIndexBytes / OffsetIndex.ENTRY_SIZE)));
  }

  relOffsetAt(i: number): number {
    return this.buf.readInt32BE(i * 8);
  }

  positionAt(i: number): number {
    return this.buf.readInt32BE(i * 8 + 4);
  }

  get lastRelOffset(): number {
    return this.count ? this.relOffsetAt(this.count - 1) : -1;
  }

  get lastPosition(): number {
    return this.count ? this.positionAt(this.count - 1) : 0;
  }

  append(relOffset: number, position: number): void {
    this.grow();
    this.buf.writeInt32BE(relOffset, this.count * 8);
    this.buf.writeInt32BE(position, this.count * 8 + 4);
    this.count++;
  }

  /** Position to start scanning for relative offset `rel`: the floor entry's position, else 0. */
  lookup(rel: number): number {
    const i = this.floorEntry(rel, (j) => this.relOffsetAt(j));
    return i < 0 ? 0 : this.positionAt(i);
  }

  /** Largest indexed batch position <= `position` (0 when none): where a header walk to `position` can start. */
  floorPosition(position: number): number {
    const i = this.floorEntry(position, (j) => this.positionAt(j));
    return i < 0 ? 0 : this.positionAt(i);
  }

  /** Drop entries whose batch starts at or after `position`. */
  truncateToPosition(position: number): void {
    let n = this.count;
    while (n > 0 && this.positionAt(n - 1) >= position) n--;
    this.truncateEntries(n);
  }

  /** Entries strictly increase in both fields and point inside a log of `logSize` bytes. */
  isSane(logSize: number): boolean {
    for (let i = 0; i < this.count; i++) {
      const rel = this.relOffsetAt(i);
      const pos = this.positionAt(i);
      if (rel < 0 || pos < 0 || pos >= logSize) return false;
      if (i > 0 && (rel <= this.relOffsetAt(i - 1) || pos <= this.positionAt(i - 1))) return false;
    }
    return true;
  }
}

export class TimeIndex extends EntryIndex {
  static readonly ENTRY_SIZE = 12;

  constructor(file: string, maxIndexBytes: number) {
    super(file, TimeIndex.ENTRY_SIZE, Math.max(1, Math.floor(maxIndexBytes / TimeIndex.ENTRY_SIZE)));
  }

  timestampAt(i: number): number {
    return this.buf.readInt32BE(i * 12) * TWO_32 + this.buf.readUInt32BE(i * 12 + 4);
  }

  relOffsetAt(i: number): number {
    return this.buf.readInt32BE(i * 12 + 8);
  }

  get lastTimestamp(): number {
    return this.count ? this.timestampAt(this.count - 1) : -1;
  }

  /** Append when `timestamp` is a new maximum (the index only grows in both fields). */
  maybeAppend(timestamp: number, relOffset: number): void {
    if (this.count && (timestamp <= this.timestampAt(this.count - 1) || relOffset <= this.relOffsetAt(this.count - 1)))
      return;
    this.grow();
    const at = this.count * 12;
    const hi = Math.floor(timestamp / TWO_32);
    this.buf.writeInt32BE(hi, at);
    this.buf.writeUInt32BE(timestamp - hi * TWO_32, at + 4);
    this.buf.writeInt32BE(relOffset, at + 8);
    this.count++;
  }

  /** Relative offset of the last entry with timestamp <= ts, or -1 (scan from the start). */
  lookup(ts: number): number {
    const i = this.floorEntry(ts, (j) => this.timestampAt(j));
    return i < 0 ? -1 : this.relOffsetAt(i);
  }

  /** Drop entries for relative offsets >= rel. */
  truncateToRelOffset(rel: number): void {
    let n = this.count;
    while (n > 0 && this.relOffsetAt(n - 1) >= rel) n--;
    this.truncateEntries(n);
  }

  isSane(maxRel: number): boolean {
    for (let i = 0; i < this.count; i++) {
      const rel = this.relOffsetAt(i);
      if (rel < 0 || rel > maxRel) return false;
      if (i > 0 && (rel <= this.relOffsetAt(i - 1) || this.timestampAt(i) <= this.timestampAt(i - 1))) return false;
    }
    return true;
  }
}
