/**
 * The broker's fetch path over the wire: incremental fetch sessions
 * (KIP-227: only partitions with news are answered, epochs must follow),
 * long polls woken by an append, and OFFSET_OUT_OF_RANGE. Records are
 * produced with kafkajs; fetches are sent at exact versions with the
 * client's connection, since no client installed here uses fetch sessions.
 * Reads older than the tail cache go out by sendfile.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { Connection } from '../../../src/client/connection.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { decodeBatch, splitBatches } from '../../../src/protocol/records/index.ts';
import { PooledBuffer } from '../../../src/storage/buffer-pool.ts';
import { FileRegion } from '../../../src/storage/file-region.ts';
import { sendfileStats } from '../../../src/server/sendfile.ts';

const TOPIC = 'fetch-path';
let broker: EmbeddedBroker;
let producer: kafkajs.Producer;
let conn: Connection;
const FETCH = apiByName('Fetch');

before(async () => {
  broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrapServers], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] });
  await admin.disconnect();
  producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({
    topic: TOPIC,
    messages: [
      { partition: 0, value: 'a' },
      { partition: 0, value: 'b' },
      { partition: 0, value: 'c' },
    ],
  });
  conn = new Connection({ host: broker.host, port: broker.port });
  await conn.connect();
});

after(async () => {
  await conn?.close();
  await producer?.disconnect();
  await broker?.close();
});

function fetchBody(
  sessionId: number,
  sessionEpoch: number,
  partitions: { partition: number; fetchOffset: number }[],
  opts: { maxWaitMs?: number; minBytes?: number } = {},
) {
  return {
    replicaId: -1,
    maxWaitMs: opts.maxWaitMs ?? 0,
    minBytes: opts.minBytes ?? 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId,
    sessionEpoch,
    topics: partitions.length
      ? [{ topic: TOPIC, partitions: partitions.map((p) => ({ ...p, partitionMaxBytes: 1 << 20 })) }]
      : [],
    forgottenTopicsData: [],
    rackId: '',
  };
}

/**
 * Resolves once the broker has armed the timer of a long poll of exactly `maxWaitMs` (the broker runs
 * in this process): the fetch is then parked, so an append that follows wakes it rather than being read
 * with it. A distinctive `maxWaitMs` tells this poll's timer from every other.
 */
function longPollParked(maxWaitMs: number): Promise<void> {
  const original = globalThis.setTimeout;
  return new Promise((resolve) => {
    globalThis.setTimeout = ((fn: (...args: any[]) => void, ms?: number, ...args: any[]) => {
      if (ms === maxWaitMs) {
        globalThis.setTimeout = original;
        queueMicrotask(resolve);
      }
      return original(fn, ms, ...args);
    }) as typeof setTimeout;
  });
}

