/**
 * What a client sees when the storage under an in-process broker fails
 * (faults injected at the write seam, faults.ts): an fdatasync EIO fails the
 * waiting acks=all produce with KAFKA_STORAGE_ERROR, and nothing more is
 * acknowledged from that log dir (acks=1 included); Fetch and ListOffsets
 * on its partitions answer KAFKA_STORAGE_ERROR, as Kafka does for an offline
 * log dir; the connection stays open; a metadata commit that cannot be written answers
 * CreateTopics with KAFKA_STORAGE_ERROR and creates nothing.
 */
import { test, before, after } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { FaultyIO, withFileIO } from './faults.ts';
import { KafkaClient } from '../../../src/client/index.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';

let broker: EmbeddedBroker;
let metadataDir: string;
let kafka: kafkajs.Kafka;

before(async () => {
  // The metadata log in a dir of its own: a failed data log dir leaves the broker serving (a failure of the
  // metadata log's dir stops the node, as Kafka halts then).
  metadataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-metadata-'));
  broker = await startBroker({
    overrides: { 'auto.create.topics.enable': 'false', 'metadata.log.dir': metadataDir },
    logLevel: 'silent',
  });
  kafka = new kafkajs.Kafka({
    brokers: [broker.bootstrapServers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  });
});

after(async () => {
  await broker?.close();
  fs.rmSync(metadataDir, { recursive: true, force: true });
});

const storageError = (err: any) => err?.type === 'KAFKA_STORAGE_ERROR' || err?.cause?.type === 'KAFKA_STORAGE_ERROR';

test('a metadata commit that cannot be written: CreateTopics answers KAFKA_STORAGE_ERROR, the topic does not exist', async () => {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const io = new FaultyIO().add({
      op: 'write',
      kind: 'ENOSPC',
      file: (p) => p.includes('/__cluster_metadata-0/') && p.endsWith('.log'),
    });
    await withFileIO(io, () =>
      assert.rejects(
        admin.createTopics({ topics: [{ topic: 'no-room' }] }),
        (err: any) => (err.errors ?? [err]).some(storageError) || storageError(err),
      ),
    );
    assert.ok(io.injected.length >= 2, 'the write was tried again after releasing the reserve');
    assert.equal((await admin.listTopics()).includes('no-room'), false);
    assert.equal(await admin.createTopics({ topics: [{ topic: 'room' }] }), true);
  } finally {
    await admin.disconnect();
  }
});

test('fdatasync EIO: the acks=all produce gets KAFKA_STORAGE_ERROR, later produces too', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'eio', numPartitions: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    retry: { retries: 0 },
  });
  await producer.connect();
  try {
    const [ok] = await producer.send({ topic: 'eio', acks: -1, messages: [{ value: 'durable' }] });
    assert.equal(ok.errorCode, 0);
    const io = new FaultyIO().add({ op: 'fdatasync', kind: 'EIO', file: (p) => p.includes('/eio-0/'), times: 1 });
    await withFileIO(io, () =>
      assert.rejects(producer.send({ topic: 'eio', acks: -1, messages: [{ value: 'unsure' }] }), storageError),
    );
    assert.equal(io.injected.length, 1);
    // The fsync would work now; the dir still acknowledges nothing more.
    await assert.rejects(producer.send({ topic: 'eio', acks: -1, messages: [{ value: 'after' }] }), storageError);
    await assert.rejects(producer.send({ topic: 'eio', acks: 1, messages: [{ value: 'after' }] }), storageError);
    // Still answering, but the failed log dir serves no reads either (a full one would).
    const admin2 = kafka.admin();
    await admin2.connect();
    await assert.rejects(admin2.fetchTopicOffsets('eio'), storageError);
    await admin2.disconnect();
    const client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, retries: 0 });
    try {
      await assert.rejects(client.fetch('eio', 0, 0), (err: any) => err.code === ErrorCode.KAFKA_STORAGE_ERROR);
      await assert.rejects(
        client.listOffsets('eio', 0, 'latest'),
        (err: any) => err.code === ErrorCode.KAFKA_STORAGE_ERROR,
      );
    } finally {
      await client.close();
    }
  } finally {
    await producer.disconnect();
  }
});
