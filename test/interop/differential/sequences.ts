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
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '../../../src/client/connection.ts';
import { apiByKey, apiByName } from '../../../src/protocol/apis.ts';
import { readRequestHeader } from '../../../src/protocol/headers.ts';
import { Reader } from '../../../src/protocol/reader.ts';
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
/** A second compacted topic, for records refused there (a bug would append them and shift COMPACT's offsets). */
export const COMPACT_REFUSING = 'diff-compact-keys';
export const UNKNOWN = 'diff-no-such-topic';

/** The topics every case may use, created before the first case (name, partitions, configs). */
export const FIXTURE_TOPICS: { name: string; partitions: number; configs: Record<string, string> }[] = [
  { name: DATA, partitions: 2, configs: {} },
  { name: COMPACT, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
  { name: COMPACT_REFUSING, partitions: 1, configs: { 'cleanup.policy': 'compact,delete' } },
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
  topics: [
    {
      ...topicRef(s, topic, v, 13, 'topic'),
      partitions: [
        {
          partition,
          currentLeaderEpoch: -1,
          fetchOffset: offset,
          lastFetchedEpoch: -1,
          logStartOffset: -1,
          partitionMaxBytes: maxBytes,
        },
      ],
    },
  ],
  forgottenTopicsData: [],
  rackId: '',
});

const listOffsets = (topic: string, partition: number, timestamp: number) => ({
  replicaId: -1,
  isolationLevel: 0,
  topics: [
    { name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }] },
  ],
  timeoutMs: 10_000,
});

const metadata = (topics: string[] | null, autoCreate = false) => ({
  topics: topics === null ? null : topics.map((name) => ({ topicId: ZERO_UUID, name })),
  allowAutoTopicCreation: autoCreate,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations: false,
});

const createTopic = (name: string, numPartitions: number, configs: Record<string, string> = {}) => ({
  name,
  numPartitions,
  replicationFactor: numPartitions === -1 ? -1 : 1,
  assignments: [],
  configs: Object.entries(configs).map(([n, value]) => ({ name: n, value })),
});

const createTopics = (topics: ReturnType<typeof createTopic>[], validateOnly = false) => ({
  topics,
  timeoutMs: 10_000,
  validateOnly,
});

/** Creates a topic (unchecked) and waits until its partitions have a leader. */
async function ensureTopic(c: Connection, name: string, partitions: number): Promise<void> {
  await c.sendAt(apiByName('CreateTopics'), 5, createTopics([createTopic(name, partitions)]));
  await waitForLeaders(c, name, partitions);
}

/**
 * Waits until Metadata names a leader for each partition of `name` and the
 * leader answers for it (ListOffsets): Kafka's metadata cache may name a
 * leader a moment before the partition is ready there.
 */