/** Polls `cond` until it holds, failing after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function values(records: Buffer | null): string[] {
  assert.ok(records, 'records are not null');
  const out: string[] = [];
  for (const { at } of splitBatches(records))
    for (const r of decodeBatch(records, at).records) out.push(r.value!.toString());
  return out;
}

test('an incremental fetch session answers only partitions with news', async () => {
  const full = await conn.sendAt(
    FETCH,
    12,
    fetchBody(0, 0, [
      { partition: 0, fetchOffset: 0 },
      { partition: 1, fetchOffset: 0 },
    ]),
  );
  assert.equal(full.errorCode, ErrorCode.NONE);
  assert.ok(full.sessionId > 0, 'a session was opened');
  const parts = full.responses[0].partitions;
  assert.deepEqual(parts.map((p: any) => p.partitionIndex).sort(), [0, 1]);
  assert.deepEqual(values(parts.find((p) => p.partitionIndex === 0)!.records), ['a', 'b', 'c']);

  // Nothing changed: the incremental fetch names no partition and gets none back.
  const quiet = await conn.sendAt(FETCH, 12, fetchBody(full.sessionId, 1, [{ partition: 0, fetchOffset: 3 }]));
  assert.equal(quiet.errorCode, ErrorCode.NONE);
  assert.equal(quiet.sessionId, full.sessionId);
  assert.deepEqual(quiet.responses, []);

  // An append to partition 1 is news; partition 0 (remembered by the session) is not.
  await producer.send({ topic: TOPIC, messages: [{ partition: 1, value: 'x' }] });
  const news = await conn.sendAt(FETCH, 12, fetchBody(full.sessionId, 2, []));
  assert.equal(news.responses.length, 1);
  assert.deepEqual(
    news.responses[0].partitions.map((p: any) => p.partitionIndex),
    [1],
  );
  assert.deepEqual(values(news.responses[0].partitions[0].records), ['x']);

  // Replaying an epoch is refused; closing the session makes it unknown.
  const replay = await conn.sendAt(FETCH, 12, fetchBody(full.sessionId, 2, []));
  assert.equal(replay.errorCode, ErrorCode.INVALID_FETCH_SESSION_EPOCH);
  await conn.sendAt(FETCH, 12, fetchBody(full.sessionId, -1, []));
  const gone = await conn.sendAt(FETCH, 12, fetchBody(full.sessionId, 3, []));
  assert.equal(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
});

test('a long poll at the log end is answered by the next append', async () => {
  const end = 3;
  const parked = longPollParked(20_001);
  const pending = conn.sendAt(
    FETCH,
    11,
    fetchBody(0, -1, [{ partition: 0, fetchOffset: end }], { maxWaitMs: 20_001, minBytes: 1 }),
  );
  await parked;
  await producer.send({ topic: TOPIC, messages: [{ partition: 0, value: 'late' }] });
  const res = await pending;
  const p = res.responses[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE);
  assert.deepEqual(values(p.records), ['late']);
  assert.equal(p.highWatermark, end + 1);
});

test('a fetch past the log end is OFFSET_OUT_OF_RANGE with an empty record set', async () => {
  const res = await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 0, fetchOffset: 1000 }]));
  const p = res.responses[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal(p.records?.length, 0);
});

test('fetched record slices are unpinned once written, not answered, or dropped with their connection', async () => {
  const baseline = PooledBuffer.outstandingPins;
  // Written: the pins taken by the read are released after the socket write.
  const res = await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 0, fetchOffset: 0 }]));
  assert.deepEqual(values(res.responses[0].partitions[0].records).slice(0, 3), ['a', 'b', 'c']);
  await waitFor('the written fetch to release its pins', () => PooledBuffer.outstandingPins === baseline);

  // Read but below min_bytes: the long poll drops what it read, then answers at its timeout.
  const small = await conn.sendAt(
    FETCH,
    11,
    fetchBody(0, -1, [{ partition: 0, fetchOffset: 0 }], { maxWaitMs: 100, minBytes: 1 << 20 }),
  );
  assert.ok(values(small.responses[0].partitions[0].records).length >= 3);
  await waitFor('the long poll below min_bytes to release its pins', () => PooledBuffer.outstandingPins === baseline);

  // The client goes away while its long poll waits; an append then completes it into a closed connection.
  const other = new Connection({ host: broker.host, port: broker.port });
  await other.connect();
  const end = Number(
    (await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 1, fetchOffset: 0 }]))).responses[0].partitions[0]
      .highWatermark,
  );
  const parked = longPollParked(5_001);
  const abandoned = other
    .sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 1, fetchOffset: end }], { maxWaitMs: 5_001, minBytes: 1 }))
    .catch(() => null);
  await parked;
  await other.close();
  await abandoned;
  // The broker's side of the close is not observable from here; a short pause lets it usually land before
  // the append (either order must release every pin, which is what is asserted).
  await new Promise((r) => setTimeout(r, 50));
  await producer.send({ topic: TOPIC, messages: [{ partition: 1, value: 'after-close' }] });
  await waitFor('the abandoned long poll to release its pins', () => PooledBuffer.outstandingPins === baseline);
});

test('once max_bytes is used up, later partitions answer watermarks and no records', async () => {
  const body = fetchBody(0, -1, [
    { partition: 0, fetchOffset: 0 },
    { partition: 1, fetchOffset: 0 },
  ]);
  body.maxBytes = 1; // the first partition still gets its first batch (KIP-74)
  const res = await conn.sendAt(FETCH, 11, body);
  const byIndex = new Map(res.responses[0].partitions.map((p: any) => [p.partitionIndex, p]));
  const p0: any = byIndex.get(0);
  const p1: any = byIndex.get(1);
  assert.deepEqual(values(p0.records), ['a', 'b', 'c'], 'one whole batch for the first partition');
  assert.equal(p1.errorCode, ErrorCode.NONE);
  assert.equal(p1.records.length, 0);
  assert.ok(Number(p1.highWatermark) >= 1, 'the high watermark is still reported');
});

test('a large produced batch is served from the request frame it arrived in (pinned by the tail, not copied)', async () => {
  const baseline = PooledBuffer.outstandingPins;
  const end = Number(
    (await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 1, fetchOffset: 0 }]))).responses[0].partitions[0]
      .highWatermark,
  );
  const big = Buffer.alloc(100_000, 'x').toString();
  await producer.send({ topic: TOPIC, messages: [{ partition: 1, value: big }] });
  assert.equal(PooledBuffer.outstandingPins, baseline + 1, 'the tail cache holds the Produce frame by one pin');
  const res = await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 1, fetchOffset: end }]));
  assert.deepEqual(values(res.responses[0].partitions[0].records), [big]);
  await waitFor(
    "the fetch's own pin to be released after the write",
    () => PooledBuffer.outstandingPins === baseline + 1,
  );
});

test('a fetch of bytes older than the tail cache is sent from the segment file in place (sendfile)', async () => {
  const end = Number(
    (await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 0, fetchOffset: 0 }]))).responses[0].partitions[0]
      .highWatermark,
  );
  const big = (i: number) => `${i}:`.padEnd(100_000, String.fromCharCode(97 + (i % 26)));
  for (let i = 0; i < 30; i++) await producer.send({ topic: TOPIC, messages: [{ partition: 0, value: big(i) }] }); // 3 MB: past the 1 MiB tail cache
  const before = { ...sendfileStats };
  const res = await conn.sendAt(FETCH, 11, fetchBody(0, -1, [{ partition: 0, fetchOffset: end }]));
  const records = res.responses[0].partitions[0].records!;
  const got = values(records);
  assert.ok(got.length >= 5 && got.length <= 10, `whole batches within partition_max_bytes (1 MiB): ${got.length}`);
  assert.deepEqual(
    got,
    got.map((_, i) => big(i)),
  );
  assert.equal(sendfileStats.bytesInPlace - before.bytesInPlace, records.length, 'every record byte by sendfile');
  await waitFor('the region to be unpinned once sent', () => FileRegion.outstanding === 0);
});
