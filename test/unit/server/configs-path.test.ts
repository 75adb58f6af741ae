/**
 * Config admin through a real client (kafkajs): a dynamic broker config
 * (AlterConfigs on the BROKER resource) becomes the effective value of topics
 * without an override, with the right config source and synonyms; topic
 * overrides win; read-only broker properties cannot be altered. Dynamic
 * broker properties follow Kafka's update modes (per-broker, cluster-wide),
 * with Samsa's own client for IncrementalAlterConfigs, and survive a restart.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { KafkaClient } from '../../../src/client/client.ts';

const { ConfigResourceTypes } = kafkajs;
const DYNAMIC_TOPIC_CONFIG = 1;
const DYNAMIC_BROKER_CONFIG = 2;
const DEFAULT_CONFIG = 5;

let broker: EmbeddedBroker;
let admin: kafkajs.Admin;

before(async () => {
  broker = await startBroker();
  admin = new kafkajs.Kafka({
    brokers: [broker.bootstrapServers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'cfg-plain' },
      { topic: 'cfg-override', configEntries: [{ name: 'retention.ms', value: '555' }] },
    ],
  });
});

after(async () => {
  await admin?.disconnect();
  await broker?.close();
});

async function topicEntry(topic: string, name: string) {
  const r = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: [name] }],
    includeSynonyms: true,
  });
  return r.resources[0].configEntries.find((e: any) => e.configName === name) as any;
}

test('a dynamic broker retention becomes the default of topics without an override', async () => {
  const before = await topicEntry('cfg-plain', 'retention.ms');
  assert.equal(before.configValue, String(7 * 24 * 3600 * 1000));
  assert.equal(before.configSource, DEFAULT_CONFIG);

  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      { type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'log.retention.ms', value: '1234' }] },
    ],
  });

  const plain = await topicEntry('cfg-plain', 'retention.ms');
  assert.equal(plain.configValue, '1234');
  assert.equal(plain.configSource, DYNAMIC_BROKER_CONFIG);
  assert.ok(plain.configSynonyms.some((s: any) => s.configName === 'log.retention.ms' && s.configValue === '1234'));

  const overridden = await topicEntry('cfg-override', 'retention.ms');
  assert.equal(overridden.configValue, '555');
  assert.equal(overridden.configSource, DYNAMIC_TOPIC_CONFIG);

  const b = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['log.retention.ms'] }],
    includeSynonyms: false,
  });
  const e = b.resources[0].configEntries.find((x: any) => x.configName === 'log.retention.ms') as any;
  assert.equal(e.configValue, '1234');
});

test('a read-only broker property is INVALID_REQUEST (as in Kafka); an unknown topic config is INVALID_CONFIG', async () => {
  await assert.rejects(
    admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configEntries: [{ name: 'node.id', value: '7' }] }],
    }),
    (err: any) => err.type === 'INVALID_REQUEST',
  );
  await assert.rejects(
    admin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: 'cfg-plain', configEntries: [{ name: 'retention.mss', value: '1' }] },
      ],
    }),
    (err: any) => /INVALID_CONFIG|unknown/i.test(`${err.type} ${err.message}`),
  );
});

// ---------------------------------------------------------------- dynamic broker configs (Kafka's update modes)

const DYNAMIC_DEFAULT_BROKER_CONFIG = 3;
const INVALID_REQUEST = 42;

/** A broker on a data dir of its own, restarted by the last test. */
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-dyncfg-'));
let dyn: EmbeddedBroker | undefined;
let client: KafkaClient | undefined;

async function startDyn() {
  dyn = await startBroker({ dataDir });
  client = new KafkaClient({ bootstrapServers: dyn.bootstrapServers, clientId: 'configs-path-test' });
}

async function stopDyn() {
  await client?.close();
  await dyn?.close();
  client = undefined;
  dyn = undefined;
}

