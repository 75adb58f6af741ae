/**
 * The Partition (src/server/partition.ts) on a real PartitionLog in a temp
 * dir, with fsync injected: the high watermark and its advance, leader-epoch
 * fencing, the follower role, the delayed acks=all (completed on fsync,
 * failed on a storage error, on lost leadership) and min.insync.replicas.
 * Also: no handler keeps a high-watermark or leader-epoch rule of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import { InvariantViolation } from '../../../src/storage/errors.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type { PartitionState, TopicState } from '../../../src/metadata/image.ts';
import { Partition } from '../../../src/server/partition.ts';
import { config, makeBatch, silent, tempDir } from '../storage/fixtures.ts';

const ME = 1;

/** fsyncs that wait until the test lets them finish, or fail them. */
class ManualFsync {
  private pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  calls = 0;
  /** Pass through (while the log opens). */
  auto = true;
  readonly fsync = (_fd: number): Promise<void> => {
    if (this.auto) return Promise.resolve();
    this.calls++;
    return new Promise((resolve, reject) => this.pending.push({ resolve, reject }));
  };
  get waiting(): number {
    return this.pending.length;
  }
  release(): void {
    const p = this.pending;
    this.pending = [];
    for (const x of p) x.resolve();
  }
  fail(code = 'EIO'): void {
    const p = this.pending;
    this.pending = [];
    for (const x of p) x.reject(Object.assign(new Error(`${code}: injected`), { code }));
  }
}

function state(over: Partial<PartitionState> = {}): PartitionState {
  return { partition: 0, leader: ME, leaderEpoch: 0, partitionEpoch: 0, replicas: [ME], isr: [ME], ...over };
}

async function withPartition(
  fn: (p: Partition, log: PartitionLog, fsync: ManualFsync) => Promise<void>,
  s: PartitionState = state(),
  logOpts: { highWatermark?: number; prefill?: number } = {},
): Promise<void> {
  const { dir, cleanup } = tempDir('samsa-partition-');
  const fsync = new ManualFsync();
  const logDir = path.join(dir, 't-0');
  let log: PartitionLog | undefined;
  try {
    if (logOpts.prefill) {
      const l = await PartitionLog.open(logDir, config(), { logger: silent });
      l.append(makeBatch(logOpts.prefill), { leaderEpoch: 0 });
      await l.close();
    }
    log = await PartitionLog.open(logDir, config(), {
      logger: silent,
      fsync: fsync.fsync,
      cleanShutdown: true,
      highWatermark: logOpts.highWatermark,
    });
    const topic: TopicState = { name: 't', topicId: 'id-t', partitions: [s], configs: new Map() };
    const p = new Partition(topic, 0, log, ME, { now: () => 1_234 });
    p.update(s);
    fsync.auto = false;
    await fn(p, log, fsync);
  } finally {
    log?.abandon();
    cleanup();
  }
}

