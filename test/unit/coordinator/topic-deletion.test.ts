/**
 * What the group coordinator does about topics that do not exist (any more),
 * as Kafka does: an OffsetCommit for a partition the cluster does not have is
 * answered UNKNOWN_TOPIC_OR_PARTITION and stores nothing (the other
 * partitions of the request are committed), and the committed offsets of a
 * deleted topic are removed from every group (tombstones written before the
 * offsets are dropped from memory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinatorState, type OffsetRecord } from '../../../src/coordinator/group/group-coordinator.ts';
import { GroupCoordinatorService, type GroupStore } from '../../../src/coordinator/group/service.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';
import type { GroupSnapshot, JoinResult } from '../../../src/coordinator/group/types.ts';
import { ConsumerGroups } from '../../../src/coordinator/group/consumer/consumer-groups.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

const config = {
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 100000,
  initialRebalanceDelayMs: 0,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  maxMetadataSize: 4096,
};

/** The cluster has topic t with partitions 0 and 1, and topic u with partition 0. */
const exists = (topic: string, partition: number) =>
  (topic === 't' && (partition === 0 || partition === 1)) || (topic === 'u' && partition === 0);

const offset = (topic: string, partition: number, o: number) => ({
  topic,
  partition,
  offset: o,
  leaderEpoch: -1,
  metadata: null,
});

function commitAll(s: GroupCoordinatorState, groupId: string, offsets: ReturnType<typeof offset>[], now = 1) {
  const r = s.commitOffsets({ groupId, generationId: -1, memberId: '', groupInstanceId: null, offsets }, now, exists);
  for (const rec of r.records) s.applyOffset(rec);
  return r;
}

function committedOf(s: GroupCoordinatorState, groupId: string, topic: string, partition: number): number | null {
  return s.fetchOffsets(groupId, [{ topic, partitions: [partition] }])[0].partitions[0].value?.offset ?? null;
}

