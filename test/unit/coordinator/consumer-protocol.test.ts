/**
 * Randomized runs of the consumer-protocol coordinator (KIP-848) against
 * simulated clients with fast-check and simulated time: joins (v0 and v1,
 * dynamic and static), heartbeats, lost responses, leaves, static leaves and
 * restarts, crashes, time passing (session expiry) and topic changes. After
 * every step: no partition is held by two clients, nor by two members in the
 * coordinator, and a client holds only what the coordinator attributes to
 * it. Once the chaos stops the group converges: Stable, every subscribed
 * partition held exactly once, and (uniform, same subscriptions) counts
 * within one of each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConsumerGroups } from '../../../src/coordinator/group/consumer/consumer-groups.ts';
import { addPartition, fromWire, partitionsOf, toWire } from '../../../src/coordinator/group/consumer/assignment.ts';
import type { Assignment, HeartbeatRequest, TopicInfo } from '../../../src/coordinator/group/consumer/types.ts';
import type { ConsumerMember } from '../../../src/coordinator/group/consumer/consumer-group.ts';
import { ErrorCode, errorName } from '../../../src/protocol/error-codes.ts';

const SESSION = 1000;

type Cmd =
  | { k: 'join'; isStatic: boolean; v0: boolean; subs: number; assignor: number }
  | { k: 'beat'; i: number; lost: boolean }
  | { k: 'leave'; i: number }
  | { k: 'restart'; i: number }
  | { k: 'crash'; i: number }
  | { k: 'advance'; ms: number }
  | { k: 'topics'; what: 'grow' | 'create' | 'delete'; n: number; push: boolean };

interface Client {
  memberId: string;
  instanceId: string | null;
  v0: boolean;
  subs: { names: string[] | null; regex: string | null };
  assignor: string | null;
  epoch: number;
  owned: Assignment;
  /** Partitions the client was told to give up and still holds: it finishes revoking before its next heartbeat. */
  revoking: Assignment;
  status: 'joining' | 'active' | 'left' | 'gone';
  lastSuccess: number;
  sendFull: boolean;
}

const cmdArb = (nSubs: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('join' as const),
        isStatic: fc.boolean(),
        v0: fc.boolean(),
        subs: fc.nat(nSubs - 1),
        assignor: fc.nat(2),
      }),
    },
    {
      weight: 10,
      arbitrary: fc.record({ k: fc.constant('beat' as const), i: fc.nat(7), lost: fc.nat(6).map((n) => n === 0) }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('leave' as const), i: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const), i: fc.nat(7) }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('crash' as const), i: fc.nat(7) }) },
    { weight: 3, arbitrary: fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 700 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('topics' as const),
        what: fc.constantFrom('grow' as const, 'create' as const, 'delete' as const),
        n: fc.integer({ min: 1, max: 3 }),
        push: fc.boolean(),
      }),
    },
  );

