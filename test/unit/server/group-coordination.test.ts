/**
 * Group coordination on a cluster of three brokers, seen from node 1: the
 * image registers brokers 1, 2 and 3 and spreads the leaders of
 * __consumer_offsets over them. FindCoordinator answers the leader of the
 * group's partition (never a fenced broker); this node's group APIs answer
 * NOT_COORDINATOR for groups of partitions it does not lead; when it becomes
 * leader of a partition it loads the groups and committed offsets in that
 * partition's log, and when it stops leading it unloads them. Driven with
 * records applied to the image and the replica manager, as the controller
 * does, and the handlers called directly; simulated time for the groups.
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
import type { Partition } from '../../../src/server/partition.ts';
import { followOffsetsLeadership, OFFSETS_TOPIC, OffsetsTopicStore } from '../../../src/server/group-store.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  offsetCommitHandler,
  offsetDeleteHandler,
  offsetFetchHandler,
  partitionExistsIn,
  syncGroupHandler,
} from '../../../src/server/handlers/groups.ts';
import {
  consumerGroupDescribeHandler,
  consumerGroupHeartbeatHandler,
} from '../../../src/server/handlers/consumer-group.ts';
import { GroupCoordinatorService } from '../../../src/coordinator/group/service.ts';
import { ConsumerGroupService, topicsFromImage } from '../../../src/coordinator/group/consumer/service.ts';
import { encodeStored, partitionForGroup } from '../../../src/coordinator/group/offsets-records.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';
import { ErrorCode, errorName } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

const ME = 1;
const PARTITIONS = 3;
const OFFSETS_ID = 'offsets-topic-id';
const DATA_ID = 'data-topic-id';
const ADVERTISED = { host: '127.0.0.1', port: 19092 };

/** A group id on __consumer_offsets partition `p` (the n-th such id). */
function groupOn(p: number, n = 0): string {
  for (let i = 0, found = 0; ; i++) {
    const id = `group-${i}`;
    if (partitionForGroup(id, PARTITIONS) === p && found++ === n) return id;
  }
}

const broker = (nodeId: number): MetadataRecord => ({
  type: 'RegisterBroker',
  nodeId,
  incarnationId: `incarnation-${nodeId}`,
  listeners: [{ name: 'PLAINTEXT', host: `10.0.0.${nodeId}`, port: 9092 }],
  rack: null,
});

const partition = (topicId: string, index: number, replicas: number[], leader: number): MetadataRecord => ({
  type: 'Partition',
  topicId,
  partition: index,
  replicas,
  isr: replicas,
  leader,
  leaderEpoch: 0,
  partitionEpoch: 0,
});

/** __consumer_offsets: partition 0 led here (node 2 a replica), 1 led by node 2 (this node a replica), 2 by node 3 alone. */
const offsetsTopic: MetadataRecord[] = [
  { type: 'Topic', name: OFFSETS_TOPIC, topicId: OFFSETS_ID },
  partition(OFFSETS_ID, 0, [ME, 2], ME),
  partition(OFFSETS_ID, 1, [2, ME], 2),
  partition(OFFSETS_ID, 2, [3], 3),
];

/**
 * The other in-sync replicas of the partitions this node leads fetch what is
 * appended as soon as it is (the writes of the group coordinator wait for
 * them: group-store-acks.test.ts tests that wait; here, what is written).
 */
function followersFetchAtOnce(rm: ReplicaManager): void {
  const done = new WeakSet<Partition>();
  const replicate = (p: Partition) => {
    if (done.has(p)) return;
    done.add(p);
    const append = p.appendAsLeader.bind(p);
    p.appendAsLeader = (records) => {
      const info = append(records);
      queueMicrotask(() => {
        for (const id of p.isr) if (id !== ME) p.updateFollowerEndOffset(id, p.log.logEndOffset);
      });
      return info;
    };
  };
  for (const p of rm.all()) replicate(p);
  rm.onLeadershipChange((p) => replicate(p));
}

type CreateTopics = Broker['controller']['createTopics'];

