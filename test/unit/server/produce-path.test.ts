/**
 * Produce-time checks a Kafka client sees: CreateTime timestamps outside
 * message.timestamp.before/after.max.ms are refused with INVALID_TIMESTAMP
 * (KIP-937), and a topic override widens the window; LogAppendTime topics
 * take any producer timestamp and stamp their own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';

let broker: EmbeddedBroker;
let kafka: kafkajs.Kafka;
let producer: kafkajs.Producer;

before(async () => {
  broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  kafka = new kafkajs.Kafka({
    brokers: [broker.bootstrapServers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'ts-default' },
      {
        topic: 'ts-wide',
        configEntries: [{ name: 'message.timestamp.after.max.ms', value: String(24 * 3600 * 1000) }],
      },
      { topic: 'ts-append', configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] },
    ],
  });
  await admin.disconnect();
  producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, retry: { retries: 0 } });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await broker?.close();
});

const twoHoursAhead = () => String(Date.now() + 2 * 3600 * 1000);

test('a timestamp beyond message.timestamp.after.max.ms (1 h by default) is INVALID_TIMESTAMP', async () => {
  await assert.rejects(
    producer.send({ topic: 'ts-default', messages: [{ value: 'future', timestamp: twoHoursAhead() }] }),
    (err: any) => err.type === 'INVALID_TIMESTAMP' || /INVALID_TIMESTAMP|out of range/i.test(String(err.message)),
  );
  const ok = await producer.send({ topic: 'ts-default', messages: [{ value: 'now' }] });
  assert.equal(ok[0].errorCode, 0);
});

test('a topic override widens the window; LogAppendTime topics ignore the producer timestamp', async () => {
  const wide = await producer.send({ topic: 'ts-wide', messages: [{ value: 'future', timestamp: twoHoursAhead() }] });
  assert.equal(wide[0].errorCode, 0);
  const stamped = await producer.send({
    topic: 'ts-append',
    messages: [{ value: 'future', timestamp: twoHoursAhead() }],
  });
  assert.equal(stamped[0].errorCode, 0);
  assert.ok(
    Number(stamped[0].logAppendTime) > 0 && Number(stamped[0].logAppendTime) <= Date.now(),
    'the broker stamped its own time',
  );
});
