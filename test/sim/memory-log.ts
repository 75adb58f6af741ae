/**
 * The simulator's storage: a `RaftLog` held in memory whose writes become
 * durable only when a flush completes (after a simulated delay), and a
 * `QuorumStateStore` whose writes are durable at once (the real one fsyncs
 * before it returns). `crash()` is a power loss: the log goes back to its
 * image as of the last completed flush (truncations since then undone too,
 * as a real file's may be), snapshots and the quorum state survive.
 *
 * Batches are immutable objects shared between logs (a follower appends the
 * leader's objects), each carrying the hash of the whole log prefix it ends
 * (`hash`) and of the prefix before it (`prevHash`). Equal hashes at an
 * offset mean equal prefixes: the checks of log matching and of committed
 * entries compare one number.
 */
import type { OffsetAndEpoch, QuorumState, QuorumStateStore, RaftBatchInfo, RaftLog } from '../../src/raft/types.ts';

export interface SimBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly epoch: number;
  readonly records: readonly string[];
  /** A LeaderChange control batch. */
  readonly control: boolean;
  readonly prevHash: number;
  readonly hash: number;
}

/** What travels in a simulated Fetch response. */
export interface SimChunk {
  readonly batches: readonly SimBatch[];
}

export interface SimSnapshot {
  readonly id: OffsetAndEpoch;
  /** Hash of the log prefix the snapshot replaces. */
  readonly hash: number;
  readonly bytes: Uint8Array;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Hash of a prefix extended by one batch: two 26-bit FNV-1a lanes, exact in a double. */
export function chainHash(prev: number, epoch: number, baseOffset: number, records: readonly string[]): number {
  const text = `${prev}|${epoch}|${baseOffset}|${records.join(',')}`;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  return (a >>> 6) * 0x4000000 + (b >>> 6);
}

const BATCH_OVERHEAD_BYTES = 24;

function batchBytes(b: SimBatch): number {
  let n = BATCH_OVERHEAD_BYTES;
  for (const r of b.records) n += r.length;
  return n;
}

export interface MemoryLogOptions {
  /** Snapshot files are padded to this many bytes (so that FetchSnapshot takes several chunks). */
  snapshotBytes?: number;
  /** Called when a follower append does not continue the log's prefix (a log matching violation). */
  onPrefixMismatch?: (message: string) => void;
  /** Called for every batch appended (as leader or follower). */
  onAppend?: (batch: SimBatch) => void;
}

export class MemoryLog implements RaftLog<SimChunk> {
  private live: SimBatch[] = [];
  /** The disk image as of the last completed flush (batches below `startOffset` dropped). */
  private durable: SimBatch[] = [];
  private _startOffset = 0;
  private snapshot: SimSnapshot | null = null;
  private durableEndCache = -1;
  private flushSeq = 0;
  private pendingFlush: { seq: number; image: SimBatch[] } | null = null;
  private readonly options: MemoryLogOptions;

  constructor(options: MemoryLogOptions = {}) {
    this.options = options;
  }

  get startOffset(): number {
    return this._startOffset;
  }

  get endOffset(): number {
    const last = this.live[this.live.length - 1];
    return last ? last.lastOffset + 1 : this._startOffset;
  }

  get durableEndOffset(): number {
    if (this.durableEndCache < 0) {
      let i = 0;
      while (i < this.live.length && i < this.durable.length && this.live[i] === this.durable[i]) i++;
      this.durableEndCache = i === 0 ? this._startOffset : this.live[i - 1]!.lastOffset + 1;
    }
    return this.durableEndCache;
  }

  lastEpoch(): number {
    const last = this.live[this.live.length - 1];
    if (last) return last.epoch;
    return this.snapshot ? this.snapshot.id.epoch : 0;
  }

  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    // the largest epoch <= `epoch`, and where the next larger epoch starts
    let found = -1;
    for (let i = this.live.length - 1; i >= 0; i--) {
      if (this.live[i]!.epoch <= epoch) {
        found = i;
        break;
      }
    }
    if (found >= 0) {
      const e = this.live[found]!.epoch;
      const next = this.live[found + 1];
      return { offset: next ? next.baseOffset : this.endOffset, epoch: e };
    }
    if (this.snapshot && this.snapshot.id.epoch <= epoch)
      return { offset: this._startOffset, epoch: this.snapshot.id.epoch };
    return { offset: -1, epoch: -1 };
  }

