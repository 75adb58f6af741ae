/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager
 * idea, KIP-98): per producer id its epoch and the metadata of its last five
 * appended batches, to answer "is this batch a duplicate, in sequence, or
 * fenced?" before an append. Rebuilt from batch headers only; snapshotted as
 * `<offset, 20 digits>.snapshot` (state as of that offset) at segment roll and
 * close.
 *
 * Transactions (Kafka's ongoing transactions): a producer's first
 * transactional batch opens its transaction at that batch's base offset; its
 * COMMIT or ABORT marker closes it. A closed transaction stays "unstable"
 * until the high watermark passes its marker (Kafka's unreplicated
 * transactions): the last stable offset is the first offset of the oldest
 * unstable transaction, capped by the high watermark.
 *
 * Snapshot file (big-endian, ours): version int16 (2; 1 still loads) | crc32c
 * uint32 of the rest | count int32 | per producer: producerId int64, epoch
 * int16, lastTimestamp int64, n int8, n x (firstSeq int32, lastSeq int32,
 * firstOffset int64, lastOffset int64), then (v2) currentTxnFirstOffset int64
 * (-1: none open), coordinatorEpoch int32.
 */
import fs from 'node:fs';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { batch as hdr, NO_PRODUCER_ID, NO_SEQUENCE } from '../protocol/records/batch-header.ts';
import { segmentFileName } from './segment.ts';
import { replaceFile } from './file-io.ts';

export const BATCHES_RETAINED = 5;
const INT32_MAX = 0x7fffffff;
const TWO_32 = 4294967296;
const SNAPSHOT_VERSION = 2;
export const SNAPSHOT_SUFFIX = '.snapshot';

export interface BatchMeta {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

export interface ProducerEntry {
  producerId: number;
  epoch: number;
  lastTimestamp: number;
  /** Oldest first, at most BATCHES_RETAINED. */
  batches: BatchMeta[];
  /** First offset of the producer's open transaction, -1 when none is open. */
  currentTxnFirstOffset: number;
  /** Coordinator epoch of the last marker written for this producer (-1: none). */
  coordinatorEpoch: number;
}

/** A transaction whose marker was appended, not yet below the high watermark. */
interface CompletedTxn {
  producerId: number;
  firstOffset: number;
  lastOffset: number;
}

/** What closing a transaction with a marker tells the aborted-transaction index. */
export interface TxnCompletion {
  firstOffset: number;
  /** Kafka's lastStableOffset(completedTxn): the oldest other open transaction's first offset, else marker + 1. */
  lastStableOffset: number;
}

export type SequenceVerdict =
  | 'ok'
  | { duplicateOf: { firstOffset: number; lastOffset: number } }
  | 'OUT_OF_ORDER_SEQUENCE_NUMBER'
  | 'INVALID_PRODUCER_EPOCH';

/** Sequence numbers wrap from int32 max to 0. */
export function wrapSequence(seq: number): number {
  return seq > INT32_MAX ? seq - INT32_MAX - 1 : seq;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateManager {
  private readonly producers = new Map<number, ProducerEntry>();
  /** producer id -> first offset of its open transaction. */
  private readonly ongoing = new Map<number, number>();
  /** Closed transactions whose marker is not yet below the high watermark, in marker order. */
  private unreplicated: CompletedTxn[] = [];

  constructor(readonly dir: string) {}

  get size(): number {
    return this.producers.size;
  }

  get(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  entries(): IterableIterator<ProducerEntry> {
    return this.producers.values();
  }

  /**
   * Verdict for a batch about to be appended (Kafka's rules):
   * - same epoch and (firstSeq, lastSeq) equal to one of the last five
   *   batches: a duplicate, answered with that batch's offsets;
   * - epoch older than the known one: INVALID_PRODUCER_EPOCH;
   * - a newer epoch must start at sequence 0;
   * - the same epoch must continue at last sequence + 1 (wrapping at int32 max);
   * - an unknown producer (never seen, or its batches all removed by
   *   retention / DeleteRecords) is accepted at any sequence, as Kafka 2.5+ does.
   */
  check(producerId: number, epoch: number, firstSeq: number, lastSeq: number): SequenceVerdict {
    lastSeq = wrapSequence(lastSeq);
    const e = this.producers.get(producerId);
    if (!e) return 'ok';
    if (epoch === e.epoch) {
      for (const b of e.batches) {
        if (b.firstSeq === firstSeq && b.lastSeq === lastSeq)
          return { duplicateOf: { firstOffset: b.firstOffset, lastOffset: b.lastOffset } };
      }
    }
    if (epoch < e.epoch) return 'INVALID_PRODUCER_EPOCH';
    if (epoch > e.epoch) return firstSeq === 0 ? 'ok' : 'OUT_OF_ORDER_SEQUENCE_NUMBER';
    const last = e.batches.length ? e.batches[e.batches.length - 1].lastSeq : NO_SEQUENCE;
    if (last === NO_SEQUENCE) return 'ok';
    return inSequence(last, firstSeq) ? 'ok' : 'OUT_OF_ORDER_SEQUENCE_NUMBER';
  }

  /** Record an appended batch (header fields only). */
  onAppend(
    producerId: number,
    epoch: number,
    firstSeq: number,
    lastSeq: number,
    firstOffset: number,
    lastOffset: number,
    timestamp: number,
  ): void {
    if (producerId === NO_PRODUCER_ID) return;
    let e = this.producers.get(producerId);
    if (!e) {
      e = { producerId, epoch, lastTimestamp: timestamp, batches: [], currentTxnFirstOffset: -1, coordinatorEpoch: -1 };
      this.producers.set(producerId, e);
    }
    if (epoch > e.epoch) {
      e.epoch = epoch;
      e.batches = [];
    }
    e.lastTimestamp = Math.max(e.lastTimestamp, timestamp);
    if (firstSeq === NO_SEQUENCE) return; // control batch: epoch only
    e.batches.push({ firstSeq, lastSeq: wrapSequence(lastSeq), firstOffset, lastOffset });
    if (e.batches.length > BATCHES_RETAINED) e.batches.shift();
  }

  /**
   * onAppend from the v2 batch header at `at`; a transactional data batch
   * opens its producer's transaction if none is open. A control batch only
   * moves the epoch here: its marker is applied by completeTxn.
   */
  onBatchHeader(b: Buffer, at: number): void {
    const pid = hdr.producerId(b, at);
    if (pid === NO_PRODUCER_ID) return;
    const firstSeq = hdr.baseSequence(b, at);
    const delta = hdr.lastOffsetDelta(b, at);
    this.onAppend(
      pid,
      hdr.producerEpoch(b, at),
      firstSeq,
      firstSeq === NO_SEQUENCE ? NO_SEQUENCE : firstSeq + delta,
      hdr.baseOffset(b, at),
      hdr.baseOffset(b, at) + delta,
      hdr.maxTimestamp(b, at),
    );
    if (hdr.isTransactional(b, at) && !hdr.isControl(b, at)) this.openTxn(pid, hdr.baseOffset(b, at));
  }

  private openTxn(producerId: number, firstOffset: number): void {
    if (this.ongoing.has(producerId)) return;
    this.ongoing.set(producerId, firstOffset);
    const e = this.producers.get(producerId);
    if (e) e.currentTxnFirstOffset = firstOffset;
  }

  /**
   * A COMMIT or ABORT marker of `producerId` was appended at `markerOffset`
   * (call after onBatchHeader of the marker's batch): closes the open
   * transaction, if any, and records the coordinator epoch. Returns the
   * closed transaction's first offset and the last stable offset it leaves,
   * or null when none was open.
   */
  completeTxn(producerId: number, markerOffset: number, coordinatorEpoch: number): TxnCompletion | null {
    const e = this.producers.get(producerId);
    if (e) {
      e.coordinatorEpoch = coordinatorEpoch;
      e.currentTxnFirstOffset = -1;
    }
    const firstOffset = this.ongoing.get(producerId);
    if (firstOffset === undefined) return null;
    this.ongoing.delete(producerId);
    this.unreplicated.push({ producerId, firstOffset, lastOffset: markerOffset });
    let lastStableOffset = markerOffset + 1;
    for (const f of this.ongoing.values()) if (f < lastStableOffset) lastStableOffset = f;
    return { firstOffset, lastStableOffset };
  }

  /** Whether any transaction is open or awaiting the high watermark. */
  get hasUnstableTxns(): boolean {
    return this.ongoing.size > 0 || this.unreplicated.length > 0;
  }

  /**
   * The first offset of the oldest transaction that is open or whose marker
   * is not below `highWatermark` yet (Kafka's firstUnstableOffset);
   * Infinity when there is none. Forgets closed transactions the high
   * watermark has passed.
   */
  firstUnstableOffset(highWatermark: number): number {
    if (this.ongoing.size === 0 && this.unreplicated.length === 0) return Infinity;
    let drop = 0;
    while (drop < this.unreplicated.length && this.unreplicated[drop].lastOffset < highWatermark) drop++;
    if (drop) this.unreplicated = this.unreplicated.slice(drop);
    let min = Infinity;
    for (const f of this.ongoing.values()) if (f < min) min = f;
    for (const t of this.unreplicated) if (t.firstOffset < min) min = t.firstOffset;
    return min;
  }

  /** Forget producers whose last batch is entirely below the log start offset (and their open transactions). */
  truncateHead(logStartOffset: number): void {
    for (const [pid, e] of this.producers) {
      const last = e.batches[e.batches.length - 1];
      if (last && last.lastOffset < logStartOffset) {
        this.producers.delete(pid);
        this.ongoing.delete(pid);
      } else if (last) e.batches = e.batches.filter((b) => b.lastOffset >= logStartOffset);
    }
    this.unreplicated = this.unreplicated.filter((t) => t.lastOffset >= logStartOffset);
  }

  clear(): void {
    this.producers.clear();
    this.ongoing.clear();
    this.unreplicated = [];
  }

  // ---- snapshots --------------------------------------------------------------

  snapshotFile(offset: number): string {
    return path.join(this.dir, segmentFileName(offset, SNAPSHOT_SUFFIX));
  }

  /** Offsets of the snapshot files present, ascending. */
  listSnapshots(): number[] {
    const out: number[] = [];
    for (const f of fs.readdirSync(this.dir)) {
      const m = /^(\d{20})\.snapshot$/.exec(f);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** Write the state as of `offset` (the log end offset), atomically and durably; throws when the write fails. */
  writeSnapshot(offset: number): void {
    let size = 10;
    for (const e of this.producers.values()) size += 31 + e.batches.length * 24;
    const buf = Buffer.alloc(size);
    buf.writeInt16BE(SNAPSHOT_VERSION, 0);
    buf.writeInt32BE(this.producers.size, 6);
    let at = 10;
    const i64 = (v: number) => {
      const hi = Math.floor(v / TWO_32);
      buf.writeInt32BE(hi, at);
      buf.writeUInt32BE(v - hi * TWO_32, at + 4);
      at += 8;
    };
    for (const e of this.producers.values()) {
      i64(e.producerId);
      buf.writeInt16BE(e.epoch, at);
      at += 2;
      i64(e.lastTimestamp);
      buf.writeInt8(e.batches.length, at);
      at += 1;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, at);
        buf.writeInt32BE(b.lastSeq, at + 4);
        at += 8;
        i64(b.firstOffset);
        i64(b.lastOffset);
      }
      i64(e.currentTxnFirstOffset);
      buf.writeInt32BE(e.coordinatorEpoch, at);
      at += 4;
    }
    buf.writeUInt32BE(crc32c(buf.subarray(6)) >>> 0, 2);
    replaceFile(this.snapshotFile(offset), buf);
  }

  /** Replace the state with the snapshot at `offset`; false when it is unreadable. */
  readSnapshot(offset: number): boolean {
    let buf: Buffer;
    try {
      buf = fs.readFileSync(this.snapshotFile(offset));
    } catch {
      return false;
    }
    const version = buf.length < 10 ? -1 : buf.readInt16BE(0);
    if (version !== 1 && version !== SNAPSHOT_VERSION) return false;
    if (crc32c(buf.subarray(6)) >>> 0 !== buf.readUInt32BE(2)) return false;
    const next = new Map<number, ProducerEntry>();
    let at = 10;
    const i64 = () => {
      const v = buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
      at += 8;
      return v;
    };
    try {
      const count = buf.readInt32BE(6);
      for (let i = 0; i < count; i++) {
        const producerId = i64();
        const epoch = buf.readInt16BE(at);
        at += 2;
        const lastTimestamp = i64();
        const n = buf.readInt8(at);
        at += 1;
        const batches: BatchMeta[] = [];
        for (let j = 0; j < n; j++) {
          const firstSeq = buf.readInt32BE(at);
          const lastSeq = buf.readInt32BE(at + 4);
          at += 8;
          const firstOffset = i64();
          const lastOffset = i64();
          batches.push({ firstSeq, lastSeq, firstOffset, lastOffset });
        }
        let currentTxnFirstOffset = -1;
        let coordinatorEpoch = -1;
        if (version >= 2) {
          currentTxnFirstOffset = i64();
          coordinatorEpoch = buf.readInt32BE(at);
          at += 4;
        }
        next.set(producerId, { producerId, epoch, lastTimestamp, batches, currentTxnFirstOffset, coordinatorEpoch });
      }
    } catch {
      return false; // a length field pointing past the end: the CRC lied or the file is foreign
    }
    this.clear();
    for (const [k, v] of next) {
      this.producers.set(k, v);
      if (v.currentTxnFirstOffset >= 0) this.ongoing.set(k, v.currentTxnFirstOffset);
    }
    return true;
  }

  /** Delete snapshots above `maxOffset` or below `minOffset`, and all but the newest `keep` in between. */
  pruneSnapshots(minOffset: number, maxOffset: number, keep = 2): void {
    const all = this.listSnapshots();
    const kept = all.filter((o) => o >= minOffset && o <= maxOffset).slice(-keep);
    for (const o of all) if (!kept.includes(o)) fs.rmSync(this.snapshotFile(o), { force: true });
  }
}
