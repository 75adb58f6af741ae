import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftCore } from '../../../src/raft/core.ts';
import type {
  FetchRequest,
  FetchResponse,
  RaftAction,
  RaftConfig,
  RaftRequest,
  RaftResponse,
  VoteRequest,
  VoteResponse,
} from '../../../src/raft/types.ts';
import { MemoryLog, MemoryStore, type SimChunk } from '../../sim/memory-log.ts';
import { defaults, encode, Harness, logWith, storeAt } from './harness.ts';

const commits = (actions: RaftAction<SimChunk>[]) =>
  actions.filter((a) => a.type === 'commit').map((a) => (a as { highWatermark: number }).highWatermark);

function responses(actions: RaftAction<SimChunk>[]): RaftResponse<SimChunk>[] {
  return actions.filter((a) => a.type === 'respond').map((a) => (a as { response: RaftResponse<SimChunk> }).response);
}

function config(nodeId: number, voters: number[], extra: Partial<RaftConfig> = {}): RaftConfig {
  return { nodeId, voters, clusterId: 'cluster-A', random: () => 0.5, ...defaults, ...extra };
}

function vote(
  candidateId: number,
  candidateEpoch: number,
  lastOffsetEpoch: number,
  lastOffset: number,
  preVote = false,
): VoteRequest {
  return { kind: 'Vote', clusterId: 'cluster-A', candidateId, candidateEpoch, lastOffsetEpoch, lastOffset, preVote };
}

describe('raft core: a quorum of one', () => {
  it('elects itself on the first tick, without waiting for a timeout, and commits once fsynced', () => {
    const h = new Harness([1]);
    const n = h.add(1);
    assert.equal(n.core.nextDeadline(), 0, 'the first tick is due at once');
    h.tick(1);
    assert.equal(n.core.role, 'leader');
    assert.equal(n.core.epoch, 1);
    assert.equal(n.core.leaderId, 1);
    assert.deepEqual(n.store.state, { epoch: 1, votedId: 1, leaderId: 1 });
    assert.equal(n.store.writes, 1, 'one quorum-state write for a quorum of one');
    // the LeaderChange entry is committed once fsynced (flushes complete at once here)
    assert.equal(n.core.highWatermark, 1);
    n.holdFlush = true;
    const batch = h.propose(1, 'a', 'b');
    assert.deepEqual(batch, { baseOffset: 1, lastOffset: 2, epoch: 1 });
    assert.equal(n.core.highWatermark, 1, 'not committed before the fsync completes');
    h.releaseFlush(1);
    assert.equal(n.core.highWatermark, 3);
    assert.deepEqual(commits(n.actions), [1, 3]);
    assert.deepEqual(
      n.actions.filter((a) => a.type === 'leaderChange'),
      [{ type: 'leaderChange', epoch: 1, leaderId: 1 }],
    );
  });

  it('restarts from an existing log (an upgraded single node) as leader of a new epoch, nothing lost', () => {
    const log = new MemoryLog();
    log.appendAsLeader([encode('old-1')], 0);
    log.appendAsLeader([encode('old-2'), encode('old-3')], 0);
    log.completeFlush(log.beginFlush());
    const h = new Harness([1]);
    const n = h.add(1, { log });
    h.tick(1);
    assert.equal(n.core.role, 'leader');
    assert.equal(n.core.highWatermark, 4, 'the old entries and the LeaderChange are committed');
    assert.deepEqual(h.records(1), ['old-1', 'old-2', 'old-3']);
  });

  it('a restarted leader does not resume its epoch: it is elected again in the next one', () => {
    const h = new Harness([1]);
    h.add(1);
    h.tick(1);
    const n = h.restart(1);
    assert.equal(n.core.role, 'resigned');
    assert.equal(n.core.leaderId, -1);
    h.tick(1);
    assert.equal(n.core.role, 'leader');
    assert.equal(n.core.epoch, 2);
  });
});

