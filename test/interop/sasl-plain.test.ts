/**
 * SASL/PLAIN on a SASL_PLAINTEXT listener with users from Kafka's JAAS line:
 * kcat, confluent-kafka-python and kafka-python 2.0.2 (whose v0 handshake
 * sends the token as a bare frame) produce and consume; a wrong password and
 * an unknown user get the authentication error and a closed connection, and
 * the log says so without the password; a request before authentication
 * closes the connection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { uniqueTopic } from '../helpers/broker.ts';
import { KCAT, PYTHON, PY_DIR, run, runOk } from '../helpers/proc.ts';
import {
  kcatSasl,
  parseSaslAuthenticateV1,
  parseSaslHandshake,
  type SaslBroker,
  saslAuthenticateBody,
  saslHandshakeBody,
  startSaslBroker,
} from '../helpers/sasl.ts';
import { metadataV1Body, requestFrame, WireConn } from '../helpers/wire.ts';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';

async function pyClient(client: string, bs: string, mech: string, user: string, pw: string, topic: string) {
  const r = await run(PYTHON, [path.join(PY_DIR, 'sasl_client.py'), client, bs, mech, user, pw, topic], {
    timeoutMs: 90_000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

describe('SASL/PLAIN', () => {
  let b: SaslBroker;
  before(async () => {
    b = await startSaslBroker();
  });
  after(async () => {
    await b?.close();
  });

  test('kcat produces and consumes as alice', async () => {
    const topic = uniqueTopic('plain-kcat');
    const auth = kcatSasl('PLAIN', 'alice', 'alice-secret');
    await runOk(KCAT, ['-b', b.bootstrapServers, ...auth, '-P', '-t', topic], { input: 'v1\nv2\n', timeoutMs: 60_000 });
    const r = await runOk(KCAT, ['-b', b.bootstrapServers, ...auth, '-C', '-t', topic, '-o', 'beginning', '-e', '-q'], {
      timeoutMs: 60_000,
    });
    assert.deepEqual(r.stdout.trim().split('\n'), ['v1', 'v2']);
  });

  test('confluent-kafka-python produces and consumes', async () => {
    const r = await pyClient(
      'confluent',
      b.bootstrapServers,
      'PLAIN',
      'alice',
      'alice-secret',
      uniqueTopic('plain-ck'),
    );
    assert.equal(r.error, null);
    assert.deepEqual(r.values, ['hello-PLAIN']);
  });

  test('kafka-python 2.0.2 (v0 handshake, bare token frames) produces and consumes', async () => {
    const r = await pyClient(
      'kafka-python',
      b.bootstrapServers,
      'PLAIN',
      'admin',
      'admin-secret',
      uniqueTopic('plain-kp'),
    );
    assert.equal(r.error, null);
    assert.deepEqual(r.values, ['hello-PLAIN']);
  });

  test('kafkajs commits a transaction (the coordinator writes its markers through the SASL listener)', async () => {
    const topic = uniqueTopic('plain-txn');
    const kafka = new Kafka({
      brokers: [b.bootstrapServers],
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const producer = kafka.producer({ transactionalId: `tx-${topic}`, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const txn = await producer.transaction();
    await txn.send({ topic, messages: [{ value: 'committed' }] });
    await txn.commit();
    await producer.disconnect();
    const r = await runOk(
      KCAT,
      [
        '-b',
        b.bootstrapServers,
        ...kcatSasl('PLAIN', 'alice', 'alice-secret'),
        '-X',
        'isolation.level=read_committed',
        '-C',
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
      ],
      { timeoutMs: 60_000 },
    );
    assert.deepEqual(r.stdout.trim().split('\n'), ['committed']);
  });

  for (const [what, user, pw] of [
    ['wrong password', 'alice', 'not-alices-Pa55word'],
    ['unknown user', 'mallory', 'mallorys-Pa55word'],
  ]) {
    test(`${what}: the client sees the authentication error, the log has no password`, async () => {
      const r = await run(KCAT, ['-b', b.bootstrapServers, ...kcatSasl('PLAIN', user, pw), '-L', '-m', '5'], {
        timeoutMs: 60_000,
      });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /SASL authentication error: Authentication failed: Invalid username or password/);
      const log = b.log();
      assert.match(log, /SASL authentication failed/);
      assert.ok(!log.includes(pw), 'the log repeats the password');
      assert.ok(!log.includes('alice-secret') && !log.includes('admin-secret'), 'the log has a configured password');
    });
  }

  test('raw: failure is answered with SASL_AUTHENTICATION_FAILED, then the connection is closed', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      const hs = parseSaslHandshake(await c.request(17, 1, 1, saslHandshakeBody('PLAIN')));
      assert.equal(hs.errorCode, 0);
      const res = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from('\0alice\0nope-nope'))),
      );
      assert.equal(res.errorCode, 58);
      assert.equal(res.errorMessage, 'Authentication failed: Invalid username or password');
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('raw: success gives the principal its requests; a Metadata request before it closes the connection', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      await c.request(17, 1, 1, saslHandshakeBody('PLAIN'));
      const res = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from('\0alice\0alice-secret'))),
      );
      assert.equal(res.errorCode, 0);
      assert.equal(res.sessionLifetimeMs, 0);
      const md = await c.request(3, 1, 3, metadataV1Body([]));
      assert.ok(md.length > 8);
    } finally {
      c.destroy();
    }
    const d = await WireConn.open(b.host, b.port);
    try {
      await d.write(requestFrame(3, 1, 1, metadataV1Body([])));
      await d.expectClose();
      assert.match(b.log(), /closing connection: request before SASL authentication/);
    } finally {
      d.destroy();
    }
  });
});
