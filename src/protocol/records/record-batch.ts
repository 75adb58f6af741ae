/**
 * Record batch (magic v2) decoding and encoding: the header, the records
 * section (decompressed when the batch is compressed) and each record
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint
 *   keyLength varint (-1 = null) | key | valueLength varint (-1 = null) | value
 *   headerCount varint | [keyLength varint | key utf8 | valueLength varint | value]
 *
 * `RecordCursor` walks records in place: one reusable object per batch, keys
 * and values are offsets into the section until asked for (as subarrays, never
 * copies). `decodeBatch` materialises everything; `encodeBatch` sizes the
 * batch exactly, writes it into one allocation and computes the CRC32C.
 */
import { ProtocolError } from '../protocol-error.ts';
import {
  BATCH_HEADER_SIZE,
  COMPRESSION_MASK,
  CONTROL_FLAG,
  DELETE_HORIZON_FLAG,
  LOG_OVERHEAD,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  OFF_ATTRIBUTES,
  OFF_BASE_SEQUENCE,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_LAST_OFFSET_DELTA,
  OFF_LEADER_EPOCH,
  OFF_MAGIC,
  OFF_MAX_TIMESTAMP,
  OFF_PRODUCER_EPOCH,
  OFF_PRODUCER_ID,
  OFF_RECORD_COUNT,
  TIMESTAMP_TYPE_LOG_APPEND,
  TRANSACTIONAL_FLAG,
  batch,
  computeBatchCrc,
  setBaseOffset,
  writeInt64,
} from './batch-header.ts';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, compress, decompress, isCompressionCodec } from './compression.ts';
import { sizeOfVarint, writeVarintAt } from './varint.ts';

export const MAGIC_V2 = 2;
export const NO_TIMESTAMP = -1;
/** Smallest possible record: length, attributes, three 1-byte varints, null key/value, 0 headers. */
export const MIN_RECORD_SIZE = 7;

export const TimestampType = { CREATE_TIME: 0, LOG_APPEND_TIME: 1 } as const;
export type TimestampTypeValue = (typeof TimestampType)[keyof typeof TimestampType];

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: number;
  timestampType: TimestampTypeValue;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  /** baseOffset + offsetDelta */
  offset: number;
  /** baseTimestamp + timestampDelta, or maxTimestamp under LogAppendTime. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface DecodedBatch extends BatchHeader {
  records: DecodedRecord[];
}

export interface DecodeOptions {
  /** Check the CRC32C before decoding (default true). */
  verifyCrc?: boolean;
  /** Ceiling on the decompressed records section (default 256 MiB). */
  maxDecompressedBytes?: number;
}

/**
 * Bounds of one v2 batch at `at`: the buffer holds its 61-byte header and the
 * `12 + batchLength` bytes it claims, and the magic is 2. Returns the batch size.
 */
export function checkBatchBounds(buf: Buffer, at = 0): number {
  if (at < 0 || buf.length - at < BATCH_HEADER_SIZE) {
    throw new ProtocolError(`record batch truncated: ${buf.length - at} bytes, header needs ${BATCH_HEADER_SIZE}`);
  }
  const magic = batch.magic(buf, at);
  if (magic !== MAGIC_V2) throw new ProtocolError(`unsupported record batch magic ${magic}`);
  const length = batch.batchLength(buf, at);
  if (length < BATCH_HEADER_SIZE - LOG_OVERHEAD)
    throw new ProtocolError(`record batch length ${length} is below the header size`);
  const size = LOG_OVERHEAD + length;
  if (size > buf.length - at)
    throw new ProtocolError(`record batch truncated: needs ${size} bytes, ${buf.length - at} present`);
  return size;
}