/** Polls `cond` (a promise's settled flag, a counter) until true or the deadline. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

function settled<T>(p: Promise<T>): { done: boolean; value?: T } {
  const s: { done: boolean; value?: T } = { done: false };
  p.then((v) => {
    s.done = true;
    s.value = v;
  });
  return s;
}

test('a leader alone in its ISR: the high watermark follows the log end offset and wakes waiting fetches', async () => {
  await withPartition(async (p, log) => {
    assert.equal(p.role, 'leader');
    assert.equal(p.highWatermark, 0);
    let woken = 0;
    const w = () => woken++;
    p.watch(w);
    const info = p.appendAsLeader(makeBatch(3));
    assert.equal(info.firstOffset, 0);
    assert.equal(log.logEndOffset, 3);
    assert.equal(p.highWatermark, 3);
    assert.equal(woken, 1);
    p.unwatch(w);
    p.appendAsLeader(makeBatch(2));
    assert.equal(p.highWatermark, 5);
    assert.equal(woken, 1, 'an unwatched fetch is not woken');
  });
});

test('at open, a checkpointed high watermark behind the log end offset moves up to it (leader alone in the ISR)', async () => {
  await withPartition(
    async (p, log) => {
      assert.equal(log.logEndOffset, 4);
      assert.equal(p.highWatermark, 4);
    },
    state(),
    { prefill: 4, highWatermark: 1 },
  );
});

test('with another ISR member the high watermark is the smallest log end offset in the ISR, and never goes backwards', async () => {
  await withPartition(
    async (p) => {
      p.appendAsLeader(makeBatch(5));
      assert.equal(p.highWatermark, 0, 'the follower reported nothing yet');
      p.updateFollowerEndOffset(2, 3);
      assert.equal(p.highWatermark, 3);
      p.updateFollowerEndOffset(2, 1); // a stale report
      assert.equal(p.highWatermark, 3, 'never backwards');
      p.updateFollowerEndOffset(7, 5); // not in the ISR
      assert.equal(p.highWatermark, 3);
      p.updateFollowerEndOffset(2, 9); // ahead of the leader's log: capped at its end
      assert.equal(p.highWatermark, 5);
      // the ISR shrinks to the leader (metadata): unchanged, and appends advance it alone
      p.update(state({ replicas: [ME, 2], isr: [ME], partitionEpoch: 1 }));
      p.appendAsLeader(makeBatch(1));
      assert.equal(p.highWatermark, 6);
    },
    state({ replicas: [ME, 2], isr: [ME, 2] }),
  );
});

test('with another ISR member a delayed acks=all waits for the high watermark as well as the fsync', async () => {
  await withPartition(
    async (p, log, fsync) => {
      p.appendAsLeader(makeBatch(3));
      const a = settled(p.waitForAcks(log.logEndOffset));
      while (log.recoveryPoint < 3) {
        fsync.release();
        await new Promise((r) => setImmediate(r));
      }
      await new Promise((r) => setImmediate(r));
      assert.equal(a.done, false, 'fsynced here, but the follower does not have it');
      p.updateFollowerEndOffset(2, 3);
      await until(() => a.done, 'the delayed acks=all');
      assert.equal(a.value, ErrorCode.NONE);
    },
    state({ replicas: [ME, 2], isr: [ME, 2] }),
  );
});

test('fencing with the current leader epoch: older is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH, none skips it', async () => {
  await withPartition(
    async (p) => {
      assert.equal(p.leaderEpoch, 5);
      assert.equal(p.checkLeader(4), ErrorCode.FENCED_LEADER_EPOCH);
      assert.equal(p.checkLeader(6), ErrorCode.UNKNOWN_LEADER_EPOCH);
      assert.equal(p.checkLeader(5), ErrorCode.NONE);
      assert.equal(p.checkLeader(-1), ErrorCode.NONE);
      assert.equal(p.checkLeader(), ErrorCode.NONE);
      // appends are stamped with the leader epoch
      p.appendAsLeader(makeBatch(2));
      assert.deepEqual(p.log.endOffsetForEpoch(5), { epoch: 5, endOffset: 2 });
      // the leader epoch never goes backwards
      assert.throws(() => p.update(state({ leaderEpoch: 4 })), InvariantViolation);
      p.update(state({ leaderEpoch: 7 }));
      assert.equal(p.checkLeader(5), ErrorCode.FENCED_LEADER_EPOCH);
    },
    state({ leaderEpoch: 5 }),
  );
});

test('a follower answers NOT_LEADER_OR_FOLLOWER (after epoch fencing), refuses appends, and fails a waiting acks=all', async () => {
  await withPartition(async (p, _log, fsync) => {
    p.appendAsLeader(makeBatch(1));
    const ack = settled(p.waitForAcks(1));
    await until(() => fsync.waiting > 0, 'the fsync');
    let woken = 0;
    p.watch(() => woken++);
    assert.equal(p.update(state({ leader: 2, leaderEpoch: 1, replicas: [ME, 2], isr: [ME, 2] })), 'follower');
    assert.equal(woken, 1, 'waiting fetches answer at once');
    await until(() => ack.done, 'the delayed acks=all');
    assert.equal(ack.value, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(p.checkLeader(), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(p.checkLeader(0), ErrorCode.FENCED_LEADER_EPOCH);
    assert.equal(p.checkAppend(1), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.throws(() => p.appendAsLeader(makeBatch(1)), InvariantViolation);
    fsync.release();
    // leader again, in a later epoch
    assert.equal(p.update(state({ leaderEpoch: 2 })), 'leader');
    assert.equal(p.checkLeader(2), ErrorCode.NONE);
  });
});

test('a delayed acks=all completes once the fsync is done; concurrent ones share fsyncs', async () => {
  await withPartition(async (p, log, fsync) => {
    p.appendAsLeader(makeBatch(2));
    const a = settled(p.waitForAcks(log.logEndOffset));
    p.appendAsLeader(makeBatch(3));
    const b = settled(p.waitForAcks(log.logEndOffset));
    assert.equal(p.highWatermark, 5, 'the high watermark does not wait for the fsync');
    await until(() => fsync.waiting > 0, 'the fsync');
    assert.equal(a.done || b.done, false, 'nothing acknowledged before the fsync');
    while (!(a.done && b.done)) {
      fsync.release();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(a.value, ErrorCode.NONE);
    assert.equal(b.value, ErrorCode.NONE);
    assert.equal(log.recoveryPoint, 5);
    assert.ok(fsync.calls <= 4, `fsyncs shared (${fsync.calls})`);
    // already durable: answered at once
    assert.equal(await p.waitForAcks(5), ErrorCode.NONE);
  });
});

test('a delayed acks=all fails with KAFKA_STORAGE_ERROR when the fsync fails; the partition then answers KAFKA_STORAGE_ERROR', async () => {
  await withPartition(async (p, log, fsync) => {
    p.appendAsLeader(makeBatch(2));
    const a = settled(p.waitForAcks(log.logEndOffset));
    await until(() => fsync.waiting > 0, 'the fsync');
    fsync.fail('EIO');
    await until(() => a.done, 'the delayed acks=all');
    assert.equal(a.value, ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(log.dirHealth.state, 'failed');
    assert.equal(p.checkLeader(), ErrorCode.KAFKA_STORAGE_ERROR, 'reads on a failed log dir');
    assert.equal(p.checkAppend(1), ErrorCode.KAFKA_STORAGE_ERROR);
    assert.equal(await p.waitForAcks(log.logEndOffset), ErrorCode.KAFKA_STORAGE_ERROR, 'nothing is acknowledged later');
  });
});

test('min.insync.replicas: acks=all is refused with NOT_ENOUGH_REPLICAS while the ISR is smaller; acks=1 and 0 are not', async () => {
  await withPartition(async (p, log, fsync) => {
    p.minInsyncReplicas = 2;
    assert.equal(p.checkAppend(-1), ErrorCode.NOT_ENOUGH_REPLICAS);
    assert.equal(p.checkAppend(1), ErrorCode.NONE);
    assert.equal(p.checkAppend(0), ErrorCode.NONE);
    p.minInsyncReplicas = 1;
    assert.equal(p.checkAppend(-1), ErrorCode.NONE);
    // the ISR shrinks below it while an acks=all waits: NOT_ENOUGH_REPLICAS_AFTER_APPEND, as Kafka
    p.appendAsLeader(makeBatch(1));
    const a = settled(p.waitForAcks(log.logEndOffset));
    await until(() => fsync.waiting > 0, 'the fsync');
    p.minInsyncReplicas = 2;
    while (!a.done) {
      fsync.release();
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(a.value, ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  });
});

test('LogAppendTime topics are stamped with the injected clock', async () => {
  const { dir, cleanup } = tempDir('samsa-partition-');
  const log = await PartitionLog.open(path.join(dir, 't-0'), config({ messageTimestampType: 'LogAppendTime' }), {
    logger: silent,
  });
  try {
    const topic: TopicState = { name: 't', topicId: 'id-t', partitions: [state()], configs: new Map() };
    const p = new Partition(topic, 0, log, ME, { now: () => 424242 });
    p.update(state());
    assert.equal(p.appendAsLeader(makeBatch(1)).logAppendTime, 424242);
  } finally {
    log.abandon();
    cleanup();
  }
});

test('the handlers keep no high-watermark or leader-epoch rule: they ask the Partition', () => {
  const handlers = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../src/server/handlers');
  const rules = [
    /setHighWatermark/, // moving the high watermark
    /log\.highWatermark/, // reading it past the Partition
    /FENCED_LEADER_EPOCH|UNKNOWN_LEADER_EPOCH/, // leader-epoch fencing
    /partitions\[[^\]]+\]\??\.leaderEpoch/, // the leader epoch read from the image
    /NOT_LEADER_OR_FOLLOWER|NOT_ENOUGH_REPLICAS/, // who may serve, min.insync.replicas
    /flushedUpTo/, // the acks=all wait
    /log\.append\(/, // appends that bypass the leader's rules
  ];
  const found: string[] = [];
  for (const f of fs.readdirSync(handlers)) {
    const lines = fs.readFileSync(path.join(handlers, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      for (const r of rules) if (r.test(line)) found.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, []);
});
