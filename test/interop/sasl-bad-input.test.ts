/**
 * Bad input on a SASL_PLAINTEXT listener: the exchange out of order (SaslAuthenticate
 * first, a second SaslHandshake), an unknown mechanism, a 10 MiB token (in
 * SaslAuthenticate and as a bare frame after a v0 handshake), SASL requests
 * after authentication and on a PLAINTEXT listener, and a thousand failed
 * logins from one address while an authenticated client keeps producing.
 * The broker answers or closes as Kafka does and stays up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/client.ts';
import { KafkaError } from '../../src/protocol/error-codes.ts';
import { startTestBroker, uniqueTopic } from '../helpers/broker.ts';
import {
  parseSaslAuthenticateV1,
  parseSaslHandshake,
  type SaslBroker,
  saslAuthenticateBody,
  saslHandshakeBody,
  startSaslBroker,
} from '../helpers/sasl.ts';
import { requestFrame, WireConn } from '../helpers/wire.ts';

const HANDSHAKE = 17;
const AUTHENTICATE = 36;

describe('SASL bad input', () => {
  let b: SaslBroker;
  before(async () => {
    b = await startSaslBroker({ 'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256' });
  });
  after(async () => {
    await b?.close();
  });

  const open = () => WireConn.open(b.host, b.port);

  test('SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE, then closed', async () => {
    const c = await open();
    try {
      const r = parseSaslAuthenticateV1(
        await c.request(AUTHENTICATE, 1, 1, saslAuthenticateBody(Buffer.from('\0a\0b'))),
      );
      assert.equal(r.errorCode, 34);
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('a second SaslHandshake during the exchange: ILLEGAL_SASL_STATE, then closed', async () => {
    const c = await open();
    try {
      assert.equal(parseSaslHandshake(await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('PLAIN'))).errorCode, 0);
      const again = parseSaslHandshake(await c.request(HANDSHAKE, 1, 2, saslHandshakeBody('PLAIN')));
      assert.equal(again.errorCode, 34);
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('an unknown mechanism: UNSUPPORTED_SASL_MECHANISM with the enabled list, then closed', async () => {
    const c = await open();
    try {
      const r = parseSaslHandshake(await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('GSSAPI')));
      assert.equal(r.errorCode, 33);
      assert.deepEqual(r.mechanisms, ['PLAIN', 'SCRAM-SHA-256']);
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('a 10 MiB token is refused by its size before it is read (SaslAuthenticate, and bare after v0)', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const c = await open();
    try {
      await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('PLAIN'));
      void c.write(requestFrame(AUTHENTICATE, 1, 2, saslAuthenticateBody(big)));
      await c.expectClose(30_000);
    } finally {
      c.destroy();
    }
    const d = await open();
    try {
      await d.request(HANDSHAKE, 0, 1, saslHandshakeBody('PLAIN'));
      const prefix = Buffer.alloc(4);
      prefix.writeInt32BE(big.length);
      void d.write(Buffer.concat([prefix, big]));
      await d.expectClose(30_000);
    } finally {
      d.destroy();
    }
    assert.match(b.log(), /frame before authentication larger than sasl.server.max.receive.size/);
  });

  test('v0 handshake: a bad bare token closes the connection without an answer', async () => {
    const c = await open();
    try {
      await c.request(HANDSHAKE, 0, 1, saslHandshakeBody('PLAIN'));
      const prefix = Buffer.alloc(4);
      const tok = Buffer.from('\0alice\0wrong');
      prefix.writeInt32BE(tok.length);
      await c.write(Buffer.concat([prefix, tok]));
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('SaslAuthenticate and SaslHandshake after authentication: ILLEGAL_SASL_STATE, the connection stays', async () => {
    const c = await open();
    try {
      await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('PLAIN'));
      const ok = parseSaslAuthenticateV1(
        await c.request(AUTHENTICATE, 1, 2, saslAuthenticateBody(Buffer.from('\0alice\0alice-secret'))),
      );
      assert.equal(ok.errorCode, 0);
      const again = parseSaslAuthenticateV1(
        await c.request(AUTHENTICATE, 1, 3, saslAuthenticateBody(Buffer.from('\0alice\0alice-secret'))),
      );
      assert.equal(again.errorCode, 34);
      const hs = parseSaslHandshake(await c.request(HANDSHAKE, 1, 4, saslHandshakeBody('PLAIN')));
      assert.equal(hs.errorCode, 34);
      const apiVersions = await c.request(18, 0, 5, Buffer.alloc(0));
      assert.equal(apiVersions.readInt16BE(4), 0);
    } finally {
      c.destroy();
    }
  });

  test('1000 failed logins from one address while an authenticated client keeps producing', async () => {
    const topic = uniqueTopic('sasl-flood');
    const client = new KafkaClient({
      bootstrapServers: b.bootstrapServers,
      security: { sasl: { mechanism: 'PLAIN', username: 'alice', password: 'alice-secret' } },
    });
    await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
    let produced = 0;
    let flooding = true;
    let producedDuringFlood = 0;
    const producer = (async () => {
      while (flooding) {
        await client.produce(topic, 0, [{ key: null, value: Buffer.from(`m${produced}`) }]);
        produced++;
        producedDuringFlood++;
      }
    })();
    const login = async () => {
      const c = await open();
      try {
        await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('PLAIN'));
        const r = parseSaslAuthenticateV1(
          await c.request(AUTHENTICATE, 1, 2, saslAuthenticateBody(Buffer.from('\0alice\0guess'))),
        );
        assert.equal(r.errorCode, 58);
        await c.expectClose();
      } finally {
        c.destroy();
      }
    };
    let next = 0;
    const workers = Array.from({ length: 50 }, async () => {
      while (next < 1000) {
        next++;
        await login();
      }
    });
    await Promise.all(workers);
    flooding = false;
    await producer;
    await client.close();
    assert.ok(producedDuringFlood > 0, 'the producer made progress during the flood');
    const lines = b
      .log()
      .split('\n')
      .filter((l) => l.includes('"SASL authentication failed"')).length;
    assert.ok(lines < 50, `failed logins are logged rate-limited (${lines} lines)`);
  });
});

describe('SASL requests on a PLAINTEXT listener', () => {
  test('SaslHandshake and SaslAuthenticate are answered ILLEGAL_SASL_STATE', async () => {
    const b = await startTestBroker();
    try {
      const c = await WireConn.open(b.host, b.port);
      try {
        assert.equal(parseSaslHandshake(await c.request(HANDSHAKE, 1, 1, saslHandshakeBody('PLAIN'))).errorCode, 34);
        const r = parseSaslAuthenticateV1(await c.request(AUTHENTICATE, 1, 2, saslAuthenticateBody(Buffer.alloc(0))));
        assert.equal(r.errorCode, 34);
      } finally {
        c.destroy();
      }
    } finally {
      await b.close();
    }
  });
});

describe("Samsa's client with OAUTHBEARER (Kafka's unsecured validator)", () => {
  const unsecured = (claims: Record<string, unknown>) => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none' })}.${b64(claims)}.`;
  };
  test('a valid token logs in; an expired one is refused with SASL_AUTHENTICATION_FAILED', async () => {
    const b = await startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config':
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;',
    });
    const now = Math.floor(Date.now() / 1000);
    const client = (token: string) =>
      new KafkaClient({
        bootstrapServers: b.bootstrapServers,
        retries: 0,
        security: { sasl: { mechanism: 'OAUTHBEARER', token } },
      });
    try {
      const ok = client(unsecured({ sub: 'alice', iat: now, exp: now + 600 }));
      try {
        const md = await ok.metadata([]);
        assert.equal(md.brokers.length, 1);
      } finally {
        await ok.close();
      }
      const expired = client(unsecured({ sub: 'alice', iat: now - 7200, exp: now - 3600 }));
      try {
        await assert.rejects(
          ok.metadata([]).then(() => expired.metadata([])),
          (e: Error) => {
            assert.ok(e instanceof KafkaError, String(e));
            assert.equal(e.code, 58);
            return true;
          },
        );
      } finally {
        await expired.close();
      }
    } finally {
      await b.close();
    }
  });
});
