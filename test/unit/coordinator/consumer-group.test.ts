/**
 * Deterministic scenarios of the consumer-protocol coordinator (KIP-848)
 * with simulated time: joining, revocation before assignment, epoch fencing,
 * session and revocation timeouts, static membership, validation errors,
 * regex subscriptions, describe / list / offset-commit checks and the wire
 * handlers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsumerGroups } from '../../../src/coordinator/group/consumer/consumer-groups.ts';
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  TopicsMetadata,
} from '../../../src/coordinator/group/consumer/types.ts';
import {
  consumerGroupDescribeHandler,
  consumerGroupHeartbeatHandler,
} from '../../../src/server/handlers/consumer-group.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type {
  ConsumerGroupDescribeResponseInput,
  ConsumerGroupHeartbeatResponseInput,
} from '../../../src/protocol/generated/messages.ts';

const T1 = '00000000-0000-0000-0000-000000000001';
const T2 = '00000000-0000-0000-0000-000000000002';
const topics: TopicsMetadata = new Map([
  ['orders', { topicId: T1, partitions: 4 }],
  ['payments', { topicId: T2, partitions: 2 }],
]);

function newGroups(over: ConstructorParameters<typeof ConsumerGroups>[0] = {}) {
  let n = 0;
  return new ConsumerGroups({
    sessionTimeoutMs: 1000,
    heartbeatIntervalMs: 100,
    newMemberId: () => `gen-${++n}`,
    ...over,
  });
}

function join(memberId: string, over: Partial<HeartbeatRequest> = {}): HeartbeatRequest {
  return {
    groupId: 'g',
    memberId,
    memberEpoch: 0,
    rebalanceTimeoutMs: 5000,
    subscribedTopicNames: ['orders'],
    topicPartitions: [],
    ...over,
  };
}

function beat(
  memberId: string,
  memberEpoch: number,
  owned: HeartbeatResponse['assignment'] | null,
  over: Partial<HeartbeatRequest> = {},
): HeartbeatRequest {
  return { groupId: 'g', memberId, memberEpoch, topicPartitions: owned ? owned.topicPartitions : null, ...over };
}

test('a first member gets every partition and the group is Stable at epoch 1', () => {
  const s = newGroups();
  const r = s.heartbeat(join('a'), 0, topics);
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.memberId, 'a');
  assert.equal(r.memberEpoch, 1);
  assert.equal(r.heartbeatIntervalMs, 100);
  assert.deepEqual(r.assignment, { topicPartitions: [{ topicId: T1, partitions: [0, 1, 2, 3] }] });
  const [d] = s.describe(['g']);
  assert.equal(d.groupState, 'Stable');
  assert.equal(d.groupEpoch, 1);
  assert.equal(d.assignmentEpoch, 1);
  assert.equal(d.assignorName, 'uniform');
  assert.deepEqual(d.members[0].assignment.topicPartitions, [
    { topicId: T1, topicName: 'orders', partitions: [0, 1, 2, 3] },
  ]);
  // A plain heartbeat with nothing new carries no assignment.
  const r2 = s.heartbeat(beat('a', 1, r.assignment), 10);
  assert.equal(r2.memberEpoch, 1);
  assert.equal(r2.assignment, null);
});

test('revocation before assignment: the new member gets partitions only after the old owner released them', () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a'), 0, topics);
  const b1 = s.heartbeat(join('b'), 1);
  // b is at the new epoch but its target partitions are still a's.
  assert.equal(b1.memberEpoch, 2);
  assert.deepEqual(b1.assignment, { topicPartitions: [] });
  assert.equal(s.describe(['g'])[0].groupState, 'Reconciling');
  const bTarget = s.describe(['g'])[0].members.find((m) => m.memberId === 'b')!.targetAssignment
    .topicPartitions[0].partitions;
  assert.equal(bTarget.length, 2);

  // a is told to give up b's share; it stays at epoch 1 while it still owns them.
  const a2 = s.heartbeat(beat('a', 1, a1.assignment), 2);
  assert.equal(a2.memberEpoch, 1);
  const aKeeps = a2.assignment!.topicPartitions[0].partitions;
  assert.equal(aKeeps.length, 2);
  assert.ok(aKeeps.every((p) => !bTarget.includes(p)));
  // Heartbeating again without having revoked changes nothing, and b still waits.
  assert.equal(s.heartbeat(beat('a', 1, a1.assignment), 3).memberEpoch, 1);
  const b2 = s.heartbeat(beat('b', 2, b1.assignment), 4);
  assert.equal(b2.assignment, null);
  // a releases: it moves to epoch 2; then b receives its partitions.
  const a3 = s.heartbeat(beat('a', 1, a2.assignment), 5);
  assert.equal(a3.memberEpoch, 2);
  const b3 = s.heartbeat(beat('b', 2, b1.assignment), 6);
  assert.deepEqual(b3.assignment!.topicPartitions[0].partitions, bTarget);
  assert.equal(s.describe(['g'])[0].groupState, 'Stable');
});

test('epoch fencing: a stale or future epoch is FENCED_MEMBER_EPOCH; the previous epoch with a subset is accepted', () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a'), 0, topics);
  s.heartbeat(join('b'), 1);
  const a2 = s.heartbeat(beat('a', 1, a1.assignment), 2);
  const a3 = s.heartbeat(beat('a', 1, a2.assignment), 3);
  assert.equal(a3.memberEpoch, 2);
  // The answer with epoch 2 was lost: epoch 1 with owned ⊆ assigned is fine.
  assert.equal(s.heartbeat(beat('a', 1, a2.assignment), 4).errorCode, ErrorCode.NONE);
  // Epoch 1 while claiming partitions it no longer has: fenced.
  assert.equal(s.heartbeat(beat('a', 1, a1.assignment), 5).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal(s.heartbeat(beat('a', 7, a2.assignment), 6).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  s.heartbeat(join('c'), 7);
  s.heartbeat(beat('a', 2, a2.assignment), 8);
  // An epoch the member never had (b is at 2, its previous epoch is 0) is fenced.
  const r = s.heartbeat(beat('b', 0 + 1, null), 9);
  assert.equal(r.errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal(r.memberId, null);
  // A fenced member rejoins with epoch 0 under its id and gets its assignment again.
  const back = s.heartbeat(join('b'), 10);
  assert.equal(back.errorCode, ErrorCode.NONE);
  assert.ok(back.memberEpoch >= 2);
});

test('session expiry removes a member and its partitions go to the others', () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a'), 0, topics);
  const b1 = s.heartbeat(join('b'), 0);
  let a = s.heartbeat(beat('a', 1, a1.assignment), 0);
  a = s.heartbeat(beat('a', 1, a.assignment), 0);
  s.heartbeat(beat('b', b1.memberEpoch, b1.assignment), 0);
  assert.equal(s.describe(['g'])[0].groupState, 'Stable');
  // a keeps heartbeating, b stops.
  s.heartbeat(beat('a', a.memberEpoch, a.assignment), 600);
  assert.equal(s.nextDeadline(), 1000);
  assert.deepEqual(s.tick(999), []);
  assert.deepEqual(s.tick(1000), [{ groupId: 'g', memberId: 'b' }]);
  const [d] = s.describe(['g']);
  assert.equal(d.members.length, 1);
  assert.equal(d.groupEpoch, 3);
  const a2 = s.heartbeat(beat('a', a.memberEpoch, a.assignment), 1001);
  assert.equal(a2.memberEpoch, 3);
  assert.deepEqual(a2.assignment, { topicPartitions: [{ topicId: T1, partitions: [0, 1, 2, 3] }] });
  assert.equal(s.heartbeat(beat('b', b1.memberEpoch, b1.assignment), 1002).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  assert.equal(s.nextDeadline(), 2001);
});

test('a member that does not revoke within its rebalance timeout is fenced and its partitions move', () => {
  const s = newGroups({ sessionTimeoutMs: 60_000 });
  const a1 = s.heartbeat(join('a', { rebalanceTimeoutMs: 300 }), 0, topics);
  const b1 = s.heartbeat(join('b'), 10);
  s.heartbeat(beat('a', 1, a1.assignment), 20); // told to revoke at t=20
  s.heartbeat(beat('a', 1, a1.assignment), 200); // still owns everything
  assert.equal(s.nextDeadline(), 320);
  assert.deepEqual(s.tick(320), [{ groupId: 'g', memberId: 'a' }]);
  const b2 = s.heartbeat(beat('b', b1.memberEpoch, b1.assignment), 330);
  assert.deepEqual(b2.assignment, { topicPartitions: [{ topicId: T1, partitions: [0, 1, 2, 3] }] });
  assert.equal(s.heartbeat(beat('a', 1, a1.assignment), 340).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test("leaving (-1) frees the member's partitions at once", () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a'), 0, topics);
  const b1 = s.heartbeat(join('b'), 0);
  const left = s.heartbeat(beat('a', 1, null, { memberEpoch: -1 }), 1);
  assert.deepEqual([left.errorCode, left.memberId, left.memberEpoch], [ErrorCode.NONE, 'a', -1]);
  const b2 = s.heartbeat(beat('b', b1.memberEpoch, b1.assignment), 2);
  assert.equal(b2.assignment!.topicPartitions[0].partitions.length, 4);
  void a1;
  assert.equal(s.heartbeat(beat('a', -1, null), 3).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // The last member leaving leaves an Empty group behind.
  s.heartbeat(beat('b', -1, null), 4);
  assert.equal(s.describe(['g'])[0].groupState, 'Empty');
  assert.deepEqual(s.listGroups(), [
    { groupId: 'g', protocolType: 'consumer', groupState: 'Empty', groupType: 'consumer' },
  ]);
  assert.equal(s.deleteGroup('g'), ErrorCode.NONE);
  assert.equal(s.hasGroup('g'), false);
  assert.equal(s.describe(['g'])[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});

test('static membership: a member that left with -2 rejoins under a new id with its assignment and no rebalance', () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a', { instanceId: 'ia' }), 0, topics);
  const b1 = s.heartbeat(join('b', { instanceId: 'ib' }), 0);
  let a = s.heartbeat(beat('a', 1, a1.assignment, { instanceId: 'ia' }), 0);
  a = s.heartbeat(beat('a', 1, a.assignment, { instanceId: 'ia' }), 0);
  const b = s.heartbeat(beat('b', b1.memberEpoch, b1.assignment, { instanceId: 'ib' }), 0);
  const bParts = b.assignment!.topicPartitions[0].partitions;
  const epoch = s.describe(['g'])[0].groupEpoch;

  // While b is still in the group, its instance id cannot be taken.
  assert.equal(s.heartbeat(join('b2', { instanceId: 'ib' }), 1).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
  // Another member id cannot heartbeat or leave for it.
  assert.equal(s.heartbeat(beat('zz', 2, null, { instanceId: 'ib' }), 1).errorCode, ErrorCode.FENCED_INSTANCE_ID);
  const left = s.heartbeat(beat('b', b.memberEpoch, null, { memberEpoch: -2, instanceId: 'ib' }), 2);
  assert.equal(left.memberEpoch, -2);
  // a does not get b's partitions meanwhile.
  assert.equal(s.heartbeat(beat('a', a.memberEpoch, a.assignment, { instanceId: 'ia' }), 3).assignment, null);

  const back = s.heartbeat(join('b2', { instanceId: 'ib' }), 4);
  assert.equal(back.errorCode, ErrorCode.NONE);
  assert.equal(back.memberId, 'b2');
  assert.deepEqual(back.assignment!.topicPartitions[0].partitions, bParts);
  assert.equal(back.memberEpoch, epoch);
  const [d] = s.describe(['g']);
  assert.equal(d.groupEpoch, epoch);
  assert.deepEqual(d.members.map((m) => m.memberId).sort(), ['a', 'b2']);
  assert.equal(d.groupState, 'Stable');
});

test('a static member that left and never came back is removed when its session expires', () => {
  const s = newGroups();
  const a1 = s.heartbeat(join('a', { instanceId: 'ia' }), 0, topics);
  s.heartbeat(beat('a', a1.memberEpoch, null, { memberEpoch: -2, instanceId: 'ia' }), 100);
  assert.deepEqual(s.tick(1099), []);
  assert.deepEqual(s.tick(1100), [{ groupId: 'g', memberId: 'a' }]);
  assert.equal(s.describe(['g'])[0].groupState, 'Empty');
  // The instance id is free again.
  assert.equal(s.heartbeat(join('a2', { instanceId: 'ia' }), 1200).errorCode, ErrorCode.NONE);
});

test('request validation and coordinator errors', () => {
  const s = newGroups({ maxSize: 2, classicGroupInUse: (id) => id === 'classic' });
  const code = (r: HeartbeatRequest, v?: number) => s.heartbeat({ ...r, apiVersion: v }, 0, topics).errorCode;
  assert.equal(code(join('a', { groupId: '' })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('')), ErrorCode.INVALID_REQUEST, 'v1: the client makes the member id');
  assert.equal(code(join('a', { rebalanceTimeoutMs: -1 })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('a', { topicPartitions: null })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('a', { topicPartitions: [{ topicId: T1, partitions: [0] }] })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('a', { subscribedTopicNames: null })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('a', { instanceId: '' })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(join('a', { rackId: '' })), ErrorCode.INVALID_REQUEST);
  assert.equal(code(beat('a', -3, null)), ErrorCode.INVALID_REQUEST);
  assert.equal(code(beat('a', -2, null)), ErrorCode.INVALID_REQUEST, 'a static leave needs the instance id');
  assert.equal(code(join('a', { serverAssignor: 'sticky' })), ErrorCode.UNSUPPORTED_ASSIGNOR);
  assert.equal(
    code(join('a', { subscribedTopicNames: null, subscribedTopicRegex: '(' })),
    ErrorCode.INVALID_REGULAR_EXPRESSION,
  );
  assert.equal(code(join('a', { groupId: 'classic' })), ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(code(beat('a', 3, null)), ErrorCode.UNKNOWN_MEMBER_ID, 'unknown group');
  assert.equal(s.hasGroup('g'), false, 'failed joins leave no group behind');
  assert.equal(code(join('a')), ErrorCode.NONE);
  assert.equal(code(join('b')), ErrorCode.NONE);
  assert.equal(code(join('c')), ErrorCode.GROUP_MAX_SIZE_REACHED);
  assert.equal(code(beat('nobody', 1, null)), ErrorCode.UNKNOWN_MEMBER_ID);
  // v0: the coordinator makes the member id.
  const s0 = newGroups();
  const r = s0.heartbeat({ ...join(''), apiVersion: 0 }, 0, topics);
  assert.deepEqual([r.errorCode, r.memberId], [ErrorCode.NONE, 'gen-1']);
});

test('subscription changes and new topics bump the group epoch; a regex picks up new topics', () => {
  const s = newGroups();
  const a1 = s.heartbeat(
    join('a', { subscribedTopicNames: null, subscribedTopicRegex: 'pay.*', serverAssignor: 'range' }),
    0,
    topics,
  );
  assert.deepEqual(a1.assignment, { topicPartitions: [{ topicId: T2, partitions: [0, 1] }] });
  assert.equal(s.describe(['g'])[0].assignorName, 'range');
  const T3 = '00000000-0000-0000-0000-000000000003';
  const more = new Map([
    ...topics,
    ['payouts', { topicId: T3, partitions: 1 }],
    ['__consumer_offsets', { topicId: 'x', partitions: 50 }],
  ]);
  const a2 = s.heartbeat(beat('a', 1, a1.assignment), 10, more);
  assert.equal(a2.memberEpoch, 2);
  assert.deepEqual(a2.assignment, {
    topicPartitions: [
      { topicId: T2, partitions: [0, 1] },
      { topicId: T3, partitions: [0] },
    ],
  });
  // Switching to names: payments is revoked first.
  const a3 = s.heartbeat(
    beat('a', 2, a2.assignment, { subscribedTopicNames: ['orders', 'payouts'], subscribedTopicRegex: '' }),
    20,
  );
  assert.equal(a3.memberEpoch, 2);
  assert.deepEqual(a3.assignment, { topicPartitions: [{ topicId: T3, partitions: [0] }] });
  const a4 = s.heartbeat(beat('a', 2, a3.assignment), 30);
  assert.equal(a4.memberEpoch, 3);
  assert.deepEqual(a4.assignment, {
    topicPartitions: [
      { topicId: T1, partitions: [0, 1, 2, 3] },
      { topicId: T3, partitions: [0] },
    ],
  });
  // Partitions added to a topic (onMetadata) change the target too.
  s.onMetadata(new Map([...more, ['orders', { topicId: T1, partitions: 5 }]]));
  assert.equal(s.describe(['g'])[0].groupEpoch, 4);
  const a5 = s.heartbeat(beat('a', 3, a4.assignment), 40);
  assert.deepEqual(a5.assignment!.topicPartitions[0].partitions, [0, 1, 2, 3, 4]);
});

test('offset commits and fetches are checked against the member epoch', () => {
  const s = newGroups();
  assert.equal(s.validateOffsetCommit('g', '', -1), ErrorCode.NONE, 'no group: a simple commit');
  const a1 = s.heartbeat(join('a'), 0, topics);
  assert.equal(s.validateOffsetCommit('g', 'a', a1.memberEpoch), ErrorCode.NONE);
  assert.equal(s.validateOffsetCommit('g', 'a', a1.memberEpoch, 8), ErrorCode.UNSUPPORTED_VERSION);
  assert.equal(s.validateOffsetCommit('g', '', -1), ErrorCode.UNKNOWN_MEMBER_ID, 'the group has members');
  assert.equal(s.validateOffsetCommit('g', 'x', 1), ErrorCode.UNKNOWN_MEMBER_ID);
  s.heartbeat(join('b'), 1);
  let a = s.heartbeat(beat('a', 1, a1.assignment), 2);
  a = s.heartbeat(beat('a', 1, a.assignment), 3);
  assert.equal(a.memberEpoch, 2);
  assert.equal(s.validateOffsetCommit('g', 'a', 1), ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(s.validateOffsetCommit('g', 'a', 2), ErrorCode.NONE);
  assert.equal(s.validateOffsetFetch('g', null, -1), ErrorCode.NONE);
  assert.equal(s.validateOffsetFetch('g', 'a', 1), ErrorCode.STALE_MEMBER_EPOCH);
  assert.equal(s.validateOffsetFetch('g', 'a', 2), ErrorCode.NONE);
  assert.deepEqual([...s.subscribedTopicNames('g')], ['orders']);
  assert.equal(s.deleteGroup('g'), ErrorCode.NON_EMPTY_GROUP);
});

test('handlers map the wire fields and versions', () => {
  const s = newGroups();
  const svc = {
    heartbeat: (r: HeartbeatRequest) => s.heartbeat(r, 0, topics),
    describe: (ids: readonly string[]) => s.describe(ids, topics),
  };
  const ctx = (apiVersion: number) =>
    ({
      apiKey: 68,
      apiVersion,
      correlationId: 1,
      clientId: 'cli',
      conn: { socket: { remoteAddress: '10.0.0.1' } },
    }) as any;
  const hb = consumerGroupHeartbeatHandler(svc);
  const r = hb(
    {
      groupId: 'g',
      memberId: '',
      memberEpoch: 0,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: 3000,
      subscribedTopicNames: ['orders'],
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: [],
    },
    ctx(0),
  ) as ConsumerGroupHeartbeatResponseInput; // these handlers answer synchronously
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.memberId, 'gen-1');
  const d = consumerGroupDescribeHandler(svc)(
    { groupIds: ['g', 'nope'], includeAuthorizedOperations: false },
    ctx(0),
  ) as ConsumerGroupDescribeResponseInput;
  assert.equal(d.throttleTimeMs, 0);
  assert.equal(d.groups[0].members[0].clientId, 'cli');
  assert.equal(d.groups[0].members[0].clientHost, '/10.0.0.1');
  assert.equal(d.groups[1].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
});
