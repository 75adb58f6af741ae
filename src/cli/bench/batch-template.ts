/**
 * Record batches of fixed-size, stamped values without per-record work
 * beyond the stamp: one v2 batch of the largest record count is built once
 * with `encodeBatch` (no key, no headers, timestamp delta 0, offset delta =
 * index), and a batch of k records is its first k records. Writing one copies
 * that prefix, patches the header (length, last offset delta, count,
 * timestamps), writes each value's stamp and computes the CRC32C.
 */
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  OFF_BASE_TIMESTAMP,
  OFF_CRC,
  OFF_LAST_OFFSET_DELTA,
  OFF_MAX_TIMESTAMP,
  OFF_RECORD_COUNT,
  RecordCursor,
  computeBatchCrc,
  encodeBatch,
  writeInt64,
} from '../../protocol/records/index.ts';
import { STAMP_BYTES, writeStamp } from './stamp.ts';

/** Value bytes after the stamp. */
const FILL = 'x'.charCodeAt(0);

export class BatchTemplate {
  /** Most records one batch holds. */
  readonly maxRecords: number;
  private readonly template: Buffer;
  /** Batch-relative position of record i's value. */
  private readonly valueAt: Int32Array;
  /** Batch size with records 0..i. */
  private readonly sizeWith: Int32Array;

  /**
   * Values of `valueSize` bytes (at least STAMP_BYTES); as many records per
   * batch as fit in `maxBatchBytes` (at least one).
   */
  constructor(
    readonly valueSize: number,
    maxBatchBytes: number,
  ) {
    if (valueSize < STAMP_BYTES) throw new RangeError(`values must be at least ${STAMP_BYTES} bytes, got ${valueSize}`);
    const value = Buffer.alloc(valueSize, FILL);
    // Record i is 1 (attributes) + 1 (timestamp delta 0) + varint(i) + 1 (null key) + varint(size) + size + 1 (no headers),
    // plus its length varint: at least size + 6 bytes. That bounds the count; the exact fit is found below.
    const bound = Math.max(1, Math.floor((maxBatchBytes - BATCH_HEADER_SIZE) / (valueSize + 6)));
    const records = Array.from({ length: bound }, () => ({ value }));
    const full = encodeBatch({ baseTimestamp: 0, records });
    const valueAt = new Int32Array(bound);
    const sizeWith = new Int32Array(bound);
    const cur = new RecordCursor(full, 0);
    for (let i = 0; cur.next(); i++) {
      valueAt[i] = BATCH_HEADER_SIZE + cur.valueStart;
      sizeWith[i] = valueAt[i] + valueSize + 1; // + the header count varint (0)
    }
    if (sizeWith[bound - 1] !== full.length) throw new Error('batch template: record layout not as expected');
    let n = bound;
    while (n > 1 && sizeWith[n - 1] > maxBatchBytes) n--;
    this.maxRecords = n;
    this.template = full.subarray(0, sizeWith[n - 1]);
    this.valueAt = valueAt;
    this.sizeWith = sizeWith;
  }

  /** Bytes of a batch of `count` records (1..maxRecords). */
  sizeOf(count: number): number {
    return this.sizeWith[count - 1];
  }

  /**
   * Writes a batch of `count` records at `out[at]`; record r's stamp is
   * `firstStampUs + r * stampStepUs`. Returns the batch's size.
   */
  write(
    out: Buffer,
    at: number,
    count: number,
    timestampMs: number,
    firstStampUs: number,
    stampStepUs: number,
  ): number {
    const size = this.sizeWith[count - 1];
    this.template.copy(out, at, 0, size);
    out.writeInt32BE(size - LOG_OVERHEAD, at + OFF_BATCH_LENGTH);
    out.writeInt32BE(count - 1, at + OFF_LAST_OFFSET_DELTA);
    out.writeInt32BE(count, at + OFF_RECORD_COUNT);
    writeInt64(out, at + OFF_BASE_TIMESTAMP, timestampMs);
    writeInt64(out, at + OFF_MAX_TIMESTAMP, timestampMs);
    for (let r = 0; r < count; r++) writeStamp(out, at + this.valueAt[r], firstStampUs + r * stampStepUs);
    out.writeUInt32BE(computeBatchCrc(out, at, size), at + OFF_CRC);
    return size;
  }
}
