/**
 * The request sequences sent to both brokers, as data: each case is one
 * request of one API, sent at every version both brokers serve (unless the
 * case narrows the range), in this order, on fresh brokers, so that both see
 * the same history. Topic, group and record contents are fixed (names,
 * timestamps), so that the run is deterministic.
 *
 * A case may run unchecked requests first (`prepare`, e.g. joining a group),
 * may repeat its request until the answer settles (`until`, for what a broker
 * does in the background: a topic's leader after creation, the coordinator
 * loading the offsets topic), and may keep values for later cases (`save`:
 * topic ids, member ids, generations), each broker in its own `State`.
 */
import type { Connection } from '../../../src/client/connection.ts';
import type { ApiName } from '../../../src/protocol/generated/messages.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';

/** What one broker's answers taught the sequence (ids that each broker picks). */
export interface State {
  topicIds: Map<string, string>;
  vars: Record<string, any>;
}

export interface Case {
  api: ApiName;
  name: string;
  minVersion?: number;
  maxVersion?: number;
  body(v: number, s: State): any;
  prepare?(c: Connection, v: number, s: State): Promise<void>;
  until?(res: any): boolean;
  save?(res: any, v: number, s: State): void;
}

/** Record timestamps: fixed, so that ListOffsets by time and the fetched batches are the same on both. */
export const BASE_TS = 1_700_000_000_000;
const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
const UNKNOWN_UUID = 'AAAAAAAAAAAAAAAAAAAAAQ';

export const DATA = 'diff-data';
export const COMPACT = 'diff-compact';
export const UNKNOWN = 'diff-no-such-topic';

/** The topics every case may use, created before the first case (name, partitions, configs). */
export const FIXTURE_TOPICS: { name: string; partitions: number; configs: Record<string, string> }[] = [
  { name: DATA, partitions: 2, configs: {} },
  { name: COMPACT, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
];

/** A batch of `n` records with fixed keys, values and timestamps (record i at BASE_TS + seq*1000 + i). */
export function batch(seq: number, n = 2, valueSize?: number) {
  const records = [];
  for (let i = 0; i < n; i++) {
    records.push({
      key: `k${i}`,
      value: valueSize === undefined ? `v${seq}-${i}` : Buffer.alloc(valueSize, 0x61),
      headers: i === 0 ? [{ key: 'h', value: `s${seq}` }] : [],
      timestamp: BASE_TS + seq * 1000 + i,
    });
  }
  return encodeBatch({ records });
}

/** Topic reference by name, or by id from version `idFrom` on. */
function topicRef(s: State, name: string, v: number, idFrom: number, nameField = 'name') {
  if (v >= idFrom) return { topicId: s.topicIds.get(name) ?? UNKNOWN_UUID };
  return { [nameField]: name };
}

const produce = (s: State, v: number, topic: string, partition: number, records: Buffer | null, acks = -1) => ({
  transactionalId: null,
  acks,
  timeoutMs: 10_000,
  topicData: [{ ...topicRef(s, topic, v, 13), partitionData: [{ index: partition, records }] }],
});

const fetch = (s: State, v: number, topic: string, partition: number, offset: number, maxBytes = 1 << 20) => ({
  replicaId: -1,
  maxWaitMs: 0,
  minBytes: 0,
  maxBytes: 50 << 20,
  isolationLevel: 0,
  sessionId: 0,
  sessionEpoch: -1,
  topics: [{ ...topicRef(s, topic, v, 13, 'topic'), partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: offset, lastFetchedEpoch: -1, logStartOffset: -1, partitionMaxBytes: maxBytes }] }],
  forgottenTopicsData: [],
  rackId: '',
});

const listOffsets = (topic: string, partition: number, timestamp: number) => ({
  replicaId: -1,
  isolationLevel: 0,
  topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] }],
  timeoutMs: 10_000,
});

const metadata = (topics: string[] | null, autoCreate = false) => ({
  topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
  allowAutoTopicCreation: autoCreate,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

export const CASES: Case[] = [
  { api: 'ApiVersions', name: 'handshake', body: () => ({ clientSoftwareName: 'samsa-diff', clientSoftwareVersion: '1.0' }) },

  // Metadata v0–v3 always auto-create: an unknown topic is asked only from v4.
  { api: 'Metadata', name: 'named', body: () => metadata([DATA, COMPACT]) },
  { api: 'Metadata', name: 'unknown topic', minVersion: 4, body: () => metadata([UNKNOWN]) },

  // Produce: one batch per version into partition 0; the other cases fail.
  { api: 'Produce', name: 'append', minVersion: 3, body: (v, s) => produce(s, v, DATA, 0, batch(v)) },
  { api: 'Produce', name: 'acks=1', minVersion: 3, body: (v, s) => produce(s, v, DATA, 1, batch(100 + v), 1) },
  { api: 'Produce', name: 'unknown topic', minVersion: 3, body: (v, s) => produce(s, v, UNKNOWN, 0, batch(0)) },
  { api: 'Produce', name: 'unknown partition', minVersion: 3, body: (v, s) => produce(s, v, DATA, 7, batch(0)) },
  { api: 'Produce', name: 'empty records', minVersion: 3, body: (v, s) => produce(s, v, DATA, 0, Buffer.alloc(0)) },
  { api: 'Produce', name: 'oversize batch', minVersion: 3, body: (v, s) => produce(s, v, DATA, 0, batch(0, 1, 1_100_000)) },
  { api: 'Produce', name: 'old message format', maxVersion: 2, body: (v, s) => produce(s, v, DATA, 0, batch(0)) },

  { api: 'Fetch', name: 'from 0', body: (v, s) => fetch(s, v, DATA, 0, 0) },
  { api: 'Fetch', name: 'from the middle', body: (v, s) => fetch(s, v, DATA, 0, 5) },
  { api: 'Fetch', name: 'small partitionMaxBytes', body: (v, s) => fetch(s, v, DATA, 0, 0, 100) },
  { api: 'Fetch', name: 'at the end', body: (v, s) => fetch(s, v, DATA, 1, 1_000) },
  { api: 'Fetch', name: 'offset out of range', body: (v, s) => fetch(s, v, DATA, 0, 1_000_000) },
  { api: 'Fetch', name: 'unknown topic', body: (v, s) => fetch(s, v, UNKNOWN, 0, 0) },
  { api: 'Fetch', name: 'unknown partition', body: (v, s) => fetch(s, v, DATA, 7, 0) },

  { api: 'ListOffsets', name: 'latest', body: () => listOffsets(DATA, 0, -1) },
  { api: 'ListOffsets', name: 'earliest', body: () => listOffsets(DATA, 0, -2) },
  { api: 'ListOffsets', name: 'by timestamp', minVersion: 1, body: () => listOffsets(DATA, 0, BASE_TS + 5_000) },
  { api: 'ListOffsets', name: 'timestamp past the end', minVersion: 1, body: () => listOffsets(DATA, 0, BASE_TS + 10_000_000) },
  { api: 'ListOffsets', name: 'max timestamp', minVersion: 7, body: () => listOffsets(DATA, 0, -3) },
  { api: 'ListOffsets', name: 'unknown topic', body: () => listOffsets(UNKNOWN, 0, -1) },
  { api: 'ListOffsets', name: 'unknown partition', body: () => listOffsets(DATA, 7, -1) },
];
