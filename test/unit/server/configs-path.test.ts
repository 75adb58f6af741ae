/**
 * Config admin through a real client (kafkajs): a dynamic broker config
 * (AlterConfigs on the BROKER resource) becomes the effective value of topics
 * without an override, with the right config source and synonyms; topic
 * overrides win; read-only broker properties cannot be altered.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';

const { ConfigResourceTypes } = kafkajs;
const DYNAMIC_TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DEFAULT_CONFIG = 5;

let broker: EmbeddedBroker;
let admin: kafkajs.Admin;

before(async () => {
  broker = await startBroker();
  admin = new kafkajs.Kafka({ brokers: [broker.bootstrapServers], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: 'cfg-plain' }, { topic: 'cfg-override', configEntries: [{ name: 'retention.ms', value: '555' }] }],
  });
});

after(async () => {
  await admin?.disconnect();
  await broker?.close();
});

async function topicEntry(topic: string, name: string) {
  const r = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }], includeSynonyms: true });
  return r.resources[0].configEntries.find((e: any) => e.configName === name) as any;
}

test('a dynamic broker retention becomes the default of topics without an override', async () => {
  const before = await topicEntry('cfg-plain', 'retention.ms');
  assert.equal(before.configValue, String(7 * 24 * 3600 * 1000));
  assert.equal(before.configSource, DEFAULT_CONFIG);

  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.retention.ms', value: '1234' }] }],
  });

  const plain = await topicEntry('cfg-plain', 'retention.ms');
  assert.equal(plain.configValue, '1234');
  assert.equal(plain.configSource, DYNAMIC_BROKER_CONFIG);
  assert.ok(plain.configSynonyms.some((s: any) => s.configName === 'log.retention.ms' && s.configValue === '1234'));

  const overridden = await topicEntry('cfg-override', 'retention.ms');
  assert.equal(overridden.configValue, '555');
  assert.equal(overridden.configSource, DYNAMIC_TOPIC_CONFIG);

  const b = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['log.retention.ms'] }], includeSynonyms: false });
  const e = b.resources[0].configEntries.find((x: any) => x.configName === 'log.retention.ms') as any;
  assert.equal(e.configValue, '1234');
});

test('a read-only broker property cannot be altered; an unknown topic config is INVALID_CONFIG', async () => {
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'node.id', value: '7' }] }] }),
    (err: any) => /INVALID_CONFIG|cannot/i.test(`${err.type} ${err.message}`),
  );
  await assert.rejects(
    admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'cfg-plain', configEntries: [{ name: 'retention.mss', value: '1' }] }] }),
    (err: any) => /INVALID_CONFIG|unknown/i.test(`${err.type} ${err.message}`),
  );
});
