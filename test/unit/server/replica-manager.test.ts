/**
 * The replica manager follows the metadata image: it hosts (opens a log and
 * a Partition for) only partitions whose replica set names this node, makes
 * them leader or follower as partition changes commit, and stops hosting a
 * partition this node leaves. Driven with records applied to an image, as
 * the controller does.
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
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

const ME = 1;

function commit(image: MetadataImage, rm: ReplicaManager | undefined, batch: MetadataRecord[]): Promise<void> {
  for (const r of batch) image.apply(r);
  return rm ? rm.onMetadata(batch) : Promise.resolve();
}

test('hosts only partitions whose replica set names this node, and follows leader, replica and ISR changes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-replicas-'));
  const config = loadBrokerConfig({
    overrides: { 'node.id': String(ME), 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
  });
  const image = new MetadataImage();
  const part = (partition: number, replicas: number[], leader: number): MetadataRecord => ({
    type: 'Partition',
    topicId: 'tid',
    partition,
    replicas,
    isr: replicas,
    leader,
    leaderEpoch: 0,
    partitionEpoch: 0,
  });
  // before the start: partition 1 is placed on another node only
  await commit(image, undefined, [{ type: 'Topic', name: 't', topicId: 'tid' }, part(0, [ME], ME), part(1, [2], 2)]);
  const rm = await ReplicaManager.open(image, config, pino({ level: 'silent' }));
  try {
    assert.ok(rm.get('t', 0), 't-0 names this node: hosted');
    assert.equal(rm.get('t', 1), undefined, 't-1 does not: not hosted');
    assert.equal(rm.logs.getLog('t', 1), undefined, 'and no log made for it');
    const p0 = rm.get('t', 0)!;
    assert.equal(p0.role, 'leader');
    assert.equal(p0.checkLeader(), ErrorCode.NONE);

    // a partition created later on another node only: still not hosted
    await commit(image, rm, [part(2, [2, 3], 2)]);
    assert.equal(rm.get('t', 2), undefined);

    // leadership moves to node 2 (this node stays a replica): follower, next leader epoch
    await commit(image, rm, [
      { type: 'PartitionChange', topicId: 'tid', partition: 0, replicas: [ME, 2], isr: [ME, 2], leader: 2 },
    ]);
    assert.equal(rm.get('t', 0), p0, 'the same Partition');
    assert.equal(p0.role, 'follower');
    assert.equal(p0.leaderEpoch, 1);
    assert.deepEqual(p0.isr, [ME, 2]);
    assert.equal(p0.checkLeader(), ErrorCode.NOT_LEADER_OR_FOLLOWER);
    assert.equal(p0.checkLeader(0), ErrorCode.FENCED_LEADER_EPOCH);

    // and back: leader in epoch 2
    await commit(image, rm, [{ type: 'PartitionChange', topicId: 'tid', partition: 0, leader: ME, isr: [ME] }]);
    assert.equal(p0.role, 'leader');
    assert.equal(p0.leaderEpoch, 2);
    assert.equal(p0.checkLeader(2), ErrorCode.NONE);

    // this node joins t-1's replica set: hosted from now on
    await commit(image, rm, [
      { type: 'PartitionChange', topicId: 'tid', partition: 1, replicas: [2, ME], isr: [2, ME] },
    ]);
    const p1 = rm.get('t', 1);
    assert.ok(p1, 't-1 hosted once its replica set names this node');
    assert.equal(p1.role, 'follower', 'node 2 leads it');

    // this node leaves t-0's replica set: no longer hosted, its log deleted
    await commit(image, rm, [
      { type: 'PartitionChange', topicId: 'tid', partition: 0, replicas: [2], isr: [2], leader: 2 },
    ]);
    assert.equal(rm.get('t', 0), undefined);
    assert.equal(rm.logs.getLog('t', 0), undefined);
    assert.deepEqual(
      [...rm.all()].map((p) => `${p.topic.name}-${p.index}`),
      ['t-1'],
    );
  } finally {
    await rm.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a log of a partition moved away while this node was down is deleted at the next start', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-replicas-'));
  const config = loadBrokerConfig({
    overrides: { 'node.id': String(ME), 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
  });
  const image = new MetadataImage();
  const part = (replicas: number[]): MetadataRecord => ({
    type: 'Partition',
    topicId: 'tid',
    partition: 0,
    replicas,
    isr: replicas,
    leader: replicas[0],
    leaderEpoch: 0,
    partitionEpoch: 0,
  });
  try {
    await commit(image, undefined, [{ type: 'Topic', name: 't', topicId: 'tid' }, part([ME, 2])]);
    const first = await ReplicaManager.open(image, config, pino({ level: 'silent' }));
    assert.ok(first.get('t', 0));
    await first.close();
    assert.ok(fs.existsSync(path.join(dir, 't-0')));

    // reassigned to 2 and 3 while this node was down
    await commit(image, undefined, [
      { type: 'PartitionChange', topicId: 'tid', partition: 0, replicas: [2, 3], isr: [2, 3], leader: 2 },
    ]);
    const again = await ReplicaManager.open(image, config, pino({ level: 'silent' }));
    try {
      assert.equal(again.get('t', 0), undefined);
      assert.equal(again.logs.getLog('t', 0), undefined);
      // renamed away at once, removed in the background
      const left = () => fs.readdirSync(dir).filter((f) => f.startsWith('t-0'));
      assert.ok(!left().includes('t-0'));
      for (const deadline = Date.now() + 30_000; left().length > 0 && Date.now() < deadline; )
        await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(left(), [], 'the directory is gone');
    } finally {
      await again.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
