// The cluster settings: process.roles, the controller quorum, its listener, and one clear line per misconfiguration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';

function load(overrides: Record<string, string> = {}) {
  return loadBrokerConfig({ overrides, cwd: '/srv', fdLimit: 1024 });
}

function configError(overrides: Record<string, string>): string {
  try {
    load(overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err.message;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(overrides)}`);
}

/** Node `id` of a three-voter cluster on one machine: client port 9091+id, controller port 19091+id. */
function clusterNode(id: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'node.id': String(id),
    'controller.quorum.voters': '1@127.0.0.1:19092,2@127.0.0.1:19093,3@127.0.0.1:19094',
    listeners: `PLAINTEXT://127.0.0.1:${9091 + id},CONTROLLER://127.0.0.1:${19091 + id}`,
    ...extra,
  };
}

test("defaults: a combined node that alone is the quorum, Kafka's timeouts", () => {
  const c = load();
  assert.deepEqual(c.roles, { broker: true, controller: true });
  assert.deepEqual(c.quorumVoters, []);
  assert.deepEqual(c.quorumBootstrapServers, []);
  assert.deepEqual(c.controllerListenerNames, ['CONTROLLER']);
  assert.equal(c.controllerListener, null);
  assert.equal(c.quorumElectionTimeoutMs, 1000);
  assert.equal(c.quorumFetchTimeoutMs, 2000);
  assert.equal(c.quorumElectionBackoffMaxMs, 1000);
  assert.equal(c.brokerHeartbeatIntervalMs, 2000);
  assert.equal(c.brokerSessionTimeoutMs, 9000);
  assert.equal(c.brokerRack, null);
  assert.deepEqual(c.ignored, []);
});

test('a node of a three-voter cluster', () => {
  const c = load(clusterNode(2, { 'broker.rack': 'r2', 'controller.quorum.election.timeout.ms': '300' }));
  assert.deepEqual(c.quorumVoters, [
    { id: 1, host: '127.0.0.1', port: 19092 },
    { id: 2, host: '127.0.0.1', port: 19093 },
    { id: 3, host: '127.0.0.1', port: 19094 },
  ]);
  assert.deepEqual(c.listeners, [{ name: 'PLAINTEXT', host: '127.0.0.1', port: 9093, securityProtocol: 'PLAINTEXT' }]);
  assert.deepEqual(c.controllerListener, {
    name: 'CONTROLLER',
    host: '127.0.0.1',
    port: 19093,
    securityProtocol: 'PLAINTEXT',
  });
  assert.equal(c.brokerRack, 'r2');
  assert.equal(c.quorumElectionTimeoutMs, 300);
  // IPv6 voters in brackets
  const v6 = load({
    'controller.quorum.voters': '1@[::1]:19092',
    listeners: 'PLAINTEXT://[::1]:9092,CONTROLLER://[::1]:19092',
  });
  assert.deepEqual(v6.quorumVoters, [{ id: 1, host: '::1', port: 19092 }]);
});

test('a broker-only node and a controller-only node', () => {
  const broker = load({
    'process.roles': 'broker',
    'node.id': '4',
    'controller.quorum.voters': '1@c1:9093',
  });
  assert.deepEqual(broker.roles, { broker: true, controller: false });
  assert.equal(broker.controllerListener, null);
  const viaBootstrap = load({
    'process.roles': 'broker',
    'node.id': '4',
    'controller.quorum.bootstrap.servers': 'c1:9093, c2:9093',
  });
  assert.deepEqual(viaBootstrap.quorumBootstrapServers, [
    { host: 'c1', port: 9093 },
    { host: 'c2', port: 9093 },
  ]);
  const controller = load({
    'process.roles': 'controller',
    'controller.quorum.voters': '1@c1:9093',
    listeners: 'CONTROLLER://:9093',
  });
  assert.deepEqual(controller.roles, { broker: false, controller: true });
  assert.deepEqual(controller.listeners, []);
  assert.equal(controller.controllerListener?.port, 9093);
});

