// Tests for topic config validation and the DescribeConfigs views (values, sources, synonyms).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import {
  validateTopicConfig,
  resolveTopicConfigs,
  effectiveTopicConfigs,
  describeBrokerConfigs,
  isListConfig,
  isDynamicBrokerConfig,
  checkBrokerConfigChange,
  describeClusterDefaultConfigs,
} from '../../../src/config/topic-config.ts';
import { ConfigSource, ConfigType } from '../../../src/config/config-def.ts';

const broker = (o: Record<string, string> = {}) => loadBrokerConfig({ overrides: o, fdLimit: 4096 });
const byName = <T extends { name: string }>(list: T[], name: string): T => list.find((c) => c.name === name)!;

test('validateTopicConfig', () => {
  assert.equal(validateTopicConfig('retention.ms', '1000'), null);
  assert.equal(validateTopicConfig('retention.ms', '-1'), null);
  assert.equal(validateTopicConfig('cleanup.policy', 'compact,delete'), null);
  assert.equal(
    validateTopicConfig('retention.mz', '1'),
    "unknown topic config 'retention.mz' (did you mean 'retention.ms'?)",
  );
  assert.equal(
    validateTopicConfig('segment.bytes', '10'),
    "invalid value '10' for topic config 'segment.bytes': must be at least 14",
  );
  assert.match(validateTopicConfig('min.cleanable.dirty.ratio', '1.5')!, /between 0 and 1/);
  assert.match(validateTopicConfig('compression.type', 'brotli')!, /must be one of/);
  assert.match(validateTopicConfig('max.message.bytes', 'x')!, /expected an int/);
  assert.equal(validateTopicConfig('leader.replication.throttled.replicas', '0:1,1:1'), null);
  assert.match(validateTopicConfig('leader.replication.throttled.replicas', 'x')!, /partition:brokerId/);
});

test('a topic without overrides reports the broker defaults', () => {
  const list = resolveTopicConfigs({}, broker());
  const r = byName(list, 'retention.ms');
  assert.equal(r.value, '604800000');
  assert.equal(r.source, ConfigSource.DEFAULT_CONFIG);
  assert.equal(r.configType, ConfigType.LONG);
  assert.deepEqual(r.synonyms, [{ name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG }]);
  assert.equal(byName(list, 'flush.ms').value, '9223372036854775807');
  assert.equal(byName(list, 'max.message.bytes').value, '1048588');
  assert.equal(byName(list, 'cleanup.policy').configType, ConfigType.LIST);
  assert.equal(byName(list, 'remote.storage.enable').source, ConfigSource.DEFAULT_CONFIG);
});

test('static broker synonyms convert units and keep their order', () => {
  const b = broker({ 'log.retention.minutes': '10', 'message.max.bytes': '2000', 'log.roll.hours': '2' });
  const list = resolveTopicConfigs({}, b);
  const r = byName(list, 'retention.ms');
  assert.equal(r.value, '600000');
  assert.equal(r.source, ConfigSource.STATIC_BROKER_CONFIG);
  assert.deepEqual(r.synonyms, [
    { name: 'log.retention.minutes', value: '10', source: ConfigSource.STATIC_BROKER_CONFIG },
    { name: 'log.retention.hours', value: '168', source: ConfigSource.DEFAULT_CONFIG },
  ]);
  assert.equal(byName(list, 'max.message.bytes').value, '2000');
  assert.equal(byName(list, 'segment.ms').value, String(2 * 3_600_000));
});

test('topic override beats dynamic and static broker values', () => {
  const b = broker({ 'log.retention.ms': '5000' });
  const dyn = {
    perBroker: new Map([['log.retention.ms', '7000']]),
    clusterDefault: new Map([['log.retention.ms', '8000']]),
  };
  const withOverride = byName(resolveTopicConfigs({ 'retention.ms': '1000' }, b, dyn), 'retention.ms');
  assert.equal(withOverride.value, '1000');
  assert.equal(withOverride.source, ConfigSource.DYNAMIC_TOPIC_CONFIG);
  assert.deepEqual(
    withOverride.synonyms.map((s) => [s.name, s.value, s.source]),
    [
      ['retention.ms', '1000', ConfigSource.DYNAMIC_TOPIC_CONFIG],
      ['log.retention.ms', '7000', ConfigSource.DYNAMIC_BROKER_CONFIG],
      ['log.retention.ms', '8000', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG],
      ['log.retention.ms', '5000', ConfigSource.STATIC_BROKER_CONFIG],
      ['log.retention.hours', '168', ConfigSource.DEFAULT_CONFIG],
    ],
  );
  const noOverride = byName(resolveTopicConfigs(new Map(), b, { clusterDefault: dyn.clusterDefault }), 'retention.ms');
  assert.equal(noOverride.value, '8000');
  assert.equal(noOverride.source, ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG);
});