describe('raft core: elections', () => {
  it('three voters elect one leader that commits what a majority fsynced', () => {
    const h = new Harness([1, 2, 3]);
    h.add(1, { random: () => 0 });
    h.add(2, { random: () => 0.9 });
    h.add(3, { random: () => 0.9 });
    h.runUntil(10_000, () => h.leaders().length === 1 && h.node(1).core.highWatermark > 0);
    assert.equal(h.leaders().length, 1);
    const leader = h.leaders()[0]!;
    assert.equal(leader.id, 1, 'the node whose timeout expires first wins');
    assert.equal(leader.core.epoch, 1);
    for (const id of [2, 3]) {
      assert.equal(h.node(id).core.role, 'follower');
      assert.equal(h.node(id).core.leaderId, 1);
    }
    // a follower that has not fsynced does not count
    h.node(2).holdFlush = true;
    h.node(3).holdFlush = true;
    const hw = leader.core.highWatermark;
    h.propose(1, 'x');
    h.runUntil(h.now + 100);
    assert.equal(leader.core.highWatermark, hw, 'only the leader has fsynced');
    h.node(2).holdFlush = false;
    h.releaseFlush(2);
    h.runUntil(h.now + 1000, () => leader.core.highWatermark > hw);
    assert.equal(leader.core.highWatermark, hw + 1);
    h.runUntil(h.now + 1000, () => h.node(2).core.highWatermark === hw + 1);
    assert.equal(h.node(2).core.highWatermark, hw + 1, 'the follower learns the high watermark');
    assert.deepEqual(h.records(2), ['x']);
  });
});

describe('raft core: votes', () => {
  it('grants one vote per epoch, persisted before the response, and only to an up-to-date log', () => {
    const log = new MemoryLog();
    log.appendAsLeader([encode('a')], 1);
    log.appendAsLeader([encode('b')], 2); // last epoch 2, end offset 2
    const store = new MemoryStore();
    store.write({ epoch: 2, votedId: -1, leaderId: -1 });
    const core = new RaftCore(config(1, [1, 2, 3, 4, 5]), log, store, 0);
    const ask = (req: VoteRequest) =>
      responses(
        core.handle({ type: 'request', now: 10, from: req.candidateId, requestId: 1, request: req }),
      )[0] as VoteResponse;

    // an older last epoch, or the same epoch with a shorter log: refused (the epoch is adopted)
    assert.equal(ask(vote(2, 3, 1, 5)).voteGranted, false);
    assert.equal(core.epoch, 3);
    assert.equal(ask(vote(2, 3, 2, 1)).voteGranted, false);
    assert.equal(store.state!.votedId, -1);
    // an equal log: granted, and on disk before the response is returned
    let written: unknown = null;
    const write = store.write.bind(store);
    store.write = (s) => {
      written = s;
      write(s);
    };
    const granted = ask(vote(3, 3, 2, 2));
    assert.equal(granted.voteGranted, true);
    assert.deepEqual(written, { epoch: 3, votedId: 3, leaderId: -1 });
    // the same candidate again (a retry): granted; another one in the same epoch: refused
    assert.equal(ask(vote(3, 3, 2, 2)).voteGranted, true);
    assert.equal(ask(vote(4, 3, 2, 100)).voteGranted, false);
    // a stale epoch: refused with FENCED_LEADER_EPOCH
    const stale = ask(vote(4, 2, 1, 100));
    assert.equal(stale.voteGranted, false);
    assert.equal(stale.errorCode, 74);
    assert.equal(stale.leaderEpoch, 3);
    // a newer epoch: a new vote
    assert.equal(ask(vote(4, 4, 2, 2)).voteGranted, true);
    assert.deepEqual(store.state, { epoch: 4, votedId: 4, leaderId: -1 });
  });

  it('an observer never votes, and never stands', () => {
    const core = new RaftCore(config(9, [1, 2, 3]), new MemoryLog(), new MemoryStore(), 0);
    assert.equal(core.role, 'observer');
    const out = core.handle({ type: 'request', now: 1, from: 1, requestId: 1, request: vote(1, 1, 0, 0) });
    const r = responses(out)[0] as VoteResponse;
    assert.equal(r.voteGranted, false);
    assert.equal(r.errorCode, 94, 'INCONSISTENT_VOTER_SET');
    const later = core.handle({ type: 'tick', now: 1_000_000 });
    assert.ok(!later.some((a) => a.type === 'send' && a.request.kind === 'Vote'));
    assert.equal(core.role, 'observer');
  });
});

const sends = (actions: RaftAction<SimChunk>[], kind: RaftRequest['kind']) =>
  actions
    .filter((a) => a.type === 'send' && a.request.kind === kind)
    .map((a) => (a as { request: RaftRequest }).request);

