/**
 * Keys and values of the `__consumer_offsets` topic in Kafka's own layout
 * (a version prefix, then the body at that version), so that a Kafka tool
 * reading the topic understands it: offset commits (key v1, value v3),
 * group metadata (key v2, value v3). Null values are tombstones, which the
 * compacted topic eventually drops.
 */
import { compileDecoder, compileEncoder } from '../../protocol/compile.ts';
import { Reader } from '../../protocol/reader.ts';
import { Writer } from '../../protocol/writer.ts';
import { ProtocolError } from '../../protocol/protocol-error.ts';
import {
  GroupMetadataKey,
  GroupMetadataValue,
  OffsetCommitKey,
  OffsetCommitValue,
} from '../../protocol/messages/consumer-offsets-records.ts';
import type { OffsetRecord } from './group-coordinator.ts';
import type { GroupSnapshot } from './types.ts';
import type { GroupMetadataValueMemberMetadata } from '../../protocol/generated/messages.ts';

const OFFSET_KEY_VERSION = 1;
const OFFSET_VALUE_VERSION = 3;
const GROUP_KEY_VERSION = 2;
const GROUP_VALUE_VERSION = 3;

const enc = {
  offsetKey: compileEncoder(OffsetCommitKey, OFFSET_KEY_VERSION),
  offsetValue: compileEncoder(OffsetCommitValue, OFFSET_VALUE_VERSION),
  groupKey: compileEncoder(GroupMetadataKey, GROUP_KEY_VERSION),
  groupValue: compileEncoder(GroupMetadataValue, GROUP_VALUE_VERSION),
};

const decoders = new Map<string, ReturnType<typeof compileDecoder>>();
function decoder(spec: typeof OffsetCommitKey, v: number) {
  const k = `${spec.name}/${v}`;
  let d = decoders.get(k);
  if (!d) decoders.set(k, (d = compileDecoder(spec, v)));
  return d;
}

export type StoredRecord = OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null };

function versioned(version: number, body: (w: Writer) => void): Buffer {
  const w = new Writer(128);
  w.int16(version);
  body(w);
  return w.toBuffer();
}

/** Encodes one coordinator record as a Kafka key and value (null value: tombstone). */
export function encodeStored(r: StoredRecord): { key: Buffer; value: Buffer | null } {
  if ('snapshot' in r) {
    const key = versioned(GROUP_KEY_VERSION, (w) => enc.groupKey(w, { group: r.groupId }));
    if (r.snapshot === null) return { key, value: null };
    const s = r.snapshot;
    const value = versioned(GROUP_VALUE_VERSION, (w) =>
      enc.groupValue(w, {
        protocolType: s.protocolType ?? '',
        generation: s.generationId,
        protocol: s.protocolName,
        leader: s.leader,
        currentStateTimestamp: s.currentStateTimestamp,
        members: s.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeout: m.rebalanceTimeoutMs,
          sessionTimeout: m.sessionTimeoutMs,
          subscription: m.subscription,
          assignment: m.assignment,
        })),
      }),
    );
    return { key, value };
  }
  const key = versioned(OFFSET_KEY_VERSION, (w) =>
    enc.offsetKey(w, { group: r.groupId, topic: r.topic, partition: r.partition }),
  );
  if (r.value === null) return { key, value: null };
  const v = r.value;
  const value = versioned(OFFSET_VALUE_VERSION, (w) =>
    enc.offsetValue(w, {
      offset: v.offset,
      leaderEpoch: v.leaderEpoch,
      metadata: v.metadata ?? '',
      commitTimestamp: v.commitTimestamp,
    }),
  );
  return { key, value };
}

/** Decodes a key/value read back from the topic; unknown key versions are skipped (null). */
export function decodeStored(key: Buffer, value: Buffer | null): StoredRecord | null {
  const r = new Reader(key);
  const kv = r.int16();
  if (kv === 0 || kv === 1) {
    const k = decoder(OffsetCommitKey, kv)(r);
    if (value === null) return { groupId: k.group, topic: k.topic, partition: k.partition, value: null };
    const vr = new Reader(value);
    const vv = vr.int16();
    if (vv < 0 || vv > 4) throw new ProtocolError(`unknown offset commit value version ${vv}`);
    const v = decoder(OffsetCommitValue, vv)(vr);
    return {
      groupId: k.group,
      topic: k.topic,
      partition: k.partition,
      value: {
        offset: Number(v.offset),
        leaderEpoch: v.leaderEpoch,
        metadata: v.metadata,
        commitTimestamp: Number(v.commitTimestamp),
        expireTimestamp: v.expireTimestamp === undefined ? -1 : Number(v.expireTimestamp),
      },
    };
  }
  if (kv === 2) {
    const k = decoder(GroupMetadataKey, 2)(r);
    if (value === null) return { groupId: k.group, snapshot: null };
    const vr = new Reader(value);
    const vv = vr.int16();
    if (vv < 0 || vv > 4) throw new ProtocolError(`unknown group metadata value version ${vv}`);
    const v = decoder(GroupMetadataValue, vv)(vr);
    return {
      groupId: k.group,
      snapshot: {
        groupId: k.group,
        protocolType: v.protocolType,
        generationId: v.generation,
        protocolName: v.protocol,
        leader: v.leader,
        currentStateTimestamp: Number(v.currentStateTimestamp),
        members: v.members.map((m: GroupMetadataValueMemberMetadata) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeout,
          sessionTimeoutMs: m.sessionTimeout,
          subscription: Buffer.from(m.subscription),
          assignment: Buffer.from(m.assignment),
        })),
      },
    };
  }
  return null;
}

/** Kafka's partition for a group: abs(Java String.hashCode(groupId)) % partitions. */
export function partitionForGroup(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % partitions;
}
