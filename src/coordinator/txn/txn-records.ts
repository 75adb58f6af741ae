/**
 * Keys and values of the `__transaction_state` topic in Kafka's layout
 * (TransactionLogKey / TransactionLogValue: an int16 version, then the body
 * at that version), so that Kafka's tools read the topic. Values are written
 * at version 0 (what Kafka writes for clients of transactions v1); versions
 * 0 and 1 (flexible, tagged fields) are read. A null value is the tombstone
 * of an expired transactional id.
 */
import { Reader } from '../../protocol/reader.ts';
import { Writer } from '../../protocol/writer.ts';
import { ProtocolError } from '../../protocol/protocol-error.ts';
import { partitionForGroup } from '../group/offsets-records.ts';
import { TXN_STATES, type TxnState } from './types.ts';

/** The persisted part of a transaction's metadata. */
export interface TxnLogValue {
  producerId: number;
  /** The producer id used before a rotation (value v1's tag 0), -1 when none. */
  prevProducerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** topic → partitions of the transaction. */
  partitions: Map<string, Set<number>>;
  lastUpdateTimestamp: number;
  startTimestamp: number;
}

export interface TxnLogRecord {
  transactionalId: string;
  value: TxnLogValue | null;
}

const KEY_VERSION = 0;
const VALUE_VERSION = 0;

export function encodeTxnKey(transactionalId: string): Buffer {
  const w = new Writer(32 + transactionalId.length);
  w.int16(KEY_VERSION);
  w.string(transactionalId);
  return w.toBuffer();
}

export function encodeTxnValue(v: TxnLogValue): Buffer {
  const w = new Writer(64);
  w.int16(VALUE_VERSION);
  w.int64(v.producerId);
  w.int16(v.producerEpoch);
  w.int32(v.timeoutMs);
  w.int8(TXN_STATES.indexOf(v.state));
  w.arrayLength(v.partitions.size);
  for (const [topic, ps] of v.partitions) {
    w.string(topic);
    w.arrayLength(ps.size);
    for (const p of ps) w.int32(p);
  }
  w.int64(v.lastUpdateTimestamp);
  w.int64(v.startTimestamp);
  return w.toBuffer();
}

export function encodeTxnRecord(r: TxnLogRecord): { key: Buffer; value: Buffer | null } {
  return { key: encodeTxnKey(r.transactionalId), value: r.value ? encodeTxnValue(r.value) : null };
}

/** Decodes a record read back from the topic; an unknown key version is skipped (null). */
export function decodeTxnRecord(key: Buffer, value: Buffer | null): TxnLogRecord | null {
  const kr = new Reader(key);
  if (kr.int16() !== KEY_VERSION) return null;
  const transactionalId = kr.string();
  if (value === null) return { transactionalId, value: null };
  const r = new Reader(value);
  const version = r.int16();
  if (version !== 0 && version !== 1) throw new ProtocolError(`unknown transaction log value version ${version}`);
  const flexible = version === 1;
  const producerId = Number(r.int64());
  const producerEpoch = r.int16();
  const timeoutMs = r.int32();
  const status = r.int8();
  const state = TXN_STATES[status];
  if (state === undefined) throw new ProtocolError(`unknown transaction status ${status}`);
  const partitions = new Map<string, Set<number>>();
  const topics = flexible ? r.compactArrayLength(3) : r.arrayLength(6);
  for (let i = 0; i < topics; i++) {
    const topic = flexible ? r.compactString() : r.string();
    const n = flexible ? r.compactArrayLength(4) : r.arrayLength(4);
    const ps = new Set<number>();
    for (let j = 0; j < n; j++) ps.add(r.int32());
    if (flexible) skipTaggedFields(r);
    partitions.set(topic, ps);
  }
  const lastUpdateTimestamp = Number(r.int64());
  const startTimestamp = Number(r.int64());
  let prevProducerId = -1;
  if (flexible) {
    const tags = r.uvarint();
    for (let i = 0; i < tags; i++) {
      const tag = r.uvarint();
      const size = r.uvarint();
      if (tag === 0 && size === 8) prevProducerId = Number(r.int64());
      else r.skip(size);
    }
  }
  return {
    transactionalId,
    value: {
      producerId,
      prevProducerId,
      producerEpoch,
      timeoutMs,
      state,
      partitions,
      lastUpdateTimestamp,
      startTimestamp,
    },
  };
}

function skipTaggedFields(r: Reader): void {
  const n = r.uvarint();
  for (let i = 0; i < n; i++) {
    r.uvarint();
    r.skip(r.uvarint());
  }
}

/** Kafka's partition of __transaction_state for a transactional id: abs(Java String.hashCode) % partitions. */
export function partitionForTxn(transactionalId: string, partitions: number): number {
  return partitionForGroup(transactionalId, partitions);
}