/** The header fields of the batch at `at` (bounds and magic checked, CRC not). */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  checkBatchBounds(buf, at);
  const attributes = batch.attributes(buf, at);
  return {
    baseOffset: batch.baseOffset(buf, at),
    batchLength: batch.batchLength(buf, at),
    partitionLeaderEpoch: batch.partitionLeaderEpoch(buf, at),
    magic: batch.magic(buf, at),
    crc: batch.crc(buf, at),
    attributes,
    compression: attributes & COMPRESSION_MASK,
    timestampType:
      (attributes & TIMESTAMP_TYPE_LOG_APPEND) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    isTransactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
    isControl: (attributes & CONTROL_FLAG) !== 0,
    hasDeleteHorizon: (attributes & DELETE_HORIZON_FLAG) !== 0,
    lastOffsetDelta: batch.lastOffsetDelta(buf, at),
    baseTimestamp: batch.baseTimestamp(buf, at),
    maxTimestamp: batch.maxTimestamp(buf, at),
    producerId: batch.producerId(buf, at),
    producerEpoch: batch.producerEpoch(buf, at),
    baseSequence: batch.baseSequence(buf, at),
    recordCount: batch.recordCount(buf, at),
  };
}

/**
 * The records section of the batch at `at`: a subarray when uncompressed,
 * the decompressed bytes otherwise.
 */
export function recordsSection(buf: Buffer, at = 0, opts: DecodeOptions = {}): Buffer {
  const size = checkBatchBounds(buf, at);
  if (opts.verifyCrc !== false && computeBatchCrc(buf, at, size) !== batch.crc(buf, at)) {
    throw new ProtocolError('record batch CRC mismatch');
  }
  const codec = batch.compression(buf, at);
  if (!isCompressionCodec(codec)) throw new ProtocolError(`unknown compression codec ${codec}`);
  const raw = buf.subarray(at + BATCH_HEADER_SIZE, at + size);
  return decompress(codec, raw, opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES);
}

/**
 * Forward-only cursor over the records of one batch. Fields describe the
 * current record after `next()` returned true; the object is reused, so
 * callers copy what they keep. Structural errors throw ProtocolError,
 * including a record count that disagrees with the section's contents.
 */
export class RecordCursor {
  readonly baseOffset: number;
  readonly baseTimestamp: number;
  readonly maxTimestamp: number;
  readonly logAppendTime: boolean;
  readonly recordCount: number;
  /** The (decompressed) records section. */
  readonly section: Buffer;

  /** Index of the current record (-1 before the first). */
  index = -1;
  attributes = 0;
  timestampDelta = 0;
  offsetDelta = 0;
  /** Start of the current record's key in `section`, -1 when null. */
  keyStart = -1;
  keyLength = -1;
  valueStart = -1;
  valueLength = -1;
  headerCount = 0;
  /** Where the current record's headers start in `section`. */
  headersStart = 0;

  /** Read position in `section` and the end of the current bounds (record or section). */
  private pos = 0;
  private end = 0;

  constructor(buf: Buffer, at = 0, opts: DecodeOptions = {}) {
    this.section = recordsSection(buf, at, opts);
    this.baseOffset = batch.baseOffset(buf, at);
    this.baseTimestamp = batch.baseTimestamp(buf, at);
    this.maxTimestamp = batch.maxTimestamp(buf, at);
    this.logAppendTime = batch.isLogAppendTime(buf, at);
    const count = batch.recordCount(buf, at);
    if (count < 0) throw new ProtocolError(`negative record count ${count}`);
    if (count > Math.floor(this.section.length / MIN_RECORD_SIZE)) {
      throw new ProtocolError(`record count ${count} cannot fit in ${this.section.length} bytes`);
    }
    this.recordCount = count;
  }

  get offset(): number {
    return this.baseOffset + this.offsetDelta;
  }

  get timestamp(): number {
    return this.logAppendTime ? this.maxTimestamp : this.baseTimestamp + this.timestampDelta;
  }

