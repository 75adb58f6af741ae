/**
 * min.insync.replicas as a Kafka client sees it (kafkajs against an
 * in-process broker): with one node the ISR is 1, so a topic with
 * min.insync.replicas=2 refuses acks=all produces with NOT_ENOUGH_REPLICAS
 * and appends nothing, while acks=1 still succeeds; the broker default
 * applies to topics without an override, and a runtime change of the topic
 * config applies at once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';

let broker: EmbeddedBroker;
let kafka: kafkajs.Kafka;
let producer: kafkajs.Producer;
let admin: kafkajs.Admin;

before(async () => {
  broker = await startBroker({ overrides: { 'auto.create.topics.enable': 'false' }, logLevel: 'silent' });
  kafka = new kafkajs.Kafka({
    brokers: [broker.bootstrapServers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'two-isr', configEntries: [{ name: 'min.insync.replicas', value: '2' }] },
      { topic: 'default-isr' },
    ],
  });
  producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, retry: { retries: 0 } });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.close();
});

const notEnoughReplicas = (err: any) =>
  err?.type === 'NOT_ENOUGH_REPLICAS' || err?.cause?.type === 'NOT_ENOUGH_REPLICAS';

async function high(topic: string): Promise<string> {
  const [p0] = await admin.fetchTopicOffsets(topic);
  return p0.high;
}

test('min.insync.replicas=2 on one node: acks=all gets NOT_ENOUGH_REPLICAS and appends nothing; acks=1 succeeds', async () => {
  await assert.rejects(producer.send({ topic: 'two-isr', acks: -1, messages: [{ value: 'all' }] }), notEnoughReplicas);
  assert.equal(await high('two-isr'), '0', 'nothing appended');
  const [ok] = await producer.send({ topic: 'two-isr', acks: 1, messages: [{ value: 'one' }] });
  assert.equal(ok.errorCode, 0);
  assert.equal(await high('two-isr'), '1');
  // the default (1) lets acks=all through
  const [all] = await producer.send({ topic: 'default-isr', acks: -1, messages: [{ value: 'all' }] });
  assert.equal(all.errorCode, 0);
});

test('a runtime change of min.insync.replicas applies at once, for the topic and for the broker default', async () => {
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name: 'two-isr',
        configEntries: [{ name: 'min.insync.replicas', value: '1' }],
      },
    ],
  });
  const [ok] = await producer.send({ topic: 'two-isr', acks: -1, messages: [{ value: 'all' }] });
  assert.equal(ok.errorCode, 0);
  // the broker default (set dynamically for this broker) reaches topics without an override
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: kafkajs.ConfigResourceTypes.BROKER,
        name: '1',
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      },
    ],
  });
  await assert.rejects(
    producer.send({ topic: 'default-isr', acks: -1, messages: [{ value: 'all' }] }),
    notEnoughReplicas,
  );
  const [one] = await producer.send({ topic: 'default-isr', acks: 1, messages: [{ value: 'one' }] });
  assert.equal(one.errorCode, 0);
});
