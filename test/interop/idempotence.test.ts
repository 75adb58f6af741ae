/**
 * Idempotent produce at the wire level: a retried batch (same producer id,
 * epoch and sequence) is not appended twice, a sequence gap is refused with
 * OUT_OF_ORDER_SEQUENCE_NUMBER, and kcat reads each record exactly once.
 * (kafkajs's and librdkafka's idempotent producers are covered in
 * kafkajs.test.ts / kcat.test.ts / python.test.ts; real clients rarely retry
 * in a test, so the retry is forced here with raw bytes.)
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';
import { W, R, WireConn, recordBatch, produceV3Body, parseProduceV3 } from '../helpers/wire.ts';

const API_PRODUCE = 0;
const API_INIT_PRODUCER_ID = 22;
const OUT_OF_ORDER_SEQUENCE_NUMBER = 45;

describe('idempotent produce on the wire', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker();
  });
  after(async () => {
    await broker?.close();
  });

  test('a duplicate batch is acknowledged once and stored once; a sequence gap is refused', async () => {
    const topic = uniqueTopic('idem-wire');
    const admin = new Kafka({ brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const c = await WireConn.open(broker.host, broker.port);
    try {
      // InitProducerId v1: transactional_id = null, transaction_timeout_ms
      const init = new R(await c.request(API_INIT_PRODUCER_ID, 1, 1, new W().string(null).int32(60_000).build()));
      assert.equal(init.int32(), 1);
      init.int32(); // throttle
      assert.equal(init.int16(), 0, 'InitProducerId error');
      const producerId = init.int64();
      const producerEpoch = init.int16();
      assert.ok(producerId >= 0n);

      const mk = (seq: number, n: number) =>
        recordBatch(
          Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`seq-${seq + i}`) })),
          { producerId, producerEpoch, baseSequence: seq },
        );
      const send = async (corr: number, batch: Buffer) =>
        parseProduceV3(await c.request(API_PRODUCE, 3, corr, produceV3Body(topic, 0, batch))).topics[0].partitions[0];

      const first = await send(10, mk(0, 3));
      assert.equal(first.errorCode, 0);
      assert.equal(first.baseOffset, 0n);
      const second = await send(11, mk(3, 2));
      assert.equal(second.errorCode, 0);
      assert.equal(second.baseOffset, 3n);

      // the retry of the second batch: acknowledged (no error) at its original offset, not appended again
      const retry = await send(12, mk(3, 2));
      assert.equal(retry.errorCode, 0);
      assert.equal(retry.baseOffset, 3n);

      // a gap: sequence 9 when 5 is expected
      const gap = await send(13, mk(9, 1));
      assert.equal(gap.errorCode, OUT_OF_ORDER_SEQUENCE_NUMBER);

      const third = await send(14, mk(5, 1));
      assert.equal(third.errorCode, 0);
      assert.equal(third.baseOffset, 5n);
    } finally {
      c.destroy();
    }
    const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: 0 });
    assert.deepEqual(
      recs.map((r) => r.payload),
      ['seq-0', 'seq-1', 'seq-2', 'seq-3', 'seq-4', 'seq-5'],
    );
  });
});
