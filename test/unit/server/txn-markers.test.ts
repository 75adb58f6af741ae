/**
 * The log side of transactions over the wire, on an embedded broker:
 * transactional batches and WriteTxnMarkers (key 27) sent with Samsa's own
 * client; Fetch at read_committed stops at the last stable offset and names
 * the aborted transactions; ListOffsets latest under read_committed is the
 * last stable offset; markers are fenced by producer and coordinator epochs.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { Connection } from '../../../src/client/connection.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { batch as hdr, decodeBatch, encodeBatch, splitBatches } from '../../../src/protocol/records/index.ts';

const TOPIC = 'txn-markers';
let broker: EmbeddedBroker;
let conn: Connection;
const FETCH = apiByName('Fetch');

before(async () => {
  // the log side alone: transactional batches of producers no coordinator knows, so without
  // KIP-890 verification (test/unit/server/txn-verification.test.ts has it)
  broker = await startBroker({
    overrides: { 'auto.create.topics.enable': 'false', 'transaction.partition.verification.enable': 'false' },
  });
  const kafka = new kafkajs.Kafka({ brokers: [broker.bootstrapServers], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }] });
  await admin.disconnect();
  conn = new Connection({ host: broker.host, port: broker.port });
  await conn.connect();
});

after(async () => {
  await conn?.close();
  await broker?.close();
});

async function producerId(): Promise<number> {
  const r = await conn.send('InitProducerId', { transactionalId: null, transactionTimeoutMs: 60_000 });
  assert.equal(r.errorCode, ErrorCode.NONE);
  return Number(r.producerId);
}

async function produce(values: string[], txn?: { pid: number; seq: number }): Promise<number> {
  const records = encodeBatch({
    baseTimestamp: Date.now(),
    producerId: txn?.pid ?? -1,
    producerEpoch: txn ? 0 : -1,
    baseSequence: txn?.seq ?? -1,
    isTransactional: txn !== undefined,
    records: values.map((v) => ({ value: Buffer.from(v) })),
  });
  const r = await conn.send('Produce', {
    transactionalId: txn ? 'txn-markers-test' : null,
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, ErrorCode.NONE);
  return Number(p.baseOffset);
}

async function marker(
  pid: number,
  commit: boolean,
  opts: { epoch?: number; coordinatorEpoch?: number; topic?: string; partitions?: number[] } = {},
): Promise<number[]> {
  const r = await conn.send('WriteTxnMarkers', {
    markers: [
      {
        producerId: pid,
        producerEpoch: opts.epoch ?? 0,
        transactionResult: commit,
        topics: [{ name: opts.topic ?? TOPIC, partitionIndexes: opts.partitions ?? [0] }],
        coordinatorEpoch: opts.coordinatorEpoch ?? 0,
      },
    ],
  });
  assert.equal(Number(r.markers[0].producerId), pid);
  return r.markers[0].topics[0].partitions.map((p) => p.errorCode);
}

async function fetch(isolationLevel: number, fetchOffset = 0, wait = { maxWaitMs: 0, minBytes: 0 }) {
  const r = await conn.sendAt(FETCH, 12, {
    replicaId: -1,
    ...wait,
    maxBytes: 1 << 20,
    isolationLevel,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: TOPIC, partitions: [{ partition: 0, fetchOffset, partitionMaxBytes: 1 << 20 }] }],
    forgottenTopicsData: [],
    rackId: '',
  });
  return r.responses[0].partitions[0];
}

/** Resolves once this process's broker arms a timer of exactly `maxWaitMs` (a long poll parked). */
function longPollParked(maxWaitMs: number): Promise<void> {
  const original = globalThis.setTimeout;
  return new Promise((resolve) => {
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      if (ms === maxWaitMs) {
        globalThis.setTimeout = original;
        queueMicrotask(resolve);
      }
      return original(fn, ms, ...args);
    }) as typeof setTimeout;
  });
}

async function latest(isolationLevel: number): Promise<number> {
  const r = await conn.send('ListOffsets', {
    replicaId: -1,
    isolationLevel,
    topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
  });
  return Number(r.topics[0].partitions[0].offset);
}

/** What a read_committed consumer keeps (Kafka's consumer rule): no control records, no aborted transaction's records. */
function committedValues(
  records: Buffer | null,
  aborted: { producerId: number | bigint; firstOffset: number | bigint }[],
): string[] {
  const out: string[] = [];
  if (!records) return out;
  const open = new Set<number>();
  const pending = aborted
    .map((t) => ({ producerId: Number(t.producerId), firstOffset: Number(t.firstOffset) }))
    .sort((x, y) => x.firstOffset - y.firstOffset);
  for (const { at } of splitBatches(records)) {
    const pid = hdr.producerId(records, at);
    while (pending.length && pending[0].firstOffset <= hdr.lastOffset(records, at))
      open.add(pending.shift()!.producerId);
    if (hdr.isControl(records, at)) {
      open.delete(pid);
      continue;
    }
    if (hdr.isTransactional(records, at) && open.has(pid)) continue;
    for (const r of decodeBatch(records, at).records) out.push(r.value!.toString());
  }
  return out;
}

function allValues(records: Buffer | null): { values: string[]; controls: number } {
  const values: string[] = [];
  let controls = 0;
  for (const { at } of splitBatches(records!)) {
    if (hdr.isControl(records!, at)) controls++;
    else for (const r of decodeBatch(records!, at).records) values.push(r.value!.toString());
  }
  return { values, controls };
}

