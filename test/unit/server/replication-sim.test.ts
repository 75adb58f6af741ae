/**
 * The replication simulator (test/sim-repl) over a few hundred seeds, proof
 * that its checks catch planted bugs, and the defects it found, each pinned
 * by a test on the real Partition and PartitionLog:
 *
 * - a follower whose log went on in a later epoch than the one the leader's
 *   diverging epoch names truncates to its own end of that epoch (it looped
 *   on a no-op truncation);
 * - a leader that has not appended in its epoch answers an epoch between its
 *   log's latest and its own with its log end offset (it answered "unknown",
 *   which followers took for no divergence);
 * - a flush wait for offsets a truncation removed ends (a flush pass looped
 *   on it in microtasks, freezing the process);
 * - a member an ISR expansion may have added (IsrChanges tells the
 *   Partition what it asked and what the controller answered) counts in the
 *   leader's high watermark until its image shows the change (acks=all
 *   records were lost when the controller elected that member meanwhile).
 *
 * `npm run sim:repl -- --seeds N` runs more seeds; a failing seed prints its
 * replay command.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { PartitionState, TopicState } from '../../../src/metadata/image.ts';
import { Partition } from '../../../src/server/partition.ts';
import { applyFetchedPartition, divergenceTruncationOffset } from '../../../src/server/replica-fetcher.ts';
import { acceptFollowerFetch } from '../../../src/server/handlers/fetch.ts';
import { type AlterPartitionChannel, IsrChanges } from '../../../src/server/isr-changes.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { BUG_NAMES, runReplSimulation } from '../../sim-repl/simulator.ts';
import { config, makeBatch, silent, tempDir } from '../storage/fixtures.ts';

/** Bounded by seed count, each with 2 s of simulated faults: about 15 s, up to 45 s on a loaded two-core machine. */
const SEEDS = 200;
const FAULT_MS = 2000;
/** How far the planted-bug search may go; each is found within its first few seeds. */
const BUG_SEARCH_LIMIT = 60;

describe('replication simulator', () => {
  it(`keeps every invariant and converges after healing, on ${SEEDS} seeds`, async (t) => {
    const began = Date.now();
    const failures: string[] = [];
    let acked = 0;
    let crashes = 0;
    let truncations = 0;
    let isrChanges = 0;
    let epochs = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = await runReplSimulation({ seed, faultMs: FAULT_MS });
      acked += r.acked;
      crashes += r.crashes;
      truncations += r.truncations;
      isrChanges += r.isrChanges;
      epochs += r.leaderEpochs;
      if (!r.ok)
        failures.push(
          `seed ${seed} failed at t=${r.failedAt}: ${r.failure}\n  replay: npm run sim:repl -- --seed ${seed} --fault-ms ${FAULT_MS} --verbose`,
        );
    }
    const secs = (Date.now() - began) / 1000;
    t.diagnostic(
      `${SEEDS} seeds in ${secs.toFixed(1)} s: ${acked} acknowledged produces, ${crashes} crashes, ` +
        `${truncations} truncations, ${isrChanges} ISR changes, ${epochs} leader epochs`,
    );
    assert.deepEqual(failures, []);
    // the seeds exercise what they are meant to
    assert.ok(acked > 1000 && crashes > 100 && truncations > 50 && isrChanges > 100 && epochs > 300);
  });

  it('is deterministic: a seed replays identically', async () => {
    for (const seed of [3, 42]) {
      const trace1: string[] = [];
      const trace2: string[] = [];
      const a = await runReplSimulation({ seed, trace: (l) => trace1.push(l) });
      const b = await runReplSimulation({ seed, trace: (l) => trace2.push(l) });
      assert.deepEqual(a, b);
      assert.deepEqual(trace1, trace2);
      assert.ok(trace1.length > 100);
    }
  });

  for (const bug of BUG_NAMES) {
    it(`catches a planted bug: ${bug}`, async (t) => {
      // brokers' images lagging the controller by up to 50 ms make the interleavings these bugs need more frequent
      const metadataDelayMs = 50;
      // the first seed a safety check fails (some bugs also stall replication: those seeds fail the liveness bound)
      let found: { seed: number; failure: string } | null = null;
      let stalled = 0;
      for (let seed = 1; seed <= BUG_SEARCH_LIMIT && !found; seed++) {
        const r = await runReplSimulation({ seed, bugs: { [bug]: true }, metadataDelayMs });
        if (r.ok) continue;
        assert.doesNotMatch(r.failure!, /^unexpected error/);
        if (r.failure!.startsWith('no convergence')) stalled++;
        else found = { seed, failure: r.failure! };
      }
      assert.ok(found, `no seed among the first ${BUG_SEARCH_LIMIT} fails a safety check with ${bug}`);
      t.diagnostic(
        `seed ${found.seed}: ${found.failure}${stalled ? ` (${stalled} seeds before it did not converge)` : ''}`,
      );
      // and the same seed passes without the bug
      assert.ok((await runReplSimulation({ seed: found.seed, metadataDelayMs })).ok);
    });
  }
});

