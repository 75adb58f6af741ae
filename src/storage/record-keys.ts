/**
 * Record walkers for the compacting cleaner only (the append and read paths
 * never decode records): `forEachRecord`, a minimal in-place walker over the
 * records of an uncompressed v2 batch, and `decodeCompressedRecords`, which
 * decompresses a batch through the records module.
 * Record layout (KIP-98): length varint | attributes int8 | timestampDelta
 * varlong | offsetDelta varint | keyLength varint | key | valueLength varint
 * | value | headers. Varints are zig-zag encoded.
 */
import { BATCH_HEADER_SIZE, batch } from '../protocol/records/batch-header.ts';
import { RecordCursor, type RecordInput } from '../protocol/records/record-batch.ts';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { CorruptRecordError } from './errors.ts';

export interface RecordView {
  /** Record bytes (length prefix included) at buf[start, end). */
  start: number;
  end: number;
  offsetDelta: number;
  /** -1 for a null key. */
  keyStart: number;
  keyLength: number;
  /** -1 for a null value (a tombstone). */
  valueLength: number;
}

/** Read a zig-zag varint at `pos`; returns [value, next position]. Values up to 2^53 stay exact. */
function readVarint(buf: Buffer, pos: number, end: number): [number, number] {
  let raw = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new CorruptRecordError('varint runs past the record');
    const b = buf[pos++];
    raw += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, pos];
    mul *= 128;
  }
  throw new CorruptRecordError('varint longer than 10 bytes');
}

/** Visit each record of the uncompressed batch at buf[at, at+size). */
export function forEachRecord(buf: Buffer, at: number, size: number, visit: (r: RecordView) => void): void {
  const end = at + size;
  let pos = at + BATCH_HEADER_SIZE;
  while (pos < end) {
    const start = pos;
    let len: number;
    [len, pos] = readVarint(buf, pos, end);
    const recEnd = pos + len;
    if (len < 0 || recEnd > end) throw new CorruptRecordError('record length past the batch');
    pos += 1; // attributes
    let _ts: number;
    [_ts, pos] = readVarint(buf, pos, recEnd);
    let offsetDelta: number;
    [offsetDelta, pos] = readVarint(buf, pos, recEnd);
    let keyLength: number;
    [keyLength, pos] = readVarint(buf, pos, recEnd);
    const keyStart = keyLength >= 0 ? pos : -1;
    if (keyLength > 0) pos += keyLength;
    let valueLength: number;
    [valueLength, pos] = readVarint(buf, pos, recEnd);
    if (pos > recEnd || (valueLength > 0 && pos + valueLength > recEnd))
      throw new CorruptRecordError('record fields past the record');
    visit({ start, end: recEnd, offsetDelta, keyStart, keyLength, valueLength });
    pos = recEnd;
  }
}

/** One record of a compressed batch, decoded for the cleaner. */
export interface DecodedKeyedRecord {
  offsetDelta: number;
  /** The key bytes as a latin1 string (a lossless map key), or null. */
  key: string | null;
  /** Null value: a tombstone. */
  isTombstone: boolean;
  /** The record as `encodeBatch` takes it back, timestamp relative to the batch's baseTimestamp. */
  input: RecordInput;
}

/**
 * Decode the records of the compressed batch at buf[at, at+size) with the
 * records module (decompressing). Returns null when the batch does not
 * decode (a codec or record-structure error): the produce path does not
 * decompress batches, so such a batch can be on disk with a valid CRC, and the
 * cleaner then keeps it whole and leaves its keys unindexed. Keys, values and
 * header values are subarrays of the decompressed section (a fresh buffer,
 * not `buf`), so they outlive a reused scan window.
 */
export function decodeCompressedRecords(buf: Buffer, at: number, size: number): DecodedKeyedRecord[] | null {
  const baseTimestamp = batch.baseTimestamp(buf, at);
  const out: DecodedKeyedRecord[] = [];
  try {
    // Stored batches passed CRC validation at append and recovery.
    const cursor = new RecordCursor(buf.subarray(at, at + size), 0, { verifyCrc: false });
    while (cursor.next()) {
      const key = cursor.key();
      const value = cursor.value();
      out.push({
        offsetDelta: cursor.offsetDelta,
        key: key === null ? null : key.toString('latin1'),
        isTombstone: value === null,
        input: {
          key,
          value,
          headers: cursor.headers(),
          timestamp: baseTimestamp + cursor.timestampDelta,
          offsetDelta: cursor.offsetDelta,
          attributes: cursor.attributes,
        },
      });
    }
  } catch (err) {
    if (err instanceof ProtocolError) return null;
    throw err;
  }
  return out;
}