test('OffsetCommit: partitions the cluster does not have get UNKNOWN_TOPIC_OR_PARTITION and store nothing; the others are committed', () => {
  const s = new GroupCoordinatorState(config);
  const r = commitAll(s, 'solo', [offset('t', 0, 5), offset('gone', 0, 7), offset('t', 2, 9), offset('u', 0, 3)]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(r.perPartition, [
    ErrorCode.NONE,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ErrorCode.NONE,
  ]);
  assert.deepEqual(
    r.records.map((x) => `${x.topic}:${x.partition}`),
    ['t:0', 'u:0'],
  );
  assert.equal(committedOf(s, 'solo', 't', 0), 5);
  assert.equal(committedOf(s, 'solo', 'gone', 0), null);
  assert.equal(committedOf(s, 'solo', 't', 2), null);
});

test('OffsetCommit: a request only for unknown partitions is answered UNKNOWN_TOPIC_OR_PARTITION without touching the group', () => {
  const s = new GroupCoordinatorState(config);
  const r = commitAll(s, 'nobody', [offset('gone', 0, 1), offset('gone', 1, 1)]);
  assert.deepEqual(r.perPartition, [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual(r.records, []);
  assert.equal(s.groups.has('nobody'), false, 'no group is created for it');

  // A member with a stale generation learns about the partition first, as in Kafka
  // (the request never reaches the group); known partitions get the group's error.
  const t = 1;
  const joined = s.join(
    {
      groupId: 'g',
      memberId: '',
      groupInstanceId: null,
      sessionTimeoutMs: 1000,
      rebalanceTimeoutMs: 1000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from('x') }],
      clientId: 'c',
      clientHost: '/h',
      requireKnownMemberId: false,
      reason: null,
    },
    t,
    0,
  );
  const memberId = (joined.find((a) => a.kind === 'join')!.result as JoinResult).memberId;
  const stale = s.commitOffsets(
    {
      groupId: 'g',
      generationId: 99,
      memberId,
      groupInstanceId: null,
      offsets: [offset('gone', 0, 1), offset('t', 0, 1)],
    },
    1,
    exists,
  );
  assert.deepEqual(stale.perPartition, [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, ErrorCode.ILLEGAL_GENERATION]);
  assert.deepEqual(stale.records, []);
});

test('OffsetCommit without a partition check (no metadata given) commits every partition, as before', () => {
  const s = new GroupCoordinatorState(config);
  const r = s.commitOffsets(
    { groupId: 'solo', generationId: -1, memberId: '', groupInstanceId: null, offsets: [offset('gone', 0, 1)] },
    1,
  );
  assert.deepEqual(r.perPartition, [ErrorCode.NONE]);
  assert.equal(r.records.length, 1);
});

test('the offsets of deleted partitions are tombstoned in every group (classic, simple and consumer-protocol groups); the rest stay', () => {
  const s = new GroupCoordinatorState(config);
  s.consumerGroups = new ConsumerGroups();
  commitAll(s, 'a', [offset('t', 0, 1), offset('u', 0, 2)]);
  commitAll(s, 'b', [offset('u', 0, 3)]);
  // Offsets committed before the topic went (no check then).
  for (const rec of s.commitOffsets(
    { groupId: 'b', generationId: -1, memberId: '', groupInstanceId: null, offsets: [offset('t', 1, 4)] },
    1,
  ).records)
    s.applyOffset(rec);

  const existsAfterUDeleted = (topic: string, partition: number) => topic === 't' && exists(topic, partition);
  const tombstones = s.offsetsOfDeletedPartitions(existsAfterUDeleted);
  assert.deepEqual(tombstones.map((r) => `${r.groupId}/${r.topic}:${r.partition}=${r.value}`).sort(), [
    'a/u:0=null',
    'b/u:0=null',
  ]);
  for (const r of tombstones) s.applyOffset(r);
  assert.equal(committedOf(s, 'a', 'u', 0), null);
  assert.equal(committedOf(s, 'b', 'u', 0), null);
  assert.equal(committedOf(s, 'a', 't', 0), 1);
  assert.equal(committedOf(s, 'b', 't', 1), 4);
  assert.deepEqual(s.offsetsOfDeletedPartitions(existsAfterUDeleted), [], 'nothing left to remove');
});

class MemoryStore implements GroupStore {
  readonly written: (OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[] = [];
  fail = false;
  async write(records: (OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null })[]): Promise<void> {
    if (this.fail) throw new Error('disk full');
    this.written.push(...records);
  }
  async load() {
    return [];
  }
}

test('service: the offsets of deleted partitions are written as tombstones, then dropped; a failed write keeps them and fails', async () => {
  const store = new MemoryStore();
  const svc = new GroupCoordinatorService(config, store, new SimulatedEnv(1, 1000));
  await svc.commitOffsets(
    {
      groupId: 'g',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [offset('t', 0, 1), offset('u', 0, 2)],
    },
    exists,
  );
  const existsAfterTDeleted = (topic: string, partition: number) => topic === 'u' && exists(topic, partition);

  store.fail = true;
  await assert.rejects(svc.removeOffsetsOfDeletedPartitions(existsAfterTDeleted), /disk full/);
  assert.equal(committedOf(svc.state, 'g', 't', 0), 1, 'kept: the tombstone was not written');

  store.fail = false;
  assert.equal(await svc.removeOffsetsOfDeletedPartitions(existsAfterTDeleted), 1);
  assert.deepEqual(
    store.written.filter((r) => 'value' in r && r.value === null),
    [{ groupId: 'g', topic: 't', partition: 0, value: null }],
  );
  assert.equal(committedOf(svc.state, 'g', 't', 0), null);
  assert.equal(committedOf(svc.state, 'g', 'u', 0), 2);
  svc.close();
});

test('service: OffsetCommit for a deleted partition is refused and nothing is written', async () => {
  const store = new MemoryStore();
  const svc = new GroupCoordinatorService(config, store, new SimulatedEnv(1, 1000));
  const r = await svc.commitOffsets(
    { groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, offsets: [offset('gone', 0, 1)] },
    exists,
  );
  assert.deepEqual(r.perPartition, [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual(store.written, []);
  svc.close();
});

test('service: a topic deleted while a commit of it is being written loses that offset too', async () => {
  let deleted = false;
  const existsUntilDeleted = (topic: string, partition: number) =>
    exists(topic, partition) && !(deleted && topic === 'u');
  let release!: () => void;
  const store = new MemoryStore();
  const write = store.write.bind(store);
  let first = true;
  store.write = async (records) => {
    if (first) {
      first = false;
      await new Promise<void>((r) => {
        release = r;
      });
    }
    return write(records);
  };
  const svc = new GroupCoordinatorService(config, store, new SimulatedEnv(1, 1000));
  const commit = svc.commitOffsets(
    {
      groupId: 'g',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [offset('t', 0, 1), offset('u', 0, 2)],
    },
    existsUntilDeleted,
  );
  // The deletion and its cleanup happen while the commit's write is in flight.
  deleted = true;
  assert.equal(await svc.removeOffsetsOfDeletedPartitions(existsUntilDeleted), 0, 'nothing of u is applied yet');
  release();
  assert.deepEqual((await commit).perPartition, [ErrorCode.NONE, ErrorCode.NONE]);
  assert.equal(committedOf(svc.state, 'g', 'u', 0), null);
  assert.equal(committedOf(svc.state, 'g', 't', 0), 1);
  assert.deepEqual(
    store.written.at(-1),
    { groupId: 'g', topic: 'u', partition: 0, value: null },
    'the tombstone follows the commit',
  );
  svc.close();
});
