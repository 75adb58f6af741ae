/**
 * Deterministic tests of the classic group state machine with simulated
 * time: joins racing with leaves, heartbeats during a rebalance, session
 * expiry during SyncGroup, a rebalance timeout with a member that never
 * rejoins, static membership, MEMBER_ID_REQUIRED and the initial delay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinatorState } from '../../../src/coordinator/group/group-coordinator.ts';
import type { Action, JoinArgs, JoinResult, SyncResult } from '../../../src/coordinator/group/types.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

const config = {
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 100000,
  initialRebalanceDelayMs: 0,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  maxMetadataSize: 4096,
};

let nextToken = 1;

function joinArgs(over: Partial<JoinArgs> = {}): JoinArgs {
  return {
    groupId: 'g',
    memberId: '',
    groupInstanceId: null,
    sessionTimeoutMs: 1000,
    rebalanceTimeoutMs: 5000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    clientId: 'c',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    reason: null,
    ...over,
  };
}

function joins(actions: Action[]): Map<number, JoinResult> {
  return new Map(actions.filter((a) => a.kind === 'join').map((a: any) => [a.token, a.result]));
}
function syncs(actions: Action[]): Map<number, SyncResult> {
  return new Map(actions.filter((a) => a.kind === 'sync').map((a: any) => [a.token, a.result]));
}

/** Joins `n` dynamic members into a fresh Stable group; returns their ids and the generation. */
function stableGroup(s: GroupCoordinatorState, n: number, now = 0) {
  const tokens: number[] = [];
  let actions: Action[] = [];
  for (let i = 0; i < n; i++) {
    const t = nextToken++;
    tokens.push(t);
    actions = actions.concat(s.join(joinArgs({ clientId: `c${i}` }), t, now));
  }
  // First join completes at once (no initial delay, only member); later joins trigger rebalances:
  // drive everyone through rejoin until one generation contains all.
  let ids = tokens.map((t) => joins(actions).get(t)?.memberId).filter((x): x is string => !!x);
  for (let round = 0; round < 5; round++) {
    const g = s.groups.get('g')!;
    if (g.state === 'CompletingRebalance' && g.members.size === n) break;
    actions = [];
    for (const id of [...g.members.keys()])
      actions = actions.concat(s.join(joinArgs({ memberId: id }), nextToken++, now));
  }
  const g = s.groups.get('g')!;
  assert.equal(g.state, 'CompletingRebalance');
  ids = [...g.members.keys()];
  const leader = g.leaderId!;
  const assignments = ids.map((id) => ({ memberId: id, assignment: Buffer.from(`a-${id}`) }));
  for (const id of ids.filter((x) => x !== leader))
    s.sync(
      {
        groupId: 'g',
        generationId: g.generationId,
        memberId: id,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [],
      },
      nextToken++,
      now,
    );
  const out = s.sync(
    {
      groupId: 'g',
      generationId: g.generationId,
      memberId: leader,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments,
    },
    nextToken++,
    now,
  );
  assert.equal(g.state, 'Stable');
  assert.equal([...syncs(out).values()].filter((r) => r.errorCode === ErrorCode.NONE).length, n);
  return { ids, leader, generation: g.generationId };
}

test('a single member joins, becomes leader, syncs and is Stable', () => {
  const s = new GroupCoordinatorState(config);
  const t = nextToken++;
  const j = joins(s.join(joinArgs(), t, 0)).get(t)!;
  assert.equal(j.errorCode, ErrorCode.NONE);
  assert.equal(j.generationId, 1);
  assert.equal(j.leader, j.memberId);
  assert.equal(j.members.length, 1);
  assert.equal(j.protocolName, 'range');
  const st = nextToken++;
  const r = syncs(
    s.sync(
      {
        groupId: 'g',
        generationId: 1,
        memberId: j.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId: j.memberId, assignment: Buffer.from('A') }],
      },
      st,
      1,
    ),
  ).get(st)!;
  assert.equal(r.errorCode, ErrorCode.NONE);
  assert.equal(r.assignment.toString(), 'A');
  assert.equal(s.groups.get('g')!.state, 'Stable');
});

