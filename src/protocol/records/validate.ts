/**
 * Produce-path checks on raw record batches: splitting a request's records
 * field into batch positions, and validating one batch for append as Kafka's
 * log validator does. Records are walked in place (varints read where they
 * lie, nothing allocated per record); a compressed batch is decompressed,
 * within a bounded output, to walk its records, and then appended as it came.
 */
import { ErrorCode } from '../error-codes.ts';
import { ProtocolError } from '../protocol-error.ts';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  OFF_MAGIC,
  batch,
  computeBatchCrc,
} from './batch-header.ts';
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  DecompressedTooLargeError,
  compressionName,
  decompress,
  isCompressionCodec,
} from './compression.ts';
import { MAGIC_V2, MIN_RECORD_SIZE } from './record-batch.ts';

export interface BatchPosition {
  /** Offset of the batch's first byte in the buffer. */
  at: number;
  /** Bytes of the batch: 12 + batchLength. */
  size: number;
}

/** A batch refused for append: the Kafka error code and a message for the client. */
export interface BatchProblem {
  errorCode: number;
  message: string;
  /** Index within the batch of the record at fault, for record-level problems (KIP-467 record_errors). */
  recordIndex?: number;
}

/** Floor of the decompressed size a produced batch may have, whatever max.message.bytes is. */
export const MIN_APPEND_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/** Decompressed bytes allowed per byte of max.message.bytes. */
export const APPEND_DECOMPRESSION_FACTOR = 64;

/**
 * Ceiling on the records of one produced compressed batch after
 * decompression: 64 x max.message.bytes (so 64 MiB with the default of
 * 1 MiB), at least 64 MiB, and never above the 256 MiB our own record
 * decoder accepts. A batch beyond it is refused with MESSAGE_TOO_LARGE.
 */
export function appendDecompressionLimit(maxMessageBytes: number): number {
  return Math.min(
    DEFAULT_MAX_DECOMPRESSED_BYTES,
    Math.max(MIN_APPEND_DECOMPRESSED_BYTES, APPEND_DECOMPRESSION_FACTOR * maxMessageBytes),
  );
}

export interface SplitOptions {
  /** Stop silently at an incomplete trailing batch (fetch responses may end in one). */
  allowPartialTail?: boolean;
}

/** Bytes needed to read a batch's magic byte. */
const MAGIC_PREFIX = OFF_MAGIC + 1;

/**
 * Positions of the concatenated batches in `buf[start, end)`. A batch whose
 * declared length is impossible, or that runs past `end`, is a ProtocolError
 * (unless `allowPartialTail` and it is the last one). Allocates one object per
 * batch, none per record.
 */
export function splitBatches(buf: Buffer, start = 0, end = buf.length, opts: SplitOptions = {}): BatchPosition[] {
  if (start < 0 || end > buf.length || start > end)
    throw new RangeError(`bad range [${start}, ${end}) of ${buf.length}`);
  const out: BatchPosition[] = [];
  let at = start;
  while (at < end) {
    const left = end - at;
    if (left < MAGIC_PREFIX) {
      if (opts.allowPartialTail) break;
      throw new ProtocolError(`truncated record batch: ${left} trailing bytes at ${at}`);
    }
    const length = buf.readInt32BE(at + OFF_BATCH_LENGTH);
    const min =
      buf.readInt8(at + OFF_MAGIC) >= MAGIC_V2 ? BATCH_HEADER_SIZE - LOG_OVERHEAD : MAGIC_PREFIX - LOG_OVERHEAD;
    if (length < min) throw new ProtocolError(`record batch at ${at} declares length ${length}, below ${min}`);
    const size = LOG_OVERHEAD + length;
    if (size > left) {
      if (opts.allowPartialTail) break;
      throw new ProtocolError(`truncated record batch at ${at}: declares ${size} bytes, ${left} present`);
    }
    out.push({ at, size });
    at += size;
  }
  return out;
}

export interface AppendValidationOptions {
  /**
   * The broker's own batch (transaction markers): control batches are accepted
   * and producer batches need no sequence number. Clients get neither.
   */
  allowControl?: boolean;
  /** Refuse a record without a key (a compacted topic's), INVALID_RECORD as Kafka. */
  requireKeys?: boolean;
  /** Walk the records (decompressing compressed batches); default true. */
  checkRecords?: boolean;
  /** Ceiling on a compressed batch's records after decompression (default: appendDecompressionLimit of 1 MiB). */
  maxDecompressedBytes?: number;
}

