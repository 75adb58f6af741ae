// Tests for the broker config loader: properties syntax, overrides, Kafka's precedence rules and one-line errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProperties } from '../../../src/config/properties.ts';
import { ConfigError, loadBrokerConfig, defaultMaxConnections } from '../../../src/config/broker-config.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function tmpFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-cfg-'));
  dirs.push(dir);
  const file = path.join(dir, 'server.properties');
  fs.writeFileSync(file, text);
  return file;
}

function load(overrides: Record<string, string> | string[] = {}) {
  return loadBrokerConfig({ overrides, cwd: '/srv', fdLimit: 1024 });
}

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('properties: comments, separators, continuations and escapes', () => {
  const text = [
    '# a comment',
    '! another comment',
    '   ',
    'a=1',
    'b : two words ',
    'c\tthree',
    'd=first \\',
    '    second',
    'e=tab\\there\\u0041\\=',
    'key\\ with\\ space=x',
    'empty=',
    'a=overridden',
  ].join('\n');
  const m = new Map(parseProperties(text).map((e) => [e.key, e.value]));
  assert.equal(m.get('a'), 'overridden');
  assert.equal(m.get('b'), 'two words ');
  assert.equal(m.get('c'), 'three');
  assert.equal(m.get('d'), 'first second');
  assert.equal(m.get('e'), 'tab\thereA=');
  assert.equal(m.get('key with space'), 'x');
  assert.equal(m.get('empty'), '');
  assert.equal(m.size, 7);
});

test('properties: line numbers and CRLF', () => {
  const entries = parseProperties('x=1\r\n\r\ny=2\\\r\n 3\r\nz=4');
  assert.deepEqual(
    entries.map((e) => [e.key, e.value, e.line]),
    [
      ['x', '1', 1],
      ['y', '23', 3],
      ['z', '4', 5],
    ],
  );
});

test('defaults', () => {
  const c = load();
  assert.equal(c.nodeId, 1);
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9092, securityProtocol: 'PLAINTEXT' }]);
  assert.deepEqual(c.advertisedListeners, c.listeners);
  assert.deepEqual(c.logDirs, ['/srv/data']);
  assert.equal(c.numPartitions, 1);
  assert.equal(c.defaultReplicationFactor, 1);
  assert.equal(c.autoCreateTopicsEnable, true);
  assert.equal(c.logRetentionMs, 168 * 3_600_000);
  assert.equal(c.logRetentionBytes, -1);
  assert.equal(c.logSegmentBytes, 1024 ** 3);
  assert.equal(c.logSegmentMs, 168 * 3_600_000);
  assert.equal(c.logFlushIntervalMessages, Number.MAX_SAFE_INTEGER);
  assert.equal(c.logFlushIntervalMs, null);
  assert.equal(c.messageMaxBytes, 1048588);
  assert.equal(c.socketRequestMaxBytes, 104857600);
  assert.equal(c.connectionsMaxIdleMs, 600000);
  assert.equal(c.maxConnections, 1024 - 64);
  assert.equal(c.groupInitialRebalanceDelayMs, 3000);
  assert.equal(c.offsetsTopicNumPartitions, 50);
  assert.equal(c.offsetsTopicReplicationFactor, 3);
  assert.equal(c.offsetsCommitTimeoutMs, 5000);
  assert.equal(c.offsetsRetentionMinutes, 10080);
  assert.equal(c.offsetsRetentionMs, 10080 * 60_000);
  assert.equal(c.groupMinSessionTimeoutMs, 6000);
  assert.equal(c.groupMaxSessionTimeoutMs, 1800000);
  assert.deepEqual(c.logCleanupPolicy, ['delete']);
  assert.equal(c.logMessageTimestampType, 'CreateTime');
  assert.equal(c.clusterId, null);
  assert.equal(c.raw.size, 0);
});

test('max.connections: capped default, explicit value kept', () => {
  assert.equal(defaultMaxConnections(1024), 960);
  assert.equal(defaultMaxConnections(1_048_576), 10_000);
  assert.equal(defaultMaxConnections(undefined), 10_000);
  assert.equal(defaultMaxConnections(10), 1);
  assert.equal(load({ 'max.connections': '50000' }).maxConnections, 50000);
});

