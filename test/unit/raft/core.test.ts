import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RaftCore } from '../../../src/raft/core.ts';
import type { RaftAction, RaftConfig, RaftResponse, VoteRequest, VoteResponse } from '../../../src/raft/types.ts';
import { MemoryLog, MemoryStore, type SimChunk } from '../../sim/memory-log.ts';
import { defaults, encode, Harness } from './harness.ts';

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
    assert.equal(ask(vote(4, 3, 9, 100)).voteGranted, false);
    // a stale epoch: refused with FENCED_LEADER_EPOCH
    const stale = ask(vote(4, 2, 9, 100));
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