test('misconfigurations stop startup with one line saying what to change', () => {
  const cases: [Record<string, string>, RegExp][] = [
    // a controller whose node.id is not a voter
    [
      clusterNode(4, { listeners: 'PLAINTEXT://127.0.0.1:9095,CONTROLLER://127.0.0.1:19095' }),
      /node\.id 4 has the controller role but is not one of the voters \(1, 2, 3\); add 4@host:port/,
    ],
    // duplicate voter ids
    [
      { 'controller.quorum.voters': '1@a:9093,1@b:9093', listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093' },
      /voter id 1 appears twice/,
    ],
    // a voter address equal to this node's client listener
    [
      clusterNode(1, { 'controller.quorum.voters': '1@127.0.0.1:19092,2@127.0.0.1:9092' }),
      /voter 2 at 127\.0\.0\.1:9092 is this node's client listener PLAINTEXT/,
    ],
    [
      { 'controller.quorum.voters': '1@localhost:9092', listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093' },
      /voter 1 at localhost:9092 is this node's client listener PLAINTEXT; voters are reached at their controller listener/,
    ],
    // a broker-only node with nothing to join
    [
      { 'process.roles': 'broker' },
      /a broker-only node .* needs a controller quorum to join; set controller\.quorum\.voters/,
    ],
    // this node's voter entry and its CONTROLLER listener disagree
    [
      clusterNode(2, { listeners: 'PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:19999' }),
      /the entry 2@127\.0\.0\.1:19093 for this node does not match its CONTROLLER listener port 19999; make them the same/,
    ],
    // roles without the listener they need
    [
      clusterNode(1, { listeners: 'PLAINTEXT://127.0.0.1:9092' }),
      /needs its CONTROLLER listener; add CONTROLLER:\/\/host:port to listeners/,
    ],
    [
      {
        'process.roles': 'controller',
        'controller.quorum.voters': '1@c1:9093',
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      },
      /a controller-only node .* serves no clients: remove PLAINTEXT from listeners/,
    ],
    [
      {
        'process.roles': 'broker',
        'controller.quorum.voters': '1@c1:9093',
        'node.id': '2',
        listeners: 'CONTROLLER://:9093',
      },
      /no client listener/,
    ],
    [
      {
        'process.roles': 'broker',
        'controller.quorum.voters': '1@c1:9093',
        'node.id': '2',
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
      },
      /CONTROLLER is a controller listener, but process\.roles has no controller role/,
    ],
    [
      { 'process.roles': 'controller', listeners: 'CONTROLLER://:9093' },
      /a controller-only node needs the voters listed/,
    ],
    [
      { listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093' },
      /node 1 opens its CONTROLLER listener, but the voters are not listed.*controller\.quorum\.voters \(e\.g\. 1@host:9093\)/,
    ],
    [
      { 'process.roles': 'broker', 'controller.quorum.voters': '1@c1:9093' },
      /node\.id 1 is a voter, but process\.roles has no controller role/,
    ],
    [
      { 'controller.listener.names': '', 'controller.quorum.voters': '1@c1:9093', listeners: 'PLAINTEXT://:9092' },
      /controller\.listener\.names is empty/,
    ],
    // syntax
    [{ 'controller.quorum.voters': 'c1:9093' }, /'c1:9093' is not id@host:port/],
    [{ 'controller.quorum.voters': '1@c1:99999' }, /'1@c1:99999' is not id@host:port/],
    [{ 'process.roles': 'broker', 'controller.quorum.bootstrap.servers': 'c1' }, /'c1' is not host:port/],
    [{ 'process.roles': 'worker' }, /'worker' is not one of broker, controller/],
    [{ 'process.roles': '' }, /must not be empty/],
    [{ listeners: 'PLAINTEXT://:9092,CONTROLLER://:9092' }, /port 9092 is used by two listeners/],
    // the controller listener is opened: as SSL it needs a keystore; SASL is not spoken between controllers
    [
      {
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        'controller.quorum.voters': '1@127.0.0.1:9093',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
      },
      /listener CONTROLLER.*needs a certificate and key/,
    ],
    [
      {
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9093',
        'controller.quorum.voters': '1@127.0.0.1:9093',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL',
      },
      /controller listener CONTROLLER uses SASL_SSL/,
    ],
  ];
  for (const [overrides, re] of cases) assert.match(configError(overrides), re, JSON.stringify(overrides));
});