test('read_committed stops at the last stable offset and names aborted transactions; markers are fenced', async () => {
  const a = await producerId();
  const b = await producerId();
  assert.equal(await produce(['p0']), 0);
  assert.equal(await produce(['a1', 'a2'], { pid: a, seq: 0 }), 1);
  assert.equal(await produce(['b1'], { pid: b, seq: 0 }), 3);

  let rc = await fetch(1);
  assert.equal(Number(rc.highWatermark), 4);
  assert.equal(Number(rc.lastStableOffset), 1, 'transaction a is open from offset 1');
  assert.deepEqual(committedValues(rc.records, rc.abortedTransactions ?? []), ['p0']);
  assert.equal(await latest(1), 1);
  assert.equal(await latest(0), 4);
  const ru = await fetch(0);
  assert.equal(Number(ru.lastStableOffset), 1);
  assert.equal(ru.abortedTransactions, null);
  assert.deepEqual(allValues(ru.records).values, ['p0', 'a1', 'a2', 'b1']);

  assert.deepEqual(await marker(a, false), [ErrorCode.NONE]); // offset 4
  assert.equal(Number((await fetch(1)).lastStableOffset), 3, 'transaction b is still open');
  assert.deepEqual(await marker(b, true), [ErrorCode.NONE]); // offset 5
  rc = await fetch(1);
  assert.equal(Number(rc.lastStableOffset), 6);
  assert.equal(await latest(1), 6);
  assert.deepEqual(
    (rc.abortedTransactions ?? []).map((t) => ({
      producerId: Number(t.producerId),
      firstOffset: Number(t.firstOffset),
    })),
    [{ producerId: a, firstOffset: 1 }],
  );
  assert.deepEqual(committedValues(rc.records, rc.abortedTransactions ?? []), ['p0', 'b1']);
  // a fetch past the aborted transaction's marker is told of none
  assert.deepEqual((await fetch(1, 5)).abortedTransactions, []);
  const all = allValues((await fetch(0)).records);
  assert.deepEqual(all, { values: ['p0', 'a1', 'a2', 'b1'], controls: 2 });

  // epochs: a newer producer epoch is taken, an older one refused; so is an older coordinator epoch
  assert.deepEqual(await marker(b, false, { epoch: 1, coordinatorEpoch: 5 }), [ErrorCode.NONE]);
  assert.deepEqual(await marker(b, false, { epoch: 0, coordinatorEpoch: 5 }), [ErrorCode.INVALID_PRODUCER_EPOCH]);
  assert.deepEqual(await marker(b, false, { epoch: 1, coordinatorEpoch: 4 }), [
    ErrorCode.TRANSACTION_COORDINATOR_FENCED,
  ]);
  const end = Number((await fetch(0)).highWatermark);
  assert.equal(end, 7, 'refused markers were not appended');

  assert.deepEqual(await marker(a, true, { topic: 'no-such-topic' }), [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]);
  assert.deepEqual(await marker(a, true, { partitions: [0, 9] }), [
    ErrorCode.NONE,
    ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ]);
});

test('DescribeProducers names each producer, its open transaction and the coordinator epoch of its last marker', async () => {
  const c = await producerId();
  const at = await produce(['c1'], { pid: c, seq: 0 });
  const r = await conn.send('DescribeProducers', {
    topics: [
      { name: TOPIC, partitionIndexes: [0, 5] },
      { name: 'no-such-topic', partitionIndexes: [0] },
    ],
  });
  const [p0, p5] = r.topics[0].partitions;
  assert.equal(p0.errorCode, ErrorCode.NONE);
  assert.equal(p5.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(r.topics[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const byId = new Map(p0.activeProducers.map((p) => [Number(p.producerId), p]));
  const open = byId.get(c)!;
  assert.deepEqual(
    [open.producerEpoch, open.lastSequence, Number(open.currentTxnStartOffset), open.coordinatorEpoch],
    [0, 0, at, -1],
  );
  // the fenced producer of the test before: epoch 1 from its last marker, coordinator epoch 5, nothing open
  const fenced = [...byId.values()].find((p) => p.coordinatorEpoch === 5)!;
  assert.deepEqual([fenced.producerEpoch, Number(fenced.currentTxnStartOffset)], [1, -1]);
  assert.deepEqual(await marker(c, false), [ErrorCode.NONE]);
  const after = await conn.send('DescribeProducers', { topics: [{ name: TOPIC, partitionIndexes: [0] }] });
  const closed = after.topics[0].partitions[0].activeProducers.find((p) => Number(p.producerId) === c)!;
  assert.equal(Number(closed.currentTxnStartOffset), -1);
});

// The poll waits far longer than the test may run: only the wake answers it in time.
test('a read_committed long poll at the last stable offset is woken by the commit marker', {
  timeout: 60_000,
}, async () => {
  const pid = await producerId();
  const at = await produce(['w1'], { pid, seq: 0 });
  assert.equal(Number((await fetch(1)).lastStableOffset), at);
  const MAX_WAIT = 299_999;
  const parked = longPollParked(MAX_WAIT);
  const polled = fetch(1, at, { maxWaitMs: MAX_WAIT, minBytes: 1 });
  await parked;
  assert.deepEqual(await marker(pid, true), [ErrorCode.NONE]);
  const r = await polled;
  assert.equal(Number(r.lastStableOffset), at + 2);
  assert.deepEqual(committedValues(r.records, r.abortedTransactions ?? []), ['w1']);
});
