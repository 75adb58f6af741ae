/**
 * The log side of transactions with real consumers: transactional batches
 * and COMMIT/ABORT markers are written with Samsa's own client (producer ids
 * from InitProducerId without a transactional id, markers by WriteTxnMarkers
 * as the coordinator sends them); librdkafka (kcat, confluent-kafka-python)
 * and kafkajs consumers at read_committed see exactly the committed records,
 * up to the last stable offset, never a control record; at read_uncommitted
 * they see every data record and no control record. kafka-python 2.0.2 has
 * no read_committed and hands markers out as records (it does so against
 * Kafka too): shown as such.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';
import { runPy } from '../helpers/proc.ts';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';

const COMMITTED_WHILE_D_OPEN = ['p0', 'b1', 'b2', 'p1', 'c1'];
const ALL = ['p0', 'a1', 'a2', 'b1', 'b2', 'p1', 'c1', 'd1', 'p2'];
const COMMITTED_AT_END = ['p0', 'b1', 'b2', 'p1', 'c1', 'd1', 'p2'];
/** Offsets of the COMMIT/ABORT markers written below. */
const MARKERS = [6, 7, 9, 12];

describe('transactional log read by real consumers', () => {
  let broker: TestBroker;
  let bs: string;
  let conn: Connection;
  const topic = uniqueTopic('txn-log');
  const seqs = new Map<number, number>();
  /** Commits the transaction left open (set up in before). */
  let phase2: () => Promise<void>;

  async function producerId(): Promise<number> {
    const r = await conn.send('InitProducerId', { transactionalId: null, transactionTimeoutMs: 60_000 });
    assert.equal(r.errorCode, ErrorCode.NONE);
    return Number(r.producerId);
  }

  async function produce(values: string[], pid?: number): Promise<void> {
    const seq = pid === undefined ? -1 : (seqs.get(pid) ?? 0);
    if (pid !== undefined) seqs.set(pid, seq + values.length);
    const records = encodeBatch({
      baseTimestamp: Date.now(),
      producerId: pid ?? -1,
      producerEpoch: pid === undefined ? -1 : 0,
      baseSequence: seq,
      isTransactional: pid !== undefined,
      records: values.map((v) => ({ key: Buffer.from('k'), value: Buffer.from(v) })),
    });
    const r = await conn.send('Produce', {
      transactionalId: pid === undefined ? null : `txn-log-${pid}`,
      acks: -1,
      timeoutMs: 10_000,
      topicData: [{ name: topic, partitionData: [{ index: 0, records }] }],
    });
    assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  }

  async function marker(pid: number, commit: boolean): Promise<void> {
    const r = await conn.send('WriteTxnMarkers', {
      markers: [
        {
          producerId: pid,
          producerEpoch: 0,
          transactionResult: commit,
          topics: [{ name: topic, partitionIndexes: [0] }],
          coordinatorEpoch: 0,
        },
      ],
    });
    assert.equal(r.markers[0].topics[0].partitions[0].errorCode, ErrorCode.NONE);
  }

  before(async () => {
    // the log side alone: transactional batches of producers no coordinator knows, so without
    // KIP-890 verification (test/unit/server/txn-verification.test.ts has it)
    broker = await startTestBroker({
      overrides: {
        'num.partitions': '1',
        'auto.create.topics.enable': 'false',
        'transaction.partition.verification.enable': 'false',
      },
    });
    bs = broker.bootstrapServers;
    const kafka = new kafkajs.Kafka({ brokers: [bs], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    conn = new Connection({ host: broker.host, port: broker.port });
    await conn.connect();
    const [a, b, c, d] = [await producerId(), await producerId(), await producerId(), await producerId()];
    await produce(['p0']); // 0
    await produce(['a1', 'a2'], a); // 1-2
    await produce(['b1'], b); // 3
    await produce(['b2'], b); // 4
    await produce(['p1']); // 5
    await marker(a, false); // 6
    await marker(b, true); // 7
    await produce(['c1'], c); // 8
    await marker(c, true); // 9
    await produce(['d1'], d); // 10: left open, the last stable offset
    await produce(['p2']); // 11
    phase2 = async () => marker(d, true); // 12
  });

  after(async () => {
    await conn?.close();
    await broker?.close();
  });

  test('kcat read_committed stops at the open transaction and skips the aborted one', async () => {
    const rc = await kcatConsume(bs, topic, { partition: 0, extra: ['-X', 'isolation.level=read_committed'] });
    assert.deepEqual(
      rc.map((r) => r.payload),
      COMMITTED_WHILE_D_OPEN,
    );
    assert.deepEqual(
      rc.map((r) => r.offset),
      [0, 3, 4, 5, 8],
    );
    const ru = await kcatConsume(bs, topic, { partition: 0, extra: ['-X', 'isolation.level=read_uncommitted'] });
    assert.deepEqual(
      ru.map((r) => r.payload),
      ALL,
    );
  });

  test('confluent-kafka-python read_committed and read_uncommitted', async () => {
    const rc = await runPy('ck_txn_consume.py', [bs, topic, 'read_committed']);
    assert.deepEqual(rc.errors, []);
    assert.equal(rc.eof, true);
    assert.deepEqual(rc.values, COMMITTED_WHILE_D_OPEN);
    const ru = await runPy('ck_txn_consume.py', [bs, topic, 'read_uncommitted']);
    assert.deepEqual(ru.errors, []);
    assert.deepEqual(ru.values, ALL);
    assert.deepEqual(ru.offsets, [0, 1, 2, 3, 4, 5, 8, 10, 11]);
  });

  test('kafkajs once the last transaction commits: committed records only, or all of them; kafka-python all', async () => {
    await phase2();
    const kafka = new kafkajs.Kafka({ brokers: [bs], logLevel: kafkajs.logLevel.NOTHING });
    const consume = async (readUncommitted: boolean, want: number): Promise<string[]> => {
      const consumer = kafka.consumer({ groupId: uniqueTopic(`txn-log-${readUncommitted}`), readUncommitted });
      const got: string[] = [];
      let done!: () => void;
      const finished = new Promise<void>((r) => {
        done = r;
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value!.toString());
          // p2 is the last data record: everything before it has been delivered
          if (message.value!.toString() === 'p2' || got.length >= want) done();
        },
      });
      const timer = setTimeout(done, 60_000);
      await finished;
      clearTimeout(timer);
      await consumer.disconnect();
      return got;
    };
    assert.deepEqual(await consume(false, COMMITTED_AT_END.length), COMMITTED_AT_END);
    assert.deepEqual(await consume(true, ALL.length), ALL);
    const rc = await kcatConsume(bs, topic, { partition: 0, extra: ['-X', 'isolation.level=read_committed'] });
    assert.deepEqual(
      rc.map((r) => r.payload),
      COMMITTED_AT_END,
    );
    // kafka-python 2.0.2 has no read_committed, and it hands control records to the application as records
    // (key and value the marker's; it does so against Kafka too): the data records are all there, in order,
    // and what else it returned is exactly markers
    const kp = await runPy('kp_txn_consume.py', [bs, topic, 'p2']);
    assert.equal(kp.error, null);
    const data = kp.offsets
      .map((o: number, i: number) => [o, kp.values[i]])
      .filter(([o]: [number]) => !MARKERS.includes(o));
    assert.deepEqual(
      data.map(([, v]: [number, string]) => v),
      ALL,
      'kafka-python',
    );
    assert.deepEqual(
      data.map(([o]: [number]) => o),
      [0, 1, 2, 3, 4, 5, 8, 10, 11],
    );
    for (let i = 0; i < kp.offsets.length; i++)
      if (MARKERS.includes(kp.offsets[i]))
        assert.equal(kp.values[i], '\u0000'.repeat(6), 'a marker value: version 0, coordinator epoch 0');
  });
});