test('effectiveTopicConfigs gives plain values', () => {
  const m = effectiveTopicConfigs({ 'cleanup.policy': 'compact, delete' }, broker({ 'log.segment.bytes': '1048576' }));
  assert.equal(m.get('cleanup.policy'), 'compact,delete');
  assert.equal(m.get('segment.bytes'), '1048576');
  assert.equal(m.get('retention.bytes'), '-1');
});

test('describeBrokerConfigs: sources, readOnly, dynamic overrides', () => {
  const b = broker({ 'num.partitions': '4' });
  const list = describeBrokerConfigs(b, { perBroker: new Map([['log.retention.bytes', '100']]) });
  const np = byName(list, 'num.partitions');
  assert.equal(np.value, '4');
  assert.equal(np.source, ConfigSource.STATIC_BROKER_CONFIG);
  assert.equal(np.readOnly, true);
  const rb = byName(list, 'log.retention.bytes');
  assert.equal(rb.value, '100');
  assert.equal(rb.source, ConfigSource.DYNAMIC_BROKER_CONFIG);
  assert.equal(rb.readOnly, false);
  const ms = byName(list, 'log.retention.ms');
  assert.equal(ms.value, null);
  assert.equal(ms.source, ConfigSource.DEFAULT_CONFIG);
});

test('list and dynamic predicates; broker config validation', () => {
  assert.equal(isListConfig('cleanup.policy'), true);
  assert.equal(isListConfig('retention.ms'), false);
  assert.equal(isDynamicBrokerConfig('log.retention.ms'), true);
  assert.equal(isDynamicBrokerConfig('node.id'), false);
  const check = (resource: string, changes: Record<string, string | null>) =>
    checkBrokerConfigChange(broker(), {}, resource, changes, false);
  assert.equal(check('1', { 'log.retention.bytes': '10' }), null);
  assert.equal(check('', { 'log.retention.bytes': '10' }), null);
  assert.deepEqual(check('1', { 'node.id': '3' }), {
    error: 'INVALID_REQUEST',
    message: 'Cannot update these configs dynamically: node.id',
  });
  assert.equal(check('1', { 'log.retention.bytes': 'x' })?.error, 'INVALID_REQUEST');
  assert.match(check('1', { 'log.retention.bytes': 'x' })!.message, /expected a long/);
  assert.equal(check('1', { 'log.retention.bytez': '1' })?.error, 'INVALID_CONFIG');
  assert.equal(check('1', { 'sasl.kerberos.min.time.before.relogin': '1000' }), null);
  assert.match(check('', { 'sasl.kerberos.min.time.before.relogin': '1000' })!.message, /broker id must be specified/);
  assert.match(
    check('1', { 'sasl.enabled.mechanisms': 'PLAIN' })?.message ?? '',
    /Cannot update these configs dynamically/,
  );
  assert.match(check('1', { 'super.users': 'User:admin' })?.message ?? '', /Cannot update these configs dynamically/);
});

test("every broker property has Kafka's update mode", () => {
  const list = describeBrokerConfigs(broker());
  const mode = (n: string) => (byName(list, n).readOnly ? 'read-only' : 'dynamic');
  for (const n of [
    'node.id',
    'log.dirs',
    'log.retention.hours',
    'log.roll.hours',
    'group.max.size',
    'advertised.listeners',
  ])
    assert.equal(mode(n), 'read-only', n);
  for (const n of [
    'log.retention.ms',
    'log.cleaner.threads',
    'num.io.threads',
    'max.connections',
    'listeners',
    'sasl.kerberos.min.time.before.relogin',
  ]) {
    assert.equal(mode(n), 'dynamic', n);
  }
});

test('a sensitive property is never shown, not even in synonyms', () => {
  const b = broker({ 'password.encoder.secret': 'hunter2' });
  const e = byName(describeBrokerConfigs(b), 'password.encoder.secret');
  assert.equal(e.isSensitive, true);
  assert.equal(e.value, null);
  assert.ok(e.synonyms.length > 0 && e.synonyms.every((s) => s.value === null), JSON.stringify(e.synonyms));
  assert.deepEqual(
    describeClusterDefaultConfigs({ clusterDefault: new Map([['log.cleaner.threads', '2']]) }).map((c) => [
      c.name,
      c.value,
      c.source,
    ]),
    [['log.cleaner.threads', '2', ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG]],
  );
});
