/**
 * Leader elections beyond failover from the ISR: unclean election
 * (unclean.leader.election.enable), ElectLeaders (PREFERRED and UNCLEAN) and
 * automatic leader balancing, decided by the controller on an in-memory
 * quorum (every append commits at once) and simulated time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataImage, type PartitionState } from '../../../src/metadata/image.ts';
import { Controller, ElectionType } from '../../../src/metadata/controller.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

const SESSION_MS = 9000;

/** Lets whatever the controller queued run to its end (every commit resolves at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

class World {
  readonly env = new SimulatedEnv(7);
  readonly log = new MemoryQuorum(0);
  readonly image = new MetadataImage();
  readonly warnings: string[] = [];
  readonly controller: Controller;
  private readonly epochs = new Map<number, number>();

  constructor(opts: { uncleanLeaderElectionEnable?: boolean; sessionTimeoutMs?: number } = {}) {
    this.image.clusterId = 'cluster-a';
    this.controller = new Controller(this.log, this.image, {
      nodeId: 0,
      defaultPartitions: 1,
      defaultReplicationFactor: 1,
      validateConfig: () => null,
      uncleanLeaderElectionEnable: opts.uncleanLeaderElectionEnable,
      logger: { warn: (_o, msg) => this.warnings.push(msg), info: () => {}, error: () => {} },
    });
    this.controller.enableBrokerLifecycle({
      sessionTimeoutMs: opts.sessionTimeoutMs ?? SESSION_MS,
      env: this.env,
      clusterId: () => 'cluster-a',
    });
  }

  /** Registers broker `id` (again, after a stop) and unfences it. */
  async start(id: number): Promise<void> {
    const r = await this.controller.brokerRegistration({
      brokerId: id,
      clusterId: 'cluster-a',
      incarnationId: `inc-${id}-${this.image.epoch}`,
      listeners: [{ name: 'PLAINTEXT', host: 'h', port: 9000 + id }],
      rack: null,
    });
    assert.equal(r.errorCode, ErrorCode.NONE);
    this.epochs.set(id, r.brokerEpoch);
    const h = await this.controller.brokerHeartbeat({
      brokerId: id,
      brokerEpoch: r.brokerEpoch,
      currentMetadataOffset: this.image.epoch,
      wantFence: false,
      wantShutDown: false,
    });
    assert.equal(h.isFenced, false);
  }

  /** Broker `id` dies: its heartbeat connection closes and it is fenced. */
  async kill(id: number): Promise<void> {
    assert.equal(await this.controller.brokerConnectionClosed(id, this.epochs.get(id)!), true);
  }

  /** A topic with the replica lists given (all in sync, the first leads). */
  async topic(name: string, assignments: number[][], configs: Record<string, string> = {}): Promise<void> {
    const [r] = await this.controller.createTopics(
      [
        {
          name,
          numPartitions: -1,
          replicationFactor: -1,
          assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
          configs,
        },
      ],
      false,
    );
    assert.equal(r.errorCode, ErrorCode.NONE, r.errorMessage ?? '');
  }

  partition(name: string, p: number): PartitionState {
    return this.image.topicsByName.get(name)!.partitions[p];
  }

  /** The partition's leader asks for ISR `isr` (a follower caught up again). */
  async setIsr(name: string, p: number, isr: number[]): Promise<void> {
    const t = this.image.topicsByName.get(name)!;
    const s = t.partitions[p];
    const r = await this.controller.alterPartition({
      brokerId: s.leader,
      brokerEpoch: this.epochs.get(s.leader)!,
      partitions: [
        {
          topicId: t.topicId,
          partitionIndex: p,
          leaderEpoch: s.leaderEpoch,
          partitionEpoch: s.partitionEpoch,
          newIsr: isr.map((brokerId) => ({ brokerId, brokerEpoch: this.epochs.get(brokerId)! })),
        },
      ],
    });
    assert.equal(r.partitions[0].errorCode, ErrorCode.NONE);
  }

  stop(): void {
    this.controller.stopBrokerLifecycle();
    this.controller.stopAutoLeaderRebalance();
  }
}

const state = (p: PartitionState) => ({ leader: p.leader, isr: p.isr, leaderEpoch: p.leaderEpoch });

