/**
 * Startup refuses listeners and properties whose security promise Samsa
 * cannot keep (no TLS, no SASL, no ACLs yet): one line naming the property
 * and what to do. Settings that only tune those features are accepted and
 * reported as ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';

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

test('SASL_PLAINTEXT and SASL_SSL listeners stop startup', () => {
  for (const proto of ['SASL_PLAINTEXT', 'SASL_SSL']) {
    const m = refusal({ listeners: `${proto}://127.0.0.1:9092` });
    assert.match(m, /property 'listeners'/);
    assert.match(m, new RegExp(`${proto}`));
    assert.match(m, /PLAINTEXT:\/\//, 'says what to use instead');
  }
});

test('a listener mapped to a secure protocol by listener.security.protocol.map stops startup', () => {
  const m = refusal({
    listeners: 'CLIENT://127.0.0.1:9092',
    'listener.security.protocol.map': 'CLIENT:SASL_PLAINTEXT',
  });
  assert.match(m, /CLIENT/);
  assert.match(m, /SASL_PLAINTEXT/);
  const adv = refusal({
    listeners: 'PLAINTEXT://127.0.0.1:9092,SECURE://127.0.0.1:9093',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SECURE:SASL_SSL',
  });
  assert.match(adv, /SECURE.*SASL_SSL/);
});

test('secure protocols in the map for listeners that are not used are fine (stock files list them)', () => {
  const c = load({
    listeners: 'PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map':
      'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL',
  });
  assert.equal(c.listeners[0].securityProtocol, 'PLAINTEXT');
});

test('properties that promise authentication or authorization stop startup with one line naming them', () => {
  const cases: [Record<string, string>, string][] = [
    [{ 'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer' }, 'authorizer.class.name'],
    [{ 'super.users': 'User:admin' }, 'super.users'],
    [{ 'allow.everyone.if.no.acl.found': 'false' }, 'allow.everyone.if.no.acl.found'],
    [{ 'sasl.enabled.mechanisms': 'PLAIN' }, 'sasl.enabled.mechanisms'],
    [{ 'sasl.mechanism.inter.broker.protocol': 'PLAIN' }, 'sasl.mechanism.inter.broker.protocol'],
    [{ 'sasl.jaas.config': 'org.apache.kafka.common.security.plain.PlainLoginModule required;' }, 'sasl.jaas.config'],
    [{ 'sasl.server.callback.handler.class': 'com.example.Handler' }, 'sasl.server.callback.handler.class'],
    [{ 'listener.name.client.plain.sasl.jaas.config': 'x required;' }, 'listener.name.client.plain.sasl.jaas.config'],
  ];
  for (const [overrides, name] of cases) {
    const m = refusal(overrides);
    assert.match(m, new RegExp(`'${name.replace(/\./g, '\\.')}'`), `${name}: ${m}`);
    assert.match(m, /Samsa/, `${name}: says what Samsa lacks: ${m}`);
    assert.match(m, /remove|unset|use/i, `${name}: says what to do: ${m}`);
  }
});

test('a refused secret is not repeated in the message', () => {
  const jaas = refusal({ 'sasl.jaas.config': 'PlainLoginModule required password="s3cret";' });
  assert.ok(!jaas.includes('s3cret'), jaas);
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