  /** Advance to the next record; false (after checking the section is used up) at the end. */
  next(): boolean {
    const sectionEnd = this.section.length;
    if (this.index + 1 >= this.recordCount) {
      if (this.pos !== sectionEnd) {
        throw new ProtocolError(`${sectionEnd - this.pos} bytes after the last of ${this.recordCount} records`);
      }
      this.index = this.recordCount;
      return false;
    }
    this.end = sectionEnd;
    const length = this.varint();
    if (length < MIN_RECORD_SIZE - 1 || length > sectionEnd - this.pos) {
      throw new ProtocolError(`record length ${length} invalid with ${sectionEnd - this.pos} bytes left`);
    }
    const end = this.pos + length;
    this.end = end;
    this.attributes = (this.section[this.pos++] << 24) >> 24; // int8; in bounds: length >= 6
    this.timestampDelta = this.varlong();
    this.offsetDelta = this.varint();
    this.keyLength = this.varint();
    this.keyStart = this.nullableStart(this.keyLength);
    this.valueLength = this.varint();
    this.valueStart = this.nullableStart(this.valueLength);
    const headers = this.varint();
    if (headers < 0 || headers * 2 > end - this.pos) throw new ProtocolError(`invalid header count ${headers}`);
    this.headerCount = headers;
    this.headersStart = this.pos;
    for (let i = 0; i < headers; i++) {
      const kl = this.varint();
      if (kl < 0) throw new ProtocolError('null record header key');
      this.skip(kl);
      const vl = this.varint();
      if (vl < -1) throw new ProtocolError(`invalid record header value length ${vl}`);
      if (vl > 0) this.skip(vl);
    }
    if (this.pos !== end)
      throw new ProtocolError(
        `record length ${length} disagrees with its ${this.pos - (end - length)} bytes of fields`,
      );
    this.index++;
    return true;
  }

  private skip(n: number): void {
    if (n > this.end - this.pos) throw new ProtocolError(`field of ${n} bytes overruns its record`);
    this.pos += n;
  }

