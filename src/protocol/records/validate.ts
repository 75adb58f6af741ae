/**
 * Produce-path checks on raw record batches: splitting a request's records
 * field into batch positions, and validating one batch for append without
 * decompressing it (compressed batches go to the log as they came).
 */
import { ErrorCode } from '../error-codes.ts';
import { ProtocolError } from '../protocol-error.ts';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, OFF_BATCH_LENGTH, OFF_MAGIC, batch, computeBatchCrc } from './batch-header.ts';
import { isCompressionCodec } from './compression.ts';
import { MAGIC_V2, MIN_RECORD_SIZE, RecordCursor } from './record-batch.ts';

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
  if (start < 0 || end > buf.length || start > end) throw new RangeError(`bad range [${start}, ${end}) of ${buf.length}`);
  const out: BatchPosition[] = [];
  let at = start;
  while (at < end) {
    const left = end - at;
    if (left < MAGIC_PREFIX) {
      if (opts.allowPartialTail) break;
      throw new ProtocolError(`truncated record batch: ${left} trailing bytes at ${at}`);
    }
    const length = buf.readInt32BE(at + OFF_BATCH_LENGTH);
    const min = buf.readInt8(at + OFF_MAGIC) >= MAGIC_V2 ? BATCH_HEADER_SIZE - LOG_OVERHEAD : MAGIC_PREFIX - LOG_OVERHEAD;
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
  /** Accept control batches (the broker's own transaction markers); clients may not send them. */
  allowControl?: boolean;
  /** Walk the records of uncompressed batches (default true). */
  checkRecords?: boolean;
}

function problem(errorCode: number, message: string): BatchProblem {
  return { errorCode, message };
}

/**
 * Validate the batch at `buf[at, at + size)` as a producer's batch for
 * append, following Kafka's checks: magic 2, batchLength consistent with the
 * batch's extent, CRC32C, a codec id Kafka knows, a positive record count
 * whose offset range (lastOffsetDelta + 1) agrees with it, and no control
 * batch from a client. Uncompressed batches also have their records walked:
 * they must parse, fill the section exactly, and carry offset deltas 0..n-1.
 * Compressed batches are not decompressed. Returns null when the batch may be
 * appended.
 */
export function validateBatchForAppend(buf: Buffer, at: number, size: number, opts: AppendValidationOptions = {}): BatchProblem | null {
  if (at < 0 || size < 0 || at + size > buf.length) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `batch range [${at}, ${at + size}) outside the ${buf.length}-byte records`);
  }
  if (size < BATCH_HEADER_SIZE) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `record batch of ${size} bytes is smaller than the ${BATCH_HEADER_SIZE}-byte header`);
  }
  const magic = batch.magic(buf, at);
  if (magic !== MAGIC_V2) {
    return problem(ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, `record batch magic ${magic} is not supported; magic ${MAGIC_V2} is required`);
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
    return problem(ErrorCode.INVALID_RECORD, `inconsistent batch: lastOffsetDelta ${lastOffsetDelta} with ${count} records`);
  }
  if (codec === 0 && count > Math.floor((size - BATCH_HEADER_SIZE) / MIN_RECORD_SIZE)) {
    return problem(ErrorCode.CORRUPT_MESSAGE, `record count ${count} cannot fit in ${size - BATCH_HEADER_SIZE} bytes`);
  }
  if (codec === 0 && opts.checkRecords !== false) return checkUncompressedRecords(buf, at, size);
  return null;
}

function checkUncompressedRecords(buf: Buffer, at: number, size: number): BatchProblem | null {
  try {
    // The CRC was verified above; the cursor reads the section as a subarray.
    const cursor = new RecordCursor(buf.subarray(at, at + size), 0, { verifyCrc: false });
    let expected = 0;
    while (cursor.next()) {
      if (cursor.offsetDelta !== expected) {
        return problem(ErrorCode.INVALID_RECORD, `record ${expected} has offsetDelta ${cursor.offsetDelta}`);
      }
      expected++;
    }
    return null;
  } catch (err) {
    if (err instanceof ProtocolError) return problem(ErrorCode.CORRUPT_MESSAGE, `malformed record: ${err.message}`);
    throw err;
  }
}
