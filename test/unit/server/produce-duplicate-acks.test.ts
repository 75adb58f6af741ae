/**
 * An idempotent producer's retry of a batch the leader already holds
 * (KIP-98 duplicate) is answered with the original batch's offsets, and with
 * acks=all only once those offsets are below the high watermark, as Kafka's
 * delayed produce waits for the duplicate's last offset. Found by the fault
 * campaign's reading of the produce path: a retry arriving while the original
 * still waited for the ISR was acknowledged at once, so a record could be
 * acknowledged before any follower had it.
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
import { FetchSessionCache } from '../../../src/server/fetch-sessions.ts';
import { produceHandler } from '../../../src/server/handlers/produce.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { RequestContext } from '../../../src/server/dispatcher.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { makeBatch } from '../storage/fixtures.ts';

const TID = Buffer.alloc(16, 9).toString('base64url');
const TOPIC: MetadataRecord[] = [
  { type: 'Topic', name: 't', topicId: TID },
  {
    type: 'Partition',
    topicId: TID,
    partition: 0,
    replicas: [1, 2],
    isr: [1, 2],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
];

/** Turns of the event loop: enough for a handler that does not wait to have answered. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('acks=all: a duplicate batch is acknowledged only once the original is below the high watermark', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-dup-acks-'));
  const config = loadBrokerConfig({
    overrides: { 'node.id': '1', 'log.dirs': dir, listeners: 'PLAINTEXT://127.0.0.1:0' },
  });
  const image = new MetadataImage();
  for (const r of TOPIC) image.apply(r);
  const rm = await ReplicaManager.open(image, config, pino({ level: 'silent' }));
  const broker = { image, replicas: rm, fetchSessions: new FetchSessionCache(), nodeId: 1 } as unknown as Broker;
  const handler = produceHandler(broker);
  const ctx = { apiKey: 0, apiVersion: 9, correlationId: 1, clientId: 'test' } as unknown as RequestContext;
  // the same batch twice, as a client retries it (the handler stamps offsets into the buffer it appends)
  const request = () => ({
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: 't',
        topicId: TID,
        partitionData: [{ index: 0, records: makeBatch(3, { producerId: 7, producerEpoch: 0, baseSequence: 0 }) }],
      },
    ],
  });
  try {
    const leader = rm.get('t', 0)!;
    const settled: string[] = [];
    const original = Promise.resolve(handler(request(), ctx)).then((r) => {
      settled.push('original');
      return r;
    });
    await turns();
    const retry = Promise.resolve(handler(request(), ctx)).then((r) => {
      settled.push('retry');
      return r;
    });
    await turns();
    assert.equal(leader.log.logEndOffset, 3, 'the retry was not appended again');
    assert.equal(leader.highWatermark, 0);
    assert.deepEqual(settled, [], 'neither is acknowledged while follower 2 has not fetched the records');

    leader.updateFollowerEndOffset(2, 3);
    const [a, b] = await Promise.all([original, retry]);
    const pa = (a as any).responses[0].partitionResponses[0];
    const pb = (b as any).responses[0].partitionResponses[0];
    assert.equal(pa.errorCode, ErrorCode.NONE);
    assert.equal(pb.errorCode, ErrorCode.NONE);
    assert.equal(pb.baseOffset, pa.baseOffset, 'the retry is answered with the original offsets');
    assert.equal(leader.highWatermark, 3);
  } finally {
    await rm.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