/** Three voters where node 1 (the first to time out) leads epoch 1 and both followers know it. */
function threeWithLeader(extra: { config?: Partial<RaftConfig> } = {}): Harness {
  const h = new Harness([1, 2, 3]);
  h.add(1, { random: () => 0, ...extra });
  h.add(2, { random: () => 0.9, ...extra });
  h.add(3, { random: () => 0.7, ...extra });
  h.runUntil(10_000, () => h.leaders().length === 1 && [2, 3].every((id) => h.node(id).core.leaderId === 1));
  assert.equal(h.node(1).core.role, 'leader');
  return h;
}

describe('raft core: pre-vote (KIP-996)', () => {
  it('a partitioned voter that comes back does not disrupt a healthy leader', () => {
    const h = threeWithLeader();
    const epoch = h.node(1).core.epoch;
    for (const other of [1, 2]) {
      h.cut.add(`3>${other}`);
      h.cut.add(`${other}>3`);
    }
    const cutAt = h.now;
    h.runUntil(cutAt + 10_000);
    const n3 = h.node(3);
    assert.ok(sends(n3.actions, 'Vote').length > 0, 'the isolated voter asked for pre-votes');
    assert.ok(
      sends(n3.actions, 'Vote').every((r) => (r as VoteRequest).preVote),
      'it never stood for real without a majority of pre-votes',
    );
    assert.equal(n3.core.epoch, epoch, 'pre-votes do not bump the epoch');
    assert.equal(n3.store.state!.epoch, epoch, 'nor are they persisted');
    h.propose(1, 'while-away');
    h.cut.clear();
    h.runUntil(
      h.now + 5000,
      () => n3.core.role === 'follower' && n3.core.highWatermark === h.node(1).core.highWatermark,
    );
    assert.equal(h.node(1).core.role, 'leader', 'the leader kept its place');
    assert.equal(h.node(1).core.epoch, epoch);
    assert.equal(h.node(1).store.state!.epoch, epoch);
    assert.equal(n3.core.leaderId, 1);
    assert.deepEqual(h.records(3), ['while-away']);
  });

  it('a follower that heard from its leader within the fetch timeout refuses a pre-vote; later it grants it', () => {
    const h = threeWithLeader();
    const n2 = h.node(2);
    const ask = (now: number): VoteResponse => {
      const request = vote(3, n2.core.epoch, n2.core.epoch, 999, true);
      const out = n2.core.handle({ type: 'request', now, from: 3, requestId: 77, request });
      return responses(out)[0] as VoteResponse;
    };
    const live = ask(h.now);
    assert.equal(live.voteGranted, false);
    assert.equal(live.leaderId, 1, 'the refusal names the live leader');
    // nothing heard from the leader for the fetch timeout: the same pre-vote is granted
    assert.equal(ask(h.now + 2100).voteGranted, true);
    assert.equal(n2.core.role, 'follower');
    assert.equal(n2.core.epoch, 1, 'granting a pre-vote changes no epoch');
    assert.equal(n2.store.state!.epoch, 1);
  });
});

describe('raft core: epochs', () => {
  it('a voter left at a later epoch (a lost candidacy) pulls the quorum up to it and rejoins', () => {
    const h = new Harness([1, 2, 3]);
    h.add(1, { random: () => 0 });
    h.add(2, { random: () => 0.9 });
    const stuck = new MemoryStore();
    stuck.write({ epoch: 5, votedId: 3, leaderId: -1 });
    h.runUntil(10_000, () => h.leaders().length === 1 && h.node(2).core.leaderId === 1);
    h.propose(1, 'before');
    h.runUntil(h.now + 2000, () => h.node(1).core.highWatermark === h.node(1).log.endOffset);
    // its log is behind, so it can never win; its pre-votes still carry epoch 5
    const n3 = h.add(3, { random: () => 0.5, store: stuck });
    h.runUntil(h.now + 20_000, () => n3.core.role === 'follower' && n3.core.highWatermark === h.node(1).log.endOffset);
    const leader = h.leaders()[0]!;
    assert.ok(leader.core.epoch > 5, `a leader of epoch ${leader.core.epoch}`);
    assert.notEqual(leader.id, 3);
    assert.equal(n3.core.leaderId, leader.id);
    assert.deepEqual(h.records(3), ['before']);
  });

  it('refuses a vote request whose last epoch is impossible for its epoch (INVALID_REQUEST)', () => {
    const core = new RaftCore(config(1, [1, 2, 3]), new MemoryLog(), new MemoryStore(), 0);
    const answer = (request: VoteRequest) =>
      responses(core.handle({ type: 'request', now: 1, from: 2, requestId: 1, request }))[0] as VoteResponse;
    assert.equal(answer(vote(2, 3, 3, 10)).errorCode, 42, 'a candidate with entries of the epoch it stands in');
    assert.equal(answer(vote(2, 3, 4, 10, true)).errorCode, 42, 'a prospective with entries of a later epoch');
    assert.equal(answer(vote(2, 3, 2, -1)).errorCode, 42);
    assert.equal(core.epoch, 0, 'an invalid request changes nothing');
    assert.equal(answer(vote(2, 3, 3, 10, true)).voteGranted, true, 'a pre-vote may carry its own epoch');
  });
});

