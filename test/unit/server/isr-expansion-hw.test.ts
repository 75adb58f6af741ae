/**
 * While an ISR expansion is in flight (sent to the controller, not yet in the
 * leader's image), the high watermark also waits for the joining replica
 * (Kafka's maximal ISR). Without it, the leader acknowledged records (with
 * acks=all) that the joining replica did not have; once the controller
 * committed the expansion, that replica was an ISR member missing
 * acknowledged records, and when it was elected leader they were lost. Found
 * by the fault campaign (test/interop/fault-nemesis.test.ts, seed 1919: a
 * broker restarted after kill -9 rejoined the ISR of a partition, a one-way
 * packet drop stopped its fetches, the leader acknowledged two more records,
 * then leadership moved to it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { PartitionLog } from '../../../src/storage/partition-log.ts';
import type { PartitionState, TopicState } from '../../../src/metadata/image.ts';
import { Partition } from '../../../src/server/partition.ts';
import { config, makeBatch, silent, tempDir } from '../storage/fixtures.ts';

const ME = 1;

async function withLeader(s: PartitionState, fn: (p: Partition) => Promise<void> | void): Promise<void> {
  const { dir, cleanup } = tempDir('samsa-isr-expansion-');
  let log: PartitionLog | undefined;
  try {
    log = await PartitionLog.open(path.join(dir, 't-0'), config(), { logger: silent, cleanShutdown: true });
    const topic: TopicState = { name: 't', topicId: 'id-t', partitions: [s], configs: new Map() };
    const p = new Partition(topic, 0, log, ME, { now: () => 1_000 });
    p.update(s);
    await fn(p);
  } finally {
    await log?.close();
    cleanup();
  }
}

const BASE: PartitionState = {
  partition: 0,
  leader: ME,
  leaderEpoch: 0,
  partitionEpoch: 0,
  replicas: [1, 2, 3],
  isr: [1, 2],
};

test('an ISR expansion in flight: the high watermark waits for the joining replica until the image has the outcome', async () => {
  await withLeader(BASE, (p) => {
    p.appendAsLeader(makeBatch(4));
    p.updateFollowerEndOffset(2, 4);
    p.updateFollowerEndOffset(3, 4);
    assert.equal(p.highWatermark, 4);

    // replica 3 is caught up: the leader asks the controller to add it
    p.isrChangeProposed([1, 2, 3]);
    p.appendAsLeader(makeBatch(2));
    p.updateFollowerEndOffset(2, 6);
    assert.equal(p.highWatermark, 4, 'replica 3 has not fetched offsets 4 and 5: they are not committed');
    p.updateFollowerEndOffset(3, 6);
    assert.equal(p.highWatermark, 6);

    // the image brings the committed ISR; the expansion is no longer pending
    p.update({ ...BASE, partitionEpoch: 1, isr: [1, 2, 3] });
    p.appendAsLeader(makeBatch(1));
    p.updateFollowerEndOffset(2, 7);
    assert.equal(p.highWatermark, 6, 'replica 3 is a member now');
  });
});

test('an ISR expansion the controller refused: the high watermark follows the committed ISR again', async () => {
  await withLeader(BASE, (p) => {
    p.appendAsLeader(makeBatch(3));
    p.updateFollowerEndOffset(3, 3);
    p.isrChangeProposed([1, 2, 3]);
    p.updateFollowerEndOffset(2, 3);
    assert.equal(p.highWatermark, 3);
    p.appendAsLeader(makeBatch(2));
    p.updateFollowerEndOffset(2, 5);
    assert.equal(p.highWatermark, 3, 'waits for replica 3 while the expansion is pending');
    p.isrChangeAnswered({ leaderEpoch: 0, isr: [1, 2], partitionEpoch: 0 });
    assert.equal(p.highWatermark, 5, 'refused: replica 3 is not a member, the high watermark moves on');
  });
});

test('an image update that does not change the partition (same partition epoch) keeps the expansion pending', async () => {
  await withLeader(BASE, (p) => {
    p.appendAsLeader(makeBatch(2));
    p.updateFollowerEndOffset(3, 2);
    p.updateFollowerEndOffset(2, 2);
    p.isrChangeProposed([1, 2, 3]);
    p.update(BASE);
    p.appendAsLeader(makeBatch(2));
    p.updateFollowerEndOffset(2, 4);
    assert.equal(p.highWatermark, 2);
  });
});
