/**
 * The group coordinator's writes to a replicated __consumer_offsets
 * partition are acknowledged as Kafka's (acks=all): an offset commit or a
 * group's metadata is answered once every in-sync replica has the records
 * and this leader fsynced them. A write the ISR does not acknowledge within
 * offsets.commit.timeout.ms, or with the ISR below min.insync.replicas,
 * answers COORDINATOR_NOT_AVAILABLE; leadership lost meanwhile answers
 * NOT_COORDINATOR. Node 1 leads the one __consumer_offsets partition
 * (replicas 1, 2, 3); the followers' fetches are reported to its Partition
 * as the fetch handler does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ReplicaManager } from '../../../src/server/replica-manager.ts';
import { followOffsetsLeadership, OFFSETS_TOPIC, OffsetsTopicStore } from '../../../src/server/group-store.ts';
import type { Broker } from '../../../src/server/broker.ts';
import { GroupCoordinatorService } from '../../../src/coordinator/group/service.ts';
import { errorName } from '../../../src/protocol/error-codes.ts';

const ME = 1;
const OFFSETS_ID = 'offsets-topic-id';
const DATA_ID = 'data-topic-id';

const broker = (nodeId: number): MetadataRecord => ({
  type: 'RegisterBroker',
  nodeId,
  incarnationId: `incarnation-${nodeId}`,
  listeners: [{ name: 'PLAINTEXT', host: `10.0.0.${nodeId}`, port: 9092 }],
  rack: null,
});

async function coordinator(overrides: Record<string, string> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-group-store-acks-'));
  const config = loadBrokerConfig({
    overrides: {
      'node.id': String(ME),
      'log.dirs': dir,
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'offsets.topic.num.partitions': '1',
      ...overrides,
    },
  });
  const image = new MetadataImage();
  const initial: MetadataRecord[] = [
    broker(1),
    broker(2),
    broker(3),
    { type: 'Topic', name: 'data', topicId: DATA_ID },
    {
      type: 'Partition',
      topicId: DATA_ID,
      partition: 0,
      replicas: [ME],
      isr: [ME],
      leader: ME,
      leaderEpoch: 0,
      partitionEpoch: 0,
    },
    { type: 'Topic', name: OFFSETS_TOPIC, topicId: OFFSETS_ID },
    {
      type: 'Partition',
      topicId: OFFSETS_ID,
      partition: 0,
      replicas: [1, 2, 3],
      isr: [1, 2, 3],
      leader: ME,
      leaderEpoch: 0,
      partitionEpoch: 0,
    },
  ];
  for (const r of initial) image.apply(r);
  const logger = pino({ level: 'silent' });
  const rm = await ReplicaManager.open(image, config, logger);
  const b = { config, logger, clusterId: 'test-cluster', nodeId: ME, image, replicas: rm } as unknown as Broker;
  const groups = new GroupCoordinatorService(
    {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: 0,
      maxSize: config.groupMaxSize,
      offsetsRetentionMs: config.offsetsRetentionMs,
      maxMetadataSize: config.offsetMetadataMaxBytes,
    },
    new OffsetsTopicStore(b),
  );
  await followOffsetsLeadership(b, groups);
  const offsets = () => rm.get(OFFSETS_TOPIC, 0)!;
  return {
    groups,
    offsets,
    /** A metadata change of the __consumer_offsets partition, applied as the controller's commit is. */
    async change(fields: { isr?: number[]; leader?: number }) {
      const r: MetadataRecord = { type: 'PartitionChange', topicId: OFFSETS_ID, partition: 0, ...fields };
      image.apply(r);
      await rm.onMetadata([r]);
    },
    /** Resolves once the leader's log reaches `end` (the store appends after a turn of the event loop). */
    async appended(end: number) {
      const deadline = Date.now() + 30_000;
      while (offsets().log.logEndOffset < end) {
        assert.ok(Date.now() < deadline, `__consumer_offsets-0 never reached offset ${end}`);
        await turn();
      }
    },
    /** Follower `id` fetched from the leader's log end offset: it has everything appended so far. */
    fetched(id: number) {
      offsets().updateFollowerEndOffset(id, offsets().log.logEndOffset);
    },
    /** The committed offset of data-0 as OffsetFetch answers it (-1: none). */
    committed(groupId: string): number {
      const [t] = groups.state.fetchOffsets(groupId, [{ topic: 'data', partitions: [0] }]);
      return t.partitions[0].value?.offset ?? -1;
    },
    async close() {
      groups.close();
      await rm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const commitArgs = (groupId: string, offset: number) => ({
  groupId,
  generationId: -1,
  memberId: '',
  groupInstanceId: null,
  offsets: [{ topic: 'data', partition: 0, offset, leaderEpoch: -1, metadata: '' }],
});

/** A promise and whether it has settled. */
function track<T>(p: Promise<T>): { p: Promise<T>; settled: () => boolean } {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  return { p, settled: () => done };
}

/** Lets every pending callback (I/O completions included) run once. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

const answer = async (p: Promise<{ errorCode: number; perPartition: number[] }>) =>
  (await p).perPartition.map((c) => errorName(c));

test('an offset commit is answered once every in-sync replica has it and the leader fsynced it', async () => {
  const c = await coordinator();
  try {
    const commit = track(c.groups.commitOffsets(commitArgs('g', 42)));
    await c.appended(1);
    const end = c.offsets().log.logEndOffset;
    await c.offsets().log.flushedUpTo(end);
    await turn();
    assert.equal(commit.settled(), false, 'fsynced here, but no follower has it');
    c.fetched(2);
    await turn();
    assert.equal(commit.settled(), false, 'replica 3 is in the ISR and has not fetched it');
    assert.equal(c.committed('g'), -1, 'not visible before it is acknowledged');
    c.fetched(3);
    assert.deepEqual(await answer(commit.p), ['NONE']);
    assert.ok(c.offsets().log.recoveryPoint >= end, 'fsynced on the leader');
    assert.equal(c.offsets().highWatermark, end);
    assert.equal(c.committed('g'), 42);
  } finally {
    await c.close();
  }
});

test('group metadata (the SyncGroup that ends a rebalance) is written before the members are answered, and waits for the ISR', async () => {
  const c = await coordinator();
  try {
    const joinArgs = (memberId: string) => ({
      groupId: 'g',
      memberId,
      groupInstanceId: null,
      clientId: 'c',
      clientHost: '127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.from('s') }],
      requireKnownMemberId: true,
      reason: null,
    });
    // KIP-394: the first JoinGroup gets a member id, the second joins with it
    const { memberId } = await c.groups.join(joinArgs(''));
    const joined = await c.groups.join(joinArgs(memberId));
    assert.deepEqual([errorName(joined.errorCode), joined.leader], ['NONE', memberId]);
    const sync = track(
      c.groups.sync({
        groupId: 'g',
        generationId: joined.generationId,
        memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId, assignment: Buffer.from('assignment') }],
      }),
    );
    await c.appended(1);
    await c.offsets().log.flushedUpTo(1);
    await turn();
    assert.equal(sync.settled(), false, 'the group metadata is not acknowledged by the followers yet');
    c.fetched(2);
    c.fetched(3);
    const r = await sync.p;
    assert.equal(errorName(r.errorCode), 'NONE');
    assert.equal(r.assignment.toString(), 'assignment');
  } finally {
    await c.close();
  }
});

test('a commit the ISR does not acknowledge within offsets.commit.timeout.ms answers COORDINATOR_NOT_AVAILABLE and is not applied', async () => {
  const c = await coordinator({ 'offsets.commit.timeout.ms': '300' });
  try {
    c.fetched(2); // replica 3 never fetches
    assert.deepEqual(await answer(c.groups.commitOffsets(commitArgs('g', 7))), ['COORDINATOR_NOT_AVAILABLE']);
    assert.equal(c.committed('g'), -1);
    // once the follower is back, the next commit goes through
    const next = c.groups.commitOffsets(commitArgs('g', 8));
    await c.appended(2);
    c.fetched(2);
    c.fetched(3);
    assert.deepEqual(await answer(next), ['NONE']);
    assert.equal(c.committed('g'), 8);
  } finally {
    await c.close();
  }
});

test('leadership of the partition lost while a commit waits: NOT_COORDINATOR', async () => {
  const c = await coordinator();
  try {
    const commit = c.groups.commitOffsets(commitArgs('g', 5));
    await c.appended(1);
    await c.change({ leader: 2 });
    assert.deepEqual(await answer(commit), ['NOT_COORDINATOR']);
  } finally {
    await c.close();
  }
});

test('the ISR below min.insync.replicas: COORDINATOR_NOT_AVAILABLE, whether it shrank before the append (nothing appended) or while the commit waited', async () => {
  const c = await coordinator({ 'min.insync.replicas': '2' });
  try {
    // shrinks while the commit waits: NOT_ENOUGH_REPLICAS_AFTER_APPEND
    const waiting = c.groups.commitOffsets(commitArgs('g', 1));
    await c.appended(1);
    await c.change({ isr: [ME] });
    assert.deepEqual(await answer(waiting), ['COORDINATOR_NOT_AVAILABLE']);
    assert.equal(c.committed('g'), -1);

    // refused before the append: NOT_ENOUGH_REPLICAS
    assert.deepEqual(await answer(c.groups.commitOffsets(commitArgs('g', 2))), ['COORDINATOR_NOT_AVAILABLE']);
    assert.equal(c.offsets().log.logEndOffset, 1, 'nothing appended');

    // back in the ISR: acknowledged again
    await c.change({ isr: [ME, 2] });
    const ok = c.groups.commitOffsets(commitArgs('g', 3));
    await c.appended(2);
    c.fetched(2);
    assert.deepEqual(await answer(ok), ['NONE']);
    assert.equal(c.committed('g'), 3);
  } finally {
    await c.close();
  }
});