  /** Zig-zag varint of at most 5 bytes (32 bits), bounded by `end`. */
  private varint(): number {
    const buf = this.section;
    if (this.pos >= this.end) throw new ProtocolError('truncated varint');
    let b = buf[this.pos++];
    if (b < 0x80) return (b >>> 1) ^ -(b & 1); // one byte: the common case
    let u = b & 0x7f;
    let mul = 128;
    for (let i = 1; i < 5; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated varint');
      b = buf[this.pos++];
      u += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (u > 0xffffffff) throw new ProtocolError('varint overflows 32 bits');
        return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
      }
      mul *= 128;
    }
    throw new ProtocolError('varint longer than 5 bytes');
  }

  /** Zig-zag varlong as a number; magnitudes beyond 2^53 are refused. */
  private varlong(): number {
    const buf = this.section;
    let u = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) throw new ProtocolError('truncated varlong');
      const b = buf[this.pos++];
      u += (b & 0x7f) * mul;
      if (b < 0x80) return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
      mul *= 128;
    }
    throw new ProtocolError('varlong beyond 2^53 (timestamp delta out of range)');
  }

  private nullableStart(len: number): number {
    if (len === -1) return -1;
    if (len < -1) throw new ProtocolError(`invalid length ${len}`);
    const start = this.pos;
    this.skip(len);
    return start;
  }

  /** The current key as a subarray of the section (no copy), or null. */
  key(): Buffer | null {
    return this.keyStart < 0 ? null : this.section.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** The current value as a subarray of the section (no copy), or null. */
  value(): Buffer | null {
    return this.valueStart < 0 ? null : this.section.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** The current record's headers (allocates; values are subarrays). */
  headers(): RecordHeader[] {
    const out: RecordHeader[] = [];
    if (this.headerCount === 0) return out;
    const save = this.pos;
    this.pos = this.headersStart; // already validated by next(); `end` still bounds this record
    for (let i = 0; i < this.headerCount; i++) {
      const kl = this.varint();
      const key = this.section.toString('utf8', this.pos, this.pos + kl);
      this.pos += kl;
      const vl = this.varint();
      const value = vl < 0 ? null : this.section.subarray(this.pos, this.pos + vl);
      if (vl > 0) this.pos += vl;
      out.push({ key, value });
    }
    this.pos = save;
    return out;
  }

  /** A detached copy of the current record's fields (values still share memory with the section). */
  toRecord(): DecodedRecord {
    return {
      attributes: this.attributes,
      timestampDelta: this.timestampDelta,
      offsetDelta: this.offsetDelta,
      offset: this.offset,
      timestamp: this.timestamp,
      key: this.key(),
      value: this.value(),
      headers: this.headers(),
    };
  }
}

/** Walk the records of the batch at `at`; `cb` sees the reused cursor. Returns the count seen. */
export function forEachRecord(
  buf: Buffer,
  cb: (record: RecordCursor) => void,
  opts: DecodeOptions & { at?: number } = {},
): number {
  const cursor = new RecordCursor(buf, opts.at ?? 0, opts);
  while (cursor.next()) cb(cursor);
  return cursor.recordCount;
}

/** Generator form of the walk: yields the same reused cursor for each record. */
export function* iterateRecords(
  buf: Buffer,
  at = 0,
  opts: DecodeOptions = {},
): Generator<RecordCursor, void, undefined> {
  const cursor = new RecordCursor(buf, at, opts);
  while (cursor.next()) yield cursor;
}

/** Decode the whole batch at `at`: header fields and materialised records. */
export function decodeBatch(buf: Buffer, at = 0, opts: DecodeOptions = {}): DecodedBatch {
  const header = readBatchHeader(buf, at);
  const cursor = new RecordCursor(buf, at, opts);
  const records: DecodedRecord[] = [];
  while (cursor.next()) records.push(cursor.toRecord());
  return { ...header, records };
}

// ------------------------------------------------------------------ encode

export type BytesLike = Buffer | Uint8Array | string;

export interface RecordInput {
  key?: BytesLike | null;
  value?: BytesLike | null;
  headers?: ReadonlyArray<{ key: string; value?: BytesLike | null }>;
  /** Absolute timestamp (ms); defaults to the batch's baseTimestamp or now. */
  timestamp?: number;
  /** Defaults to the record's index. */
  offsetDelta?: number;
  /** Record attributes byte (unused by Kafka; 0). */
  attributes?: number;
}

export interface BatchInput {
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  /** Codec id 0..4 (see `Compression`). */
  compression?: number;
  /** Extra attribute bits OR-ed in (e.g. DELETE_HORIZON_FLAG). */
  attributes?: number;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
  isTransactional?: boolean;
  isControl?: boolean;
  timestampType?: TimestampTypeValue;
  /** Overrides the first record's timestamp as the base (needed when records carry none). */
  baseTimestamp?: number;
  /** Overrides the computed max timestamp (e.g. the append time under LogAppendTime). */
  maxTimestamp?: number;
  /** Overrides the last record's offsetDelta (e.g. a compacted batch keeping its range). */
  lastOffsetDelta?: number;
  records: ReadonlyArray<RecordInput>;
}

function toBytes(v: BytesLike | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

interface PreparedRecord {
  bodySize: number;
  timestampDelta: number;
  offsetDelta: number;
  attributes: number;
  key: Buffer | null;
  value: Buffer | null;
  headerKeys: Buffer[];
  headerValues: (Buffer | null)[];
}

function sizeOfNullable(b: Buffer | null): number {
  return b === null ? 1 : sizeOfVarint(b.length) + b.length;
}

function writeNullable(out: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) return writeVarintAt(out, pos, -1);
  pos = writeVarintAt(out, pos, b.length);
  b.copy(out, pos);
  return pos + b.length;
}

/** Encode one v2 record batch, compressing its records section and computing the CRC32C. */
export function encodeBatch(input: BatchInput): Buffer {
  const codec = input.compression ?? 0;
  if (!isCompressionCodec(codec)) throw new RangeError(`unknown compression codec ${codec}`);
  const list = input.records;
  let now = -1;
  const stamp = (r: RecordInput): number => {
    if (r.timestamp !== undefined) return r.timestamp;
    if (input.baseTimestamp !== undefined) return input.baseTimestamp;
    if (now < 0) now = Date.now();
    return now;
  };
  const baseTimestamp = input.baseTimestamp ?? (list.length > 0 ? stamp(list[0]) : NO_TIMESTAMP);
  let maxTimestamp = NO_TIMESTAMP;

  const prepared: PreparedRecord[] = new Array(list.length);
  let sectionSize = 0;
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    const ts = stamp(r);
    if (ts > maxTimestamp) maxTimestamp = ts;
    const key = toBytes(r.key);
    const value = toBytes(r.value);
    const hs = r.headers ?? [];
    const headerKeys: Buffer[] = new Array(hs.length);
    const headerValues: (Buffer | null)[] = new Array(hs.length);
    const offsetDelta = r.offsetDelta ?? i;
    const timestampDelta = ts - baseTimestamp;
    let body =
      1 +
      sizeOfVarint(timestampDelta) +
      sizeOfVarint(offsetDelta) +
      sizeOfNullable(key) +
      sizeOfNullable(value) +
      sizeOfVarint(hs.length);
    for (let h = 0; h < hs.length; h++) {
      headerKeys[h] = Buffer.from(hs[h].key, 'utf8');
      headerValues[h] = toBytes(hs[h].value);
      body += sizeOfNullable(headerKeys[h]) + sizeOfNullable(headerValues[h]);
    }
    prepared[i] = {
      bodySize: body,
      timestampDelta,
      offsetDelta,
      attributes: r.attributes ?? 0,
      key,
      value,
      headerKeys,
      headerValues,
    };
    sectionSize += sizeOfVarint(body) + body;
  }

  // Uncompressed: records are written straight after the header. Compressed:
  // into a scratch section first, then the codec output is placed after it.
  let out: Buffer;
  let pos: number;
  let section: Buffer;
  if (codec === 0) {
    out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + sectionSize);
    section = out;
    pos = BATCH_HEADER_SIZE;
  } else {
    section = Buffer.allocUnsafe(sectionSize);
    out = section; // replaced below
    pos = 0;
  }
  for (const p of prepared) {
    pos = writeVarintAt(section, pos, p.bodySize);
    section.writeInt8(p.attributes, pos++);
    pos = writeVarintAt(section, pos, p.timestampDelta);
    pos = writeVarintAt(section, pos, p.offsetDelta);
    pos = writeNullable(section, pos, p.key);
    pos = writeNullable(section, pos, p.value);
    pos = writeVarintAt(section, pos, p.headerKeys.length);
    for (let h = 0; h < p.headerKeys.length; h++) {
      pos = writeNullable(section, pos, p.headerKeys[h]);
      pos = writeNullable(section, pos, p.headerValues[h]);
    }
  }
  if (codec !== 0) {
    const compressed = compress(codec, section);
    out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
    compressed.copy(out, BATCH_HEADER_SIZE);
  }

  let attributes = (codec & COMPRESSION_MASK) | (input.attributes ?? 0);
  if (input.timestampType === TimestampType.LOG_APPEND_TIME) attributes |= TIMESTAMP_TYPE_LOG_APPEND;
  if (input.isTransactional) attributes |= TRANSACTIONAL_FLAG;
  if (input.isControl) attributes |= CONTROL_FLAG;
  const lastOffsetDelta =
    input.lastOffsetDelta ?? (prepared.length > 0 ? prepared[prepared.length - 1].offsetDelta : 0);

  setBaseOffset(out, 0, input.baseOffset ?? 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt32BE(input.partitionLeaderEpoch ?? -1, OFF_LEADER_EPOCH);
  out.writeInt8(MAGIC_V2, OFF_MAGIC);
  out.writeInt16BE(attributes, OFF_ATTRIBUTES);
  out.writeInt32BE(lastOffsetDelta, OFF_LAST_OFFSET_DELTA);
  writeInt64(out, OFF_BASE_TIMESTAMP, baseTimestamp);
  writeInt64(out, OFF_MAX_TIMESTAMP, input.maxTimestamp ?? maxTimestamp);
  writeInt64(out, OFF_PRODUCER_ID, input.producerId ?? NO_PRODUCER_ID);
  out.writeInt16BE(input.producerEpoch ?? -1, OFF_PRODUCER_EPOCH);
  out.writeInt32BE(input.baseSequence ?? NO_SEQUENCE, OFF_BASE_SEQUENCE);
  out.writeInt32BE(prepared.length, OFF_RECORD_COUNT);
  out.writeUInt32BE(computeBatchCrc(out, 0, out.length), OFF_CRC);
  return out;
}
