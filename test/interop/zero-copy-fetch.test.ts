/**
 * Zero-copy fetch with real clients: a backlog much larger than the tail
 * cache, over several rolled segments, read back from the beginning by
 * librdkafka (kcat, confluent-kafka-python, with 4 MiB partition fetches) and
 * kafkajs. The bytes go out by sendfile (server/sendfile.ts); every record
 * must arrive intact and in offset order, and no file region may stay pinned.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import kafkajs from 'kafkajs';
import { eventually, startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatProduce } from '../helpers/kcat.ts';
import { KCAT, runOk, runPy } from '../helpers/proc.ts';
import { sendfileStats } from '../../src/server/sendfile.ts';
import { FileRegion } from '../../src/storage/file-region.ts';

const PARTITIONS = 2;
const PER_PARTITION = 6000;
const VALUE_BYTES = 2000; // 2 x 6000 x 2 KB = 24 MB, segments of 4 MiB

/** Value of record i of partition p: its coordinates, then bytes that differ per record. */
function value(p: number, i: number): string {
  const head = `p${p}-r${i}-`;
  const body = crypto.createHash('sha256').update(head).digest('hex');
  return (head + body.repeat(Math.ceil(VALUE_BYTES / body.length))).slice(0, VALUE_BYTES);
}

function expectedDigest(p: number): string {
  const h = crypto.createHash('sha256');
  for (let i = 0; i < PER_PARTITION; i++) h.update(`${p} ${i} ${value(p, i)}\n`);
  return h.digest('hex');
}

/**
 * All but the tail cache's newest bytes left as file regions, and sendfile sent
 * a good part of them. What a full socket buffer refused was read and written
 * instead (how much depends on how fast the client drains its socket).
 */
function assertSentFromFiles(before: typeof sendfileStats): void {
  const inPlace = sendfileStats.bytesInPlace - before.bytesInPlace;
  const copied = sendfileStats.bytesCopied - before.bytesCopied;
  assert.ok(inPlace + copied > 20e6, `file regions carried ${inPlace + copied} of ~24 MB`);
  assert.ok(inPlace > 4e6, `sendfile sent ${inPlace} bytes in place (${copied} copied)`);
}

describe('zero-copy fetch (sendfile) with real clients', () => {
  let broker: TestBroker;
  let bs: string;
  const topic = uniqueTopic('zero-copy');

  before(async () => {
    broker = await startTestBroker({
      overrides: { 'log.segment.bytes': String(4 * 1024 * 1024), 'auto.create.topics.enable': 'false' },
    });
    bs = broker.bootstrapServers;
    const kafka = new kafkajs.Kafka({ brokers: [bs], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }] });
    await admin.disconnect();
    for (let p = 0; p < PARTITIONS; p++) {
      const lines = Array.from({ length: PER_PARTITION }, (_, i) => `k:${value(p, i)}`);
      await kcatProduce(bs, topic, lines, ['-p', String(p)]);
    }
  });
  after(async () => {
    await broker?.close();
  });

  test('kcat reads the whole backlog intact, sent in place', async () => {
    const before = { ...sendfileStats };
    const r = await runOk(
      KCAT,
      [
        '-b',
        bs,
        '-C',
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%p %o %s\n',
        '-X',
        'max.partition.fetch.bytes=4194304',
      ],
      {
        timeoutMs: 120_000,
      },
    );
    const digests = Array.from({ length: PARTITIONS }, () => crypto.createHash('sha256'));
    const counts = new Array(PARTITIONS).fill(0);
    for (const line of r.stdout.split('\n')) {
      if (!line) continue;
      const p = Number(line.slice(0, line.indexOf(' ')));
      digests[p].update(line + '\n');
      counts[p]++;
    }
    assert.deepEqual(counts, new Array(PARTITIONS).fill(PER_PARTITION));
    for (let p = 0; p < PARTITIONS; p++)
      assert.equal(digests[p].digest('hex'), expectedDigest(p), `partition ${p}: every record, in order`);
    assertSentFromFiles(before);
    assert.equal(FileRegion.outstanding, 0);
  });

  test('confluent-kafka-python reads the whole backlog intact', async () => {
    const before = { ...sendfileStats };
    const out = await runPy<{ counts: number[]; digests: string[]; errors: string[] }>('ck_digest.py', [
      bs,
      topic,
      String(PARTITIONS),
      String(PARTITIONS * PER_PARTITION),
    ]);
    assert.deepEqual(out.errors, []);
    assert.deepEqual(out.counts, new Array(PARTITIONS).fill(PER_PARTITION));
    assert.deepEqual(
      out.digests,
      Array.from({ length: PARTITIONS }, (_, p) => expectedDigest(p)),
    );
    assertSentFromFiles(before);
    assert.equal(FileRegion.outstanding, 0);
  });

  test('kafkajs reads the whole backlog intact', async () => {
    const kafka = new kafkajs.Kafka({ brokers: [bs], logLevel: kafkajs.logLevel.NOTHING });
    const consumer = kafka.consumer({
      groupId: `${topic}-kafkajs`,
      maxBytesPerPartition: 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
    });
    const digests = Array.from({ length: PARTITIONS }, () => crypto.createHash('sha256'));
    const next = new Array(PARTITIONS).fill(0);
    let total = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const p = batch.partition;
        for (const m of batch.messages) {
          const o = Number(m.offset);
          assert.equal(o, next[p], `partition ${p}: offsets in order, none skipped`);
          next[p] = o + 1;
          digests[p].update(`${p} ${o} ${m.value!.toString()}\n`);
          if (++total === PARTITIONS * PER_PARTITION) done();
        }
      },
    });
    await Promise.race([
      finished,
      new Promise((_, rej) => setTimeout(() => rej(new Error(`kafkajs: ${total} records after 90 s`)), 90_000)),
    ]);
    await consumer.disconnect();
    for (let p = 0; p < PARTITIONS; p++) assert.equal(digests[p].digest('hex'), expectedDigest(p));
    await eventually(() => FileRegion.outstanding === 0, 10_000, 10).catch(() => undefined);
    assert.equal(FileRegion.outstanding, 0, 'every region is unpinned once sent');
  });
});
