/**
 * The group coordinators' edges driven by a simulated environment (clock,
 * timers and member ids from a seed, util/env.ts): a classic group and a
 * KIP-848 consumer group go through join / sync / heartbeat / session expiry;
 * the same seed gives the same member ids and the same outcome, step by step,
 * and nothing of the real clock or timers is used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinatorService, type GroupStore } from '../../../src/coordinator/group/service.ts';
import { ConsumerGroupService } from '../../../src/coordinator/group/consumer/service.ts';
import type { OffsetRecord } from '../../../src/coordinator/group/group-coordinator.ts';
import type { GroupSnapshot, JoinArgs } from '../../../src/coordinator/group/types.ts';
import type { HeartbeatRequest, TopicInfo } from '../../../src/coordinator/group/consumer/types.ts';
import { errorName } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

type Stored = OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null };

class MemoryStore implements GroupStore {
  readonly written: Stored[] = [];
  async write(records: Stored[]): Promise<void> {
    this.written.push(...records);
  }
  async load(): Promise<Stored[]> {
    return [];
  }
}

const SESSION = 1000;
const config = {
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 100_000,
  initialRebalanceDelayMs: 3000,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  maxMetadataSize: 4096,
};

function joinArgs(clientId: string, memberId = ''): JoinArgs {
  return {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    sessionTimeoutMs: SESSION,
    rebalanceTimeoutMs: 5000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from(`sub-${clientId}`) }],
    clientId,
    clientHost: '/127.0.0.1',
    requireKnownMemberId: true,
    reason: null,
  };
}

/** A classic group from a seed: two members join (KIP-394 ids), sync, heartbeat; one stops and its session expires. */
async function classicRun(seed: number): Promise<{ trace: string[]; ids: string[]; written: number }> {
  const env = new SimulatedEnv(seed);
  const store = new MemoryStore();
  const svc = new GroupCoordinatorService(config, store, env);
  await svc.load();
  const t0 = env.now();
  const trace: string[] = [];
  const log = (what: string, v: object) => trace.push(`${env.now() - t0} ${what} ${JSON.stringify(v)}`);

  const a0 = await svc.join(joinArgs('a'));
  const b0 = await svc.join(joinArgs('b'));
  log('join-a', { e: errorName(a0.errorCode), id: a0.memberId });
  log('join-b', { e: errorName(b0.errorCode), id: b0.memberId });
  // Both come back with their ids; the initial rebalance delay holds the answers until the timer fires.
  const pa = svc.join(joinArgs('a', a0.memberId));
  const pb = svc.join(joinArgs('b', b0.memberId));
  env.advance(config.initialRebalanceDelayMs);
  const [a1, b1] = await Promise.all([pa, pb]);
  for (const [n, r] of [
    ['a', a1],
    ['b', b1],
  ] as const)
    log(`joined-${n}`, {
      e: errorName(r.errorCode),
      gen: r.generationId,
      leader: r.leader,
      members: r.members.map((m) => m.memberId),
    });

  const leader = a1.leader === a1.memberId ? a1 : b1;
  const follower = leader === a1 ? b1 : a1;
  const assignments = [leader, follower].map((m) => ({
    memberId: m.memberId,
    assignment: Buffer.from(`parts-of-${m.memberId}`),
  }));
  const pf = svc.sync({
    groupId: 'g',
    generationId: follower.generationId,
    memberId: follower.memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments: [],
  });
  const pl = svc.sync({
    groupId: 'g',
    generationId: leader.generationId,
    memberId: leader.memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocolName: 'range',
    assignments,
  });
  for (const [n, r] of [
    ['follower', await pf],
    ['leader', await pl],
  ] as const)
    log(`synced-${n}`, { e: errorName(r.errorCode), assignment: r.assignment.toString() });

  // Both heartbeat for a while, then b goes quiet: its session expires and the group rebalances without it.
  for (let i = 0; i < 3; i++) {
    env.advance(SESSION / 2);
    log('hb', {
      a: errorName(svc.heartbeat('g', a1.memberId, null, a1.generationId)),
      b: errorName(svc.heartbeat('g', b1.memberId, null, b1.generationId)),
    });
  }
  env.advance(SESSION / 2);
  log('hb-a', { e: errorName(svc.heartbeat('g', a1.memberId, null, a1.generationId)) });
  env.advance(SESSION / 2 + 1);
  log('expired', { state: svc.state.groups.get('g')!.state, members: [...svc.state.groups.get('g')!.members.keys()] });
  log('hb-a', { e: errorName(svc.heartbeat('g', a1.memberId, null, a1.generationId)) });
  const a2 = await svc.join(joinArgs('a', a1.memberId));
  log('rejoined-a', {
    e: errorName(a2.errorCode),
    gen: a2.generationId,
    leader: a2.leader,
    members: a2.members.map((m) => m.memberId),
  });
  svc.close();
  return { trace, ids: [a0.memberId, b0.memberId], written: store.written.length };
}

