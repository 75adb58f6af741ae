/**
 * Control records (KIP-98): the key of a record in a control batch is
 * version int16 + type int16; a transaction marker (ABORT=0, COMMIT=1) has
 * the value version int16 + coordinatorEpoch int32. Builds and reads
 * commit/abort marker batches.
 */
import { ProtocolError } from '../protocol-error.ts';
import { Compression } from './compression.ts';
import { encodeBatch } from './record-batch.ts';

export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  /** KRaft (KIP-595 and later); listed so a reader can name them. */
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;

export const CONTROL_KEY_SIZE = 4;
export const END_TXN_MARKER_VALUE_SIZE = 6;

export interface ControlKey {
  version: number;
  type: number;
}

export interface EndTxnMarker {
  version: number;
  coordinatorEpoch: number;
}

export function encodeControlKey(type: number, version = 0): Buffer {
  const b = Buffer.allocUnsafe(CONTROL_KEY_SIZE);
  b.writeInt16BE(version, 0);
  b.writeInt16BE(type, 2);
  return b;
}

/** The leading int16 version of a control key or marker value at least `size` bytes long. */
function leadingVersion(b: Buffer | null, size: number, what: string): number {
  if (b === null || b.length < size) {
    throw new ProtocolError(`${what} of ${b === null ? 'null' : b.length + ' bytes'}, needs ${size}`);
  }
  const version = b.readInt16BE(0);
  if (version < 0) throw new ProtocolError(`invalid ${what} version ${version}`);
  return version;
}

/** Reads version and type; a key shorter than 4 bytes or null is a ProtocolError. */
export function decodeControlKey(key: Buffer | null): ControlKey {
  const version = leadingVersion(key, CONTROL_KEY_SIZE, 'control record key');
  return { version, type: (key as Buffer).readInt16BE(2) };
}

export function encodeEndTxnMarkerValue(coordinatorEpoch: number, version = 0): Buffer {
  const b = Buffer.allocUnsafe(END_TXN_MARKER_VALUE_SIZE);
  b.writeInt16BE(version, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}

/** Reads version and coordinatorEpoch; later versions may append fields, which are ignored. */
export function decodeEndTxnMarkerValue(value: Buffer | null): EndTxnMarker {
  const version = leadingVersion(value, END_TXN_MARKER_VALUE_SIZE, 'transaction marker value');
  return { version, coordinatorEpoch: (value as Buffer).readInt32BE(2) };
}

export interface TxnMarkerInput {
  commit: boolean;
  producerId: number;
  producerEpoch: number;
  coordinatorEpoch: number;
  baseOffset?: number;
  partitionLeaderEpoch?: number;
  timestamp?: number;
}

/** A control batch holding one COMMIT or ABORT marker (transactional, no sequence). */
export function encodeTxnMarkerBatch(m: TxnMarkerInput): Buffer {
  return encodeBatch({
    baseOffset: m.baseOffset ?? 0,
    partitionLeaderEpoch: m.partitionLeaderEpoch ?? -1,
    compression: Compression.NONE,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    baseSequence: -1,
    isTransactional: true,
    isControl: true,
    records: [
      {
        key: encodeControlKey(m.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT),
        value: encodeEndTxnMarkerValue(m.coordinatorEpoch),
        timestamp: m.timestamp ?? Date.now(),
        offsetDelta: 0,
      },
    ],
  });
}
