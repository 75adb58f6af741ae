/**
 * Idempotent-producer state of one partition (Kafka's ProducerStateManager
 * idea, KIP-98): per producer id its epoch and the metadata of its last five
 * appended batches, to answer "is this batch a duplicate, in sequence, or
 * fenced?" before an append. Rebuilt from batch headers only; snapshotted as
 * `<offset, 20 digits>.snapshot` (state as of that offset) at segment roll and
 * close.
 *
 * Snapshot file (big-endian, ours): version int16 (1) | crc32c uint32 of the
 * rest | count int32 | per producer: producerId int64, epoch int16,
 * lastTimestamp int64, n int8, n x (firstSeq int32, lastSeq int32,
 * firstOffset int64, lastOffset int64).
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
const SNAPSHOT_VERSION = 1;
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
      e = { producerId, epoch, lastTimestamp: timestamp, batches: [] };
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

  /** onAppend from the v2 batch header at `at`. */
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
  }

  /** Forget producers whose last batch is entirely below the log start offset. */
  truncateHead(logStartOffset: number): void {
    for (const [pid, e] of this.producers) {
      const last = e.batches[e.batches.length - 1];
      if (last && last.lastOffset < logStartOffset) this.producers.delete(pid);
      else if (last) e.batches = e.batches.filter((b) => b.lastOffset >= logStartOffset);
    }
  }

  clear(): void {
    this.producers.clear();
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
    for (const e of this.producers.values()) size += 19 + e.batches.length * 24;
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
    if (buf.length < 10 || buf.readInt16BE(0) !== SNAPSHOT_VERSION) return false;
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
        next.set(producerId, { producerId, epoch, lastTimestamp, batches });
      }
    } catch {
      return false; // a length field pointing past the end: the CRC lied or the file is foreign
    }
    this.producers.clear();
    for (const [k, v] of next) this.producers.set(k, v);
    return true;
  }

  /** Delete snapshots above `maxOffset` or below `minOffset`, and all but the newest `keep` in between. */
  pruneSnapshots(minOffset: number, maxOffset: number, keep = 2): void {
    const all = this.listSnapshots();
    const kept = all.filter((o) => o >= minOffset && o <= maxOffset).slice(-keep);
    for (const o of all) if (!kept.includes(o)) fs.rmSync(this.snapshotFile(o), { force: true });
  }
}