test('a classic group driven from a seed: same member ids and outcome twice; another seed, other ids', async () => {
  const first = await classicRun(42);
  const again = await classicRun(42);
  assert.deepEqual(again, first);
  // The ids are the client id and a seeded UUID, as the real ones are.
  for (const id of first.ids)
    assert.match(id, /^[ab]-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The outcome itself: b's session expired after it stopped heartbeating, a alone forms generation 2.
  const last = first.trace.at(-1)!;
  assert.match(last, /rejoined-a .*"gen":2/);
  assert.ok(last.includes(`"members":["${first.ids[0]}"]`), last);
  assert.ok(
    first.trace.some((l) => l.includes('"state":"PreparingRebalance"') && !l.includes(first.ids[1])),
    first.trace.join('\n'),
  );
  const other = await classicRun(43);
  assert.notDeepEqual(other.ids, first.ids);
  assert.deepEqual(
    other.trace.map((l) => l.replace(/[ab]-[0-9a-f-]{36}/g, 'ID')),
    first.trace.map((l) => l.replace(/[ab]-[0-9a-f-]{36}/g, 'ID')),
  );
});

/** A KIP-848 group from a seed: two members join (v0: the coordinator makes their ids), reconcile, one's session expires. */
function consumerRun(seed: number): { trace: string[]; ids: string[] } {
  const env = new SimulatedEnv(seed);
  const topics = new Map<string, TopicInfo>([['t', { topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions: 4 }]]);
  const svc = new ConsumerGroupService({ sessionTimeoutMs: SESSION, heartbeatIntervalMs: 100 }, () => topics, env);
  const t0 = env.now();
  const trace: string[] = [];
  const members = new Map<string, { epoch: number; owned: { topicId: string; partitions: number[] }[] }>();
  const beat = (name: string, memberId: string): string => {
    const m = members.get(memberId);
    const req: HeartbeatRequest = m
      ? { groupId: 'g', memberId, memberEpoch: m.epoch, topicPartitions: m.owned, apiVersion: 0 }
      : {
          groupId: 'g',
          memberId: '',
          memberEpoch: 0,
          rebalanceTimeoutMs: 5000,
          subscribedTopicNames: ['t'],
          topicPartitions: [],
          apiVersion: 0,
        };
    const r = svc.heartbeat(req);
    trace.push(
      `${env.now() - t0} ${name} ${errorName(r.errorCode)} ${r.memberId} e${r.memberEpoch} ${JSON.stringify(r.assignment)}`,
    );
    if (r.memberId)
      members.set(r.memberId, {
        epoch: r.memberEpoch,
        owned: r.assignment ? r.assignment.topicPartitions : (members.get(r.memberId)?.owned ?? []),
      });
    return r.memberId ?? memberId;
  };
  const a = beat('a', '');
  const b = beat('b', '');
  for (let i = 0; i < 4; i++) {
    env.advance(SESSION / 4);
    beat('a', a);
    beat('b', b);
  }
  // b goes quiet; a keeps its session alive until b's has expired.
  for (let i = 0; i < 5; i++) {
    env.advance(SESSION / 4);
    beat('a', a);
  }
  const [g] = svc.describe(['g']);
  trace.push(
    `described ${g.groupState} e${g.groupEpoch} ${JSON.stringify(g.members.map((m) => [m.memberId, m.memberEpoch, m.assignment]))}`,
  );
  svc.close();
  return { trace, ids: [a, b] };
}

test('a KIP-848 group driven from a seed: same member ids and outcome twice; another seed, other ids', () => {
  const first = consumerRun(7);
  assert.deepEqual(consumerRun(7), first);
  for (const id of first.ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(first.ids[0], first.ids[1]);
  // The outcome: b was removed when its session expired, a holds all four partitions.
  const described = first.trace.at(-1)!;
  assert.ok(!described.includes(first.ids[1]), described);
  assert.ok(described.includes(`"${first.ids[0]}"`) && described.includes('"partitions":[0,1,2,3]'), described);
  const other = consumerRun(8);
  assert.notDeepEqual(other.ids, first.ids);
  const anon = (t: string[], ids: string[]) => t.map((l) => ids.reduce((s, id, i) => s.replaceAll(id, `M${i}`), l));
  assert.deepEqual(anon(other.trace, other.ids), anon(first.trace, first.ids));
});