test('file then overrides; both kinds of override', () => {
  const file = tmpFile('num.partitions=3\nlog.dirs=/a,/b\nnum.io.threads=8\nlog.retention.hours = 24\n');
  const c = loadBrokerConfig({ file, overrides: ['num.partitions=5', 'auto.create.topics.enable=FALSE'] });
  assert.equal(c.numPartitions, 5);
  assert.equal(c.autoCreateTopicsEnable, false);
  assert.deepEqual(c.logDirs, ['/a', '/b']);
  assert.equal(c.logRetentionMs, 24 * 3_600_000);
  assert.deepEqual(c.ignored, ['num.io.threads']);
  assert.equal(c.raw.get('num.partitions'), '5');
  assert.equal(c.raw.get('num.io.threads'), '8');
  const d = loadBrokerConfig({ file, overrides: { 'log.dirs': 'rel/x' }, cwd: '/base' });
  assert.deepEqual(d.logDirs, ['/base/rel/x']);
});

test('override values may contain "="', () => {
  const c = load(['cluster.id=abc', 'advertised.listeners=PLAINTEXT://example.com:9092']);
  assert.equal(c.clusterId, 'abc');
  assert.equal(c.advertisedListeners[0].host, 'example.com');
  assert.match(
    configError(() => load(['novalue'])),
    /override 'novalue' is not of the form key=value/,
  );
});

test('retention precedence: ms over minutes over hours; -1 is unlimited', () => {
  assert.equal(load({ 'log.retention.hours': '2' }).logRetentionMs, 2 * 3_600_000);
  assert.equal(load({ 'log.retention.hours': '2', 'log.retention.minutes': '5' }).logRetentionMs, 5 * 60_000);
  assert.equal(
    load({ 'log.retention.hours': '2', 'log.retention.minutes': '5', 'log.retention.ms': '1234' }).logRetentionMs,
    1234,
  );
  assert.equal(load({ 'log.retention.ms': '-1' }).logRetentionMs, -1);
  assert.equal(load({ 'log.retention.hours': '-1' }).logRetentionMs, -1);
  assert.match(
    configError(() => load({ 'log.retention.ms': '0' })),
    /'log.retention.ms'/,
  );
  assert.match(
    configError(() => load({ 'log.retention.minutes': '0' })),
    /'log.retention.minutes'/,
  );
});

test('roll and flush settings', () => {
  assert.equal(load({ 'log.roll.hours': '1' }).logSegmentMs, 3_600_000);
  assert.equal(load({ 'log.roll.hours': '1', 'log.roll.ms': '500' }).logSegmentMs, 500);
  assert.equal(load({ 'log.flush.interval.ms': '1000' }).logFlushIntervalMs, 1000);
  assert.equal(
    load({ 'log.flush.interval.messages': '9223372036854775807' }).logFlushIntervalMessages,
    Number.MAX_SAFE_INTEGER,
  );
});

test('listeners: parsing, empty host, IPv6, controller listeners, advertised', () => {
  const c = load({
    listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': '1@127.0.0.1:9093',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT',
    'advertised.listeners': 'PLAINTEXT://broker1:19092',
  });
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '0.0.0.0', port: 9092, securityProtocol: 'PLAINTEXT' }]);
  assert.deepEqual(c.advertisedListeners, [
    { name: 'PLAINTEXT', host: 'broker1', port: 19092, securityProtocol: 'PLAINTEXT' },
  ]);
  assert.deepEqual(
    load({ listeners: 'internal://[::1]:0', 'listener.security.protocol.map': 'INTERNAL:PLAINTEXT' }).listeners,
    [{ name: 'INTERNAL', host: '::1', port: 0, securityProtocol: 'PLAINTEXT' }],
  );
  // several client listeners, each opened
  assert.deepEqual(
    load({
      listeners: 'PLAINTEXT://:9092,INTERNAL://:9094',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT',
    }).listeners.map((l) => l.name),
    ['PLAINTEXT', 'INTERNAL'],
  );
  assert.match(
    configError(() => load({ listeners: 'localhost:9092' })),
    /property 'listeners': expected NAME:\/\/host:port/,
  );
  assert.match(
    configError(() => load({ listeners: 'FOO://h:1' })),
    /FOO has no entry in listener.security.protocol.map/,
  );
  assert.match(
    configError(() => load({ listeners: 'SSL://h:1' })),
    /a TLS listener needs a certificate and key/,
  );
  assert.match(
    configError(() => load({ listeners: 'PLAINTEXT://h:70000' })),
    /out of range/,
  );
  assert.match(
    configError(() => load({ 'advertised.listeners': 'PLAINTEXT://0.0.0.0:9092' })),
    /non-routable/,
  );
});

