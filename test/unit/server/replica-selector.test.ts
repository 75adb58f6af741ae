/**
 * KIP-392's rules (src/server/replica-selector.ts): which preferred read
 * replica the rack-aware selector names from a leader's view, which node
 * serves a consumer fetch at which Fetch version, the
 * replica.selector.class property, and OFFSET_NOT_AVAILABLE from a new
 * leader whose high watermark lags its epoch's start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { TopicState } from '../../../src/metadata/image.ts';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { Partition as RealPartition } from '../../../src/server/partition.ts';
import { listOffsetsHandler } from '../../../src/server/handlers/list-offsets.ts';
import { config as logConfig, makeBatch, silent, tempDir } from '../storage/fixtures.ts';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { Partition } from '../../../src/server/partition.ts';
import {
  checkConsumerFetch,
  LEADER_SELECTOR,
  RACK_AWARE_REPLICA_SELECTOR,
  rackAwareSelector,
  replicaSelector,
} from '../../../src/server/replica-selector.ts';

const LEADER = 1;

/** A leader's broker: node 1, brokers with racks (and fenced ones). */
function broker(racks: Record<number, string | null>, fenced: number[] = []): Broker {
  const brokers = new Map(
    Object.entries(racks).map(([id, rack]) => [
      Number(id),
      { nodeId: Number(id), rack, fenced: fenced.includes(Number(id)) },
    ]),
  );
  return { nodeId: LEADER, image: { brokers } } as unknown as Broker;
}

/** The leader's view of a partition: ISR, the followers' fetch offsets and caught-up times. */
function leaderView(isr: number[], ends: Record<number, number>, caughtUp: Record<number, number> = {}): Partition {
  return {
    isr,
    followerEndOffset: (id: number) => ends[id] ?? -1,
    followerCaughtUpAt: (id: number) => caughtUp[id],
  } as unknown as Partition;
}

test('rack-aware: an in-sync follower in the consumer rack is named', () => {
  const b = broker({ 1: 'a', 2: 'b', 3: 'c' });
  const p = leaderView([1, 2, 3], { 2: 100, 3: 100 });
  assert.equal(rackAwareSelector(b, p, 'b', 50), 2);
  assert.equal(rackAwareSelector(b, p, 'c', 100), 3);
});

test('rack-aware: the leader serves (-1) when the consumer names no rack, is in its rack, or no replica qualifies', () => {
  const b = broker({ 1: 'a', 2: 'b', 3: 'c' });
  const p = leaderView([1, 2, 3], { 2: 100, 3: 100 });
  assert.equal(rackAwareSelector(b, p, '', 50), -1, 'no client.rack');
  assert.equal(rackAwareSelector(b, p, 'a', 50), -1, 'the leader is in the rack');
  assert.equal(rackAwareSelector(b, p, 'z', 50), -1, 'no replica in the rack');
  assert.equal(rackAwareSelector(b, p, 'b', 101), -1, 'the follower does not have the fetch offset yet');
  assert.equal(rackAwareSelector(b, leaderView([1, 3], { 2: 100, 3: 100 }), 'b', 50), -1, 'outside the ISR');
  assert.equal(rackAwareSelector(broker({ 1: 'a', 2: 'b', 3: 'c' }, [2]), p, 'b', 50), -1, 'fenced');
  assert.equal(rackAwareSelector(broker({ 1: 'a', 3: 'c' }), p, 'b', 50), -1, 'not registered');
  assert.equal(rackAwareSelector(b, leaderView([1, 2, 3], {}), 'b', 0), -1, 'reported no fetch yet');
});

test('rack-aware: of several in the rack, the most caught up (log end, then latest caught-up time)', () => {
  const b = broker({ 1: 'a', 2: 'b', 3: 'b', 4: 'b' });
  assert.equal(rackAwareSelector(b, leaderView([1, 2, 3, 4], { 2: 90, 3: 120, 4: 100 }), 'b', 50), 3);
  assert.equal(
    rackAwareSelector(b, leaderView([1, 2, 3, 4], { 2: 120, 3: 120, 4: 120 }, { 2: 1000, 3: 3000, 4: 2000 }), 'b', 50),
    3,
  );
});

test('replica.selector.class: unset and LeaderSelector keep consumers on the leader; other class names are refused', () => {
  assert.equal(replicaSelector(null), undefined);
  assert.equal(replicaSelector(LEADER_SELECTOR), undefined);
  assert.equal(replicaSelector(RACK_AWARE_REPLICA_SELECTOR), rackAwareSelector);
  const load = (v?: string) =>
    loadBrokerConfig({ overrides: v === undefined ? {} : { 'replica.selector.class': v }, cwd: '/srv', fdLimit: 1024 });
  assert.equal(load().replicaSelectorClass, null);
  assert.equal(load(RACK_AWARE_REPLICA_SELECTOR).replicaSelectorClass, RACK_AWARE_REPLICA_SELECTOR);
  assert.equal(load(LEADER_SELECTOR).replicaSelectorClass, LEADER_SELECTOR);
  assert.throws(
    () => load('com.example.MySelector'),
    (e: unknown) => e instanceof ConfigError && /replica\.selector\.class/.test(String(e)),
  );
});