test('MEMBER_ID_REQUIRED hands out an id that the member then joins with (KIP-394)', () => {
  const s = new GroupCoordinatorState(config);
  const t1 = nextToken++;
  const first = joins(s.join(joinArgs({ requireKnownMemberId: true }), t1, 0)).get(t1)!;
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.startsWith('c-'));
  const t2 = nextToken++;
  const second = joins(s.join(joinArgs({ memberId: first.memberId, requireKnownMemberId: true }), t2, 1)).get(t2)!;
  assert.equal(second.errorCode, ErrorCode.NONE);
  assert.equal(second.memberId, first.memberId);
  // an id the coordinator never handed out is refused
  const t3 = nextToken++;
  assert.equal(joins(s.join(joinArgs({ memberId: 'made-up' }), t3, 2)).get(t3)!.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
});

test('three members end up in one generation with one leader who sees all subscriptions', () => {
  const s = new GroupCoordinatorState(config);
  const { ids, leader } = stableGroup(s, 3);
  assert.equal(ids.length, 3);
  assert.ok(ids.includes(leader));
});

test('heartbeats during a rebalance answer REBALANCE_IN_PROGRESS; stale generations are ILLEGAL_GENERATION', () => {
  const s = new GroupCoordinatorState(config);
  const { ids, generation } = stableGroup(s, 2);
  assert.equal(s.heartbeat('g', ids[0], null, generation, 10), ErrorCode.NONE);
  // a new member triggers a rebalance
  s.join(joinArgs({ clientId: 'new' }), nextToken++, 20);
  assert.equal(s.groups.get('g')!.state, 'PreparingRebalance');
  assert.equal(s.heartbeat('g', ids[0], null, generation, 30), ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(s.heartbeat('g', ids[0], null, generation - 1, 30), ErrorCode.ILLEGAL_GENERATION);
  assert.equal(s.heartbeat('g', 'nobody', null, generation, 30), ErrorCode.UNKNOWN_MEMBER_ID);
});

test('a member that never rejoins is dropped when the rebalance timeout passes', () => {
  const s = new GroupCoordinatorState(config);
  const { ids, generation } = stableGroup(s, 2);
  const t = nextToken++;
  s.join(joinArgs({ memberId: ids[0] }), t, 100); // leader or not, its rejoin starts a rebalance only if leader
  const g = s.groups.get('g')!;
  if (g.state !== 'PreparingRebalance') s.join(joinArgs({ clientId: 'x' }), nextToken++, 100);
  assert.equal(g.state, 'PreparingRebalance');
  // keep the rejoined member alive with heartbeats while the other one stays silent
  const done = s.tick(100 + 5000);
  assert.ok(g.generationId > generation);
  assert.equal(g.members.has(ids[1]), false, 'the silent member is removed');
  assert.equal(g.members.has(ids[0]), true);
  assert.equal(g.state, 'CompletingRebalance');
  assert.ok([...joins(done).values()].every((r) => r.errorCode === ErrorCode.NONE));
});

test('a session expiring while others wait in SyncGroup sends them back to rejoin', () => {
  const s = new GroupCoordinatorState(config);
  const tA = nextToken++;
  const a = joins(s.join(joinArgs({ clientId: 'a' }), tA, 0)).get(tA)!;
  // b joins: rebalance; a rejoins; both complete the join phase
  const tB = nextToken++;
  s.join(joinArgs({ clientId: 'b' }), tB, 1);
  const tA2 = nextToken++;
  const res = joins(s.join(joinArgs({ memberId: a.memberId }), tA2, 2));
  const b = res.get(tB)!;
  assert.equal(b.errorCode, ErrorCode.NONE);
  const g = s.groups.get('g')!;
  assert.equal(g.state, 'CompletingRebalance');
  const follower = g.leaderId === a.memberId ? b.memberId : a.memberId;
  const sTok = nextToken++;
  assert.deepEqual(
    s.sync(
      {
        groupId: 'g',
        generationId: g.generationId,
        memberId: follower,
        groupInstanceId: null,
        protocolType: null,
        protocolName: null,
        assignments: [],
      },
      sTok,
      3,
    ),
    [],
  );
  const leader = g.leaderId!;
  // the leader goes silent: its session (joined at t=2, 1000 ms) expires first
  const actions = s.tick(2 + 1000);
  const waiting = syncs(actions).get(sTok);
  assert.equal(waiting?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  assert.equal(g.members.has(leader), false, 'the silent leader is removed');
  assert.equal(g.members.has(follower), true, 'the follower stays and must rejoin');
  assert.equal(g.state, 'PreparingRebalance');
});

test('a leave racing a join: the join phase completes without the leaver', () => {
  const s = new GroupCoordinatorState(config);
  const { ids } = stableGroup(s, 3);
  const g = s.groups.get('g')!;
  const gen = g.generationId;
  const t0 = nextToken++;
  s.join(joinArgs({ memberId: g.leaderId! }), t0, 10); // leader rejoins -> PreparingRebalance
  assert.equal(g.state, 'PreparingRebalance');
  const others = ids.filter((id) => id !== g.leaderId);
  const t1 = nextToken++;
  s.join(joinArgs({ memberId: others[0] }), t1, 11);
  const left = s.leave('g', [{ memberId: others[1], groupInstanceId: null }], 12);
  assert.deepEqual(left.results, [ErrorCode.NONE]);
  const res = joins(left.actions);
  assert.equal(res.get(t0)?.errorCode, ErrorCode.NONE);
  assert.equal(res.get(t1)?.errorCode, ErrorCode.NONE);
  assert.equal(g.generationId, gen + 1);
  assert.equal(g.members.size, 2);
});

test('a static member restarting rejoins without a rebalance; the old incarnation is fenced', () => {
  const s = new GroupCoordinatorState(config);
  const t = nextToken++;
  const first = joins(s.join(joinArgs({ groupInstanceId: 'i-1' }), t, 0)).get(t)!;
  s.sync(
    {
      groupId: 'g',
      generationId: 1,
      memberId: first.memberId,
      groupInstanceId: 'i-1',
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: first.memberId, assignment: Buffer.from('P0') }],
    },
    nextToken++,
    1,
  );
  const g = s.groups.get('g')!;
  assert.equal(g.state, 'Stable');
  const t2 = nextToken++;
  const again = joins(s.join(joinArgs({ groupInstanceId: 'i-1' }), t2, 50)).get(t2)!;
  assert.equal(again.errorCode, ErrorCode.NONE);
  assert.notEqual(again.memberId, first.memberId);
  assert.equal(again.generationId, 1, 'same generation: no rebalance');
  assert.equal(g.state, 'Stable');
  const st = nextToken++;
  const got = syncs(
    s.sync(
      {
        groupId: 'g',
        generationId: 1,
        memberId: again.memberId,
        groupInstanceId: 'i-1',
        protocolType: null,
        protocolName: null,
        assignments: [],
      },
      st,
      51,
    ),
  ).get(st)!;
  assert.equal(got.assignment.toString(), 'P0', 'keeps its assignment');
  assert.equal(s.heartbeat('g', first.memberId, 'i-1', 1, 52), ErrorCode.FENCED_INSTANCE_ID);
});