test('the last in-sync replica dies: leaderless without unclean election; with it, a live replica outside the ISR leads alone', async () => {
  const w = new World();
  await w.start(1);
  await w.start(2);
  await w.topic('clean', [[1, 2]]);
  await w.topic('dirty', [[1, 2]], { 'unclean.leader.election.enable': 'true' });
  // 2 fell behind: out of both ISRs
  await w.setIsr('clean', 0, [1]);
  await w.setIsr('dirty', 0, [1]);
  await w.kill(1);
  assert.deepEqual(state(w.partition('clean', 0)), { leader: -1, isr: [1], leaderEpoch: 1 });
  assert.deepEqual(state(w.partition('dirty', 0)), { leader: 2, isr: [2], leaderEpoch: 1 });
  assert.equal(w.warnings.filter((m) => m.startsWith('unclean leader election: dirty-0')).length, 1);
  assert.equal(w.warnings.filter((m) => m.includes('clean-0 ')).length, 0);
  w.stop();
});

test('a returning replica outside the ISR leads a leaderless partition only where unclean election is on', async () => {
  const w = new World();
  await w.start(1);
  await w.start(2);
  await w.topic('clean', [[1, 2]]);
  await w.topic('dirty', [[1, 2]], { 'unclean.leader.election.enable': 'true' });
  await w.kill(2);
  await w.kill(1); // both leaderless now, ISR [1]
  assert.deepEqual(state(w.partition('dirty', 0)), { leader: -1, isr: [1], leaderEpoch: 1 });
  await w.start(2);
  assert.deepEqual(state(w.partition('clean', 0)), { leader: -1, isr: [1], leaderEpoch: 1 });
  assert.deepEqual(state(w.partition('dirty', 0)), { leader: 2, isr: [2], leaderEpoch: 2 });
  // The old ISR member comes back: it follows the new leader (it truncates its tail when it fetches).
  await w.start(1);
  assert.deepEqual(state(w.partition('clean', 0)), { leader: 1, isr: [1], leaderEpoch: 2 });
  assert.deepEqual(state(w.partition('dirty', 0)), { leader: 2, isr: [2], leaderEpoch: 2 });
  w.stop();
});

test('turning unclean election on (topic, cluster default, static) elects leaders for partitions waiting for their ISR', async () => {
  const w = new World();
  await w.start(1);
  await w.start(2);
  await w.topic('a', [[1, 2]]);
  await w.topic('b', [[1, 2]]);
  await w.kill(2);
  await w.kill(1);
  await w.start(2);
  assert.equal(w.partition('a', 0).leader, -1);
  const r = await w.controller.alterConfigs('topic', 'a', { 'unclean.leader.election.enable': 'true' }, false);
  assert.equal(r.errorCode, ErrorCode.NONE);
  await settle();
  assert.deepEqual(state(w.partition('a', 0)), { leader: 2, isr: [2], leaderEpoch: 2 });
  assert.equal(w.partition('b', 0).leader, -1, 'b keeps the broker default (false)');
  await w.controller.alterConfigs('broker', '', { 'unclean.leader.election.enable': 'true' }, false);
  await settle();
  assert.deepEqual(state(w.partition('b', 0)), { leader: 2, isr: [2], leaderEpoch: 2 });

  // The static broker default alone, with a topic override turning it off.
  const s = new World({ uncleanLeaderElectionEnable: true });
  await s.start(1);
  await s.start(2);
  await s.topic('on', [[1, 2]]);
  await s.topic('off', [[1, 2]], { 'unclean.leader.election.enable': 'false' });
  await s.setIsr('on', 0, [1]);
  await s.setIsr('off', 0, [1]);
  await s.kill(1);
  assert.equal(s.partition('on', 0).leader, 2);
  assert.equal(s.partition('off', 0).leader, -1);
  w.stop();
  s.stop();
});

