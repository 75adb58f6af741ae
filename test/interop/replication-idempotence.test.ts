/**
 * The idempotent producer's state survives a leader change: followers
 * rebuild it from the batches they replicate, so the new leader recognises
 * a retried batch as a duplicate (answered with its original offset, not
 * appended twice) and refuses a sequence gap, as the old leader would have.
 * Three in-process brokers, RF=3, min.insync.replicas=2; the leader's
 * broker is closed between the first send and the retry.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { apiByName } from '../../src/protocol/apis.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { decodeBatch, encodeBatch } from '../../src/protocol/records/record-batch.ts';
import { eventually, uniqueTopic } from '../helpers/broker.ts';
import {
  createTopic,
  partitionState,
  startInProcessCluster,
  withConnection,
  type InProcessCluster,
} from '../helpers/inprocess-cluster.ts';

describe('replication: idempotent producer state moves with the leader', () => {
  let cluster: InProcessCluster;

  before(async () => {
    cluster = await startInProcessCluster({ nodes: 3 });
  });

  after(async () => {
    await cluster?.close();
  });

  test('a retried batch is a duplicate on the new leader; a sequence gap is refused', async () => {
    const topic = uniqueTopic('repl-idem');
    const anyPort = cluster.nodes[0].clientPort;
    await createTopic(anyPort, topic, { replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });
    const full = await eventually(async () => {
      const s = await partitionState(anyPort, topic);
      return s && s.leader >= 0 && s.isr.length === 3 ? s : undefined;
    }, 60_000);

    const { producerId, producerEpoch } = await withConnection(anyPort, (c) =>
      c.send('InitProducerId', { transactionalId: null, transactionTimeoutMs: 60_000 }),
    );
    assert.ok(producerId >= 0);
    const batch = (baseSequence: number, n: number) =>
      encodeBatch({
        producerId: Number(producerId),
        producerEpoch,
        baseSequence,
        records: Array.from({ length: n }, (_, i) => ({
          key: Buffer.from(`k${baseSequence + i}`),
          value: Buffer.from(`v${baseSequence + i}`),
          timestamp: Date.now(),
        })),
      });
    const produce = (port: number, records: Buffer) =>
      withConnection(port, async (c) => {
        const r = await c.sendAt(apiByName('Produce'), 9, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
        });
        const p = r.responses[0].partitionResponses[0];
        return { errorCode: p.errorCode, baseOffset: Number(p.baseOffset) };
      });

    const oldLeader = cluster.node(full.leader);
    assert.deepEqual(await produce(oldLeader.clientPort, batch(0, 5)), { errorCode: ErrorCode.NONE, baseOffset: 0 });
    const second = batch(5, 5);
    assert.deepEqual(await produce(oldLeader.clientPort, second), { errorCode: ErrorCode.NONE, baseOffset: 5 });

    await cluster.stop(oldLeader.id);
    const moved = await eventually(async () => {
      for (const n of cluster.live()) {
        const s = await partitionState(n.clientPort, topic).catch(() => undefined);
        if (s && s.leader >= 0 && s.leader !== oldLeader.id) return s;
      }
      return undefined;
    }, 60_000);
    const newLeader = cluster.node(moved.leader);

    // The producer did not hear the answer to its second batch and sends it again to the new leader.
    const retried = await eventually(async () => {
      const r = await produce(newLeader.clientPort, second);
      return r.errorCode === ErrorCode.NONE ? r : undefined;
    }, 60_000);
    assert.deepEqual(retried, { errorCode: ErrorCode.NONE, baseOffset: 5 });
    assert.deepEqual(await produce(newLeader.clientPort, batch(10, 1)), { errorCode: ErrorCode.NONE, baseOffset: 10 });
    const gap = await produce(newLeader.clientPort, batch(12, 1));
    assert.equal(gap.errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);

    // The log holds each record once: offsets 0..10, keys k0..k10.
    const keys = await withConnection(newLeader.clientPort, async (c) => {
      const r = await c.sendAt(apiByName('Fetch'), 12, {
        maxWaitMs: 0,
        minBytes: 1,
        topics: [{ topic, partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20 }] }],
      });
      const p = r.responses[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NONE);
      const raw = Buffer.concat(Array.isArray(p.records) ? p.records : p.records ? [p.records] : []);
      const out: string[] = [];
      for (let at = 0; at < raw.length; ) {
        const size = raw.readInt32BE(at + 8) + 12;
        const b = decodeBatch(raw.subarray(at, at + size));
        for (const rec of b.records) out.push(`${Number(b.baseOffset) + rec.offsetDelta}:${rec.key?.toString()}`);
        at += size;
      }
      return out;
    });
    assert.deepEqual(
      keys,
      Array.from({ length: 11 }, (_, i) => `${i}:k${i}`),
    );
  });
});
