/**
 * Record batch (magic v2) header: fixed field positions, read and patched in
 * place without decoding records. This is the on-wire and on-disk layout:
 *
 *   baseOffset int64 @0 | batchLength int32 @8 | partitionLeaderEpoch int32 @12
 *   magic int8 @16 | crc uint32 @17 (CRC32C of bytes @21..end)
 *   attributes int16 @21 | lastOffsetDelta int32 @23 | baseTimestamp int64 @27
 *   maxTimestamp int64 @35 | producerId int64 @43 | producerEpoch int16 @51
 *   baseSequence int32 @53 | recordCount int32 @57 | records @61
 *
 * A batch occupies 12 + batchLength bytes (batchLength counts from @12).
 */
import { crc32c } from '@node-rs/crc32';

export const BATCH_HEADER_SIZE = 61;
/** Bytes before `batchLength` ends: baseOffset + batchLength. */
export const LOG_OVERHEAD = 12;

export const OFF_BASE_OFFSET = 0;
export const OFF_BATCH_LENGTH = 8;
export const OFF_LEADER_EPOCH = 12;
export const OFF_MAGIC = 16;
export const OFF_CRC = 17;
export const OFF_ATTRIBUTES = 21;
export const OFF_LAST_OFFSET_DELTA = 23;
export const OFF_BASE_TIMESTAMP = 27;
export const OFF_MAX_TIMESTAMP = 35;
export const OFF_PRODUCER_ID = 43;
export const OFF_PRODUCER_EPOCH = 51;
export const OFF_BASE_SEQUENCE = 53;
export const OFF_RECORD_COUNT = 57;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_LOG_APPEND = 0x08;
export const TRANSACTIONAL_FLAG = 0x10;
export const CONTROL_FLAG = 0x20;
export const DELETE_HORIZON_FLAG = 0x40;

export const NO_PRODUCER_ID = -1;
export const NO_SEQUENCE = -1;

const TWO_32 = 4294967296;

function readInt64(buf: Buffer, at: number): number {
  // Offsets and timestamps stay far below 2^53; read as a number.
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/** Write a non-fractional number below 2^53 in magnitude as a big-endian int64. */
export function writeInt64(buf: Buffer, at: number, v: number): void {
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(v - hi * TWO_32, at + 4);
}

/** `batch` starts at `at` in `buf` (defaults to 0). */
export const batch = {
  baseOffset: (b: Buffer, at = 0) => readInt64(b, at + OFF_BASE_OFFSET),
  batchLength: (b: Buffer, at = 0) => b.readInt32BE(at + OFF_BATCH_LENGTH),
  /** Total bytes of the batch including baseOffset and batchLength. */
  totalSize: (b: Buffer, at = 0) => LOG_OVERHEAD + b.readInt32BE(at + OFF_BATCH_LENGTH),
  partitionLeaderEpoch: (b: Buffer, at = 0) => b.readInt32BE(at + OFF_LEADER_EPOCH),
  magic: (b: Buffer, at = 0) => b.readInt8(at + OFF_MAGIC),
  crc: (b: Buffer, at = 0) => b.readUInt32BE(at + OFF_CRC),
  attributes: (b: Buffer, at = 0) => b.readInt16BE(at + OFF_ATTRIBUTES),
  lastOffsetDelta: (b: Buffer, at = 0) => b.readInt32BE(at + OFF_LAST_OFFSET_DELTA),
  lastOffset: (b: Buffer, at = 0) => readInt64(b, at + OFF_BASE_OFFSET) + b.readInt32BE(at + OFF_LAST_OFFSET_DELTA),
  baseTimestamp: (b: Buffer, at = 0) => readInt64(b, at + OFF_BASE_TIMESTAMP),
  maxTimestamp: (b: Buffer, at = 0) => readInt64(b, at + OFF_MAX_TIMESTAMP),
  producerId: (b: Buffer, at = 0) => readInt64(b, at + OFF_PRODUCER_ID),
  producerEpoch: (b: Buffer, at = 0) => b.readInt16BE(at + OFF_PRODUCER_EPOCH),
  baseSequence: (b: Buffer, at = 0) => b.readInt32BE(at + OFF_BASE_SEQUENCE),
  recordCount: (b: Buffer, at = 0) => b.readInt32BE(at + OFF_RECORD_COUNT),
  compression: (b: Buffer, at = 0) => b.readInt16BE(at + OFF_ATTRIBUTES) & COMPRESSION_MASK,
  isTransactional: (b: Buffer, at = 0) => (b.readInt16BE(at + OFF_ATTRIBUTES) & TRANSACTIONAL_FLAG) !== 0,
  isControl: (b: Buffer, at = 0) => (b.readInt16BE(at + OFF_ATTRIBUTES) & CONTROL_FLAG) !== 0,
  isLogAppendTime: (b: Buffer, at = 0) => (b.readInt16BE(at + OFF_ATTRIBUTES) & TIMESTAMP_TYPE_LOG_APPEND) !== 0,
};

/** CRC32C over attributes..end of the batch at [at, at+size). */
export function computeBatchCrc(b: Buffer, at: number, size: number): number {
  return crc32c(b.subarray(at + OFF_ATTRIBUTES, at + size)) >>> 0;
}

export function isBatchCrcValid(b: Buffer, at: number, size: number): boolean {
  return computeBatchCrc(b, at, size) === b.readUInt32BE(at + OFF_CRC);
}

/** Patch the base offset in place (not covered by the CRC). */
export function setBaseOffset(b: Buffer, at: number, baseOffset: number): void {
  writeInt64(b, at + OFF_BASE_OFFSET, baseOffset);
}

/** Patch the partition leader epoch in place (not covered by the CRC). */
export function setPartitionLeaderEpoch(b: Buffer, at: number, epoch: number): void {
  b.writeInt32BE(epoch, at + OFF_LEADER_EPOCH);
}

/**
 * Switch a batch to LogAppendTime with `timestamp` as its max timestamp
 * (Kafka sets maxTimestamp, and baseTimestamp, to the append time) and
 * recompute the CRC, since attributes and timestamps are covered by it.
 */
export function setLogAppendTime(b: Buffer, at: number, size: number, timestamp: number): void {
  const attrs = b.readInt16BE(at + OFF_ATTRIBUTES);
  b.writeInt16BE(attrs | TIMESTAMP_TYPE_LOG_APPEND, at + OFF_ATTRIBUTES);
  writeInt64(b, at + OFF_BASE_TIMESTAMP, timestamp);
  writeInt64(b, at + OFF_MAX_TIMESTAMP, timestamp);
  b.writeUInt32BE(computeBatchCrc(b, at, size), at + OFF_CRC);
}