test('the initial rebalance delay gathers members of a new group into one generation', () => {
  const s = new GroupCoordinatorState({ ...config, initialRebalanceDelayMs: 300 });
  const t1 = nextToken++;
  const t2 = nextToken++;
  assert.equal(s.join(joinArgs({ clientId: 'a' }), t1, 0).length, 0);
  assert.equal(s.join(joinArgs({ clientId: 'b' }), t2, 100).length, 0);
  assert.deepEqual(s.tick(350), [], 'the delay was extended by the second join');
  const done = joins(s.tick(400));
  assert.equal(done.get(t1)?.errorCode, ErrorCode.NONE);
  assert.equal(done.get(t2)?.errorCode, ErrorCode.NONE);
  assert.equal(done.get(t1)?.generationId, 1);
});

test('offset commits: simple consumers, members of the current generation, and fencing', () => {
  const s = new GroupCoordinatorState(config);
  const simple = s.commitOffsets(
    {
      groupId: 'solo',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [{ topic: 't', partition: 0, offset: 5, leaderEpoch: -1, metadata: null }],
    },
    1,
  );
  assert.equal(simple.errorCode, ErrorCode.NONE);
  for (const r of simple.records) s.applyOffset(r);
  assert.equal(s.fetchOffsets('solo', [{ topic: 't', partitions: [0, 1] }])[0].partitions[0].value?.offset, 5);
  assert.equal(s.fetchOffsets('solo', [{ topic: 't', partitions: [0, 1] }])[0].partitions[1].value, null);

  const { ids, generation } = stableGroup(s, 1);
  const ok = s.commitOffsets(
    {
      groupId: 'g',
      generationId: generation,
      memberId: ids[0],
      groupInstanceId: null,
      offsets: [{ topic: 't', partition: 1, offset: 9, leaderEpoch: 0, metadata: 'm' }],
    },
    5,
  );
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(
    s.commitOffsets(
      { groupId: 'g', generationId: generation + 1, memberId: ids[0], groupInstanceId: null, offsets: [] },
      5,
    ).errorCode,
    ErrorCode.ILLEGAL_GENERATION,
  );
  assert.equal(
    s.commitOffsets({ groupId: 'g', generationId: generation, memberId: 'x', groupInstanceId: null, offsets: [] }, 5)
      .errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
  assert.equal(
    s.commitOffsets({ groupId: 'g', generationId: -1, memberId: '', groupInstanceId: null, offsets: [] }, 5).errorCode,
    ErrorCode.UNKNOWN_MEMBER_ID,
  );
  assert.equal(s.deleteGroup('g', 6).errorCode, ErrorCode.NON_EMPTY_GROUP);
});

test('offsets of an empty group expire after the retention; a live group keeps them', () => {
  const s = new GroupCoordinatorState({ ...config, offsetsRetentionMs: 1000 });
  const c = s.commitOffsets(
    {
      groupId: 'solo',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null }],
    },
    0,
  );
  for (const r of c.records) s.applyOffset(r);
  assert.deepEqual(s.expireOffsets(999), []);
  const expired = s.expireOffsets(1000);
  assert.equal(expired.length, 1);
  assert.equal(expired[0].value, null);
});