describe('raft core: replication', () => {
  it('a follower whose log diverges truncates to the leader epoch boundary and refetches', () => {
    // node 1 holds epoch-2 entries that were never committed; node 2 has an epoch-3 entry at the same offset
    const h = new Harness([1, 2, 3]);
    h.add(1, {
      random: () => 0.9,
      log: logWith([
        [1, 'a'],
        [1, 'b'],
        [2, 'c'],
        [2, 'd'],
      ]),
      store: storeAt(3),
    });
    h.add(2, {
      random: () => 0,
      log: logWith([
        [1, 'a'],
        [1, 'b'],
        [3, 'x'],
      ]),
      store: storeAt(3),
    });
    h.add(3, {
      random: () => 0.9,
      log: logWith([
        [1, 'a'],
        [1, 'b'],
      ]),
      store: storeAt(3),
    });
    h.runUntil(10_000, () => h.leaders().length === 1 && h.node(1).core.highWatermark === h.node(2).log.endOffset);
    assert.equal(h.leaders()[0]!.id, 2, 'the longer last epoch wins');
    const diverging = h.delivered.filter((m) => m.response?.kind === 'FetchResponse' && m.response.divergingEpoch);
    assert.equal(diverging.length, 1);
    assert.deepEqual((diverging[0]!.response as FetchResponse<SimChunk>).divergingEpoch, { offset: 2, epoch: 1 });
    assert.deepEqual(h.records(1), ['a', 'b', 'x']);
    assert.equal(h.node(1).log.hashAt(4), h.node(2).log.hashAt(4), 'identical logs');
    const hw = h.node(1).core.highWatermark;

    // the same divergence answer delivered again (a duplicate) must not truncate the now-correct log
    h.deliver(diverging[0]!);
    h.deliverAll();
    assert.deepEqual(h.records(1), ['a', 'b', 'x']);
    assert.equal(h.node(1).core.highWatermark, hw);
    // nor does an old answer with records: they do not start at the log end
    const old = h.delivered.find((m) => m.to === 1 && m.response?.kind === 'FetchResponse' && m.response.records);
    assert.ok(old);
    const end = h.node(1).log.endOffset;
    h.deliver(old);
    h.deliverAll();
    assert.equal(h.node(1).log.endOffset, end);
  });

  it('commits nothing of an earlier epoch until an entry of the leader epoch is on a majority', () => {
    const run = (unsafe: boolean) => {
      const h = new Harness([1, 2, 3]);
      const config = { fetchMaxBytes: 1, ...(unsafe ? { unsafe: { commitOlderEpochEntries: true } } : {}) };
      h.add(1, {
        random: () => 0,
        log: logWith([
          [1, 'a'],
          [1, 'b'],
          [1, 'c'],
        ]),
        store: storeAt(1),
        config,
      });
      h.add(2, { random: () => 0.9, store: storeAt(1), config });
      h.add(3, { random: () => 0.9, store: storeAt(1), config });
      h.runUntil(20_000, () => h.node(1).core.highWatermark >= 4);
      const fetchedOffsets = sends(h.node(2).actions, 'Fetch').map((r) => (r as FetchRequest).fetchOffset);
      for (const o of [1, 2, 3]) assert.ok(fetchedOffsets.includes(o), `node 2 reported ${o} (one batch per fetch)`);
      return commits(h.node(1).actions);
    };
    assert.equal(run(false)[0], 4, 'the first commit covers the new leader LeaderChange entry at offset 3');
    assert.ok(run(true)[0]! < 4, 'with the planted bug, old entries commit on their own (the test can tell)');
  });

  it('a leader answers a parked fetch as soon as it appends', () => {
    const h = threeWithLeader();
    h.runUntil(h.now + 100);
    assert.ok(h.queue.length === 0, 'the followers fetches are parked');
    h.propose(1, 'now');
    const answers = h.queue.filter((m) => m.response?.kind === 'FetchResponse' && m.response.records);
    assert.equal(answers.length, 2, 'both parked fetches answered at once, no time passed');
  });

  it('answers Fetch from another epoch with the epoch and leader it knows', () => {
    const h = threeWithLeader();
    const leader = h.node(1).core;
    const fetch = (replicaEpoch: number): FetchResponse<SimChunk> => {
      const request: FetchRequest = {
        kind: 'Fetch',
        clusterId: 'cluster-A',
        replicaId: 2,
        replicaEpoch,
        fetchOffset: 0,
        lastFetchedEpoch: 0,
        maxWaitMs: 0,
      };
      return responses(
        leader.handle({ type: 'request', now: h.now, from: 2, requestId: 5, request }),
      )[0] as FetchResponse<SimChunk>;
    };
    assert.equal(fetch(0).errorCode, 74, 'FENCED_LEADER_EPOCH');
    assert.equal(fetch(0).leaderId, 1);
    assert.equal(fetch(0).leaderEpoch, 1);
    assert.equal(fetch(5).errorCode, 75, 'UNKNOWN_LEADER_EPOCH');
    const follower = h.node(2).core;
    const viaFollower = responses(
      follower.handle({
        type: 'request',
        now: h.now,
        from: 3,
        requestId: 6,
        request: {
          kind: 'Fetch',
          clusterId: 'cluster-A',
          replicaId: 3,
          replicaEpoch: 1,
          fetchOffset: 0,
          lastFetchedEpoch: 0,
          maxWaitMs: 0,
        },
      }),
    )[0] as FetchResponse<SimChunk>;
    assert.equal(viaFollower.errorCode, 6, 'NOT_LEADER_OR_FOLLOWER');
    assert.equal(viaFollower.leaderId, 1, 'with the leader it follows');
  });
});