function run(
  cmds: Cmd[],
  subsChoices: { names: string[] | null; regex: string | null }[],
  assignors: (string | null)[],
  homogeneous: boolean,
) {
  let ids = 0;
  let topicIds = 0;
  const tid = () => `00000000-0000-0000-0000-${String(++topicIds).padStart(12, '0')}`;
  const s = new ConsumerGroups({
    sessionTimeoutMs: SESSION,
    heartbeatIntervalMs: 100,
    newMemberId: () => `v0-${++ids}`,
  });
  let topics = new Map<string, TopicInfo>([
    ['a', { topicId: tid(), partitions: 3 }],
    ['b', { topicId: tid(), partitions: 4 }],
  ]);
  let now = 0;
  const clients: Client[] = [];
  const log: string[] = [];

  const request = (c: Client): HeartbeatRequest => {
    const base = { groupId: 'g', memberId: c.memberId, instanceId: c.instanceId, apiVersion: c.v0 ? 0 : 1 };
    if (c.status === 'joining') {
      return {
        ...base,
        memberEpoch: 0,
        rebalanceTimeoutMs: 2 * SESSION,
        subscribedTopicNames: c.subs.names,
        subscribedTopicRegex: c.subs.regex,
        serverAssignor: c.assignor,
        topicPartitions: [],
      };
    }
    if (c.sendFull) {
      return {
        ...base,
        memberEpoch: c.epoch,
        rebalanceTimeoutMs: 2 * SESSION,
        subscribedTopicNames: c.subs.names,
        subscribedTopicRegex: c.subs.regex,
        serverAssignor: c.assignor,
        topicPartitions: toWire(c.owned),
      };
    }
    return { ...base, memberEpoch: c.epoch, topicPartitions: toWire(c.owned) };
  };

  const beat = (c: Client, lost = false) => {
    if (c.status === 'left' || c.status === 'gone') return;
    c.revoking = new Map();
    const r = s.heartbeat(request(c), now, topics);
    log.push(
      `${now} ${c.memberId || '(new)'} e${c.epoch} ${c.status} -> ${errorName(r.errorCode)} ${r.memberId} e${r.memberEpoch} ${JSON.stringify(r.assignment)}${lost ? ' LOST' : ''}`,
    );
    if (lost) {
      c.sendFull = true;
      return;
    }
    if (r.errorCode === ErrorCode.FENCED_MEMBER_EPOCH || r.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
      c.owned = new Map();
      c.revoking = new Map();
      c.status = 'joining';
      c.epoch = 0;
      return;
    }
    if (r.errorCode === ErrorCode.UNRELEASED_INSTANCE_ID) return;
    assert.equal(r.errorCode, ErrorCode.NONE, `unexpected ${errorName(r.errorCode)}: ${r.errorMessage}`);
    c.memberId = r.memberId!;
    c.epoch = r.memberEpoch;
    c.status = 'active';
    c.lastSuccess = now;
    c.sendFull = false;
    if (r.assignment) {
      const next = fromWire(r.assignment.topicPartitions);
      for (const [t, p] of partitionsOf(c.owned)) if (!next.get(t)?.has(p)) addPartition(c.revoking, t, p);
      c.owned = next;
    }
  };

  /** A client that heard nothing for a session gives up its partitions and rejoins (as the Java client does). */
  const clientTimeouts = () => {
    for (const c of clients) {
      if (c.status === 'active' && now - c.lastSuccess >= SESSION) {
        c.owned = new Map();
        c.revoking = new Map();
        c.status = 'joining';
        c.epoch = 0;
      }
    }
  };

  const check = (where: string) => {
    const holder = new Map<string, string>();
    for (const c of clients) {
      for (const [t, p] of [...partitionsOf(c.owned), ...partitionsOf(c.revoking)]) {
        const k = `${t}:${p}`;
        assert.ok(
          !holder.has(k),
          `${where}: ${k} held by clients ${holder.get(k)} and ${c.memberId}\n${log.join('\n')}`,
        );
        holder.set(k, c.memberId);
      }
    }
    const g = s.group('g');
    if (!g) return;
    const coord = new Map<string, string>();
    for (const m of g.members.values()) {
      for (const [t, p] of [...partitionsOf(m.assigned), ...partitionsOf(m.pendingRevocation)]) {
        const k = `${t}:${p}`;
        assert.ok(!coord.has(k), `${where}: ${k} held by members ${coord.get(k)} and ${m.memberId}`);
        coord.set(k, m.memberId);
        assert.equal(g.ownerOf(t, p), m.memberId);
      }
    }
    for (const c of clients) {
      for (const [t, p] of [...partitionsOf(c.owned), ...partitionsOf(c.revoking)]) {
        assert.equal(
          coord.get(`${t}:${p}`),
          c.memberId,
          `${where}: client ${c.memberId} holds ${t}:${p} the coordinator gives ${coord.get(`${t}:${p}`)}\n${log.join('\n')}`,
        );
      }
    }
  };

  for (const cmd of cmds) {
    const c = 'i' in cmd && clients.length > 0 ? clients[cmd.i % clients.length] : undefined;
    switch (cmd.k) {
      case 'join': {
        if (clients.length >= 8) break;
        const n = clients.length;
        const nc: Client = {
          memberId: cmd.v0 ? '' : `m${n}`,
          instanceId: cmd.isStatic ? `inst${n}` : null,
          v0: cmd.v0,
          subs: subsChoices[cmd.subs % subsChoices.length],
          assignor: assignors[cmd.assignor % assignors.length],
          epoch: 0,
          owned: new Map(),
          revoking: new Map(),
          status: 'joining',
          lastSuccess: now,
          sendFull: false,
        };
        clients.push(nc);
        beat(nc);
        break;
      }
      case 'beat':
        if (c) beat(c, cmd.lost);
        break;
      case 'leave':
        if (c && c.status === 'active') {
          // A static member leaves with -2 (it means to come back), a dynamic one with -1.
          s.heartbeat(
            { groupId: 'g', memberId: c.memberId, instanceId: c.instanceId, memberEpoch: c.instanceId ? -2 : -1 },
            now,
            topics,
          );
          c.owned = new Map();
          c.revoking = new Map();
          c.status = 'left';
        }
        break;
      case 'restart':
        // A static client starts again under a new member id; a dynamic one that left joins afresh.
        if (c && (c.status === 'left' || c.status === 'gone')) {
          c.memberId = c.v0 ? '' : `${c.memberId.split('#')[0]}#${++ids}`;
          c.status = 'joining';
          c.epoch = 0;
          c.lastSuccess = now;
          beat(c);
        }
        break;
      case 'crash':
        if (c && c.status !== 'left') {
          c.owned = new Map();
          c.revoking = new Map();
          c.status = 'gone';
        }
        break;
      case 'advance':
        now += cmd.ms;
        clientTimeouts();
        s.tick(now);
        break;
      case 'topics': {
        const next = new Map(topics);
        if (cmd.what === 'grow') {
          const name = [...next.keys()][cmd.n % next.size];
          next.set(name, { ...next.get(name)!, partitions: next.get(name)!.partitions + cmd.n });
        } else if (cmd.what === 'create' && !next.has('c')) next.set('c', { topicId: tid(), partitions: cmd.n });
        else if (cmd.what === 'delete' && next.has('b')) next.delete('b');
        else if (cmd.what === 'delete') next.set('b', { topicId: tid(), partitions: cmd.n });
        topics = next;
        if (cmd.push) s.onMetadata(topics);
        break;
      }
    }
    check(cmd.k);
  }

  // The chaos stops: every client still running heartbeats every 100 ms.
  for (let round = 0; round < 40; round++) {
    now += 100;
    clientTimeouts();
    s.tick(now);
    for (const c of clients) beat(c);
    check('converging');
  }
  const g = s.group('g');
  const running = clients.filter((c) => c.status === 'active');
  assert.equal(
    running.length,
    clients.filter((c) => c.status !== 'left' && c.status !== 'gone').length,
    'every running client is in',
  );
  if (!g || running.length === 0) return;
  assert.equal(
    g.members.size,
    running.length,
    `members ${[...g.members.keys()]} vs clients ${running.map((c) => c.memberId)}`,
  );
  assert.equal(g.state, 'Stable', log.slice(-30).join('\n'));
  for (const c of running) {
    const m: ConsumerMember = g.members.get(c.memberId)!;
    assert.deepEqual(toWire(c.owned), toWire(m.assigned));
    assert.equal(c.epoch, g.groupEpoch);
  }
  // Coverage: every partition of a topic someone subscribes to is held.
  const held = new Set<string>();
  for (const c of running) for (const [t, p] of partitionsOf(c.owned)) held.add(`${t}:${p}`);
  for (const [, info] of g.subscribedTopics)
    for (let p = 0; p < info.partitions; p++)
      assert.ok(held.has(`${info.topicId}:${p}`), `${info.topicId}:${p} unassigned`);
  assert.equal(
    held.size,
    [...g.subscribedTopics.values()].reduce((n, t) => n + t.partitions, 0),
  );
  if (homogeneous) {
    const counts = running.map((c) => [...partitionsOf(c.owned)].length);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `uniform counts ${counts}`);
  }
}

test('uniform, same subscriptions: safety after every step, then Stable, full coverage and balance', () => {
  const subs = [{ names: ['a', 'b', 'c'], regex: null }];
  fc.assert(
    fc.property(fc.array(cmdArb(1), { minLength: 1, maxLength: 40 }), (cmds) =>
      run(cmds, subs, [null, 'uniform'], true),
    ),
    { numRuns: 150 },
  );
});

test('mixed subscriptions (names, regex) and assignors: safety after every step, then Stable and full coverage', () => {
  const subs = [
    { names: ['a'], regex: null },
    { names: ['a', 'b'], regex: null },
    { names: null, regex: '[bc]' },
    { names: ['c'], regex: null },
  ];
  fc.assert(
    fc.property(fc.array(cmdArb(subs.length), { minLength: 1, maxLength: 40 }), (cmds) =>
      run(cmds, subs, [null, 'uniform', 'range'], false),
    ),
    { numRuns: 150 },
  );
});
