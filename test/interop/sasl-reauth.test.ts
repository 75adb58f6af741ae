/**
 * Re-authentication (KIP-368) with connections.max.reauth.ms: SaslAuthenticate
 * v1+ gives the session lifetime; kafkajs (which re-authenticates on its
 * connection before the lifetime is up) keeps producing across several
 * lifetimes on the same connections; a raw connection that re-authenticates
 * keeps working past its first lifetime; one that does not is closed at its
 * next request after the lifetime, and says so in the log.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import path from 'node:path';
import { KafkaClient } from '../../src/client/client.ts';
import { uniqueTopic } from '../helpers/broker.ts';
import { PY_DIR, runOk } from '../helpers/proc.ts';
import { CURRENT_CK_VERSION, currentPython } from '../helpers/pyclient.ts';
import {
  parseSaslAuthenticateV1,
  parseSaslHandshake,
  type SaslBroker,
  saslAuthenticateBody,
  saslHandshakeBody,
  startSaslBroker,
} from '../helpers/sasl.ts';
import { metadataV1Body, requestFrame, WireConn } from '../helpers/wire.ts';

const LIFETIME_MS = 3000;

/** Resolves once `ms` have passed since `from` (the session's own clock: what expiry is about). */
async function until(at: number): Promise<void> {
  while (Date.now() < at) await new Promise((r) => setTimeout(r, Math.min(50, at - Date.now())));
}

describe('SASL re-authentication (connections.max.reauth.ms)', () => {
  let b: SaslBroker;
  before(async () => {
    b = await startSaslBroker({ 'connections.max.reauth.ms': String(LIFETIME_MS) });
  });
  after(async () => {
    await b?.close();
  });

  const login = async (c: WireConn, corr: number) => {
    assert.equal(parseSaslHandshake(await c.request(17, 1, corr, saslHandshakeBody('PLAIN'))).errorCode, 0);
    return parseSaslAuthenticateV1(
      await c.request(36, 1, corr + 1, saslAuthenticateBody(Buffer.from('\0alice\0alice-secret'))),
    );
  };

  test('SaslAuthenticate v1 gives the lifetime; a connection that does not re-authenticate is closed after it', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      const started = Date.now();
      const r = await login(c, 1);
      assert.equal(r.errorCode, 0);
      assert.equal(r.sessionLifetimeMs, LIFETIME_MS);
      assert.ok((await c.request(3, 1, 3, metadataV1Body([]))).length > 8, 'served within the lifetime');
      await until(started + LIFETIME_MS + 100);
      await c.write(requestFrame(3, 1, 4, metadataV1Body([])));
      await c.expectClose();
      assert.match(b.log(), /SASL session expired without re-authentication/);
    } finally {
      c.destroy();
    }
  });

  test('a connection that re-authenticates keeps working past its first lifetime', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      const started = Date.now();
      assert.equal((await login(c, 1)).errorCode, 0);
      await until(started + LIFETIME_MS / 2);
      const again = await login(c, 3);
      assert.equal(again.errorCode, 0);
      assert.equal(again.sessionLifetimeMs, LIFETIME_MS);
      await until(started + LIFETIME_MS + 100);
      assert.ok((await c.request(3, 1, 5, metadataV1Body([]))).length > 8, 'served after the first lifetime');
    } finally {
      c.destroy();
    }
  });

  test('after the lifetime only a re-authentication goes on (as Kafka): then the connection is served again', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      const started = Date.now();
      assert.equal((await login(c, 1)).errorCode, 0);
      await until(started + LIFETIME_MS + 100);
      assert.equal((await login(c, 3)).errorCode, 0);
      assert.ok((await c.request(3, 1, 5, metadataV1Body([]))).length > 8);
    } finally {
      c.destroy();
    }
  });

  test('re-authenticating as another user fails and closes the connection', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      assert.equal((await login(c, 1)).errorCode, 0);
      await c.request(17, 1, 3, saslHandshakeBody('PLAIN'));
      const r = parseSaslAuthenticateV1(
        await c.request(36, 1, 4, saslAuthenticateBody(Buffer.from('\0admin\0admin-secret'))),
      );
      assert.equal(r.errorCode, 58);
      assert.match(r.errorMessage ?? '', /Cannot change principals during re-authentication/);
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('kafkajs re-authenticates and keeps producing across three lifetimes without reconnecting', async () => {
    const topic = uniqueTopic('reauth-kjs');
    const kafka = new Kafka({
      brokers: [b.bootstrapServers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      reauthenticationThreshold: LIFETIME_MS / 2,
      sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    await admin.disconnect();
    const logFrom = b.log().length;
    const producer = kafka.producer();
    await producer.connect();
    const started = Date.now();
    let sent = 0;
    while (Date.now() < started + 3 * LIFETIME_MS) {
      await producer.send({ topic, messages: [{ value: `m${sent}` }] });
      sent++;
    }
    await producer.disconnect();
    assert.ok(sent > 0);
    const log = b.log().slice(logFrom);
    assert.doesNotMatch(log, /SASL authentication failed|SASL session expired/);
  });

  test("Samsa's client re-authenticates on its connections and keeps producing", async () => {
    const topic = uniqueTopic('reauth-samsa');
    const client = new KafkaClient({
      bootstrapServers: b.bootstrapServers,
      retries: 0,
      security: { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } },
    });
    try {
      await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
      const logFrom = b.log().length;
      const started = Date.now();
      let sent = 0;
      while (Date.now() < started + 3 * LIFETIME_MS) {
        await client.produce(topic, 0, [{ key: null, value: Buffer.from(`m${sent}`) }]);
        sent++;
      }
      assert.ok(sent > 0);
      assert.doesNotMatch(b.log().slice(logFrom), /SASL authentication failed|SASL session expired/);
    } finally {
      await client.close();
    }
  });

  test(`confluent-kafka-python ${CURRENT_CK_VERSION} (librdkafka, KIP-368) re-authenticates and keeps producing`, async () => {
    const topic = uniqueTopic('reauth-ck');
    const logFrom = b.log().length;
    const r = await runOk(
      currentPython(),
      [
        path.join(PY_DIR, 'sasl_reauth_ck.py'),
        b.bootstrapServers,
        'alice',
        'alice-secret',
        topic,
        String((3 * LIFETIME_MS) / 1000),
      ],
      { timeoutMs: 90_000 },
    );
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    assert.ok(out.sent > 0);
    assert.deepEqual(out.errors, []);
    assert.doesNotMatch(b.log().slice(logFrom), /SASL authentication failed|SASL session expired/);
  });
});