function problem(errorCode: number, message: string, recordIndex?: number): BatchProblem {
  return recordIndex === undefined ? { errorCode, message } : { errorCode, message, recordIndex };
}

/**
 * Validate the batch at `buf[at, at + size)` as a producer's batch for
 * append, following Kafka's checks: magic 2, batchLength consistent with the
 * batch's extent, CRC32C, a codec id Kafka knows, a positive record count
 * whose offset range (lastOffsetDelta + 1) agrees with it, a sequence number
 * when the batch has a producer id, and no control batch from a client. Then
 * (unless `checkRecords` is false) the records: a compressed section must
 * decompress (CORRUPT_MESSAGE) within `maxDecompressedBytes`
 * (MESSAGE_TOO_LARGE), and, compressed or not, hold exactly the declared
 * number of records, each with offset delta 0..n-1 in order and a length
 * that matches its fields (and a key, with `requireKeys`), and nothing after
 * the last (INVALID_RECORD).
 * Returns null when the batch may be appended.
 */
export function validateBatchForAppend(
  buf: Buffer,
  at: number,
  size: number,
  opts: AppendValidationOptions = {},
): BatchProblem | null {
  if (at < 0 || size < 0 || at + size > buf.length) {
    return problem(
      ErrorCode.CORRUPT_MESSAGE,
      `batch range [${at}, ${at + size}) outside the ${buf.length}-byte records`,
    );
  }
  if (size < BATCH_HEADER_SIZE) {
    return problem(
      ErrorCode.CORRUPT_MESSAGE,
      `record batch of ${size} bytes is smaller than the ${BATCH_HEADER_SIZE}-byte header`,
    );
  }
  const magic = batch.magic(buf, at);
  if (magic !== MAGIC_V2) {
    return problem(
      ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT,
      `record batch magic ${magic} is not supported; magic ${MAGIC_V2} is required`,
    );
  }
  const declared = batch.totalSize(buf, at);
  if (declared !== size) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `record batch declares ${declared} bytes but occupies ${size}`);
  }
  const crc = batch.crc(buf, at);
  const actual = computeBatchCrc(buf, at, size);
  if (crc !== actual) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `record batch CRC mismatch: stored ${crc}, computed ${actual}`);
  }
  const codec = batch.compression(buf, at);
  if (!isCompressionCodec(codec)) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `record batch uses unknown compression codec ${codec}`);
  }
  if (batch.isControl(buf, at) && !opts.allowControl) {
    return problem(ErrorCode.INVALID_RECORD, 'clients may not write control batches');
  }
  const count = batch.recordCount(buf, at);
  if (count <= 0) return problem(ErrorCode.INVALID_RECORD, `invalid record count ${count}`);
  const lastOffsetDelta = batch.lastOffsetDelta(buf, at);
  if (lastOffsetDelta !== count - 1) {
    return problem(
      ErrorCode.INVALID_RECORD,
      `inconsistent batch: lastOffsetDelta ${lastOffsetDelta} with ${count} records`,
    );
  }
  if (!opts.allowControl && batch.producerId(buf, at) >= 0 && batch.baseSequence(buf, at) < 0) {
    return problem(
      ErrorCode.INVALID_RECORD,
      `invalid sequence number ${batch.baseSequence(buf, at)} in a batch with producer id ${batch.producerId(buf, at)}`,
    );
  }
  if (codec === 0 && count > Math.floor((size - BATCH_HEADER_SIZE) / MIN_RECORD_SIZE)) {
    return problem(ErrorCode.INVALID_RECORD, `record count ${count} cannot fit in ${size - BATCH_HEADER_SIZE} bytes`);
  }
  if (opts.checkRecords === false) return null;
  if (codec === 0) return walkRecords(buf, at + BATCH_HEADER_SIZE, at + size, count, opts.requireKeys === true);
  const limit = opts.maxDecompressedBytes ?? appendDecompressionLimit(1024 * 1024);
  let section: Buffer;
  try {
    section = decompress(codec, buf.subarray(at + BATCH_HEADER_SIZE, at + size), limit);
  } catch (err) {
    // Whatever a codec throws on a client's bytes refuses the batch, never the broker.
    if (err instanceof DecompressedTooLargeError) {
      return problem(
        ErrorCode.MESSAGE_TOO_LARGE,
        `${compressionName(codec)} records decompress to more than ${limit} bytes`,
      );
    }
    const why = err instanceof Error ? err.message : String(err);
    return problem(ErrorCode.CORRUPT_MESSAGE, `${compressionName(codec)} records do not decompress: ${why}`);
  }
  return walkRecords(section, 0, section.length, count, opts.requireKeys === true);
}

