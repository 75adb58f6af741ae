/**
 * The group coordinator on a cluster hosts only the groups of the
 * __consumer_offsets partitions this node leads (Kafka's model): every group
 * API for another group answers NOT_COORDINATOR; after an election the
 * partition's groups and offsets are loaded from its log
 * (COORDINATOR_LOAD_IN_PROGRESS meanwhile); a resignation unloads them and
 * answers waiting JoinGroups NOT_COORDINATOR. Driven through the service
 * with a store whose loads and writes the test releases, and simulated time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinatorService, type GroupStore } from '../../../src/coordinator/group/service.ts';
import { ConsumerGroupService } from '../../../src/coordinator/group/consumer/service.ts';
import type { OffsetRecord } from '../../../src/coordinator/group/group-coordinator.ts';
import { partitionForGroup } from '../../../src/coordinator/group/offsets-records.ts';
import type { GroupSnapshot, JoinArgs } from '../../../src/coordinator/group/types.ts';
import { ErrorCode, errorName } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

type Stored = OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null };

const PARTITIONS = 6;

/** A group id that lives on __consumer_offsets partition `p` (the n-th such id). */
function groupOn(p: number, n = 0): string {
  for (let i = 0, found = 0; ; i++) {
    const id = `group-${i}`;
    if (partitionForGroup(id, PARTITIONS) === p && found++ === n) return id;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** The __consumer_offsets partitions as logs: writes land in their group's partition; loads and writes wait while gated. */
class PartitionedStore implements GroupStore {
  readonly logs = new Map<number, Stored[]>();
  loads: number[] = [];
  loadGate: Promise<void> | null = null;
  writeGate: Promise<void> | null = null;
  async write(records: Stored[]): Promise<void> {
    if (this.writeGate) await this.writeGate;
    for (const r of records) this.append(partitionForGroup(r.groupId, PARTITIONS), r);
  }
  append(p: number, r: Stored): void {
    let l = this.logs.get(p);
    if (!l) this.logs.set(p, (l = []));
    l.push(r);
  }
  async load(partition?: number): Promise<Stored[]> {
    assert.notEqual(partition, undefined, 'a partitioned coordinator loads one partition at a time');
    this.loads.push(partition!);
    if (this.loadGate) await this.loadGate;
    return [...(this.logs.get(partition!) ?? [])];
  }
}

const config = {
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 100_000,
  initialRebalanceDelayMs: 3000,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  maxMetadataSize: 4096,
};

function setup() {
  const env = new SimulatedEnv(7);
  const store = new PartitionedStore();
  const leaders = new Set<number>();
  const svc = new GroupCoordinatorService(config, store, env);
  svc.hostElectedPartitionsOnly({ partitionCount: () => PARTITIONS, isLeader: (p) => leaders.has(p) });
  const consumer = new ConsumerGroupService(
    { classicGroupInUse: () => false },
    () => new Map([['t', { topicId: 'tid', partitions: 2 }]]),
    env,
  );
  svc.attachConsumerGroups(consumer);
  return { env, store, leaders, svc, consumer };
}

const offsetRecord = (groupId: string, offset: number): OffsetRecord => ({
  groupId,
  topic: 't',
  partition: 0,
  value: { offset, leaderEpoch: 0, metadata: '', commitTimestamp: 1, expireTimestamp: -1 },
});

const commit = (groupId: string, offset: number) => ({
  groupId,
  generationId: -1,
  memberId: '',
  groupInstanceId: null,
  offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: 0, metadata: null }],
});

function committed(svc: GroupCoordinatorService, groupId: string): number | null {
  return svc.state.fetchOffsets(groupId, [{ topic: 't', partitions: [0] }])[0].partitions[0].value?.offset ?? null;
}

function joinArgs(groupId: string, memberId = ''): JoinArgs {
  return {
    groupId,
    memberId,
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    reason: null,
  };
}

const consumerJoin = (groupId: string) => ({
  groupId,
  memberId: 'm1',
  memberEpoch: 0,
  instanceId: null,
  rackId: null,
  rebalanceTimeoutMs: 10_000,
  subscribedTopicNames: ['t'],
  subscribedTopicRegex: null,
  serverAssignor: null,
  topicPartitions: [],
});