async function cluster(opts: { withOffsetsTopic: boolean }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-group-coordination-'));
  const config = loadBrokerConfig({
    overrides: {
      'node.id': String(ME),
      'log.dirs': dir,
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'offsets.topic.num.partitions': String(PARTITIONS),
    },
  });
  const image = new MetadataImage();
  const initial: MetadataRecord[] = [
    broker(1),
    broker(2),
    broker(3),
    { type: 'Topic', name: 'data', topicId: DATA_ID },
    partition(DATA_ID, 0, [ME], ME),
    ...(opts.withOffsetsTopic ? offsetsTopic : []),
  ];
  for (const r of initial) image.apply(r);
  const logger = pino({ level: 'silent' });
  const rm = await ReplicaManager.open(image, config, logger);
  followersFetchAtOnce(rm);
  /** Commits a metadata batch as the controller does: the image first, then the replica manager. */
  const commit = async (batch: MetadataRecord[]) => {
    for (const r of batch) image.apply(r);
    await rm.onMetadata(batch);
  };
  const controller = {
    createTopics: (async () => [
      { errorCode: ErrorCode.POLICY_VIOLATION, errorMessage: 'refused by the test' },
    ]) as CreateTopics,
  };
  const b = {
    config,
    logger,
    clusterId: 'test-cluster',
    nodeId: ME,
    image,
    controller,
    replicas: rm,
    advertised: ADVERTISED,
  } as unknown as Broker;
  const env = new SimulatedEnv(11);
  const groups = new GroupCoordinatorService(
    {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: 3000,
      maxSize: config.groupMaxSize,
      offsetsRetentionMs: config.offsetsRetentionMs,
      maxMetadataSize: config.offsetMetadataMaxBytes,
    },
    new OffsetsTopicStore(b),
    env,
  );
  const consumerGroups = new ConsumerGroupService({ classicGroupInUse: () => false }, topicsFromImage(image), env);
  groups.attachConsumerGroups(consumerGroups);
  await followOffsetsLeadership(b, groups);
  const api = {
    findCoordinator: findCoordinatorHandler(b),
    join: joinGroupHandler(groups),
    sync: syncGroupHandler(groups),
    heartbeat: heartbeatHandler(groups),
    leave: leaveGroupHandler(groups),
    commit: offsetCommitHandler(groups, partitionExistsIn(image)),
    fetch: offsetFetchHandler(groups),
    describe: describeGroupsHandler(groups),
    list: listGroupsHandler(groups),
    deleteGroups: deleteGroupsHandler(groups),
    offsetDelete: offsetDeleteHandler(groups),
    consumerHeartbeat: consumerGroupHeartbeatHandler(consumerGroups),
    consumerDescribe: consumerGroupDescribeHandler(consumerGroups),
  };
  return {
    image,
    rm,
    commit,
    controller,
    groups,
    api,
    async close() {
      groups.close();
      consumerGroups.close();
      await rm.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls a handler as the dispatcher would, at `version`; the answer as the encoder would get it. */
async function call(handler: (req: any, ctx: RequestContext) => unknown, version: number, req: object): Promise<any> {
  const ctx = {
    apiKey: 0,
    apiVersion: version,
    correlationId: 1,
    clientId: 'test',
    conn: { socket: { remoteAddress: '127.0.0.1' } },
  } as unknown as RequestContext;
  return await handler(req, ctx);
}

const findOne = (api: { findCoordinator: unknown }, key: string, version = 3) =>
  call(api.findCoordinator as never, version, { key, keyType: 0, coordinatorKeys: [key] });

const commitReq = (groupId: string, offset: number) => ({
  groupId,
  generationIdOrMemberEpoch: -1,
  memberId: '',
  groupInstanceId: null,
  retentionTimeMs: -1,
  topics: [
    {
      name: 'data',
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: offset,
          committedLeaderEpoch: -1,
          commitTimestamp: -1,
          committedMetadata: '',
        },
      ],
    },
  ],
});

/** OffsetFetch v8 of one group's data-0: [error code, committed offset]. */
async function fetchCommitted(api: { fetch: unknown }, groupId: string): Promise<[string, number | null]> {
  const r = await call(api.fetch as never, 8, {
    groupId: '',
    topics: null,
    groups: [{ groupId, topics: [{ name: 'data', partitionIndexes: [0] }] }],
    requireStable: false,
  });
  const g = r.groups[0];
  return [errorName(g.errorCode), g.topics[0]?.partitions[0]?.committedOffset ?? null];
}

const joinReq = (groupId: string) => ({
  groupId,
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 10_000,
  memberId: '',
  groupInstanceId: null,
  protocolType: 'consumer',
  protocols: [{ name: 'range', metadata: Buffer.from('subscription') }],
  reason: null,
});

test('FindCoordinator answers the leader of the group partition at its registered address; never a fenced broker, COORDINATOR_NOT_AVAILABLE without a leader', async () => {
  const c = await cluster({ withOffsetsTopic: true });
  try {
    const v3 = await findOne(c.api, groupOn(0));
    assert.deepEqual(
      [errorName(v3.errorCode), v3.nodeId, v3.host, v3.port],
      ['NONE', ME, ADVERTISED.host, ADVERTISED.port],
      'this node: its advertised address',
    );
    const keys = [groupOn(0), groupOn(1), groupOn(2), groupOn(1, 1)];
    const v4 = await call(c.api.findCoordinator as never, 4, { key: '', keyType: 0, coordinatorKeys: keys });
    assert.deepEqual(
      v4.coordinators.map((x: { key: string; nodeId: number; host: string; port: number; errorCode: number }) => [
        x.key,
        x.nodeId,
        x.host,
        x.port,
        x.errorCode,
      ]),
      [
        [keys[0], 1, ADVERTISED.host, ADVERTISED.port, 0],
        [keys[1], 2, '10.0.0.2', 9092, 0],
        [keys[2], 3, '10.0.0.3', 9092, 0],
        [keys[3], 2, '10.0.0.2', 9092, 0],
      ],
    );

    // the leader of partition 2 is fenced: no coordinator to send the client to
    (c.image.brokers.get(3) as { fenced?: boolean }).fenced = true;
    const fenced = await findOne(c.api, groupOn(2));
    assert.deepEqual([errorName(fenced.errorCode), fenced.nodeId], ['COORDINATOR_NOT_AVAILABLE', -1]);
    assert.match(fenced.errorMessage, /broker 3.*fenced/);
    (c.image.brokers.get(3) as { fenced?: boolean }).fenced = false;

    // partition 2 loses its leader
    await c.commit([{ type: 'PartitionChange', topicId: OFFSETS_ID, partition: 2, leader: -1, isr: [] }]);
    const none = await findOne(c.api, groupOn(2));
    assert.deepEqual([errorName(none.errorCode), none.nodeId], ['COORDINATOR_NOT_AVAILABLE', -1]);
    assert.match(none.errorMessage, /__consumer_offsets-2 has no leader/);

    // transactional ids: no transaction coordinator yet, as before
    const txn = await call(c.api.findCoordinator as never, 3, { key: 'tx', keyType: 1, coordinatorKeys: [] });
    assert.equal(errorName(txn.errorCode), 'COORDINATOR_NOT_AVAILABLE');
  } finally {
    await c.close();
  }
});

test('every group API for a group of a partition another broker leads answers NOT_COORDINATOR; ListGroups lists only this node’s groups', async () => {
  const c = await cluster({ withOffsetsTopic: true });
  try {
    const mine = groupOn(0);
    const theirs = groupOn(1); // node 2 leads it; this node is a follower of the partition
    const ok = await call(c.api.commit as never, 8, commitReq(mine, 5));
    assert.equal(ok.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    assert.equal(
      (await call(c.api.consumerHeartbeat as never, 0, { ...consumerJoin(groupOn(0, 1)) })).errorCode,
      ErrorCode.NONE,
    );

    const NC = 'NOT_COORDINATOR';
    const join = await call(c.api.join as never, 3, joinReq(theirs));
    assert.equal(errorName(join.errorCode), NC);
    const sync = await call(c.api.sync as never, 3, {
      groupId: theirs,
      generationId: 1,
      memberId: 'm',
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    });
    assert.equal(errorName(sync.errorCode), NC);
    const hb = await call(c.api.heartbeat as never, 3, {
      groupId: theirs,
      generationId: 1,
      memberId: 'm',
      groupInstanceId: null,
    });
    assert.equal(errorName(hb.errorCode), NC);
    const leave0 = await call(c.api.leave as never, 0, { groupId: theirs, memberId: 'm', members: [] });
    assert.equal(errorName(leave0.errorCode), NC);
    const leave3 = await call(c.api.leave as never, 3, {
      groupId: theirs,
      memberId: '',
      members: [{ memberId: 'm', groupInstanceId: null }],
    });
    assert.deepEqual([errorName(leave3.errorCode), leave3.members], [NC, []]);
    const commit = await call(c.api.commit as never, 8, commitReq(theirs, 5));
    assert.equal(errorName(commit.topics[0].partitions[0].errorCode), NC);
    assert.deepEqual(await fetchCommitted(c.api, theirs), [NC, null]);
    const fetch7 = await call(c.api.fetch as never, 7, {
      groupId: theirs,
      topics: [{ name: 'data', partitionIndexes: [0] }],
      groups: [],
      requireStable: false,
    });
    assert.deepEqual([errorName(fetch7.errorCode), fetch7.topics], [NC, []]);
    const fetch1 = await call(c.api.fetch as never, 1, {
      groupId: theirs,
      topics: [{ name: 'data', partitionIndexes: [0] }],
      groups: [],
      requireStable: false,
    });
    assert.equal(errorName(fetch1.topics[0].partitions[0].errorCode), NC, 'v1: the error on each partition');
    const described = await call(c.api.describe as never, 5, {
      groups: [theirs, mine],
      includeAuthorizedOperations: false,
    });
    assert.deepEqual(
      described.groups.map((g: { groupId: string; errorCode: number }) => [g.groupId, errorName(g.errorCode)]),
      [
        [theirs, NC],
        [mine, 'NONE'],
      ],
    );
    const deleted = await call(c.api.deleteGroups as never, 2, { groupsNames: [theirs] });
    assert.equal(errorName(deleted.results[0].errorCode), NC);
    const offsetDelete = await call(c.api.offsetDelete as never, 0, {
      groupId: theirs,
      topics: [{ name: 'data', partitions: [{ partitionIndex: 0 }] }],
    });
    assert.equal(errorName(offsetDelete.errorCode), NC);
    const cgh = await call(c.api.consumerHeartbeat as never, 0, consumerJoin(groupOn(1, 1)));
    assert.equal(errorName(cgh.errorCode), NC);
    const cgd = await call(c.api.consumerDescribe as never, 0, {
      groupIds: [groupOn(1, 1)],
      includeAuthorizedOperations: false,
    });
    assert.equal(errorName(cgd.groups[0].errorCode), NC);
    assert.equal(c.groups.state.groups.has(theirs), false, 'nothing was created for it');

    const listed = await call(c.api.list as never, 5, { statesFilter: [], typesFilter: [] });
    assert.equal(listed.errorCode, ErrorCode.NONE);
    assert.deepEqual(listed.groups.map((g: { groupId: string }) => g.groupId).sort(), [mine, groupOn(0, 1)].sort());
  } finally {
    await c.close();
  }
});

test('leadership lost unloads the partition (a waiting JoinGroup answers NOT_COORDINATOR); leadership gained loads the offsets in its log', async () => {
  const c = await cluster({ withOffsetsTopic: true });
  try {
    const g = groupOn(0);
    assert.equal((await call(c.api.commit as never, 8, commitReq(g, 17))).topics[0].partitions[0].errorCode, 0);
    assert.deepEqual(await fetchCommitted(c.api, g), ['NONE', 17]);
    // a member waits for the group's first rebalance (group.initial.rebalance.delay.ms)
    const joining = call(c.api.join as never, 3, joinReq(groupOn(0, 1)));

    // node 2 leads partition 0 now; this node stays a replica
    await c.commit([{ type: 'PartitionChange', topicId: OFFSETS_ID, partition: 0, leader: 2 }]);
    assert.equal(errorName((await joining).errorCode), 'NOT_COORDINATOR');
    assert.deepEqual(await fetchCommitted(c.api, g), ['NOT_COORDINATOR', null]);
    assert.equal(c.groups.state.offsets.has(g), false, 'unloaded from memory');
    assert.equal((await findOne(c.api, g)).nodeId, 2);

    // and back here (leader epoch 2): the committed offset is read back from the partition's log
    await c.commit([{ type: 'PartitionChange', topicId: OFFSETS_ID, partition: 0, leader: ME }]);
    await c.groups.whenLoaded(0);
    assert.deepEqual(c.groups.hostedPartitions(), [{ partition: 0, leaderEpoch: 2, loaded: true }]);
    assert.deepEqual(await fetchCommitted(c.api, g), ['NONE', 17]);
    assert.equal((await findOne(c.api, g)).nodeId, ME);

    // partition 1: records its leader (node 2) wrote reach this replica's log (by the replica fetcher,
    // once there is one; appended directly here), then this node is elected
    const h = groupOn(1);
    const follower = c.rm.get(OFFSETS_TOPIC, 1)!;
    assert.equal(follower.role, 'follower');
    const written = [
      {
        groupId: h,
        snapshot: {
          groupId: h,
          protocolType: 'consumer',
          generationId: 4,
          protocolName: 'range',
          leader: null,
          currentStateTimestamp: 1,
          members: [],
        },
      },
      {
        groupId: h,
        topic: 'data',
        partition: 0,
        value: { offset: 42, leaderEpoch: 0, metadata: 'm', commitTimestamp: 1, expireTimestamp: -1 },
      },
    ];
    follower.log.append(encodeBatch({ records: written.map((r) => ({ ...encodeStored(r), timestamp: 1 })) }), {
      leaderEpoch: 0,
    });
    assert.deepEqual(await fetchCommitted(c.api, h), ['NOT_COORDINATOR', null]);
    await c.commit([{ type: 'PartitionChange', topicId: OFFSETS_ID, partition: 1, leader: ME }]);
    await c.groups.whenLoaded(1);
    assert.deepEqual(await fetchCommitted(c.api, h), ['NONE', 42]);
    const described = await call(c.api.describe as never, 5, { groups: [h], includeAuthorizedOperations: false });
    assert.deepEqual([described.groups[0].errorCode, described.groups[0].groupState], [0, 'Empty']);
    assert.equal(c.groups.state.groups.get(h)?.generationId, 4);
    // this node writes the partition now
    assert.equal((await call(c.api.commit as never, 8, commitReq(h, 43))).topics[0].partitions[0].errorCode, 0);
    assert.deepEqual(await fetchCommitted(c.api, h), ['NONE', 43]);

    // this node leaves partition 0's replica set: no longer hosted, its groups unloaded
    await c.commit([
      { type: 'PartitionChange', topicId: OFFSETS_ID, partition: 0, replicas: [2], isr: [2], leader: 2 },
    ]);
    assert.equal(c.rm.get(OFFSETS_TOPIC, 0), undefined);
    assert.deepEqual(await fetchCommitted(c.api, g), ['NOT_COORDINATOR', null]);
    assert.deepEqual(
      c.groups.hostedPartitions().map((p) => p.partition),
      [1],
    );
  } finally {
    await c.close();
  }
});

test('FindCoordinator creates __consumer_offsets when it does not exist and answers the new leader; a refused creation answers COORDINATOR_NOT_AVAILABLE', async () => {
  const c = await cluster({ withOffsetsTopic: false });
  try {
    const refused = await findOne(c.api, groupOn(0), 4);
    assert.equal(errorName(refused.coordinators[0].errorCode), 'COORDINATOR_NOT_AVAILABLE');
    assert.match(refused.coordinators[0].errorMessage, /refused by the test/);

    // the controller creates it (as the real one: committed, and the logs of this node's replicas open)
    let creations = 0;
    c.controller.createTopics = (async () => {
      creations++;
      await c.commit(offsetsTopic);
      return [{ errorCode: ErrorCode.NONE, errorMessage: null }];
    }) as CreateTopics;
    const [a, b] = await Promise.all([findOne(c.api, groupOn(0)), findOne(c.api, groupOn(1))]);
    assert.equal(creations, 1, 'one creation for concurrent requests');
    assert.deepEqual([a.errorCode, a.nodeId, b.errorCode, b.nodeId], [0, ME, 0, 2]);
    await c.groups.whenLoaded(0);
    assert.equal((await call(c.api.commit as never, 8, commitReq(groupOn(0), 3))).topics[0].partitions[0].errorCode, 0);
    assert.deepEqual(await fetchCommitted(c.api, groupOn(0)), ['NONE', 3]);
    assert.deepEqual(await fetchCommitted(c.api, groupOn(1)), ['NOT_COORDINATOR', null]);
  } finally {
    await c.close();
  }
});

function consumerJoin(groupId: string) {
  return {
    groupId,
    memberId: 'member-1',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 10_000,
    subscribedTopicNames: ['data'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    topicPartitions: [],
  };
}
