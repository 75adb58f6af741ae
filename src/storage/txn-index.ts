/**
 * Aborted-transaction index of one segment (Kafka's `.txnindex`): an entry
 * per ABORT marker in the segment naming the producer, the aborted
 * transaction's first offset, the marker's offset (lastOffset) and the last
 * stable offset once it was aborted (the first offset of the oldest other
 * open transaction, or the marker's offset + 1). A read_committed Fetch asks
 * which aborted transactions overlap what it returns; the consumer drops
 * their records.
 *
 * File: 34-byte entries as Kafka's: version int16 (0) | producerId int64 |
 * firstOffset int64 | lastOffset int64 | lastStableOffset int64. Appended as
 * markers are appended, fsynced with the segment, rewritten atomically when
 * truncated; a torn trailing entry is ignored (recovery rebuilds the entries
 * of the segments it replays).
 */
import fs from 'node:fs';
import { RecordCursor } from '../protocol/records/record-batch.ts';
import { ControlRecordType } from '../protocol/records/control.ts';
import { writeInt64 } from '../protocol/records/batch-header.ts';
import { replaceFile, writeFully } from './file-io.ts';

export const TXN_INDEX_SUFFIX = '.txnindex';
export const TXN_INDEX_ENTRY_SIZE = 34;
const VERSION = 0;
const TWO_32 = 4294967296;

export interface AbortedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
  lastStableOffset: number;
}

function readInt64(b: Buffer, at: number): number {
  return b.readInt32BE(at) * TWO_32 + b.readUInt32BE(at + 4);
}

function encode(entries: readonly AbortedTxn[]): Buffer {
  const buf = Buffer.alloc(entries.length * TXN_INDEX_ENTRY_SIZE);
  let at = 0;
  for (const e of entries) {
    buf.writeInt16BE(VERSION, at);
    writeInt64(buf, at + 2, e.producerId);
    writeInt64(buf, at + 10, e.firstOffset);
    writeInt64(buf, at + 18, e.lastOffset);
    writeInt64(buf, at + 26, e.lastStableOffset);
    at += TXN_INDEX_ENTRY_SIZE;
  }
  return buf;
}

export class TxnIndex {
  private _entries: AbortedTxn[] | null = null;
  /** Entries appended since the last fsync. */
  private dirty = false;

  constructor(readonly file: string) {}

  /** The entries, in marker order (loaded from the file on first use). */
  get entries(): readonly AbortedTxn[] {
    if (this._entries === null) this._entries = this.load();
    return this._entries;
  }

  get isEmpty(): boolean {
    return this.entries.length === 0;
  }

  private load(): AbortedTxn[] {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: AbortedTxn[] = [];
    for (let at = 0; at + TXN_INDEX_ENTRY_SIZE <= buf.length; at += TXN_INDEX_ENTRY_SIZE) {
      if (buf.readInt16BE(at) !== VERSION) break; // not ours: recovery rewrites what it replays
      out.push({
        producerId: readInt64(buf, at + 2),
        firstOffset: readInt64(buf, at + 10),
        lastOffset: readInt64(buf, at + 18),
        lastStableOffset: readInt64(buf, at + 26),
      });
    }
    return out;
  }

  /** Append an entry to the file (throws when the write fails, the entry then not kept). */
  append(e: AbortedTxn): void {
    const entries = this.entries as AbortedTxn[];
    const buf = encode([e]);
    const fd = fs.openSync(this.file, 'a');
    try {
      writeFully(fd, buf, 0, buf.length, null);
    } finally {
      fs.closeSync(fd);
    }
    entries.push(e);
    this.dirty = true;
  }

  /** Drop the entries whose marker is at or above `offset`; the file is rewritten atomically when any went. */
  truncateFrom(offset: number): void {
    if (this._entries === null && !fs.existsSync(this.file)) {
      this._entries = [];
      return;
    }
    const entries = this.entries;
    const kept = entries.filter((e) => e.lastOffset < offset);
    if (kept.length === entries.length) return;
    replaceFile(this.file, encode(kept));
    this._entries = kept;
    this.dirty = false;
  }

  /** Drop the entries whose marker offset is in `markers` (the cleaner removed those markers); atomic rewrite. */
  removeMarkers(markers: ReadonlySet<number>): void {
    const entries = this.entries;
    const kept = entries.filter((e) => !markers.has(e.lastOffset));
    if (kept.length === entries.length) return;
    replaceFile(this.file, encode(kept));
    this._entries = kept;
    this.dirty = false;
  }

  /** fsync the file if entries were appended since the last call. */
  async sync(fsync: (fd: number) => Promise<void>): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r');
      await fsync(fd);
    } catch (err) {
      this.dirty = true;
      throw err;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /**
   * Kafka's TransactionIndex.collectAbortedTxns: adds to `out` the entries
   * overlapping [fetchOffset, upperBoundOffset); true when an entry shows no
   * later segment can hold more (its last stable offset reaches the bound).
   */
  collect(fetchOffset: number, upperBoundOffset: number, out: AbortedTxn[]): boolean {
    for (const e of this.entries) {
      if (e.lastOffset >= fetchOffset && e.firstOffset < upperBoundOffset) out.push(e);
      if (e.lastStableOffset >= upperBoundOffset) return true;
    }
    return false;
  }
}

export interface TxnMarker {
  commit: boolean;
  coordinatorEpoch: number;
}

/**
 * The COMMIT or ABORT marker of the control batch at `buf[at..]` (whole
 * batch), or null when its first record is not a transaction marker.
 */
export function readTxnMarker(buf: Buffer, at: number): TxnMarker | null {
  try {
    const c = new RecordCursor(buf, at, { verifyCrc: false });
    if (!c.next() || c.keyLength < 4) return null;
    const type = c.section.readInt16BE(c.keyStart + 2);
    if (type !== ControlRecordType.ABORT && type !== ControlRecordType.COMMIT) return null;
    const coordinatorEpoch = c.valueLength >= 6 ? c.section.readInt32BE(c.valueStart + 2) : -1;
    return { commit: type === ControlRecordType.COMMIT, coordinatorEpoch };
  } catch {
    return null;
  }
}