  read(fromOffset: number, maxBytes: number): SimChunk | null {
    if (fromOffset >= this.endOffset || fromOffset < this._startOffset) return null;
    let i = this.indexHolding(fromOffset);
    if (i < 0) return null;
    const batches: SimBatch[] = [];
    let bytes = 0;
    for (; i < this.live.length; i++) {
      const b = this.live[i]!;
      const size = batchBytes(b);
      if (batches.length > 0 && bytes + size > maxBytes) break;
      batches.push(b);
      bytes += size;
    }
    return { batches };
  }

  describe(chunk: SimChunk): RaftBatchInfo[] {
    return chunk.batches.map((b) => ({ baseOffset: b.baseOffset, lastOffset: b.lastOffset, epoch: b.epoch }));
  }

  appendAsLeader(records: readonly Uint8Array[], epoch: number): RaftBatchInfo {
    if (records.length === 0) throw new Error('memory log: an empty batch');
    return this.appendNew(
      records.map((r) => decoder.decode(r)),
      epoch,
      false,
    );
  }

  appendLeaderChange(epoch: number, leaderId: number, voters: readonly number[]): RaftBatchInfo {
    return this.appendNew([`LeaderChange:${leaderId}:${voters.join('/')}`], epoch, true);
  }

  appendAsFollower(chunk: SimChunk): void {
    for (const b of chunk.batches) {
      if (b.baseOffset !== this.endOffset) {
        throw new Error(`memory log: follower append at ${b.baseOffset}, log end ${this.endOffset}`);
      }
      if (b.prevHash !== this.hashAt(this.endOffset)) {
        this.options.onPrefixMismatch?.(
          `batch ${b.baseOffset}-${b.lastOffset} epoch ${b.epoch} appended after a different prefix`,
        );
      }
      this.live.push(b);
      this.options.onAppend?.(b);
    }
    this.durableEndCache = -1;
  }

  truncateTo(offset: number): void {
    if (offset < this._startOffset)
      throw new Error(`memory log: truncate to ${offset} below start ${this._startOffset}`);
    let i = this.live.length;
    while (i > 0 && this.live[i - 1]!.baseOffset >= offset) i--;
    const keep = this.live[i - 1];
    if (keep && keep.lastOffset >= offset) throw new Error(`memory log: truncate to ${offset} inside a batch`);
    this.live.length = i;
    this.durableEndCache = -1;
  }

