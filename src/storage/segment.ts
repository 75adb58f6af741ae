/**
 * One log segment: `<base offset, 20 digits>.log` holding v2 batches exactly
 * as on the wire, its sparse `.index` and `.timeindex`, and (while active) a
 * cache of its newest bytes. Appends are positional writes at the end;
 * reads are positional reads returning slices of whole batches. Nothing here
 * decodes records: batches are walked by their headers.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  OFF_MAGIC,
  batch as hdr,
  isBatchCrcValid,
} from '../protocol/records/batch-header.ts';
import { OffsetIndex, TimeIndex } from './indexes.ts';
import { segmentFiles } from './file-cache.ts';
import { TailCache } from './tail-cache.ts';
import { type PooledBuffer, sharedBufferPool } from './buffer-pool.ts';
import { FileRegion } from './file-region.ts';
import { invariant } from './errors.ts';
import { errnoError, writeFully } from './file-io.ts';
import { TXN_INDEX_SUFFIX, TxnIndex } from './txn-index.ts';

export const INT32_MAX = 0x7fffffff;

export function segmentFileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

export interface SegmentSettings {
  indexIntervalBytes: number;
  segmentIndexBytes: number;
  tailCacheBytes: number;
}

/** Called per batch: the batch is at buf[at, at+size) (whole when the scan asked for it; else header only), file position `pos`. Return false to stop. */
// biome-ignore lint/suspicious/noConfusingVoidType: visitors that never stop are plain void callbacks, which `undefined` would reject
export type BatchVisitor = (buf: Buffer, at: number, pos: number, size: number) => boolean | void;

export interface ScanResult {
  /** Position after the last batch visited (or where the scan stopped). */
  end: number;
  /** The bytes at `end` are not a whole batch. */
  torn: boolean;
}

export interface RecoverResult {
  validBytes: number;
  droppedBytes: number;
  reason: string | null;
}

export interface SegmentRead {
  batches: Buffer[];
  bytes: number;
  /** Set instead of `batches` when the caller accepted a file region: the same whole batches, left in the file. */
  region?: FileRegion;
}

/** What a reader that passes slices on must release once the bytes have left. */
export interface Pin {
  unpin(): void;
}

/** A read of the file (not the tail cache) at least this long is handed out as a FileRegion when the caller accepts one. */
export const FILE_REGION_MIN_BYTES = 64 * 1024;

/** Bytes read per step when locating a batch from its index entry. */
const LOCATE_READ_BYTES = 8 * 1024;

// One header-walk window shared by synchronous scans; a nested scan gets its own.
const SHARED_WINDOW = Buffer.allocUnsafeSlow(64 * 1024);
let sharedWindowBusy = false;