/** A hosted partition as checkConsumerFetch sees it. */
function hosted(role: 'leader' | 'follower', epoch = 5, failed = false): Partition {
  const epochCheck = (current: number) =>
    current < 0 || current === epoch
      ? ErrorCode.NONE
      : current < epoch
        ? ErrorCode.FENCED_LEADER_EPOCH
        : ErrorCode.UNKNOWN_LEADER_EPOCH;
  return {
    role,
    log: { dirHealth: { isFailed: () => failed } },
    checkLeaderEpoch: epochCheck,
    checkLeader: (current: number) =>
      failed
        ? ErrorCode.KAFKA_STORAGE_ERROR
        : epochCheck(current) !== ErrorCode.NONE
          ? epochCheck(current)
          : role === 'leader'
            ? ErrorCode.NONE
            : ErrorCode.NOT_LEADER_OR_FOLLOWER,
  } as unknown as Partition;
}

test('a follower serves consumer fetches from v11, with the leader-epoch and log-dir checks', () => {
  assert.equal(checkConsumerFetch(hosted('follower'), -1, 10), ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(checkConsumerFetch(hosted('follower'), -1, 11), ErrorCode.NONE);
  assert.equal(checkConsumerFetch(hosted('follower'), 5, 12), ErrorCode.NONE);
  assert.equal(checkConsumerFetch(hosted('follower'), 4, 12), ErrorCode.FENCED_LEADER_EPOCH);
  assert.equal(checkConsumerFetch(hosted('follower'), 6, 12), ErrorCode.UNKNOWN_LEADER_EPOCH);
  assert.equal(checkConsumerFetch(hosted('follower', 5, true), -1, 12), ErrorCode.KAFKA_STORAGE_ERROR);
  assert.equal(checkConsumerFetch(hosted('leader'), -1, 4), ErrorCode.NONE);
  assert.equal(checkConsumerFetch(hosted('leader'), 4, 12), ErrorCode.FENCED_LEADER_EPOCH);
});

test('ListOffsets: a new leader whose high watermark lags its epoch start answers OFFSET_NOT_AVAILABLE until it catches up', async () => {
  const { dir, cleanup } = tempDir('samsa-offset-na-');
  const logDir = path.join(dir, 't-0');
  const first = await PartitionLog.open(logDir, logConfig(), { logger: silent });
  first.append(makeBatch(3), { leaderEpoch: 0 });
  await first.close();
  // a follower that had 3 records, of which it knew 1 committed, becomes leader in epoch 1
  const log = await PartitionLog.open(logDir, logConfig(), { logger: silent, cleanShutdown: true, highWatermark: 1 });
  try {
    const state = { partition: 0, leader: 2, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2], isr: [1, 2] };
    const topic: TopicState = { name: 't', topicId: 'id-t', partitions: [state], configs: new Map() };
    const part = new RealPartition(topic, 0, log, 1, { now: () => 1_000 });
    part.update(state);
    part.update({ ...state, leader: 1, leaderEpoch: 1, partitionEpoch: 1 });
    assert.equal(part.role, 'leader');
    assert.deepEqual([part.highWatermark, log.logEndOffset], [1, 3]);
    const b = { image: { topicsByName: new Map([['t', topic]]) }, replicas: { get: () => part } } as unknown as Broker;
    const handler = listOffsetsHandler(b);
    const list = async (timestamp: number, replicaId = -1) => {
      const res = await handler(
        {
          replicaId,
          isolationLevel: 0,
          topics: [
            {
              name: 't',
              partitions: [
                { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: BigInt(timestamp), maxNumOffsets: 1 },
              ],
            },
          ],
          timeoutMs: 1000,
        } as never,
        { apiVersion: 7 } as never,
      );
      const p = (res as { topics: { partitions: { errorCode: number; offset: bigint | number }[] }[] }).topics[0]
        .partitions[0];
      return { errorCode: p.errorCode, offset: Number(p.offset) };
    };
    assert.equal((await list(-1)).errorCode, ErrorCode.OFFSET_NOT_AVAILABLE, 'latest');
    assert.equal(
      (await list(5_000_000_000_000)).errorCode,
      ErrorCode.OFFSET_NOT_AVAILABLE,
      'a timestamp past the high watermark',
    );
    assert.deepEqual(await list(-2), { errorCode: ErrorCode.NONE, offset: 0 }, 'earliest is known');
    assert.equal((await list(-1, 2)).errorCode, ErrorCode.NONE, 'not for a replica (only consumers)');
    // the follower reports the whole log: the high watermark reaches the epoch start
    part.updateFollowerEndOffset(2, 3);
    assert.deepEqual(await list(-1), { errorCode: ErrorCode.NONE, offset: 3 });
  } finally {
    log.abandon();
    cleanup();
  }
});