test('ElectLeaders PREFERRED: moves leadership back to the first replica once it is in the ISR; per-partition errors as Kafka', async () => {
  const w = new World();
  await w.start(1);
  await w.start(2);
  await w.start(3);
  await w.topic('t', [
    [1, 2, 3],
    [2, 3, 1],
    [3, 1, 2],
  ]);
  await w.kill(1);
  await w.start(1);
  assert.equal(w.partition('t', 0).leader, 2, 'leadership moved on the fence and stays');
  const elect = (topics: { topic: string; partitions: number[] }[] | null) =>
    w.controller.electLeaders(ElectionType.PREFERRED, topics);

  // 1 is not back in the ISR yet
  let r = await elect([
    { topic: 't', partitions: [0, 1, 7] },
    { topic: 'nope', partitions: [0] },
  ]);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.deepEqual(
    r.results.map((t) => ({ topic: t.topic, codes: t.partitions.map((p) => [p.partitionId, p.errorCode]) })),
    [
      {
        topic: 't',
        codes: [
          [0, ErrorCode.PREFERRED_LEADER_NOT_AVAILABLE],
          [1, ErrorCode.ELECTION_NOT_NEEDED],
          [7, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      },
      { topic: 'nope', codes: [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]] },
    ],
  );
  assert.equal(w.partition('t', 0).leader, 2);

  await w.setIsr('t', 0, [2, 3, 1]);
  const before = w.partition('t', 0).leaderEpoch;
  // null: every partition, those that need no election left out
  r = await elect(null);
  assert.deepEqual(r.results, [
    { topic: 't', partitions: [{ partitionId: 0, errorCode: ErrorCode.NONE, errorMessage: null }] },
  ]);
  assert.deepEqual(state(w.partition('t', 0)), { leader: 1, isr: [2, 3, 1], leaderEpoch: before + 1 });
  r = await elect(null);
  assert.deepEqual(r.results, [{ topic: 't', partitions: [] }]);
  w.stop();
});

test('ElectLeaders UNCLEAN: ELECTION_NOT_NEEDED with a leader; a live replica outside a dead ISR is elected; none live: ELIGIBLE_LEADERS_NOT_AVAILABLE', async () => {
  const w = new World();
  await w.start(1);
  await w.start(2);
  await w.start(3);
  await w.topic('t', [
    [1, 2],
    [1, 3],
    [2, 3],
  ]);
  await w.setIsr('t', 0, [1]);
  await w.setIsr('t', 1, [1]);
  await w.kill(1);
  await w.kill(3);
  // t-0: ISR [1] dead, 2 live (unclean off: leaderless); t-1: ISR [1], 3 dead too; t-2: led by 2
  assert.equal(w.partition('t', 0).leader, -1);
  const r = await w.controller.electLeaders(ElectionType.UNCLEAN, [{ topic: 't', partitions: [0, 1, 2] }]);
  assert.deepEqual(
    r.results[0].partitions.map((p) => [p.partitionId, p.errorCode]),
    [
      [0, ErrorCode.NONE],
      [1, ErrorCode.ELIGIBLE_LEADERS_NOT_AVAILABLE],
      [2, ErrorCode.ELECTION_NOT_NEEDED],
    ],
  );
  assert.deepEqual(state(w.partition('t', 0)), { leader: 2, isr: [2], leaderEpoch: 2 });
  assert.equal(w.partition('t', 1).leader, -1);
  assert.equal(w.warnings.filter((m) => m.startsWith('unclean leader election: t-0')).length, 1);

  const bad = await w.controller.electLeaders(5, null);
  assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
  w.log.setActive(false);
  const refused = await w.controller.electLeaders(ElectionType.PREFERRED, null);
  assert.equal(refused.errorCode, ErrorCode.NOT_CONTROLLER);
  w.stop();
});

test('auto leader rebalance: every interval, leaderships go back to preferred replicas of brokers above the imbalance share', async () => {
  // sessions longer than the test's simulated time: no broker expires meanwhile
  const w = new World({ sessionTimeoutMs: 1e9 });
  await w.start(1);
  await w.start(2);
  // broker 1 is the preferred replica of 10 partitions
  await w.topic(
    't',
    Array.from({ length: 10 }, () => [1, 2]),
  );
  w.controller.enableAutoLeaderRebalance({ intervalMs: 300_000, imbalancePercentage: 10, env: w.env });
  /** Broker 1 restarts: 2 leads everything, 1 catches up; then `keep` partitions stay on 2. */
  const restartOne = async (keep: number) => {
    await w.kill(1);
    await w.start(1);
    for (let p = 0; p < 10; p++) assert.equal(w.partition('t', p).leader, 2);
    for (let p = 0; p < 10; p++) await w.setIsr('t', p, [2, 1]);
    const back = Array.from({ length: 10 - keep }, (_, i) => i + keep);
    const r = await w.controller.electLeaders(ElectionType.PREFERRED, [{ topic: 't', partitions: back }]);
    assert.ok(r.results[0].partitions.every((p) => p.errorCode === ErrorCode.NONE));
  };

  await restartOne(1);
  w.env.advance(300_000);
  await settle();
  assert.equal(w.partition('t', 0).leader, 2, '1 of 10 (10%) is not above leader.imbalance.per.broker.percentage=10');

  await restartOne(2);
  w.env.advance(299_999);
  await settle();
  assert.deepEqual([w.partition('t', 0).leader, w.partition('t', 1).leader], [2, 2], 'not before the interval');
  w.env.advance(1);
  await settle();
  for (let p = 0; p < 10; p++) assert.equal(w.partition('t', p).leader, 1, `t-${p} back on its preferred replica`);

  // not the active controller: nothing moves; active again: the next round does
  await restartOne(10);
  w.log.setActive(false);
  w.env.advance(300_000);
  await settle();
  assert.equal(w.partition('t', 0).leader, 2);
  w.log.setActive(true);
  w.env.advance(300_000);
  await settle();
  for (let p = 0; p < 10; p++) assert.equal(w.partition('t', p).leader, 1);
  w.stop();
  assert.equal(w.env.pendingTimers, 0, 'stopped: no timer left');
});

test('auto leader rebalance moves at most 1000 leaderships per commit, and all of them in one round', async () => {
  const w = new World({ sessionTimeoutMs: 1e9 });
  await w.start(1);
  await w.start(2);
  await w.topic(
    'many',
    Array.from({ length: 2500 }, () => [1, 2]),
  );
  await w.kill(1);
  await w.start(1);
  const t = w.image.topicsByName.get('many')!;
  // every follower caught up again: the leader (2) asks for them all in one AlterPartition
  const r = await w.controller.alterPartition({
    brokerId: 2,
    brokerEpoch: w.image.brokers.get(2)!.brokerEpoch,
    partitions: t.partitions.map((p) => ({
      topicId: t.topicId,
      partitionIndex: p.partition,
      leaderEpoch: p.leaderEpoch,
      partitionEpoch: p.partitionEpoch,
      newIsr: [2, 1].map((brokerId) => ({ brokerId, brokerEpoch: w.image.brokers.get(brokerId)!.brokerEpoch })),
    })),
  });
  assert.ok(r.partitions.every((p) => p.errorCode === ErrorCode.NONE));
  const from = w.log.batches.length;
  assert.equal(await w.controller.rebalanceLeaders(10), 2500);
  const sizes = w.log.batches.slice(from).map((b) => b.records.length);
  assert.deepEqual(sizes, [1000, 1000, 500]);
  assert.ok(t.partitions.every((p) => p.leader === 1));
  w.stop();
});

test('a node that becomes the active controller elects leaders for the partitions still waiting, unclean where allowed', async () => {
  const log = new MemoryQuorum(0, { active: false });
  const image = new MetadataImage();
  const controller = new Controller(log, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    logger: { warn: () => {} },
  });
  // committed by another leader: broker 1 (the whole ISR) fenced, 2 live, unclean election on cluster-wide
  await log.deliver([
    { type: 'ClusterId', clusterId: 'c' },
    ...[1, 2].map((nodeId) => ({
      type: 'RegisterBroker' as const,
      nodeId,
      incarnationId: `i${nodeId}`,
      listeners: [],
      rack: null,
      fenced: nodeId === 1,
    })),
    { type: 'Config', resourceType: 'broker', resourceName: '', name: 'unclean.leader.election.enable', value: 'true' },
    { type: 'Topic', name: 't', topicId: 'id-t' },
    {
      type: 'Partition',
      topicId: 'id-t',
      partition: 0,
      replicas: [1, 2],
      isr: [1],
      leader: -1,
      leaderEpoch: 1,
      partitionEpoch: 2,
    },
  ]);
  assert.equal(image.topicsByName.get('t')!.partitions[0].leader, -1);
  log.setActive(true);
  await settle();
  assert.deepEqual(state(image.topicsByName.get('t')!.partitions[0]), { leader: 2, isr: [2], leaderEpoch: 2 });
  controller.close();
});

test('unclean elections of one commit: one warning per partition up to 20, then one line with the rest counted', async () => {
  const w = new World({ uncleanLeaderElectionEnable: true });
  await w.start(1);
  await w.start(2);
  await w.topic(
    'wide',
    Array.from({ length: 30 }, () => [1, 2]),
  );
  for (let p = 0; p < 30; p++) await w.setIsr('wide', p, [1]);
  await w.kill(1);
  for (let p = 0; p < 30; p++) assert.deepEqual(state(w.partition('wide', p)), { leader: 2, isr: [2], leaderEpoch: 1 });
  assert.equal(w.warnings.filter((m) => /^unclean leader election: wide-\d+ has/.test(m)).length, 20);
  assert.deepEqual(
    w.warnings.filter((m) => m.includes('more partitions')),
    ['unclean leader election: 10 more partitions in the same commit'],
  );
  w.stop();
});