describe('raft core: snapshots', () => {
  it('a new voter behind the leader log start catches up from a snapshot fetched in chunks', () => {
    const h = new Harness([1, 2, 3]);
    h.add(1, { random: () => 0, config: { fetchMaxBytes: 64 } });
    h.add(2, { random: () => 0.9 });
    h.runUntil(10_000, () => h.leaders().length === 1 && h.node(2).core.leaderId === 1);
    for (let i = 0; i < 10; i++) h.propose(1, `r${i}`);
    h.runUntil(h.now + 5000, () => h.node(1).core.highWatermark === h.node(1).log.endOffset);
    const leaderLog = h.node(1).log;
    const snapshot = leaderLog.createSnapshot(h.node(1).core.highWatermark);
    assert.equal(leaderLog.startOffset, snapshot.id.offset, 'the leader log is trimmed');
    h.propose(1, 'after');
    const n3 = h.add(3, { random: () => 0.9 });
    h.runUntil(
      h.now + 10_000,
      () => n3.log.endOffset === leaderLog.endOffset && n3.core.highWatermark === h.node(1).core.highWatermark,
    );
    assert.deepEqual(
      n3.actions.filter((a) => a.type === 'snapshotInstalled'),
      [{ type: 'snapshotInstalled', id: snapshot.id }],
    );
    assert.ok(sends(n3.actions, 'FetchSnapshot').length >= 5, 'a 300-byte snapshot in 64-byte chunks');
    assert.equal(n3.log.startOffset, snapshot.id.offset);
    assert.equal(n3.log.hashAt(n3.log.endOffset), leaderLog.hashAt(leaderLog.endOffset), 'identical logs');
    assert.deepEqual(h.records(3), ['after']);
  });
});