test('before any election every group API answers NOT_COORDINATOR; a partition led here but not hosted yet answers COORDINATOR_LOAD_IN_PROGRESS', async () => {
  const { leaders, svc, consumer } = setup();
  const g = groupOn(2);
  const NC = ErrorCode.NOT_COORDINATOR;
  assert.equal((await svc.join(joinArgs(g))).errorCode, NC);
  const sync = await svc.sync({
    groupId: g,
    generationId: 1,
    memberId: 'm',
    groupInstanceId: null,
    protocolType: null,
    protocolName: null,
    assignments: [],
  });
  assert.equal(sync.errorCode, NC);
  assert.equal(svc.heartbeat(g, 'm', null, 1), NC);
  assert.deepEqual(svc.leave(g, [{ memberId: 'm', groupInstanceId: null }]), { groupError: NC, results: [] });
  assert.deepEqual(await svc.commitOffsets(commit(g, 5)), { errorCode: NC, perPartition: [NC] });
  assert.equal(await svc.deleteGroup(g), NC);
  assert.equal((await svc.deleteOffsets(g, [{ topic: 't', partition: 0 }])).errorCode, NC);
  assert.equal(consumer.heartbeat(consumerJoin(g)).errorCode, NC);
  assert.equal(consumer.describe([g])[0].errorCode, NC);
  // request errors are answered as such wherever the request is sent
  assert.equal(consumer.heartbeat({ ...consumerJoin(g), groupId: '' }).errorCode, ErrorCode.INVALID_REQUEST);
  assert.equal((await svc.join(joinArgs(''))).errorCode, ErrorCode.INVALID_GROUP_ID);
  assert.equal(svc.state.groups.size, 0, 'nothing was created');

  leaders.add(2);
  assert.equal(errorName(svc.coordinatorError(g)), 'COORDINATOR_LOAD_IN_PROGRESS');
  assert.equal(errorName(svc.coordinatorError(groupOn(3))), 'NOT_COORDINATOR');
  svc.close();
  consumer.close();
});

test('an election loads the partition from its log (COORDINATOR_LOAD_IN_PROGRESS meanwhile); other partitions stay NOT_COORDINATOR', async () => {
  const { store, svc } = setup();
  const mine = groupOn(1);
  const mineToo = groupOn(1, 1);
  const other = groupOn(4);
  store.append(1, offsetRecord(mine, 11));
  store.append(1, offsetRecord(mineToo, 21));
  store.append(1, offsetRecord(mineToo, 22)); // the later record wins
  store.append(1, {
    groupId: mineToo,
    snapshot: {
      groupId: mineToo,
      protocolType: 'consumer',
      generationId: 3,
      protocolName: 'range',
      leader: null,
      currentStateTimestamp: 1,
      members: [],
    },
  });
  store.append(1, offsetRecord(other, 99)); // not partition 1's group: never hosted here
  store.append(4, offsetRecord(other, 41));

  const gate = deferred();
  store.loadGate = gate.promise;
  const loaded = svc.onElection(1, 0);
  assert.equal(errorName(svc.coordinatorError(mine)), 'COORDINATOR_LOAD_IN_PROGRESS');
  assert.equal(svc.loading, true);
  assert.deepEqual(await svc.commitOffsets(commit(mine, 12)), {
    errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    perPartition: [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS],
  });
  assert.equal(errorName(svc.coordinatorError(other)), 'NOT_COORDINATOR');
  gate.resolve();
  await loaded;

  assert.deepEqual(store.loads, [1], 'only the elected partition is read');
  assert.equal(svc.loading, false);
  assert.equal(svc.coordinatorError(mine), ErrorCode.NONE);
  assert.equal(committed(svc, mine), 11);
  assert.equal(committed(svc, mineToo), 22);
  assert.equal(svc.state.groups.get(mineToo)?.generationId, 3, 'the group metadata is loaded too');
  assert.equal(svc.state.offsets.has(other), false, "another partition's group is not loaded");
  assert.equal(errorName(svc.coordinatorError(other)), 'NOT_COORDINATOR');
  assert.deepEqual(await svc.commitOffsets(commit(mine, 13)), { errorCode: ErrorCode.NONE, perPartition: [0] });
  assert.equal(committed(svc, mine), 13);

  // the same election again (an ISR change) reads nothing; a newer leader epoch reloads
  await svc.onElection(1, 0);
  assert.deepEqual(store.loads, [1]);
  await svc.onElection(1, 2);
  assert.deepEqual(store.loads, [1, 1]);
  assert.equal(committed(svc, mine), 13, 'the reload reads back what was written');
  assert.deepEqual(svc.hostedPartitions(), [{ partition: 1, leaderEpoch: 2, loaded: true }]);
  svc.close();
});