export async function waitForLeaders(c: Connection, name: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const m = await c.sendAt(apiByName('Metadata'), 12, { topics: [{ name }], allowAutoTopicCreation: false });
    const t = m.topics[0];
    if (t.errorCode === 0 && t.partitions.length === partitions && t.partitions.every((p) => p.leaderId >= 0)) {
      const lo = await c.sendAt(apiByName('ListOffsets'), 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partitionIndex,
              currentLeaderEpoch: -1,
              timestamp: -1,
            })),
          },
        ],
      });
      if (lo.topics[0].partitions.every((p) => p.errorCode === 0)) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} has no leader`);
}

/** ConsumerProtocolSubscription v0 of topic diff-data: what a classic consumer sends in JoinGroup. */
const SUBSCRIPTION = Buffer.from('0000000000010009646966662d64617461ffffffff', 'hex');
/** ConsumerProtocolAssignment v0: diff-data partitions 0 and 1. */
const ASSIGNMENT = Buffer.from('0000000000010009646966662d64617461000000020000000000000001ffffffff', 'hex');

const joinBody = (group: string, memberId: string) => ({
  groupId: group,
  sessionTimeoutMs: 60_000,
  rebalanceTimeoutMs: 60_000,
  memberId,
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: SUBSCRIPTION }],
  reason: null,
});

/** Joins `group` as its only member at JoinGroup v5 (member id first) and, unless told not to, syncs; keeps member id and generation. */
async function joinGroup(c: Connection, s: State, group: string, sync = true): Promise<void> {
  const api = apiByName('JoinGroup');
  let r = await c.sendAt(api, 5, joinBody(group, ''));
  if (r.errorCode === 79) r = await c.sendAt(api, 5, joinBody(group, r.memberId));
  if (r.errorCode !== 0) throw new Error(`joining ${group}: error ${r.errorCode}`);
  s.vars[`member:${group}`] = r.memberId;
  s.vars[`generation:${group}`] = r.generationId;
  if (!sync) return;
  const sr = await c.sendAt(apiByName('SyncGroup'), 5, syncBody(s, group));
  if (sr.errorCode !== 0) throw new Error(`syncing ${group}: error ${sr.errorCode}`);
}

const syncBody = (s: State, group: string) => ({
  groupId: group,
  generationId: s.vars[`generation:${group}`],
  memberId: s.vars[`member:${group}`],
  groupInstanceId: null,
  protocolType: 'consumer',
  protocolName: 'range',
  assignments: [{ memberId: s.vars[`member:${group}`], assignment: ASSIGNMENT }],
});

const describeConfigs = (resourceType: number, resourceName: string, keys: string[] | null) => ({
  resources: [{ resourceType, resourceName, configurationKeys: keys }],
  includeSynonyms: false,
  includeDocumentation: false,
});
const TOPIC_RESOURCE = 2;
const BROKER_RESOURCE = 4;
const TOPIC_KEYS = ['cleanup.policy', 'retention.ms', 'segment.bytes', 'max.message.bytes', 'compression.type'];

const alterConfigs = (
  name: string,
  configs: { name: string; configOperation: number; value: string | null }[],
  validateOnly = false,
) => ({
  resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configs }],
  validateOnly,
});

const offsetCommit = (
  group: string,
  topic: string,
  partition: number,
  offset: number,
  generation = -1,
  memberId = '',
) => ({
  groupId: group,
  generationIdOrMemberEpoch: generation,
  memberId,
  groupInstanceId: null,
  retentionTimeMs: -1,
  topics: [
    {
      name: topic,
      partitions: [
        {
          partitionIndex: partition,
          committedOffset: offset,
          committedLeaderEpoch: -1,
          commitTimestamp: -1,
          committedMetadata: 'm',
        },
      ],
    },
  ],
});

const offsetFetch = (v: number, group: string, topics: { name: string; partitionIndexes: number[] }[] | null) =>
  v >= 8
    ? { groups: [{ groupId: group, memberId: null, memberEpoch: -1, topics }], requireStable: false }
    : { groupId: group, topics, requireStable: false };

const legacyAlter = (name: string, configs: { name: string; value: string }[], validateOnly = false) => ({
  resources: [{ resourceType: TOPIC_RESOURCE, resourceName: name, configs }],
  validateOnly,
});

/** A ConsumerGroupHeartbeat of group diff-cg-v<v>; v1 members pick their own id (KIP-1082), v0 members get one. */
const cgHeartbeat = (v: number, memberEpoch: number, topics: string[] | null) => ({
  groupId: `diff-cg-v${v}`,
  memberId: v >= 1 ? `AAAAAAAAAAAAAAAAAAAAA${'BCDEFGH'[v]}` : '',
  memberEpoch,
  instanceId: null,
  rackId: null,
  rebalanceTimeoutMs: 60_000,
  subscribedTopicNames: topics,
  subscribedTopicRegex: null,
  serverAssignor: null,
  topicPartitions: memberEpoch === 0 ? [] : null,
});

export const CASES: Case[] = [
  {
    api: 'ApiVersions',
    name: 'handshake',
    body: () => ({ clientSoftwareName: 'samsa-diff', clientSoftwareVersion: '1.0' }),
  },

  // Metadata v0–v3 always auto-create: an unknown topic is asked only from v4.
  { api: 'Metadata', name: 'named', body: () => metadata([DATA, COMPACT]) },
  { api: 'Metadata', name: 'unknown topic', minVersion: 4, body: () => metadata([UNKNOWN]) },

  // Produce: one batch per version into partition 0; the other cases fail.
  { api: 'Produce', name: 'append', minVersion: 3, body: (v, s) => produce(s, v, DATA, 0, batch(v)) },
  { api: 'Produce', name: 'acks=1', minVersion: 3, body: (v, s) => produce(s, v, DATA, 1, batch(100 + v), 1) },
  { api: 'Produce', name: 'unknown topic', minVersion: 3, body: (v, s) => produce(s, v, UNKNOWN, 0, batch(0)) },
  { api: 'Produce', name: 'unknown partition', minVersion: 3, body: (v, s) => produce(s, v, DATA, 7, batch(0)) },
  { api: 'Produce', name: 'empty records', minVersion: 3, body: (v, s) => produce(s, v, DATA, 0, Buffer.alloc(0)) },
  {
    api: 'Produce',
    name: 'oversize batch',
    minVersion: 3,
    body: (v, s) => produce(s, v, DATA, 0, batch(0, 1, 1_100_000)),
  },
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
  {
    api: 'ListOffsets',
    name: 'timestamp past the end',
    minVersion: 1,
    body: () => listOffsets(DATA, 0, BASE_TS + 10_000_000),
  },
  { api: 'ListOffsets', name: 'max timestamp', minVersion: 7, body: () => listOffsets(DATA, 0, -3) },
  { api: 'ListOffsets', name: 'unknown topic', body: () => listOffsets(UNKNOWN, 0, -1) },
  { api: 'ListOffsets', name: 'unknown partition', body: () => listOffsets(DATA, 7, -1) },

  {
    api: 'OffsetForLeaderEpoch',
    name: 'epoch 0',
    body: () => ({
      replicaId: -1,
      topics: [{ topic: DATA, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    }),
  },
  {
    api: 'OffsetForLeaderEpoch',
    name: 'future epoch',
    body: () => ({
      replicaId: -1,
      topics: [{ topic: DATA, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 5 }] }],
    }),
  },
  {
    api: 'OffsetForLeaderEpoch',
    name: 'fenced current epoch',
    minVersion: 2,
    body: () => ({
      replicaId: -1,
      topics: [{ topic: DATA, partitions: [{ partition: 0, currentLeaderEpoch: 7, leaderEpoch: 0 }] }],
    }),
  },
  {
    api: 'OffsetForLeaderEpoch',
    name: 'unknown topic',
    body: () => ({
      replicaId: -1,
      topics: [{ topic: UNKNOWN, partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
    }),
  },

  // Compacted topics refuse records without a key; a tombstone (null value) is a record like any other.
  {
    api: 'Produce',
    name: 'compacted: no key',
    minVersion: 3,
    body: (v, s) =>
      produce(
        s,
        v,
        COMPACT_REFUSING,
        0,
        encodeBatch({
          records: [
            { key: 'k', value: 'x', timestamp: BASE_TS },
            { key: null, value: 'x', timestamp: BASE_TS },
          ],
        }),
      ),
  },
  {
    api: 'Produce',
    name: 'compacted: tombstone',
    minVersion: 3,
    body: (v, s) =>
      produce(
        s,
        v,
        COMPACT,
        0,
        encodeBatch({
          records: [
            { key: `k${v}`, value: 'x', timestamp: BASE_TS + v },
            { key: `k${v}`, value: null, timestamp: BASE_TS + v },
          ],
        }),
      ),
  },
  { api: 'Fetch', name: 'compacted topic', body: (v, s) => fetch(s, v, COMPACT, 0, 0) },

  // DeleteRecords moves partition 1's log start up one record per version; then the deleted records are out of range.
  {
    api: 'DeleteRecords',
    name: 'before offset',
    body: (v) => ({ topics: [{ name: DATA, partitions: [{ partitionIndex: 1, offset: v + 1 }] }], timeoutMs: 10_000 }),
  },
  {
    api: 'DeleteRecords',
    name: 'past the high watermark',
    body: () => ({
      topics: [{ name: DATA, partitions: [{ partitionIndex: 1, offset: 1_000_000 }] }],
      timeoutMs: 10_000,
    }),
  },
  {
    api: 'DeleteRecords',
    name: 'unknown topic',
    body: () => ({ topics: [{ name: UNKNOWN, partitions: [{ partitionIndex: 0, offset: 1 }] }], timeoutMs: 10_000 }),
  },
  { api: 'Fetch', name: 'deleted records', body: (v, s) => fetch(s, v, DATA, 1, 0) },
  { api: 'Fetch', name: 'from the log start', body: (v, s) => fetch(s, v, DATA, 1, 3) },
  { api: 'ListOffsets', name: 'earliest after DeleteRecords', body: () => listOffsets(DATA, 1, -2) },

  { api: 'CreateTopics', name: 'create', body: (v) => createTopics([createTopic(`diff-ct-v${v}`, 3)]) },
  {
    api: 'CreateTopics',
    name: 'with configs',
    body: (v) =>
      createTopics([createTopic(`diff-ctc-v${v}`, 1, { 'cleanup.policy': 'compact', 'retention.ms': '3600000' })]),
  },
  { api: 'CreateTopics', name: 'validate only', body: (v) => createTopics([createTopic(`diff-ctv-v${v}`, 2)], true) },
  {
    api: 'CreateTopics',
    name: 'broker defaults',
    minVersion: 4,
    body: (v) => createTopics([createTopic(`diff-ctd-v${v}`, -1)]),
  },
  { api: 'CreateTopics', name: 'already exists', body: () => createTopics([createTopic(DATA, 1)]) },
  { api: 'CreateTopics', name: 'zero partitions', body: (v) => createTopics([createTopic(`diff-ct0-v${v}`, 0)]) },
  {
    api: 'CreateTopics',
    name: 'unknown config',
    body: (v) => createTopics([createTopic(`diff-ctx-v${v}`, 1, { 'no.such.config': '1' })]),
  },
  { api: 'CreateTopics', name: 'invalid name', body: () => createTopics([createTopic('bad/name', 1)]) },

  {
    api: 'DeleteTopics',
    name: 'delete',
    prepare: (c, v) => ensureTopic(c, `diff-dt-v${v}`, 1),
    body: (v) =>
      v >= 6
        ? { topics: [{ name: `diff-dt-v${v}`, topicId: ZERO_UUID }], timeoutMs: 10_000 }
        : { topicNames: [`diff-dt-v${v}`], timeoutMs: 10_000 },
  },
  {
    api: 'DeleteTopics',
    name: 'unknown topic',
    body: (v) =>
      v >= 6
        ? { topics: [{ name: UNKNOWN, topicId: ZERO_UUID }], timeoutMs: 10_000 }
        : { topicNames: [UNKNOWN], timeoutMs: 10_000 },
  },
  {
    api: 'DeleteTopics',
    name: 'unknown topic id',
    minVersion: 6,
    body: () => ({ topics: [{ name: null, topicId: UNKNOWN_UUID }], timeoutMs: 10_000 }),
  },

  {
    api: 'CreatePartitions',
    name: 'grow',
    prepare: (c, v) => ensureTopic(c, `diff-cp-v${v}`, 1),
    body: (v) => ({
      topics: [{ name: `diff-cp-v${v}`, count: 3, assignments: null }],
      timeoutMs: 10_000,
      validateOnly: false,
    }),
  },
  {
    api: 'CreatePartitions',
    name: 'validate only',
    body: () => ({ topics: [{ name: DATA, count: 4, assignments: null }], timeoutMs: 10_000, validateOnly: true }),
  },
  {
    api: 'CreatePartitions',
    name: 'shrink',
    body: () => ({ topics: [{ name: DATA, count: 1, assignments: null }], timeoutMs: 10_000, validateOnly: false }),
  },
  {
    api: 'CreatePartitions',
    name: 'same count',
    body: () => ({ topics: [{ name: DATA, count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: false }),
  },
  {
    api: 'CreatePartitions',
    name: 'unknown topic',
    body: () => ({ topics: [{ name: UNKNOWN, count: 2, assignments: null }], timeoutMs: 10_000, validateOnly: false }),
  },

  {
    api: 'IncrementalAlterConfigs',
    name: 'set',
    body: (v) =>
      alterConfigs(COMPACT, [{ name: 'retention.ms', configOperation: 0, value: String(3_600_000 * (v + 1)) }]),
  },
  {
    api: 'IncrementalAlterConfigs',
    name: 'delete',
    body: () => alterConfigs(COMPACT, [{ name: 'segment.bytes', configOperation: 1, value: null }]),
  },
  {
    api: 'IncrementalAlterConfigs',
    name: 'validate only',
    body: () => alterConfigs(COMPACT, [{ name: 'retention.ms', configOperation: 0, value: '1' }], true),
  },
  {
    api: 'IncrementalAlterConfigs',
    name: 'unknown config',
    body: () => alterConfigs(COMPACT, [{ name: 'no.such.config', configOperation: 0, value: '1' }]),
  },
  {
    api: 'IncrementalAlterConfigs',
    name: 'invalid value',
    body: () => alterConfigs(COMPACT, [{ name: 'retention.ms', configOperation: 0, value: 'soon' }]),
  },
  {
    api: 'IncrementalAlterConfigs',
    name: 'unknown topic',
    body: () => alterConfigs(UNKNOWN, [{ name: 'retention.ms', configOperation: 0, value: '1' }]),
  },

  { api: 'DescribeConfigs', name: 'topic keys', body: () => describeConfigs(TOPIC_RESOURCE, DATA, TOPIC_KEYS) },
  {
    api: 'DescribeConfigs',
    name: 'altered topic keys',
    body: () => describeConfigs(TOPIC_RESOURCE, COMPACT, TOPIC_KEYS),
  },
  { api: 'DescribeConfigs', name: 'unknown topic', body: () => describeConfigs(TOPIC_RESOURCE, UNKNOWN, TOPIC_KEYS) },
  {
    api: 'DescribeConfigs',
    name: 'broker keys',
    body: () =>
      describeConfigs(BROKER_RESOURCE, '1', [
        'num.partitions',
        'log.retention.hours',
        'auto.create.topics.enable',
        'message.max.bytes',
      ]),
  },

  {
    api: 'DescribeCluster',
    name: 'cluster',
    body: () => ({ includeClusterAuthorizedOperations: false, endpointType: 1, includeFencedBrokers: false }),
  },
  { api: 'DescribeLogDirs', name: 'partitions', body: () => ({ topics: [{ topic: DATA, partitions: [0, 1] }] }) },
  // Reassignments (sent to the broker, which forwards them to the active controller): none is started, as the
  // reference Kafka's single node could only complete one at once.
  { api: 'ListPartitionReassignments', name: 'all', body: () => ({ timeoutMs: 10_000, topics: null }) },
  {
    api: 'ListPartitionReassignments',
    name: 'of a topic',
    body: () => ({ timeoutMs: 10_000, topics: [{ name: DATA, partitionIndexes: [0, 1] }] }),
  },
  {
    api: 'AlterPartitionReassignments',
    name: 'cancel with none in progress',
    body: () => ({ timeoutMs: 10_000, topics: [{ name: DATA, partitions: [{ partitionIndex: 0, replicas: null }] }] }),
  },
  {
    api: 'AlterPartitionReassignments',
    name: 'unknown topic and partition',
    body: () => ({
      timeoutMs: 10_000,
      topics: [
        { name: UNKNOWN, partitions: [{ partitionIndex: 0, replicas: [1] }] },
        { name: DATA, partitions: [{ partitionIndex: 99, replicas: [1] }] },
      ],
    }),
  },
  {
    api: 'AlterPartitionReassignments',
    name: 'invalid replicas',
    body: () => ({
      timeoutMs: 10_000,
      topics: [
        {
          name: DATA,
          partitions: [
            { partitionIndex: 0, replicas: [] },
            { partitionIndex: 1, replicas: [1, 1] },
          ],
        },
      ],
    }),
  },
  {
    api: 'AlterPartitionReassignments',
    name: 'an unregistered broker',
    body: () => ({ timeoutMs: 10_000, topics: [{ name: DATA, partitions: [{ partitionIndex: 0, replicas: [77] }] }] }),
  },
  {
    // sent to the broker, which relays it to the active controller (kafka-metadata-quorum --bootstrap-server)
    api: 'DescribeQuorum',
    name: 'metadata quorum',
    body: () => ({ topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }] }),
  },
  {
    api: 'InitProducerId',
    name: 'idempotent producer',
    body: () => ({ transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1, producerEpoch: -1 }),
    // Kafka answers COORDINATOR_LOAD_IN_PROGRESS until its first block of producer ids arrives from the controller.
    until: (r) => r.errorCode !== 14 && r.errorCode !== 15,
  },

  // Groups: the coordinator first (Kafka creates __consumer_offsets on first use), then offsets of a group without members.
  {
    api: 'FindCoordinator',
    name: 'group',
    body: (v) => (v >= 4 ? { keyType: 0, coordinatorKeys: ['diff-group'] } : { key: 'diff-group', keyType: 0 }),
    until: (r) => (r.coordinators?.length ? r.coordinators.every((c: any) => c.errorCode === 0) : r.errorCode === 0),
  },
  // The coordinator may still be loading the offsets partition (COORDINATOR_LOAD_IN_PROGRESS, retried by clients).
  {
    api: 'OffsetCommit',
    name: 'commit',
    body: (v) => offsetCommit('diff-commit', DATA, 0, v),
    until: (r) => r.topics[0].partitions[0].errorCode !== 14,
  },
  { api: 'OffsetCommit', name: 'unknown topic', body: () => offsetCommit('diff-commit', UNKNOWN, 0, 1) },
  { api: 'OffsetCommit', name: 'unknown member', body: () => offsetCommit('diff-commit', DATA, 0, 1, 3, 'nobody') },
  {
    api: 'OffsetFetch',
    name: 'partitions',
    body: (v) => offsetFetch(v, 'diff-commit', [{ name: DATA, partitionIndexes: [0, 1] }]),
  },
  { api: 'OffsetFetch', name: 'all topics', minVersion: 2, body: (v) => offsetFetch(v, 'diff-commit', null) },
  {
    api: 'OffsetFetch',
    name: 'unknown group',
    body: (v) => offsetFetch(v, 'diff-no-such-group', [{ name: DATA, partitionIndexes: [0] }]),
  },

  {
    api: 'JoinGroup',
    name: 'new member',
    body: (v) => joinBody(`diff-join-v${v}`, ''),
    save: (r, v, s) => {
      s.vars[`member:diff-join-v${v}`] = r.memberId;
    },
  },
  {
    api: 'JoinGroup',
    name: 'with the member id',
    minVersion: 4,
    body: (v, s) => joinBody(`diff-join-v${v}`, s.vars[`member:diff-join-v${v}`]),
  },
  { api: 'JoinGroup', name: 'unknown member', body: (v) => joinBody(`diff-join-v${v}`, 'nobody') },
  {
    api: 'SyncGroup',
    name: 'leader assigns',
    prepare: (c, v, s) => joinGroup(c, s, `diff-sync-v${v}`, false),
    body: (v, s) => syncBody(s, `diff-sync-v${v}`),
  },
  {
    api: 'SyncGroup',
    name: 'unknown member',
    body: (v, s) => ({ ...syncBody(s, `diff-sync-v${v}`), memberId: 'nobody' }),
  },
  {
    api: 'Heartbeat',
    name: 'member',
    body: (v, s) => ({
      groupId: `diff-sync-v${v}`,
      generationId: s.vars[`generation:diff-sync-v${v}`],
      memberId: s.vars[`member:diff-sync-v${v}`],
      groupInstanceId: null,
    }),
  },
  {
    api: 'Heartbeat',
    name: 'old generation',
    body: (v, s) => ({
      groupId: `diff-sync-v${v}`,
      generationId: 0,
      memberId: s.vars[`member:diff-sync-v${v}`],
      groupInstanceId: null,
    }),
  },
  {
    api: 'Heartbeat',
    name: 'unknown group',
    body: () => ({ groupId: 'diff-no-such-group', generationId: 1, memberId: 'nobody', groupInstanceId: null }),
  },
  {
    api: 'DescribeGroups',
    name: 'stable, awaiting sync, unknown',
    body: () => ({
      groups: ['diff-sync-v0', 'diff-join-v0', 'diff-no-such-group'],
      includeAuthorizedOperations: false,
    }),
  },
  {
    api: 'LeaveGroup',
    name: 'member leaves',
    body: (v, s) => {
      const g = `diff-sync-v${Math.min(v, 4)}`;
      const m = s.vars[`member:${g}`];
      return v >= 3
        ? { groupId: g, members: [{ memberId: m, groupInstanceId: null, reason: null }] }
        : { groupId: g, memberId: m };
    },
  },
  {
    api: 'LeaveGroup',
    name: 'unknown member',
    body: (v) =>
      v >= 3
        ? { groupId: 'diff-sync-v5', members: [{ memberId: 'nobody', groupInstanceId: null, reason: null }] }
        : { groupId: 'diff-sync-v5', memberId: 'nobody' },
  },
  {
    api: 'DescribeGroups',
    name: 'after leaving',
    body: () => ({ groups: ['diff-sync-v0', 'diff-commit'], includeAuthorizedOperations: false }),
  },
  { api: 'ListGroups', name: 'all', body: () => ({ statesFilter: [], typesFilter: [] }) },
  {
    api: 'ListGroups',
    name: 'empty groups',
    minVersion: 4,
    body: () => ({ statesFilter: ['Empty'], typesFilter: [] }),
  },

  {
    api: 'OffsetDelete',
    name: 'committed partition',
    body: () => ({ groupId: 'diff-commit', topics: [{ name: DATA, partitions: [{ partitionIndex: 0 }] }] }),
  },
  {
    api: 'OffsetDelete',
    name: 'unknown group',
    body: () => ({ groupId: 'diff-no-such-group', topics: [{ name: DATA, partitions: [{ partitionIndex: 0 }] }] }),
  },
  { api: 'DeleteGroups', name: 'empty group', body: (v) => ({ groupsNames: [`diff-sync-v${v}`] }) },
  { api: 'DeleteGroups', name: 'group with a member', body: () => ({ groupsNames: ['diff-sync-v5'] }) },
  { api: 'DeleteGroups', name: 'unknown group', body: () => ({ groupsNames: ['diff-no-such-group'] }) },

  // KIP-848: a member joins (epoch 0), is given both partitions, heartbeats, leaves (epoch -1).
  {
    api: 'ConsumerGroupHeartbeat',
    name: 'join',
    body: (v) => cgHeartbeat(v, 0, [DATA]),
    save: (r, v, s) => {
      s.vars[`cg-member:${v}`] = r.memberId;
      s.vars[`cg-epoch:${v}`] = r.memberEpoch;
    },
  },
  {
    api: 'ConsumerGroupHeartbeat',
    name: 'heartbeat',
    body: (v, s) => ({
      ...cgHeartbeat(v, s.vars[`cg-epoch:${v}`], null),
      memberId: s.vars[`cg-member:${v}`],
      rebalanceTimeoutMs: -1,
    }),
  },
  {
    api: 'ConsumerGroupHeartbeat',
    name: 'fenced epoch',
    body: (v, s) => ({ ...cgHeartbeat(v, 99, null), memberId: s.vars[`cg-member:${v}`], rebalanceTimeoutMs: -1 }),
  },
  {
    api: 'ConsumerGroupHeartbeat',
    name: 'unknown member',
    body: (v) => ({ ...cgHeartbeat(v, 1, null), memberId: 'AAAAAAAAAAAAAAAAAAAAAg', rebalanceTimeoutMs: -1 }),
  },
  {
    api: 'ConsumerGroupDescribe',
    name: 'group and unknown',
    body: (v) => ({ groupIds: [`diff-cg-v${v}`, 'diff-no-such-group'], includeAuthorizedOperations: false }),
  },
  {
    api: 'ConsumerGroupHeartbeat',
    name: 'leave',
    body: (v, s) => ({ ...cgHeartbeat(v, -1, null), memberId: s.vars[`cg-member:${v}`], rebalanceTimeoutMs: -1 }),
  },

  {
    api: 'AlterConfigs',
    name: 'set',
    body: (v) => legacyAlter(DATA, [{ name: 'retention.ms', value: String(3_600_000 * (v + 1)) }]),
  },
  {
    api: 'AlterConfigs',
    name: 'validate only',
    body: () => legacyAlter(DATA, [{ name: 'retention.ms', value: '1' }], true),
  },
  {
    api: 'AlterConfigs',
    name: 'unknown config',
    body: () => legacyAlter(DATA, [{ name: 'no.such.config', value: '1' }]),
  },
  {
    api: 'AlterConfigs',
    name: 'unknown topic',
    body: () => legacyAlter(UNKNOWN, [{ name: 'retention.ms', value: '1' }]),
  },
  { api: 'DescribeConfigs', name: 'after AlterConfigs', body: () => describeConfigs(TOPIC_RESOURCE, DATA, TOPIC_KEYS) },

  ...capturedCases(),
];

/**
 * The request frames recorded from real clients (test/fixtures/captures:
 * kcat, kafkajs and confluent-kafka-python, by scripts/capture-client-frames.ts),
 * replayed as one session per client: each frame at its own version, in the
 * order a client sends them (API order below, then the recorded files'
 * order). Their topics are created (or found) after the clients' own
 * CreateTopics, so that what follows meets partitions with a leader.
 */
function capturedCases(): Case[] {
  const root = path.resolve(import.meta.dirname, '../../fixtures/captures');
  const order = [
    'ApiVersions',
    'CreateTopics',
    'Metadata',
    'InitProducerId',
    'Produce',
    'ListOffsets',
    'Fetch',
    'FindCoordinator',
    'JoinGroup',
    'SyncGroup',
    'Heartbeat',
    'OffsetCommit',
    'OffsetFetch',
    'DescribeGroups',
    'ListGroups',
    'LeaveGroup',
    'DescribeConfigs',
    'DeleteTopics',
  ];
  const out: Case[] = [];
  for (const client of fs.readdirSync(root).sort()) {
    const frames = fs
      .readdirSync(path.join(root, client))
      .filter((f) => f.endsWith('.bin'))
      .map((f) => {
        const frame = fs.readFileSync(path.join(root, client, f));
        const api = apiByKey(frame.readInt16BE(0))!;
        const version = frame.readInt16BE(2);
        const r = new Reader(frame);
        readRequestHeader(r, api.requestIsFlexible(version));
        return { file: f, api: api.name, version, body: api.requestDecoder(version)(r) };
      })
      .filter((x) => order.includes(x.api))
      .sort((a, b) => order.indexOf(a.api) - order.indexOf(b.api) || (a.file < b.file ? -1 : 1));
    const topics = new Set<string>();
    for (const f of frames)
      for (const t of (f.body as any).topics ?? [])
        if (typeof t?.name === 'string' && t.name.startsWith('cap-')) topics.add(t.name);
    let waited = false;
    for (const f of frames) {
      const c: Case = {
        api: f.api,
        name: `${client}/${f.file}`,
        minVersion: f.version,
        maxVersion: f.version,
        body: () => f.body,
      };
      if (!waited && f.api !== 'ApiVersions' && f.api !== 'CreateTopics') {
        waited = true;
        c.prepare = async (conn) => {
          for (const t of topics) await ensureTopic(conn, t, 2);
        };
      }
      out.push(c);
    }
  }
  return out;
}