test('a stock KRaft server.properties loads', () => {
  const file = tmpFile(
    [
      'process.roles=broker,controller',
      'node.id=1',
      'controller.quorum.voters=1@localhost:9093',
      'listeners=PLAINTEXT://:9092,CONTROLLER://:9093',
      'inter.broker.listener.name=PLAINTEXT',
      'advertised.listeners=PLAINTEXT://localhost:9092',
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
      'num.network.threads=3',
      'num.io.threads=8',
      'socket.send.buffer.bytes=102400',
      'socket.receive.buffer.bytes=102400',
      'socket.request.max.bytes=104857600',
      'log.dirs=/tmp/kraft-combined-logs',
      'num.partitions=1',
      'num.recovery.threads.per.data.dir=1',
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'log.retention.hours=168',
      'log.segment.bytes=1073741824',
      'log.retention.check.interval.ms=300000',
    ].join('\n'),
  );
  const c = loadBrokerConfig({ file });
  assert.equal(c.listeners.length, 1);
  assert.equal(c.listeners[0].port, 9092);
  assert.equal(c.advertisedListeners[0].host, 'localhost');
  assert.deepEqual(c.controllerListenerNames, ['CONTROLLER']);
  assert.deepEqual(c.roles, { broker: true, controller: true });
  assert.deepEqual(c.quorumVoters, [{ id: 1, host: 'localhost', port: 9093 }]);
  assert.deepEqual(c.controllerListener, {
    name: 'CONTROLLER',
    host: '0.0.0.0',
    port: 9093,
    securityProtocol: 'PLAINTEXT',
  });
  assert.deepEqual(c.ignored, [
    'num.network.threads',
    'num.io.threads',
    'socket.send.buffer.bytes',
    'socket.receive.buffer.bytes',
    'num.recovery.threads.per.data.dir',
  ]);
});

test('unknown property: one line, with a suggestion', () => {
  assert.equal(
    configError(() => load({ 'log.dirz': '/x' })),
    "unknown property 'log.dirz' (did you mean 'log.dirs'?)",
  );
  assert.equal(
    configError(() => load({ 'completely.made.up.thing': '1' })),
    "unknown property 'completely.made.up.thing'",
  );
  assert.match(
    configError(() => load({ 'retention.ms': '1' })),
    /is a topic config/,
  );
});

test('invalid values name the property and the problem; file errors carry the line', () => {
  assert.equal(
    configError(() => load({ 'num.partitions': 'abc' })),
    "invalid value 'abc' for property 'num.partitions': expected an int (whole number)",
  );
  assert.match(
    configError(() => load({ 'num.partitions': '0' })),
    /'num.partitions': must be at least 1/,
  );
  assert.match(
    configError(() => load({ 'auto.create.topics.enable': 'yes' })),
    /expected true or false/,
  );
  assert.match(
    configError(() => load({ 'message.max.bytes': '3000000000' })),
    /out of range for type INT/,
  );
  assert.match(
    configError(() => load({ 'log.cleanup.policy': 'delete,shred' })),
    /'shred' is not one of delete, compact/,
  );
  assert.match(
    configError(() => load({ 'log.message.timestamp.type': 'Now' })),
    /must be one of CreateTime, LogAppendTime/,
  );
  assert.match(
    configError(() => load({ 'node.id': '2', 'broker.id': '3' })),
    /'broker.id'.*differs from node.id 2/,
  );
  assert.match(
    configError(() => load({ 'group.min.session.timeout.ms': '10', 'group.max.session.timeout.ms': '5' })),
    /group.min.session.timeout.ms/,
  );
  const file = tmpFile('# header\nnum.partitions=1\nnum.partitons=2\n');
  assert.equal(
    configError(() => loadBrokerConfig({ file })),
    "server.properties:3: unknown property 'num.partitons' (did you mean 'num.partitions'?)",
  );
  assert.match(
    configError(() => loadBrokerConfig({ file: '/nonexistent/x.properties' })),
    /cannot read config file '\/nonexistent\/x.properties': no such file/,
  );
});

test('broker.id alone sets the node id', () => {
  assert.equal(load({ 'broker.id': '7' }).nodeId, 7);
});