test('a resignation unloads the partition: its groups answer NOT_COORDINATOR, a waiting JoinGroup is answered so at once', async () => {
  const { env, store, svc, consumer } = setup();
  const g = groupOn(3);
  const kept = groupOn(5);
  await Promise.all([svc.onElection(3, 0), svc.onElection(5, 0)]);
  assert.equal((await svc.commitOffsets(commit(g, 7))).errorCode, ErrorCode.NONE);
  assert.equal((await svc.commitOffsets(commit(kept, 8))).errorCode, ErrorCode.NONE);
  // the first member waits out group.initial.rebalance.delay.ms
  const joining = svc.join(joinArgs(g));
  assert.equal(consumer.heartbeat(consumerJoin(groupOn(3, 1))).errorCode, ErrorCode.NONE);

  svc.onResignation(3);
  const j = await joining;
  assert.equal(errorName(j.errorCode), 'NOT_COORDINATOR');
  assert.equal(svc.state.groups.has(g), false);
  assert.equal(svc.state.offsets.has(g), false);
  assert.equal(consumer.state.hasGroup(groupOn(3, 1)), false, 'the KIP-848 group is unloaded too');
  assert.equal(consumer.describe([groupOn(3, 1)])[0].errorCode, ErrorCode.NOT_COORDINATOR);
  assert.equal(svc.heartbeat(g, j.memberId, null, 1), ErrorCode.NOT_COORDINATOR);
  assert.equal(committed(svc, kept), 8, "the other partition's groups stay");
  env.advance(10_000); // timers of the unloaded group do nothing
  assert.equal(svc.state.groups.has(g), false);

  // elected again: what was written is loaded back
  await svc.onElection(3, 1);
  assert.equal(committed(svc, g), 7);
  assert.deepEqual(
    store.logs.get(3)?.map((r) => r.groupId),
    [g],
  );
  svc.close();
  consumer.close();
});

test('a commit written while the partition is unloaded is answered but not applied; the next load reads it from the log', async () => {
  const { store, svc } = setup();
  const g = groupOn(0);
  await svc.onElection(0, 0);
  const gate = deferred();
  store.writeGate = gate.promise;
  const committing = svc.commitOffsets(commit(g, 30));
  svc.onResignation(0);
  gate.resolve();
  assert.deepEqual(await committing, { errorCode: ErrorCode.NONE, perPartition: [0] });
  assert.equal(svc.state.offsets.has(g), false, 'not applied to a group hosted elsewhere now');
  store.writeGate = null;
  await svc.onElection(0, 1);
  assert.equal(committed(svc, g), 30);
  svc.close();
});

test('a resignation while the partition loads drops the load; a failed load leaves the partition unhosted', async () => {
  const { store, svc } = setup();
  const g = groupOn(2);
  store.append(2, offsetRecord(g, 5));
  const gate = deferred();
  store.loadGate = gate.promise;
  const loading = svc.onElection(2, 0);
  svc.onResignation(2);
  gate.resolve();
  await loading;
  assert.equal(svc.state.offsets.has(g), false);
  assert.equal(svc.coordinatorError(g), ErrorCode.NOT_COORDINATOR);

  store.loadGate = Promise.reject(new Error('read failed'));
  store.loadGate.catch(() => {});
  await svc.onElection(2, 1);
  assert.equal(svc.coordinatorError(g), ErrorCode.NOT_COORDINATOR);
  assert.deepEqual(svc.hostedPartitions(), []);
  svc.close();
});
