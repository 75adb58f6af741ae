/**
 * Startup refuses security properties whose promise Samsa cannot keep (TLS
 * and SASL settings it does not implement, authorizers other than the
 * StandardAuthorizer, an authorizer that would refuse the nodes' own
 * traffic): one line naming the property and what to do. Settings that only
 * tune unimplemented features are accepted and reported as ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { makePki } from '../../helpers/certs.ts';

function load(overrides: Record<string, string>) {
  return loadBrokerConfig({ overrides, cwd: '/srv', fdLimit: 1024 });
}

function refusal(overrides: Record<string, string>): string {
  try {
    load(overrides);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err.message;
  }
  assert.fail(`expected ${JSON.stringify(overrides)} to be refused`);
}

test('secure protocols in the map for listeners that are not used are fine (stock files list them)', () => {
  const c = load({
    listeners: 'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093',
    'controller.listener.names': 'CONTROLLER',
    'controller.quorum.voters': '1@127.0.0.1:9093',
    'listener.security.protocol.map':
      'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
  });
  assert.equal(c.listeners[0].securityProtocol, 'PLAINTEXT');
});

test('properties that promise authentication, authorization or TLS stop startup with one line naming them', () => {
  const cases: [Record<string, string>, string][] = [
    [{ 'sasl.server.callback.handler.class': 'com.example.Handler' }, 'sasl.server.callback.handler.class'],
    [{ 'ssl.engine.factory.class': 'com.example.Engine' }, 'ssl.engine.factory.class'],
    [{ 'listener.name.secure.ssl.provider': 'BC' }, 'listener.name.secure.ssl.provider'],
  ];
  for (const [overrides, name] of cases) {
    const m = refusal(overrides);
    assert.match(m, new RegExp(`'${name.replace(/\./g, '\\.')}'`), `${name}: ${m}`);
    assert.match(m, /Samsa/, `${name}: says what Samsa lacks: ${m}`);
    assert.match(m, /remove|unset|use/i, `${name}: says what to do: ${m}`);
  }
});

test("the authorizer: the StandardAuthorizer turns ACLs on; ZooKeeper's AclAuthorizer and bad super.users are refused", () => {
  const on = load({
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin; User:broker',
    'allow.everyone.if.no.acl.found': 'true',
  });
  assert.equal(on.authorizerEnabled, true);
  assert.deepEqual(on.superUsers, ['User:admin', 'User:broker']);
  assert.equal(on.allowEveryoneIfNoAclFound, true);
  const off = load({});
  assert.equal(off.authorizerEnabled, false);
  assert.equal(off.allowEveryoneIfNoAclFound, false);
  assert.match(
    refusal({ 'authorizer.class.name': 'kafka.security.authorizer.AclAuthorizer' }),
    /'authorizer\.class\.name'.*ZooKeeper.*org\.apache\.kafka\.metadata\.authorizer\.StandardAuthorizer/,
  );
  assert.match(refusal({ 'authorizer.class.name': 'com.example.MyAuthorizer' }), /'authorizer\.class\.name'/);
  assert.match(refusal({ 'super.users': 'admin' }), /'super\.users'.*Type:name/);
});

test('with the authorizer on, nodes talking over PLAINTEXT need User:ANONYMOUS in super.users', () => {
  const combined = {
    listeners: 'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093',
    'controller.quorum.voters': '1@127.0.0.1:9093',
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  };
  assert.match(refusal(combined), /'super\.users'.*User:ANONYMOUS.*CONTROLLER listener/);
  assert.match(refusal({ ...combined, 'super.users': 'User:admin' }), /'super\.users'.*must include User:ANONYMOUS/);
  assert.deepEqual(load({ ...combined, 'super.users': 'User:admin;User:ANONYMOUS' }).superUsers, [
    'User:admin',
    'User:ANONYMOUS',
  ]);
  // a single node without a CONTROLLER listener has no traffic between nodes
  assert.equal(load({ 'authorizer.class.name': combined['authorizer.class.name'] }).authorizerEnabled, true);
});

test('with the authorizer on, an SSL CONTROLLER listener without client certificates needs User:ANONYMOUS too', () => {
  const pki = makePki();
  try {
    const server = pki.issue('server', '/CN=localhost');
    const sslController = {
      listeners: 'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
      'controller.quorum.voters': '1@127.0.0.1:9093',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': server.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': pki.ca,
    };
    assert.match(
      refusal(sslController),
      /'super\.users'.*User:ANONYMOUS.*CONTROLLER listener, SSL with ssl\.client\.auth=none/,
    );
    // with client certificates required the nodes authenticate: their principals are the operator's to allow
    assert.equal(load({ ...sslController, 'ssl.client.auth': 'required' }).authorizerEnabled, true);
  } finally {
    pki.cleanup();
  }
});

test('harmless values and tuning-only settings are accepted and listed as ignored', () => {
  const c = load({
    'authorizer.class.name': '',
    'super.users': '',
    'allow.everyone.if.no.acl.found': 'true',
    'ssl.client.auth': 'none',
    'security.inter.broker.protocol': 'PLAINTEXT',
    'sasl.kerberos.min.time.before.relogin': '60000',
    'sasl.login.refresh.window.factor': '0.8',
  });
  for (const k of ['sasl.kerberos.min.time.before.relogin', 'sasl.login.refresh.window.factor'])
    assert.ok(c.ignored.includes(k), k);
});
