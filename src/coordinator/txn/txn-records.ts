/**
 * Keys and values of the `__transaction_state` topic in Kafka's layout
 * (TransactionLogKey / TransactionLogValue: an int16 version, then the body
 * at that version), so that Kafka's tools read the topic. A value is written
 * at version 1 (flexible, with the tagged fields PreviousProducerId (0),
 * NextProducerId (1) and ClientTransactionVersion (2) when not at their
 * defaults) when one of those is set, as for transactions v2, else at
 * version 0; both are read. A null value is the tombstone of an expired
 * transactional id.
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
  /** The producer id an exhausted epoch's transaction moves to on completion (value v1's tag 1), -1 when none. */
  nextProducerId: number;
  producerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  /** topic → partitions of the transaction. */
  partitions: Map<string, Set<number>>;
  lastUpdateTimestamp: number;
  startTimestamp: number;
  /** The client's transaction version (value v1's tag 2): 2 for transactions v2, else 0. */
  clientTransactionVersion: number;
}

export interface TxnLogRecord {
  transactionalId: string;
  value: TxnLogValue | null;
}

const KEY_VERSION = 0;

export function encodeTxnKey(transactionalId: string): Buffer {
  const w = new Writer(32 + transactionalId.length);
  w.int16(KEY_VERSION);
  w.string(transactionalId);
  return w.toBuffer();
}

const TAG_PREV_PRODUCER_ID = 0;
const TAG_NEXT_PRODUCER_ID = 1;
const TAG_CLIENT_TRANSACTION_VERSION = 2;

export function encodeTxnValue(v: TxnLogValue): Buffer {
  const flexible = v.prevProducerId !== -1 || v.nextProducerId !== -1 || v.clientTransactionVersion !== 0;
  const w = new Writer(64);
  w.int16(flexible ? 1 : 0);
  w.int64(v.producerId);
  w.int16(v.producerEpoch);
  w.int32(v.timeoutMs);
  w.int8(TXN_STATES.indexOf(v.state));
  if (flexible) w.compactArrayLength(v.partitions.size);
  else w.arrayLength(v.partitions.size);
  for (const [topic, ps] of v.partitions) {
    if (flexible) {
      w.compactString(topic);
      w.compactArrayLength(ps.size);
    } else {
      w.string(topic);
      w.arrayLength(ps.size);
    }
    for (const p of ps) w.int32(p);
    if (flexible) w.uvarint(0);
  }
  w.int64(v.lastUpdateTimestamp);
  w.int64(v.startTimestamp);
  if (flexible) {
    const tags: [number, number, number][] = [];
    if (v.prevProducerId !== -1) tags.push([TAG_PREV_PRODUCER_ID, 8, v.prevProducerId]);
    if (v.nextProducerId !== -1) tags.push([TAG_NEXT_PRODUCER_ID, 8, v.nextProducerId]);
    if (v.clientTransactionVersion !== 0) tags.push([TAG_CLIENT_TRANSACTION_VERSION, 2, v.clientTransactionVersion]);
    w.uvarint(tags.length);
    for (const [tag, size, value] of tags) {
      w.uvarint(tag);
      w.uvarint(size);
      if (size === 8) w.int64(value);
      else w.int16(value);
    }
  }
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
  let nextProducerId = -1;
  let clientTransactionVersion = 0;
  if (flexible) {
    const tags = r.uvarint();
    for (let i = 0; i < tags; i++) {
      const tag = r.uvarint();
      const size = r.uvarint();
      if (tag === TAG_PREV_PRODUCER_ID && size === 8) prevProducerId = Number(r.int64());
      else if (tag === TAG_NEXT_PRODUCER_ID && size === 8) nextProducerId = Number(r.int64());
      else if (tag === TAG_CLIENT_TRANSACTION_VERSION && size === 2) clientTransactionVersion = r.int16();
      else r.skip(size);
    }
  }
  return {
    transactionalId,
    value: {
      producerId,
      prevProducerId,
      nextProducerId,
      producerEpoch,
      timeoutMs,
      state,
      partitions,
      lastUpdateTimestamp,
      startTimestamp,
      clientTransactionVersion,
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