after(async () => {
  await stopDyn();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function alter(
  name: string,
  configs: { name: string; value?: string | null; op?: 'set' | 'delete' }[],
  validateOnly = false,
) {
  const [r] = await client!.incrementalAlterConfigs([{ type: 'broker', name, configs }], { validateOnly });
  return r.error;
}

async function brokerEntry(resource: string, key: string) {
  const [r] = await client!.describeConfigs([{ type: 'broker', name: resource, keys: [key] }], {
    includeSynonyms: true,
  });
  assert.equal(r.error, null);
  return r.configs.find((c) => c.name === key);
}

test('dynamic broker properties Samsa has nothing to reconfigure are accepted, stored and described', async () => {
  await startDyn();
  assert.equal(await alter('1', [{ name: 'log.cleaner.threads', value: '2' }]), null);
  assert.equal(await alter('1', [{ name: 'sasl.kerberos.min.time.before.relogin', value: '120000' }]), null);
  const threads = await brokerEntry('1', 'log.cleaner.threads');
  assert.equal(threads?.value, '2');
  assert.equal(threads?.source, DYNAMIC_BROKER_CONFIG);
  assert.equal(threads?.readOnly, false);
  const relogin = await brokerEntry('1', 'sasl.kerberos.min.time.before.relogin');
  assert.equal(relogin?.value, '120000');
  assert.equal(relogin?.source, DYNAMIC_BROKER_CONFIG);
});

test('cluster-wide properties can be set as the cluster default; per-broker ones cannot', async () => {
  assert.equal(await alter('', [{ name: 'log.cleaner.threads', value: '3' }]), null);
  const def = await brokerEntry('', 'log.cleaner.threads');
  assert.equal(def?.value, '3');
  assert.equal(def?.source, DYNAMIC_DEFAULT_BROKER_CONFIG);
  // the per-broker value still wins for broker 1, the default is next in its synonyms
  const mine = await brokerEntry('1', 'log.cleaner.threads');
  assert.equal(mine?.value, '2');
  assert.deepEqual(mine?.synonyms.map((s: any) => s.source).slice(0, 2), [
    DYNAMIC_BROKER_CONFIG,
    DYNAMIC_DEFAULT_BROKER_CONFIG,
  ]);
  // the cluster default resource lists only what was set there
  const [all] = await client!.describeConfigs([{ type: 'broker', name: '' }]);
  assert.deepEqual(
    all.configs.map((c) => c.name),
    ['log.cleaner.threads'],
  );

  const perBroker = await alter('', [{ name: 'sasl.kerberos.min.time.before.relogin', value: '1000' }]);
  assert.equal(perBroker?.code, INVALID_REQUEST);
  assert.match(perBroker!.message, /broker id must be specified/);
});

test('read-only properties and security promises are refused with INVALID_REQUEST, as Kafka does', async () => {
  const ro = await alter('1', [{ name: 'node.id', value: '7' }]);
  assert.equal(ro?.code, INVALID_REQUEST);
  assert.match(ro!.message, /Cannot update these configs dynamically: node\.id/);
  const sasl = await alter('1', [{ name: 'sasl.enabled.mechanisms', value: 'PLAIN' }]);
  assert.equal(sasl?.code, INVALID_REQUEST);
  assert.match(sasl!.message, /Cannot update these configs dynamically: sasl\.enabled\.mechanisms/);
  const listener = await alter('1', [{ name: 'listeners', value: 'SASL_SSL://127.0.0.1:0' }]);
  assert.equal(listener?.code, INVALID_REQUEST);
  assert.match(listener!.message, /SASL_SSL/);
  const bad = await alter('1', [{ name: 'log.cleaner.threads', value: 'many' }]);
  assert.equal(bad?.code, INVALID_REQUEST);
  assert.equal((await brokerEntry('1', 'log.cleaner.threads'))?.value, '2', 'nothing was stored');
  assert.equal(await alter('1', [{ name: 'background.threads', value: '4' }], true), null, 'validateOnly succeeds');
  assert.equal((await brokerEntry('1', 'background.threads'))?.source, DEFAULT_CONFIG, 'validateOnly stores nothing');
});

test('dynamic broker configs survive a restart', async () => {
  await stopDyn();
  await startDyn();
  const threads = await brokerEntry('1', 'log.cleaner.threads');
  assert.equal(threads?.value, '2');
  assert.equal(threads?.source, DYNAMIC_BROKER_CONFIG);
  assert.equal((await brokerEntry('', 'log.cleaner.threads'))?.source, DYNAMIC_DEFAULT_BROKER_CONFIG);
  assert.equal((await brokerEntry('1', 'sasl.kerberos.min.time.before.relogin'))?.value, '120000');
  assert.equal(await alter('1', [{ name: 'log.cleaner.threads', op: 'delete' }]), null);
  assert.equal(
    (await brokerEntry('1', 'log.cleaner.threads'))?.value,
    '3',
    'the cluster default shows once the per-broker value is gone',
  );
});