// The walk reads varints where they lie; `cur` is the read position shared by
// the helpers below (one walk at a time: the validator is synchronous).
let cur = 0;

/** Zig-zag varint of at most 5 bytes below `end` at `cur`, or NaN when truncated or too long. */
function varint(s: Buffer, end: number): number {
  if (cur >= end) return NaN;
  let b = s[cur++];
  if (b < 0x80) return (b >>> 1) ^ -(b & 1);
  let u = b & 0x7f;
  let mul = 128;
  for (let i = 1; i < 5; i++) {
    if (cur >= end) return NaN;
    b = s[cur++];
    u += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (u > 0xffffffff) return NaN;
      return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
    }
    mul *= 128;
  }
  return NaN;
}

/** Skip a varlong (at most 10 bytes) below `end`; false when truncated or too long. */
function skipVarlong(s: Buffer, end: number): boolean {
  for (let i = 0; i < 10; i++) {
    if (cur >= end) return false;
    if (s[cur++] < 0x80) return true;
  }
  return false;
}

/** Skip a length-prefixed field (-1 = null when `nullable`); false when it does not fit below `end`. */
function skipBytes(s: Buffer, end: number, nullable: boolean): boolean {
  const n = varint(s, end);
  if (n === -1) return nullable;
  if (!(n >= 0) || n > end - cur) return false;
  cur += n;
  return true;
}

/**
 * Walk `count` records in `s[start, end)` without decoding them: each length
 * must fit in the section and equal the bytes of its fields, offset deltas
 * must be 0..count-1, and the last record must end the section.
 */
function walkRecords(s: Buffer, start: number, end: number, count: number, requireKeys: boolean): BatchProblem | null {
  if (count > Math.floor((end - start) / MIN_RECORD_SIZE)) {
    return problem(ErrorCode.INVALID_RECORD, `record count ${count} cannot fit in ${end - start} bytes of records`);
  }
  cur = start;
  for (let i = 0; i < count; i++) {
    const length = varint(s, end);
    if (!(length >= MIN_RECORD_SIZE - 1) || length > end - cur) {
      const left = end - cur;
      return problem(
        ErrorCode.INVALID_RECORD,
        `record ${i} has length ${length} with ${left} bytes left of ${count} declared records`,
        i,
      );
    }
    const recordEnd = cur + length;
    cur++; // attributes
    if (!skipVarlong(s, recordEnd))
      return problem(ErrorCode.INVALID_RECORD, `record ${i} has a malformed timestamp delta`, i);
    const offsetDelta = varint(s, recordEnd);
    if (offsetDelta !== i) {
      return problem(
        ErrorCode.INVALID_RECORD,
        `record ${i} has offset delta ${offsetDelta}; inner offsets must be consecutive from 0`,
        i,
      );
    }
    // A null key is the varint -1: the single byte 0x01.
    if (requireKeys && cur < recordEnd && s[cur] === 0x01) {
      return problem(
        ErrorCode.INVALID_RECORD,
        `record ${i} has no key; a compacted topic accepts only records with a key`,
        i,
      );
    }
    if (!skipBytes(s, recordEnd, true) || !skipBytes(s, recordEnd, true)) {
      return problem(
        ErrorCode.INVALID_RECORD,
        `record ${i} has a key or value overrunning its ${length}-byte length`,
        i,
      );
    }
    const headers = varint(s, recordEnd);
    if (!(headers >= 0) || headers > (recordEnd - cur) / 2)
      return problem(ErrorCode.INVALID_RECORD, `record ${i} has invalid header count ${headers}`, i);
    for (let h = 0; h < headers; h++) {
      if (!skipBytes(s, recordEnd, false) || !skipBytes(s, recordEnd, true)) {
        return problem(ErrorCode.INVALID_RECORD, `record ${i} has a malformed header ${h}`, i);
      }
    }
    if (cur !== recordEnd) {
      return problem(
        ErrorCode.INVALID_RECORD,
        `record ${i} declares length ${length} but its fields take ${cur - (recordEnd - length)} bytes`,
        i,
      );
    }
  }
  if (cur !== end) {
    return problem(ErrorCode.INVALID_RECORD, `${end - cur} bytes remain after the ${count} declared records`);
  }
  return null;
}