  latestSnapshot(): OffsetAndEpoch | null {
    return this.snapshot ? { ...this.snapshot.id } : null;
  }

  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): { bytes: Uint8Array; size: number } | null {
    const s = this.snapshot;
    if (!s || s.id.offset !== id.offset || s.id.epoch !== id.epoch) return null;
    const start = Math.min(position, s.bytes.length);
    return { bytes: s.bytes.subarray(start, Math.min(s.bytes.length, start + maxBytes)), size: s.bytes.length };
  }

  installSnapshot(id: OffsetAndEpoch, bytes: Uint8Array): void {
    const parsed = parseSnapshot(bytes);
    if (parsed.offset !== id.offset || parsed.epoch !== id.epoch) {
      throw new Error(`memory log: snapshot bytes for ${parsed.offset}/${parsed.epoch}, id ${id.offset}/${id.epoch}`);
    }
    this.snapshot = { id: { ...id }, hash: parsed.hash, bytes };
    this._startOffset = id.offset;
    this.live = [];
    this.durable = [];
    this.pendingFlush = null;
    this.durableEndCache = -1;
  }

  // ---- simulator controls

  /** The hash of the prefix ending at `offset` (a batch boundary, within the log or at its start); null otherwise. */
  hashAt(offset: number): number | null {
    if (offset === this._startOffset) return this.snapshot ? this.snapshot.hash : 0;
    const i = this.indexHolding(offset - 1);
    if (i < 0) return null;
    const b = this.live[i]!;
    return b.lastOffset + 1 === offset ? b.hash : null;
  }

  /** The batch starting at `baseOffset`, or null. */
  batchAt(baseOffset: number): SimBatch | null {
    const i = this.indexHolding(baseOffset);
    return i >= 0 && this.live[i]!.baseOffset === baseOffset ? this.live[i]! : null;
  }

  /** Index in `batches` of the first batch ending at or after `offset` (`batches.length` when none). */
  firstIndexFrom(offset: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.live[mid]!.lastOffset < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The batches in the log, oldest first (do not modify). */
  get batches(): readonly SimBatch[] {
    return this.live;
  }

  get latest(): SimSnapshot | null {
    return this.snapshot;
  }

  /** Starts an fsync of the log as it is now; its sequence number goes to `completeFlush`. */
  beginFlush(): number {
    const seq = ++this.flushSeq;
    this.pendingFlush = { seq, image: this.live.slice() };
    return seq;
  }

  /** The fsync `seq` completed: what it captured is the disk image. */
  completeFlush(seq: number): void {
    const f = this.pendingFlush;
    if (!f || f.seq !== seq) return;
    this.pendingFlush = null;
    this.durable = f.image.filter((b) => b.baseOffset >= this._startOffset);
    this.durableEndCache = -1;
  }

  /** Power loss: the log is its last fsynced image; snapshots stay. */
  crash(): void {
    this.live = this.durable.slice();
    this.pendingFlush = null;
    this.durableEndCache = -1;
  }

  /**
   * Writes a snapshot of the prefix ending at `offset` (a batch boundary the
   * caller knows is committed) and trims the log below it. Durable at once
   * (a snapshot file is fsynced and renamed into place).
   */
  createSnapshot(offset: number): SimSnapshot {
    const hash = this.hashAt(offset);
    if (hash === null || offset <= this._startOffset) throw new Error(`memory log: no snapshot at ${offset}`);
    const epoch = this.live[this.indexHolding(offset - 1)]!.epoch;
    const bytes = encodeSnapshot(offset, epoch, hash, this.options.snapshotBytes ?? 0);
    this.snapshot = { id: { offset, epoch }, hash, bytes };
    this._startOffset = offset;
    this.live = this.live.filter((b) => b.baseOffset >= offset);
    this.durable = this.durable.filter((b) => b.baseOffset >= offset);
    if (this.pendingFlush) this.pendingFlush.image = this.pendingFlush.image.filter((b) => b.baseOffset >= offset);
    this.durableEndCache = -1;
    return this.snapshot;
  }

  private appendNew(records: string[], epoch: number, control: boolean): RaftBatchInfo {
    const baseOffset = this.endOffset;
    const prevHash = this.hashAt(baseOffset)!;
    const batch: SimBatch = {
      baseOffset,
      lastOffset: baseOffset + records.length - 1,
      epoch,
      records,
      control,
      prevHash,
      hash: chainHash(prevHash, epoch, baseOffset, records),
    };
    this.live.push(batch);
    this.durableEndCache = -1;
    this.options.onAppend?.(batch);
    return { baseOffset: batch.baseOffset, lastOffset: batch.lastOffset, epoch };
  }

  /** Index of the batch holding `offset`, or -1. */
  private indexHolding(offset: number): number {
    let lo = 0;
    let hi = this.live.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const b = this.live[mid]!;
      if (offset < b.baseOffset) hi = mid - 1;
      else if (offset > b.lastOffset) lo = mid + 1;
      else return mid;
    }
    return -1;
  }
}

export function encodeSnapshot(offset: number, epoch: number, hash: number, padTo: number): Uint8Array {
  const text = JSON.stringify({ offset, epoch, hash });
  return encoder.encode(text.length < padTo ? text + ' '.repeat(padTo - text.length) : text);
}

export function parseSnapshot(bytes: Uint8Array): { offset: number; epoch: number; hash: number } {
  return JSON.parse(decoder.decode(bytes).trimEnd());
}

/** The quorum-state file: a write is durable when it returns. */
export class MemoryStore implements QuorumStateStore {
  state: QuorumState | null = null;
  writes = 0;

  read(): QuorumState | null {
    return this.state ? { ...this.state } : null;
  }

  write(state: QuorumState): void {
    this.state = { ...state };
    this.writes++;
  }
}