test('an empty group whose offsets expired is removed; one with offsets left stays', () => {
  const s = new GroupCoordinatorState({ ...config, offsetsRetentionMs: 1000 });
  const t = nextToken++;
  const j = joins(s.join(joinArgs({ groupId: 'gone' }), t, 0)).get(t)!;
  s.leave('gone', [{ memberId: j.memberId, groupInstanceId: null }], 1);
  assert.equal(s.groups.get('gone')?.state, 'Empty');
  const c = s.commitOffsets(
    {
      groupId: 'kept',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [{ topic: 't', partition: 0, offset: 1, leaderEpoch: -1, metadata: null }],
    },
    5000,
  );
  for (const r of c.records) s.applyOffset(r);
  assert.deepEqual(s.expireEmptyGroups(6000), ['gone']);
  assert.equal(s.groups.has('gone'), false);
  assert.equal(s.groups.has('kept'), true);
});

test('the leader re-sending its JoinGroup while the group awaits its SyncGroup gets the members again, and its assignment completes the rebalance', () => {
  const s = new GroupCoordinatorState(config);
  const tA = nextToken++;
  const a = joins(s.join(joinArgs({ clientId: 'a' }), tA, 0)).get(tA)!;
  const tB = nextToken++;
  s.join(joinArgs({ clientId: 'b' }), tB, 1);
  const tA2 = nextToken++;
  const first = joins(s.join(joinArgs({ memberId: a.memberId }), tA2, 2));
  const g = s.groups.get('g')!;
  assert.equal(g.state, 'CompletingRebalance');
  const leader = g.leaderId!;
  const follower = [...g.members.keys()].find((id) => id !== leader)!;
  const generation = g.generationId;
  assert.equal([...first.values()].find((r) => r.memberId === leader)!.members.length, 2);
  // The follower waits in SyncGroup; the leader's JoinGroup answer is lost and it joins again, same protocols.
  const fTok = nextToken++;
  assert.deepEqual(
    s.sync(
      {
        groupId: 'g',
        generationId: generation,
        memberId: follower,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [],
      },
      fTok,
      3,
    ),
    [],
  );
  const tL = nextToken++;
  const again = joins(s.join(joinArgs({ memberId: leader }), tL, 4)).get(tL)!;
  assert.equal(again.errorCode, ErrorCode.NONE);
  assert.equal(again.generationId, generation);
  assert.equal(again.leader, leader);
  assert.equal(
    again.skipAssignment,
    false,
    'the leader must compute the assignment (skipAssignment is for a static leader rejoining a Stable group)',
  );
  assert.deepEqual(again.members.map((m) => m.memberId).sort(), [leader, follower].sort());
  // A follower re-sending its JoinGroup gets the generation without the members.
  const tF = nextToken++;
  const fAgain = joins(s.join(joinArgs({ memberId: follower }), tF, 5)).get(tF)!;
  assert.equal(fAgain.generationId, generation);
  assert.deepEqual(fAgain.members, []);
  const lTok = nextToken++;
  const out = syncs(
    s.sync(
      {
        groupId: 'g',
        generationId: generation,
        memberId: leader,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [
          { memberId: leader, assignment: Buffer.from('L') },
          { memberId: follower, assignment: Buffer.from('F') },
        ],
      },
      lTok,
      6,
    ),
  );
  assert.equal(g.state, 'Stable');
  assert.equal(out.get(lTok)!.assignment.toString(), 'L');
  assert.equal(out.get(fTok)!.assignment.toString(), 'F');
});
