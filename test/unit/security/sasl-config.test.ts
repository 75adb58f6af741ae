/** JAAS parsing, SASL listener settings as Kafka resolves them, and their errors (which never repeat a secret). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { ConfigError, loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { parseJaasConfig, plainUsers } from '../../../src/security/sasl/jaas.ts';
import { interBrokerSecurity } from '../../../src/security/sasl/config.ts';
import { saslServerConfig } from '../../../src/security/sasl/index.ts';
import { clientSecurityFromProperties } from '../../../src/security/client-config.ts';

const silent = pino({ level: 'silent' });
const load = (overrides: Record<string, string>) =>
  loadBrokerConfig({ overrides: { 'log.dirs': '/tmp/x', ...overrides }, cwd: '/srv', fdLimit: 1024 });
const PLAIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';

test('JAAS: Kafka form, quoted values with escapes, bare words', () => {
  const e = parseJaasConfig(
    `${PLAIN_MODULE} required username="admin" password="a\\"b c;" user_admin="x" user_bob=plainword;`,
  );
  assert.equal(e.loginModule, PLAIN_MODULE);
  assert.equal(e.controlFlag, 'required');
  assert.equal(e.options.get('password'), 'a"b c;');
  assert.deepEqual(
    [...plainUsers(e)],
    [
      ['admin', 'x'],
      ['bob', 'plainword'],
    ],
  );
});

test('JAAS errors name no option value', () => {
  for (const bad of [
    `${PLAIN_MODULE} required password="s3cret"`,
    `${PLAIN_MODULE} sometimes password="s3cret";`,
    `${PLAIN_MODULE} required password="s3cret`,
    `${PLAIN_MODULE} required password="s3cret"; ${PLAIN_MODULE} required;`,
  ]) {
    assert.throws(
      () => parseJaasConfig(bad),
      (e: Error) => !e.message.includes('s3cret'),
    );
  }
});

test('a SASL listener: mechanisms and JAAS per listener and mechanism; such settings are not listed as ignored', () => {
  const c = load({
    listeners: 'CLIENT://127.0.0.1:9092',
    'listener.security.protocol.map': 'CLIENT:SASL_PLAINTEXT',
    'listener.name.client.sasl.enabled.mechanisms': 'SCRAM-SHA-256,PLAIN',
    'listener.name.client.plain.sasl.jaas.config': `${PLAIN_MODULE} required username="b" password="bpw" user_alice="pw";`,
    'listener.name.client.scram-sha-256.connections.max.reauth.ms': '60000',
    'sasl.mechanism.inter.broker.protocol': 'PLAIN',
  });
  assert.equal(c.listeners[0].securityProtocol, 'SASL_PLAINTEXT');
  assert.deepEqual(
    c.ignored.filter((k) => k.includes('sasl') || k.includes('reauth')),
    [],
  );
  const s = saslServerConfig(c, silent);
  assert.deepEqual(s.listeners.get('CLIENT')?.mechanisms, ['SCRAM-SHA-256', 'PLAIN']);
  assert.equal(s.reauthMs('CLIENT', 'SCRAM-SHA-256'), 60000);
  assert.equal(s.reauthMs('CLIENT', 'PLAIN'), 0);
  assert.equal(s.failedAuthenticationDelayMs, 100);
  assert.equal(s.maxReceiveSize, 524288);
  assert.deepEqual(s.ctx.jaas('CLIENT', 'PLAIN')?.options.get('user_alice'), 'pw');
  assert.deepEqual(interBrokerSecurity(c), { sasl: { mechanism: 'PLAIN', username: 'b', password: 'bpw' } });
});

test('GSSAPI (the default), an unknown mechanism, PLAIN without users: one clear error, no secret', () => {
  const sasl = { listeners: 'SASL_PLAINTEXT://127.0.0.1:9092' };
  const err = (o: Record<string, string>) => {
    try {
      saslServerConfig(load({ ...sasl, ...o }), silent);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return e.message;
    }
    assert.fail('expected a ConfigError');
  };
  assert.match(err({}), /GSSAPI \(Kafka's default of sasl.enabled.mechanisms\).*does not support GSSAPI/);
  assert.match(err({ 'sasl.enabled.mechanisms': 'FOO' }), /FOO, which Samsa does not support; supported: .*PLAIN/);
  assert.match(err({ 'sasl.enabled.mechanisms': 'PLAIN' }), /no JAAS configuration gives it users/);
  const bad = err({
    'sasl.enabled.mechanisms': 'PLAIN',
    'sasl.jaas.config': `${PLAIN_MODULE} required user_a="s3cret"`,
  });
  assert.match(bad, /sasl.jaas.config of PLAIN on listener SASL_PLAINTEXT is not valid/);
  assert.ok(!bad.includes('s3cret'));
  const inter = err({ 'sasl.enabled.mechanisms': 'PLAIN', 'sasl.jaas.config': `${PLAIN_MODULE} required user_a="x";` });
  assert.match(inter, /sasl.mechanism.inter.broker.protocol must be one of its sasl.enabled.mechanisms .* not GSSAPI/);
  const noCreds = err({
    'sasl.enabled.mechanisms': 'PLAIN',
    'sasl.mechanism.inter.broker.protocol': 'PLAIN',
    'sasl.jaas.config': `${PLAIN_MODULE} required user_a="x";`,
  });
  assert.match(noCreds, /needs username="..." password="..."/);
  const ibp = err({
    'sasl.enabled.mechanisms': 'PLAIN',
    'sasl.jaas.config': `${PLAIN_MODULE} required user_a="x";`,
    'security.inter.broker.protocol': 'PLAINTEXT',
  });
  assert.match(ibp, /security.inter.broker.protocol.*no client listener is named PLAINTEXT/);
});

test('client properties: Java and librdkafka forms', () => {
  assert.deepEqual(clientSecurityFromProperties(new Map()), {});
  assert.deepEqual(
    clientSecurityFromProperties(
      new Map([
        ['security.protocol', 'SASL_PLAINTEXT'],
        ['sasl.mechanism', 'SCRAM-SHA-512'],
        [
          'sasl.jaas.config',
          'org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p";',
        ],
      ]),
    ),
    { sasl: { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } },
  );
  assert.deepEqual(
    clientSecurityFromProperties(
      new Map([
        ['security.protocol', 'sasl_plaintext'],
        ['sasl.mechanisms', 'PLAIN'],
        ['sasl.username', 'u'],
        ['sasl.password', 'p'],
      ]),
    ),
    { sasl: { mechanism: 'PLAIN', username: 'u', password: 'p' } },
  );
  assert.throws(
    () => clientSecurityFromProperties(new Map([['security.protocol', 'SASL_PLAINTEXT']])),
    /GSSAPI \(Kafka's default\) is not supported/,
  );
});