describe('raft core: leaving leadership', () => {
  it('resign: EndQuorumEpoch names the most caught-up voter first, which is elected at once', () => {
    const h = threeWithLeader();
    h.node(2).holdFlush = true;
    h.propose(1, 'x');
    h.runUntil(h.now + 600);
    const n1 = h.node(1);
    const resignedAt = h.now;
    h.apply(n1, n1.core.handle({ type: 'resign', now: h.now }));
    assert.equal(n1.core.role, 'resigned');
    assert.equal(n1.core.leaderId, -1);
    assert.equal(h.propose(1, 'refused'), null, 'a resigned leader takes no proposal');
    const end = sends(n1.actions, 'EndQuorumEpoch');
    assert.equal(end.length, 2);
    assert.deepEqual((end[0] as { preferredSuccessors: number[] }).preferredSuccessors, [3, 2]);
    h.runUntil(resignedAt + 5000, () => h.node(3).core.role === 'leader');
    assert.equal(h.node(3).core.role, 'leader');
    assert.equal(h.node(3).core.epoch, 2);
    assert.ok(
      h.now - resignedAt < 100,
      `elected ${h.now - resignedAt} ms after the resignation, no timeout waited for`,
    );
  });

  it('check quorum: a leader cut off from every follower resigns after 1.5 x the fetch timeout', () => {
    const h = threeWithLeader();
    for (const f of [2, 3]) {
      h.cut.add(`1>${f}`);
      h.cut.add(`${f}>1`);
    }
    const cutAt = h.now;
    h.runUntil(cutAt + 2500);
    assert.equal(h.node(1).core.role, 'leader', 'not before its check-quorum timeout');
    h.runUntil(cutAt + 4000, () => h.node(1).core.role === 'resigned');
    assert.equal(h.node(1).core.role, 'resigned');
    assert.ok(h.now >= cutAt + 2500);
    h.runUntil(h.now + 5000, () => h.leaders().some((n) => n.id !== 1));
    const next = h.leaders().find((n) => n.id !== 1)!;
    assert.ok(next.core.epoch >= 2, 'the other two elect a leader of a later epoch');
    assert.equal(h.node(1).core.epoch, 1, 'the cut-off node, failing its pre-votes, never bumped its epoch');
  });
});

describe('raft core: observers, DescribeQuorum, cluster id', () => {
  it('an observer finds the leader through any voter and replicates, never voting', () => {
    const h = new Harness([1, 2, 3]);
    h.add(1, { random: () => 0 });
    h.add(2, { random: () => 0.9 });
    h.add(3, { random: () => 0.9 });
    const obs = h.add(4, { random: () => 0.6 });
    h.runUntil(10_000, () => h.leaders().length === 1 && obs.core.leaderId === 1);
    h.propose(1, 'seen-by-observer');
    h.runUntil(
      h.now + 5000,
      () => obs.core.highWatermark === h.node(1).core.highWatermark && obs.log.endOffset === h.node(1).log.endOffset,
    );
    assert.equal(obs.core.role, 'observer');
    assert.deepEqual(h.records(4), ['seen-by-observer']);
    assert.equal(sends(obs.actions, 'Vote').length, 0);
    const view = h.node(1).core.describeQuorum(h.now)!;
    assert.equal(view.leaderId, 1);
    assert.equal(view.leaderEpoch, 1);
    assert.equal(view.highWatermark, h.node(1).core.highWatermark);
    assert.deepEqual(
      view.currentVoters.map((v) => v.replicaId),
      [1, 2, 3],
    );
    for (const v of view.currentVoters) assert.equal(v.logEndOffset, h.node(1).log.endOffset, `voter ${v.replicaId}`);
    assert.deepEqual(
      view.observers.map((o) => [o.replicaId, o.logEndOffset]),
      [[4, h.node(1).log.endOffset]],
    );
    assert.equal(h.node(2).core.describeQuorum(h.now), null, 'only the leader describes the quorum');
  });

  it('refuses a request from another cluster (INCONSISTENT_CLUSTER_ID) and the refused node is told', () => {
    const a = new RaftCore(config(1, [1, 2], { clusterId: 'A' }), new MemoryLog(), new MemoryStore(), 0);
    const b = new RaftCore(config(2, [1, 2], { clusterId: 'B' }), new MemoryLog(), new MemoryStore(), 0);
    const out = b.handle({ type: 'tick', now: 5000 });
    const request = sends(out, 'Vote')[0]!;
    assert.equal(request.clusterId, 'B');
    const refusal = responses(a.handle({ type: 'request', now: 5000, from: 2, requestId: 1, request }))[0]!;
    assert.equal(refusal.errorCode, 104);
    const told = b.handle({ type: 'response', now: 5001, from: 1, response: refusal, request });
    assert.deepEqual(
      told.filter((x) => x.type === 'inconsistentCluster'),
      [{ type: 'inconsistentCluster', peer: 1, peerClusterId: null }],
    );
    // a node that does not know its cluster id yet is answered normally
    const fresh = new RaftCore(config(2, [1, 2], { clusterId: null }), new MemoryLog(), new MemoryStore(), 0);
    const freshRequest = sends(fresh.handle({ type: 'tick', now: 5000 }), 'Vote')[0]!;
    assert.equal(freshRequest.clusterId, null);
    const answer = responses(
      a.handle({ type: 'request', now: 5000, from: 2, requestId: 2, request: freshRequest }),
    )[0]!;
    assert.equal(answer.errorCode, 0);
  });
});