// ---- the defects the simulator found, on the real Partition and log -----------------------------

const TOPIC: TopicState = { name: 't', topicId: 'id-t', partitions: [], configs: new Map() };

function state(over: Partial<PartitionState>): PartitionState {
  return { partition: 0, leader: 1, leaderEpoch: 0, partitionEpoch: 0, replicas: [1, 2, 3], isr: [1, 2, 3], ...over };
}

/** A Partition on broker `me` over a real log; `prefill` batches appended first as [leader epoch, records]. */
async function withPartition(
  me: number,
  prefill: [number, number][],
  fn: (p: Partition, log: PartitionLog) => Promise<void> | void,
): Promise<void> {
  const { dir, cleanup } = tempDir('samsa-replsim-');
  const log = await PartitionLog.open(path.join(dir, 't-0'), config(), { logger: silent, fsync: async () => {} });
  try {
    for (const [epoch, n] of prefill) log.append(makeBatch(n), { leaderEpoch: epoch });
    await log.flush();
    await fn(new Partition(TOPIC, 0, log, me, { now: () => 1000 }), log);
  } finally {
    log.abandon();
    cleanup();
  }
}

describe('replication defects found by the simulator', () => {
  it("a follower that went on in a later epoch truncates to its own end of the leader's diverging epoch", async () => {
    // this log: offsets 0-1 in epoch 1 (from a leader whose records never reached the current one);
    // the leader: offsets 0-4 in epoch 0, then its own epoch 5
    await withPartition(2, [[1, 2]], (p, log) => {
      p.update(state({ leader: 3, leaderEpoch: 5 }));
      assert.equal(divergenceTruncationOffset(p, 0, 5), 0);
      assert.equal(
        applyFetchedPartition(p, { highWatermark: 0, divergingEpoch: { epoch: 0, endOffset: 5 } }),
        'truncated',
      );
      assert.equal(log.logEndOffset, 0);
    });
    // the usual case is unchanged: the same latest epoch, the leader's end of it is shorter
    await withPartition(
      2,
      [
        [0, 3],
        [1, 4],
      ],
      (p) => {
        p.update(state({ leader: 3, leaderEpoch: 5 }));
        assert.equal(divergenceTruncationOffset(p, 1, 5), 5);
        assert.equal(divergenceTruncationOffset(p, 0, 2), 2);
      },
    );
  });

  it('a leader that has not appended in its epoch answers a later follower epoch with its log end offset', async () => {
    // the leader: offsets 0-4 in epoch 0, leading in epoch 3; a follower's last batch is of epoch 2 and it ends at 9
    await withPartition(1, [[0, 5]], (p) => {
      p.update(state({ leader: 1, leaderEpoch: 3 }));
      assert.deepEqual(p.endOffsetForEpoch(2), { epoch: 0, endOffset: 5 });
      assert.deepEqual(p.endOffsetForEpoch(3), { epoch: 3, endOffset: 5 });
      assert.deepEqual(p.endOffsetForEpoch(0), { epoch: 0, endOffset: 5 });
      assert.deepEqual(acceptFollowerFetch(p, 2, 9, 2), { epoch: 0, endOffset: 5 });
      // once it appends, its log knows the epoch: the same answer
      p.appendAsLeader(makeBatch(2));
      assert.deepEqual(p.endOffsetForEpoch(2), { epoch: 0, endOffset: 5 });
    });
  });

  it('members an ISR expansion may have added count in the high watermark until the image shows them', async () => {
    await withPartition(1, [], (p, log) => {
      p.update(state({ isr: [1, 2] }));
      p.minInsyncReplicas = 2;
      p.appendAsLeader(makeBatch(4));
      p.updateFollowerEndOffset(2, 4);
      p.updateFollowerEndOffset(3, 4); // caught up: the ISR manager asks to add it
      assert.equal(log.highWatermark, 4);
      p.isrChangeProposed([1, 2, 3]);
      p.appendAsLeader(makeBatch(2));
      p.updateFollowerEndOffset(2, 6);
      // the controller may have committed 3 and may elect it: it does not have 4-5
      assert.equal(log.highWatermark, 4);
      // the controller's answer: refused, its ISR is still [1, 2]
      p.isrChangeAnswered({ leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0 });
      assert.equal(log.highWatermark, 6);

      p.isrChangeProposed([1, 2, 3]);
      p.appendAsLeader(makeBatch(1));
      p.updateFollowerEndOffset(2, 7);
      assert.equal(log.highWatermark, 6);
      // accepted (partition epoch 1): counted until the image shows epoch 1, then as a member
      p.isrChangeAnswered({ leaderEpoch: 0, isr: [1, 2, 3], partitionEpoch: 1 });
      assert.equal(log.highWatermark, 6);
      p.update(state({ isr: [1, 2, 3], partitionEpoch: 1 }));
      p.updateFollowerEndOffset(3, 7);
      assert.equal(log.highWatermark, 7);
    });
  });

  it("IsrChanges tells the leader's Partition what it asked and what the controller answered", async () => {
    await withPartition(1, [], async (p, log) => {
      p.update(state({ isr: [1, 2] }));
      p.appendAsLeader(makeBatch(4));
      p.updateFollowerEndOffset(2, 4);
      p.updateFollowerEndOffset(3, 4);
      assert.equal(log.highWatermark, 4);
      const answers: ((isr: number[], partitionEpoch: number, errorCode: number) => void)[] = [];
      const channel = {
        send: () =>
          new Promise((resolve) =>
            answers.push((isr, partitionEpoch, errorCode) =>
              resolve({
                throttleTimeMs: 0,
                errorCode: ErrorCode.NONE,
                topics: [
                  {
                    topicId: TOPIC.topicId,
                    partitions: [
                      {
                        partitionIndex: 0,
                        errorCode,
                        leaderId: 1,
                        leaderEpoch: 0,
                        isr,
                        leaderRecoveryState: 0,
                        partitionEpoch,
                      },
                    ],
                  },
                ],
              }),
            ),
          ),
        close() {},
      } as unknown as AlterPartitionChannel;
      const isr = new IsrChanges({
        localId: 1,
        brokerEpoch: () => 7,
        controllerId: () => 9,
        controllerEndpoint: () => ({ host: 'controller', port: 1 }),
        connect: async () => channel,
        image: new MetadataImage(),
        replicaLagTimeMaxMs: 30_000,
        env: new SimulatedEnv(1),
      });
      // asked, not answered: 3 counts
      const refused = isr.propose(p, [1, 2, 3]);
      await new Promise((r) => setImmediate(r));
      assert.equal(answers.length, 1);
      p.appendAsLeader(makeBatch(2));
      p.updateFollowerEndOffset(2, 6);
      assert.equal(log.highWatermark, 4);
      // refused, the controller's ISR is [1, 2]: 3 no longer counts
      answers[0]([1, 2], 0, ErrorCode.INVALID_UPDATE_VERSION);
      assert.equal(await refused, ErrorCode.INVALID_UPDATE_VERSION);
      assert.equal(log.highWatermark, 6);
      // accepted: 3 counts until the image shows it, then as a member
      const accepted = isr.propose(p, [1, 2, 3]);
      await new Promise((r) => setImmediate(r));
      answers[1]([1, 2, 3], 1, ErrorCode.NONE);
      assert.equal(await accepted, ErrorCode.NONE);
      p.appendAsLeader(makeBatch(1));
      p.updateFollowerEndOffset(2, 7);
      assert.equal(log.highWatermark, 6);
      p.update(state({ isr: [1, 2, 3], partitionEpoch: 1 }));
      p.updateFollowerEndOffset(3, 7);
      assert.equal(log.highWatermark, 7);
      isr.close();
    });
  });

  it('a wait for an fsync of offsets a truncation removed ends, instead of spinning the event loop', async () => {
    const { dir, cleanup } = tempDir('samsa-replsim-');
    const held: (() => void)[] = [];
    let hold = false;
    const log = await PartitionLog.open(path.join(dir, 't-0'), config(), {
      logger: silent,
      fsync: () => (hold ? new Promise<void>((resolve) => held.push(resolve)) : Promise.resolve()),
    });
    try {
      hold = true;
      log.append(makeBatch(5), { leaderEpoch: 0 });
      log.append(makeBatch(5), { leaderEpoch: 0 });
      // a leader's acks=all asks for its fsync; it loses leadership and truncates before the disk answers
      let done = false;
      void log.flushedUpTo(10).then(() => {
        done = true;
      });
      await new Promise((r) => setImmediate(r));
      log.truncateTo(5);
      const deadline = Date.now() + 10_000;
      while (!done) {
        assert.ok(Date.now() < deadline, 'the wait ended');
        for (const r of held.splice(0)) r();
        await new Promise((r) => setImmediate(r)); // a flush pass looping in microtasks never gets here
      }
      assert.equal(log.logEndOffset, 5);
      assert.equal(log.recoveryPoint, 5);
    } finally {
      log.abandon();
      cleanup();
    }
  });
});