export class LogSegment {
  size = 0;
  /** Last offset + 1 of the last batch; baseOffset when empty. */
  nextOffset: number;
  /** Largest batch max timestamp in the segment (-1: none). */
  maxTimestamp = -1;
  /** Base offset of the first batch that reached maxTimestamp. */
  maxTimestampOffset = -1;
  /** Max timestamp of the first batch (segment.ms rolls on it). */
  firstBatchTimestamp = -1;
  private bytesSinceIndexEntry = 0;
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  /** Aborted transactions whose ABORT marker is in this segment (`.txnindex`). */
  readonly txnIndex: TxnIndex;
  tail: TailCache | null = null;
  /** Bytes written since this segment's last fsync. */
  dirty = false;
  private ioRefs = 0;
  private closeWanted = false;
  private fdClosed = false;
  /** The `.log` descriptor; -1 while released by the open-file cache. */
  private _fd: number;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    fd: number,
    private settings: SegmentSettings,
    public createdMs: number,
  ) {
    this._fd = fd;
    segmentFiles.touch(this);
    this.nextOffset = baseOffset;
    this.offsetIndex = new OffsetIndex(this.file('.index'), settings.segmentIndexBytes);
    this.timeIndex = new TimeIndex(this.file('.timeindex'), settings.segmentIndexBytes);
    this.txnIndex = new TxnIndex(this.file(TXN_INDEX_SUFFIX));
  }

  /** The `.log` file descriptor, reopened if the open-file cache released it. */
  get fd(): number {
    if (this._fd < 0) {
      if (this.fdClosed) throw new Error(`segment ${this.file('.log')} is closed`);
      this._fd = fs.openSync(this.file('.log'), 'r+');
    }
    segmentFiles.touch(this);
    return this._fd;
  }

  /** Open-file cache eviction: only an inactive segment with no fsync in flight lets go. */
  releaseIfIdle(): boolean {
    if (this._fd < 0) return true;
    if (this.tail !== null || this.ioRefs > 0 || this.closeWanted || this.fdClosed) return false;
    fs.closeSync(this._fd);
    this._fd = -1;
    return true;
  }

  file(suffix: string): string {
    return path.join(this.dir, segmentFileName(this.baseOffset, suffix));
  }

  /** A new, empty, active segment. */
  static create(dir: string, baseOffset: number, settings: SegmentSettings, nowMs: number): LogSegment {
    const p = path.join(dir, segmentFileName(baseOffset, ''));
    for (const s of ['.index', '.timeindex', TXN_INDEX_SUFFIX]) fs.rmSync(p + s, { force: true });
    const fd = fs.openSync(p + '.log', 'w+');
    const seg = new LogSegment(dir, baseOffset, fd, settings, nowMs);
    seg.tail = new TailCache(settings.tailCacheBytes);
    seg.dirty = true;
    return seg;
  }

  /** An existing segment; call loadTail() or recover() next. */
  static open(dir: string, baseOffset: number, settings: SegmentSettings): LogSegment {
    const p = path.join(dir, segmentFileName(baseOffset, '.log'));
    const fd = fs.openSync(p, 'r+');
    const st = fs.fstatSync(fd);
    const seg = new LogSegment(dir, baseOffset, fd, settings, st.mtimeMs);
    seg.size = st.size;
    return seg;
  }

  updateSettings(settings: SegmentSettings): void {
    this.settings = settings;
    this.offsetIndex.maxEntries = Math.max(1, Math.floor(settings.segmentIndexBytes / OffsetIndex.ENTRY_SIZE));
    this.timeIndex.maxEntries = Math.max(1, Math.floor(settings.segmentIndexBytes / TimeIndex.ENTRY_SIZE));
  }

  get isIndexFull(): boolean {
    return this.offsetIndex.isFull || this.timeIndex.isFull;
  }

  // ---- append ---------------------------------------------------------------

  /** Record one batch (already in the file at `pos`) in the indexes and counters. */
  private onBatch(baseOffset: number, lastOffset: number, maxTs: number, pos: number, size: number): void {
    if (pos === 0) this.firstBatchTimestamp = maxTs;
    if (maxTs > this.maxTimestamp) {
      this.maxTimestamp = maxTs;
      this.maxTimestampOffset = baseOffset;
    }
    if (this.bytesSinceIndexEntry >= this.settings.indexIntervalBytes) {
      this.offsetIndex.append(lastOffset - this.baseOffset, pos);
      if (this.maxTimestamp >= 0)
        this.timeIndex.maybeAppend(this.maxTimestamp, this.maxTimestampOffset - this.baseOffset);
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * Append whole, offset-assigned batches. All of them are written or none:
   * after a failed write the file is cut back to where the append started.
   * If even that fails, the error is EIO (the segment's end is unknown).
   */
  append(records: Buffer): void {
    const pos = this.size;
    try {
      writeFully(this.fd, records, 0, records.length, pos);
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, pos);
      } catch (cut) {
        throw errnoError(
          'EIO',
          `append failed (${(err as Error).message}) and its partial write could not be cut off (${(cut as Error).message})`,
        );
      }
      throw err;
    }
    for (let at = 0; at < records.length; ) {
      const size = hdr.totalSize(records, at);
      this.onBatch(
        hdr.baseOffset(records, at),
        hdr.lastOffset(records, at),
        hdr.maxTimestamp(records, at),
        pos + at,
        size,
      );
      at += size;
    }
    this.tail?.add(records, pos);
    this.size = pos + records.length;
    this.dirty = true;
  }

  /** Becoming inactive, step 1 (may throw; repeatable): final time index entry, indexes written. */
  prepareRoll(): void {
    if (this.maxTimestamp >= 0)
      this.timeIndex.maybeAppend(this.maxTimestamp, this.maxTimestampOffset - this.baseOffset);
    this.persistIndexes();
  }

  /** Becoming inactive, step 2, once the next segment exists: no more tail cache. */
  onRoll(): void {
    this.tail?.clear();
    this.tail = null;
  }

  persistIndexes(): void {
    this.offsetIndex.persist();
    this.timeIndex.persist();
  }

  // ---- scanning ---------------------------------------------------------------

  /**
   * Walk batches from file position `from` up to `to`. With `whole`, each
   * visit sees the complete batch, else at least its 61-byte header.
   * `readBytes` caps each header-only read (default: the 64 KiB window), for
   * walks that expect to stop after a batch or two.
   */
  scan(from: number, to: number, whole: boolean, visit: BatchVisitor, readBytes = Infinity): ScanResult {
    const useShared = !sharedWindowBusy;
    let win = useShared ? SHARED_WINDOW : Buffer.allocUnsafeSlow(64 * 1024);
    if (useShared) sharedWindowBusy = true;
    try {
      let wStart = 0;
      let wLen = 0;
      const fill = (pos: number): void => {
        wStart = pos;
        wLen = 0;
        const want = Math.min(win.length, to - pos, whole ? Infinity : readBytes);
        while (wLen < want) {
          const n = fs.readSync(this.fd, win, wLen, want - wLen, pos + wLen);
          if (n === 0) break;
          wLen += n;
        }
      };
      const tail = this.tail;
      const tailStart = tail ? tail.start : Infinity;
      let pos = from;
      while (pos < to) {
        const remain = to - pos;
        if (remain < BATCH_HEADER_SIZE) return { end: pos, torn: true };
        if (pos >= tailStart) {
          const ci = tail!.find(pos);
          if (ci >= 0) {
            const c = tail!.chunks[ci];
            const at = pos - c.pos;
            const size = LOG_OVERHEAD + c.buf.readInt32BE(at + OFF_BATCH_LENGTH);
            if (size < BATCH_HEADER_SIZE || size > remain) return { end: pos, torn: true };
            if (visit(c.buf, at, pos, size) === false) return { end: pos, torn: false };
            pos += size;
            continue;
          }
        }
        if (pos < wStart || pos + BATCH_HEADER_SIZE > wStart + wLen) fill(pos);
        if (pos + BATCH_HEADER_SIZE > wStart + wLen) return { end: pos, torn: true };
        let at = pos - wStart;
        const size = LOG_OVERHEAD + win.readInt32BE(at + OFF_BATCH_LENGTH);
        if (size < BATCH_HEADER_SIZE || size > remain) return { end: pos, torn: true };
        if (whole && pos + size > wStart + wLen) {
          if (size > win.length) {
            if (useShared) sharedWindowBusy = false;
            win = Buffer.allocUnsafeSlow(size);
          }
          fill(pos);
          if (wLen < size) return { end: pos, torn: true };
          at = 0;
        }
        if (visit(win, at, pos, size) === false) return { end: pos, torn: false };
        pos += size;
      }
      return { end: pos, torn: false };
    } finally {
      if (useShared && win === SHARED_WINDOW) sharedWindowBusy = false;
    }
  }

  /** File position of the first batch whose last offset >= `offset`, with that batch's size; null past the end. */
  locate(offset: number): { pos: number; size: number } | null {
    let found: { pos: number; size: number } | null = null;
    const start = this.offsetIndex.lookup(offset - this.baseOffset);
    // The index entry lies within index.interval.bytes (4 KiB by default) of the batch:
    // small reads, not a 64 KiB window per header (with 1 MB batches, 6% more bytes read per fetch).
    this.scan(
      start,
      this.size,
      false,
      (b, at, pos, size) => {
        if (hdr.lastOffset(b, at) >= offset) {
          found = { pos, size };
          return false;
        }
      },
      LOCATE_READ_BYTES,
    );
    return found;
  }

  /**
   * Whole batches from the first one holding an offset >= fetchOffset, up to
   * maxBytes (the first batch even if larger, with minOneBatch), stopping
   * before a batch with an offset >= maxOffset. Null: nothing at or after
   * fetchOffset in this segment. With `pins`, the slices come from pooled
   * memory (tail chunks, or a pool buffer the pread fills) whose buffers are
   * pushed onto `pins`, pinned: the caller unpins each once the slices are no
   * longer used. Without it, the slices are the caller's own copies.
   * With `regions` too, a read from the file of FILE_REGION_MIN_BYTES or more
   * is not read at all: it comes back as `region` (pinned on `pins` as well).
   */
  read(
    fetchOffset: number,
    maxBytes: number,
    maxOffset: number,
    minOneBatch: boolean,
    pins: Pin[] | null,
    regions = false,
  ): SegmentRead | null {
    const first = this.locate(fetchOffset);
    if (!first) return null;
    const empty: SegmentRead = { batches: [], bytes: 0 };
    let limit = maxBytes;
    if (first.size > maxBytes) {
      if (!minOneBatch) return empty;
      limit = first.size;
    }
    const tail = this.tail;
    if (tail && first.pos >= tail.start) {
      const ci = tail.find(first.pos);
      if (ci >= 0) return this.readFromTail(tail, ci, first.pos, limit, maxOffset, pins);
    }
    const len = Math.min(limit, this.size - first.pos);
    if (pins && regions && len >= FILE_REGION_MIN_BYTES) {
      const end = this.wholeBatchesEnd(first.pos, first.pos + len, maxOffset);
      if (end === first.pos) return empty;
      const region = new FileRegion(this.holdFile(), first.pos, end - first.pos);
      pins.push(region);
      return { batches: [], bytes: end - first.pos, region };
    }
    let block: PooledBuffer | null = null;
    let buf: Buffer;
    if (pins) {
      block = sharedBufferPool.acquire(len);
      block.pin();
      block.retire(); // the reader is its only owner: it goes back to the pool when unpinned
      buf = block.buf;
    } else {
      buf = Buffer.allocUnsafe(len);
    }
    let got = 0;
    while (got < len) {
      const n = fs.readSync(this.fd, buf, got, len - got, first.pos + got);
      if (n === 0) break;
      got += n;
    }
    let end = 0;
    while (end + BATCH_HEADER_SIZE <= got) {
      const size = hdr.totalSize(buf, end);
      if (end + size > got || hdr.lastOffset(buf, end) >= maxOffset) break;
      end += size;
    }
    if (end === 0) {
      block?.unpin();
      return empty;
    }
    if (block) pins!.push(block);
    return { batches: [buf.subarray(0, end)], bytes: end };
  }

  /**
   * File position after the last whole batch that starts at or after `start`,
   * ends by `byteEnd` and holds no offset >= maxOffset (`start` if none does),
   * found without reading the batches: the offset index gives a batch start
   * near the end, and only the headers from there are read.
   */
  private wholeBatchesEnd(start: number, byteEnd: number, maxOffset: number): number {
    if (maxOffset < this.nextOffset) {
      const stop = this.locate(maxOffset);
      if (stop && stop.pos <= byteEnd) return Math.max(start, stop.pos);
    }
    if (byteEnd >= this.size) return this.size;
    const from = Math.max(start, this.offsetIndex.floorPosition(byteEnd));
    const end = this.scan(from, byteEnd, false, () => {}, LOCATE_READ_BYTES).end;
    invariant(end >= start && end <= byteEnd, 'whole-batch end outside the read');
    return end;
  }

  /** Keep the descriptor open (closing waits) until the hold is released; for FileRegions. */
  private holdFile(): { fd: number; release: () => void } {
    const fd = this.fd;
    this.ioRefs++;
    return {
      fd,
      release: () => {
        this.ioRefs--;
        if (this.closeWanted && this.ioRefs === 0) this.closeFd();
      },
    };
  }

  private readFromTail(
    tail: TailCache,
    ci: number,
    pos: number,
    limit: number,
    maxOffset: number,
    pins: Pin[] | null,
  ): SegmentRead {
    const batches: Buffer[] = [];
    let bytes = 0;
    for (; ci < tail.chunks.length; ci++) {
      const c = tail.chunks[ci];
      const start = pos - c.pos;
      let at = start;
      let stop = false;
      while (at < c.len) {
        const size = hdr.totalSize(c.buf, at);
        if (bytes + (at - start) + size > limit || hdr.lastOffset(c.buf, at) >= maxOffset) {
          stop = true;
          break;
        }
        at += size;
      }
      if (at > start) {
        const slice = c.buf.subarray(start, at);
        if (pins) {
          c.block.pin();
          pins.push(c.block);
          batches.push(slice);
        } else {
          batches.push(Buffer.from(slice)); // the chunk is reused once the cache moves on
        }
        bytes += at - start;
      }
      if (stop) break;
      pos = c.pos + c.len;
    }
    return { batches, bytes };
  }

  // ---- loading and recovery -------------------------------------------------

  /**
   * Clean-load: trust the index files if they look sane, and learn the
   * next offset and max timestamp by walking the headers after the last
   * offset index entry. False: indexes or tail are not trustworthy (recover).
   */
  loadTail(): boolean {
    const okIndex = this.offsetIndex.loadFile() && this.offsetIndex.isSane(this.size);
    const okTime = this.timeIndex.loadFile();
    if (!okIndex || !okTime) return false;
    const from = this.offsetIndex.lastPosition;
    const expectLast = this.offsetIndex.count ? this.baseOffset + this.offsetIndex.lastRelOffset : -1;
    let bad = false;
    let last = this.baseOffset - 1;
    let checkedFirst = this.offsetIndex.count === 0;
    this.maxTimestamp = -1;
    this.maxTimestampOffset = -1;
    if (this.timeIndex.count) {
      this.maxTimestamp = this.timeIndex.lastTimestamp;
      this.maxTimestampOffset = this.baseOffset + this.timeIndex.relOffsetAt(this.timeIndex.count - 1);
    }
    const r = this.scan(from, this.size, false, (b, at, pos, size) => {
      if (hdr.magic(b, at) !== 2 || hdr.lastOffsetDelta(b, at) < 0 || hdr.baseOffset(b, at) <= last) {
        bad = true;
        return false;
      }
      if (!checkedFirst) {
        checkedFirst = true;
        if (hdr.lastOffset(b, at) !== expectLast) {
          bad = true;
          return false;
        }
      }
      last = hdr.lastOffset(b, at);
      const ts = hdr.maxTimestamp(b, at);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.maxTimestampOffset = hdr.baseOffset(b, at);
      }
      this.bytesSinceIndexEntry = pos + size - from;
    });
    if (bad || r.torn) return false;
    if (!this.timeIndex.isSane(Math.max(0, last - this.baseOffset))) return false;
    this.nextOffset = last + 1;
    if (this.size >= BATCH_HEADER_SIZE) {
      const h = Buffer.alloc(BATCH_HEADER_SIZE);
      fs.readSync(this.fd, h, 0, BATCH_HEADER_SIZE, 0);
      this.firstBatchTimestamp = hdr.maxTimestamp(h, 0);
    }
    return true;
  }

  /**
   * Validate every batch (length, magic, CRC32C, offsets increasing from
   * `minOffset`), rebuild both indexes in memory, and cut the file at the
   * first bad byte. The caller writes the index files (persistIndexes).
   */
  recover(minOffset: number): RecoverResult {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.maxTimestamp = -1;
    this.maxTimestampOffset = -1;
    this.firstBatchTimestamp = -1;
    this.bytesSinceIndexEntry = 0;
    this.nextOffset = this.baseOffset;
    this.tail?.clear();
    let next = Math.max(minOffset, this.baseOffset);
    let reason: string | null = null;
    const r = this.scan(0, this.size, true, (b, at, pos, size) => {
      const base = hdr.baseOffset(b, at);
      const last = base + hdr.lastOffsetDelta(b, at);
      if (b.readInt8(at + OFF_MAGIC) !== 2) reason = `magic ${b.readInt8(at + OFF_MAGIC)} at position ${pos}`;
      else if (!isBatchCrcValid(b, at, size)) reason = `CRC mismatch at position ${pos}`;
      else if (base < next || last < base)
        reason = `offsets ${base}..${last} at position ${pos} do not follow ${next - 1}`;
      else if (last - this.baseOffset > INT32_MAX) reason = `offset ${last} too far from segment base`;
      if (reason) return false;
      this.onBatch(base, last, hdr.maxTimestamp(b, at), pos, size);
      next = last + 1;
    });
    if (r.torn && !reason) reason = `torn batch at position ${r.end}`;
    const dropped = this.size - r.end;
    if (dropped > 0) {
      fs.ftruncateSync(this.fd, r.end);
      this.size = r.end;
    }
    return { validBytes: r.end, droppedBytes: dropped, reason: dropped > 0 ? reason : null };
  }

  /** Remove batches holding offsets >= offset. Returns the bytes removed. */
  truncateTo(offset: number): number {
    const at = this.locate(offset);
    if (!at) return 0;
    const removed = this.size - at.pos;
    fs.ftruncateSync(this.fd, at.pos);
    this.size = at.pos;
    this.offsetIndex.truncateToPosition(at.pos);
    this.timeIndex.truncateToRelOffset(offset - this.baseOffset);
    this.txnIndex.truncateFrom(offset);
    this.tail?.clear();
    this.dirty = true;
    // Re-learn next offset and max timestamp from what is left.
    this.maxTimestamp = -1;
    this.maxTimestampOffset = -1;
    if (this.timeIndex.count) {
      this.maxTimestamp = this.timeIndex.lastTimestamp;
      this.maxTimestampOffset = this.baseOffset + this.timeIndex.relOffsetAt(this.timeIndex.count - 1);
    }
    this.nextOffset = this.baseOffset;
    const from = this.offsetIndex.lastPosition;
    this.scan(from, this.size, false, (b, a, pos, size) => {
      const ts = hdr.maxTimestamp(b, a);
      if (ts > this.maxTimestamp) {
        this.maxTimestamp = ts;
        this.maxTimestampOffset = hdr.baseOffset(b, a);
      }
      this.nextOffset = hdr.lastOffset(b, a) + 1;
      this.bytesSinceIndexEntry = pos + size - from;
    });
    if (this.size === 0) {
      this.firstBatchTimestamp = -1;
      this.bytesSinceIndexEntry = 0;
    }
    return removed;
  }

  // ---- durability and lifetime ---------------------------------------------

  /** fsync the log file (and, for a rolled segment, its index files). */
  async sync(fsync: (fd: number) => Promise<void>, withIndexes: boolean): Promise<void> {
    if (this.fdClosed || this.closeWanted) return;
    this.ioRefs++;
    try {
      this.dirty = false;
      await fsync(this.fd);
      await this.txnIndex.sync(fsync);
      if (withIndexes) {
        this.persistIndexes();
        for (const f of [this.offsetIndex.file, this.timeIndex.file]) {
          let fd: number | undefined;
          try {
            fd = fs.openSync(f, 'r');
            await fsync(fd);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          } finally {
            if (fd !== undefined) fs.closeSync(fd);
          }
        }
      }
    } finally {
      this.ioRefs--;
      if (this.closeWanted && this.ioRefs === 0) this.closeFd();
    }
  }

  /** Close the file descriptor (once no fsync uses it). */
  close(): void {
    this.closeWanted = true;
    if (this.ioRefs === 0) this.closeFd();
  }

  private closeFd(): void {
    if (this.fdClosed) return;
    this.fdClosed = true;
    segmentFiles.forget(this);
    if (this._fd >= 0) fs.closeSync(this._fd);
    this._fd = -1;
  }

  /** Rename the segment's files to `<name>.deleted` and close it; returns the new names. */
  markDeleted(): string[] {
    this.close();
    const out: string[] = [];
    for (const s of ['.log', '.index', '.timeindex', TXN_INDEX_SUFFIX]) {
      const f = this.file(s);
      try {
        fs.renameSync(f, f + '.deleted');
        out.push(f + '.deleted');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return out;
  }
}
