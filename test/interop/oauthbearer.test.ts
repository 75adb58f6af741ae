/**
 * SASL/OAUTHBEARER on a SASL_PLAINTEXT listener with Kafka's KIP-768
 * configuration: tokens signed here with a key whose public half is in a JWKS
 * file. confluent-kafka-python (oauth_cb) and kafka-python 2.0.2
 * (sasl_oauth_token_provider) produce and consume; an expired token and a
 * token for another audience get the authentication error, and the log never
 * has the token; on the wire, a refused token gets RFC 7628's JSON challenge,
 * the client's 0x01 then gets SASL_AUTHENTICATION_FAILED and a closed
 * connection. kcat (librdkafka) can only send unsigned tokens
 * (enable.sasl.oauthbearer.unsecure.jwt): it logs in to a second broker that
 * uses Kafka's unsecured validator, which is what Kafka does by default.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { uniqueTopic } from '../helpers/broker.ts';
import { KCAT, PYTHON, PY_DIR, run, runOk } from '../helpers/proc.ts';
import {
  parseSaslAuthenticateV1,
  parseSaslHandshake,
  type SaslBroker,
  saslAuthenticateBody,
  saslHandshakeBody,
  startSaslBroker,
} from '../helpers/sasl.ts';
import { metadataV1Body, requestFrame, WireConn } from '../helpers/wire.ts';

const LOGIN = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;';
const VALIDATOR = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler';
const ISSUER = 'https://idp.test';

let dir: string;
let key: CryptoKey;
let otherKey: CryptoKey;

async function token(claims: Record<string, unknown> = {}, opts: { expIn?: number; signWith?: CryptoKey } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (opts.expIn ?? 600);
  const jwt = await new SignJWT({ sub: 'alice', aud: 'kafka', iss: ISSUER, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuedAt(now - 5)
    .setExpirationTime(exp)
    .sign(opts.signWith ?? key);
  return { jwt, exp };
}

/** Runs oauth_client.py; the expiry the client is told is in the future (librdkafka does not send a token it knows expired). */
async function pyClient(client: string, bs: string, topic: string, t: { jwt: string; exp: number }) {
  const r = await run(PYTHON, [path.join(PY_DIR, 'oauth_client.py'), client, bs, topic], {
    timeoutMs: 90_000,
    env: { OAUTH_TOKEN: t.jwt, OAUTH_TOKEN_EXP: String(Math.max(t.exp, Math.floor(Date.now() / 1000) + 600)) },
  });
  const doc = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  return { ...doc, stderr: r.stderr } as { ok: boolean; values: string[]; error: string | null; stderr: string };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-oauth-'));
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  otherKey = (await generateKeyPair('RS256')).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('SASL/OAUTHBEARER with JWT validation (KIP-768)', () => {
  let b: SaslBroker;
  before(async () => {
    b = await startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN,
      'listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class': VALIDATOR,
      'listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(
        path.join(dir, 'jwks.json'),
      ).href,
      'sasl.oauthbearer.expected.audience': 'kafka',
      'sasl.oauthbearer.expected.issuer': ISSUER,
    });
  });
  after(async () => {
    await b?.close();
  });

  test('confluent-kafka-python with oauth_cb produces and consumes', async () => {
    const r = await pyClient('confluent', b.bootstrapServers, uniqueTopic('oauth-ck'), await token());
    assert.equal(r.error, null, r.stderr);
    assert.deepEqual(r.values, ['hello-oauth-confluent']);
  });

  test('kafka-python 2.0.2 with a token provider produces and consumes', async () => {
    const r = await pyClient('kafka-python', b.bootstrapServers, uniqueTopic('oauth-kp'), await token());
    assert.equal(r.error, null, r.stderr);
    assert.deepEqual(r.values, ['hello-oauth-kafka-python']);
  });

  for (const [what, make, reason] of [
    ['an expired token', () => token({}, { expIn: -3600 }), /the token has expired/],
    ['a token for another audience', () => token({ aud: 'billing' }), /not for an expected audience/],
    ['a token signed with another key', () => token({}, { signWith: otherKey }), /signature does not verify/],
  ] as const) {
    test(`${what}: confluent-kafka-python gets the authentication error; the log has no token`, async () => {
      const t = await make();
      const r = await pyClient('confluent', b.bootstrapServers, uniqueTopic('oauth-bad'), t);
      assert.equal(r.ok, false);
      assert.match(r.error ?? '', /SASL authentication error|Authentication failed/i);
      assert.match(r.error ?? '', reason);
      const log = b.log();
      // one line per client address per interval: the first failure's reason is logged
      const failures = log.split('\n').filter((l) => l.includes('SASL authentication failed'));
      assert.ok(
        failures.some((l) => l.includes('the token has expired')),
        failures.join('\n'),
      );
      assert.ok(!log.includes(t.jwt), 'the log repeats the token');
      assert.ok(!log.includes(t.jwt.split('.')[2]), 'the log repeats the signature');
    });
  }

  test('raw: a refused token gets the JSON challenge, 0x01 then the failure and a closed connection', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      const hs = parseSaslHandshake(await c.request(17, 1, 1, saslHandshakeBody('OAUTHBEARER')));
      assert.equal(hs.errorCode, 0);
      const t = await token({}, { expIn: -3600 });
      const first = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from(`n,,\x01auth=Bearer ${t.jwt}\x01\x01`))),
      );
      assert.equal(first.errorCode, 0);
      assert.equal(first.authBytes.toString(), '{"status":"invalid_token"}');
      const second = parseSaslAuthenticateV1(await c.request(36, 1, 3, saslAuthenticateBody(Buffer.from([1]))));
      assert.equal(second.errorCode, 58);
      assert.match(second.errorMessage ?? '', /expired/);
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test("raw: a valid token authenticates its subject; the session lasts until the token's exp", async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      await c.request(17, 1, 1, saslHandshakeBody('OAUTHBEARER'));
      const t = await token({}, { expIn: 300 });
      const before = Date.now();
      const res = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from(`n,a=alice,\x01auth=Bearer ${t.jwt}\x01\x01`))),
      );
      assert.equal(res.errorCode, 0);
      assert.equal(res.authBytes.length, 0);
      assert.ok(
        res.sessionLifetimeMs > 0 && res.sessionLifetimeMs <= t.exp * 1000 - before,
        String(res.sessionLifetimeMs),
      );
      const md = await c.request(3, 1, 3, metadataV1Body([]));
      assert.ok(md.length > 8);
    } finally {
      c.destroy();
    }
  });

  test('raw: a connection whose token expired without re-authenticating is closed at its next request', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      await c.request(17, 1, 1, saslHandshakeBody('OAUTHBEARER'));
      const t = await token({}, { expIn: 2 });
      const res = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from(`n,,\x01auth=Bearer ${t.jwt}\x01\x01`))),
      );
      assert.equal(res.errorCode, 0);
      assert.ok(res.sessionLifetimeMs > 0 && res.sessionLifetimeMs <= 2000, String(res.sessionLifetimeMs));
      // the event is the token's expiry itself
      while (Date.now() <= t.exp * 1000) await new Promise((r) => setTimeout(r, 50));
      await c.write(requestFrame(3, 1, 3, metadataV1Body([])));
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });

  test('raw: a malformed client message fails at once without quoting it', async () => {
    const c = await WireConn.open(b.host, b.port);
    try {
      await c.request(17, 1, 1, saslHandshakeBody('OAUTHBEARER'));
      const res = parseSaslAuthenticateV1(
        await c.request(36, 1, 2, saslAuthenticateBody(Buffer.from('n,,\x01auth=Basic c2VjcmV0\x01\x01'))),
      );
      assert.equal(res.errorCode, 58);
      assert.ok(!(res.errorMessage ?? '').includes('c2VjcmV0'));
      await c.expectClose();
    } finally {
      c.destroy();
    }
  });
});

describe('SASL/OAUTHBEARER with the key set at an http:// endpoint', () => {
  let b: SaslBroker;
  let server: http.Server;
  let served: object[] = [];
  let reads = 0;
  let rotated: { privateKey: CryptoKey; jwk: object };
  before(async () => {
    const pair = await generateKeyPair('ES256');
    rotated = {
      privateKey: pair.privateKey,
      jwk: { ...(await exportJWK(pair.publicKey)), kid: 'rotated', alg: 'ES256' },
    };
    const first = JSON.parse(fs.readFileSync(path.join(dir, 'jwks.json'), 'utf8')).keys;
    served = first;
    server = http.createServer((_req, res) => {
      reads++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    b = await startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN,
      'listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class': VALIDATOR,
      'sasl.oauthbearer.jwks.endpoint.url': `http://127.0.0.1:${(server.address() as AddressInfo).port}/keys`,
      'sasl.oauthbearer.expected.audience': 'kafka',
    });
  });
  after(async () => {
    await b?.close();
    server?.close();
  });

  test('a key the provider publishes after startup is found by an early read; the client gets in', async () => {
    const ok = await pyClient('confluent', b.bootstrapServers, uniqueTopic('oauth-http'), await token());
    assert.equal(ok.error, null, ok.stderr);
    const readsBefore = reads;
    served = [...served, rotated.jwk];
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ sub: 'bob', aud: 'kafka' })
      .setProtectedHeader({ alg: 'ES256', kid: 'rotated' })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(rotated.privateKey);
    const r = await pyClient('confluent', b.bootstrapServers, uniqueTopic('oauth-rot'), { jwt, exp: now + 600 });
    assert.equal(r.error, null, r.stderr);
    assert.deepEqual(r.values, ['hello-oauth-confluent']);
    assert.ok(reads > readsBefore, 'the key set was read again');
  });
});

describe("SASL/OAUTHBEARER with Kafka's default unsecured validator (testing only)", () => {
  let b: SaslBroker;
  before(async () => {
    b = await startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN,
    });
  });
  after(async () => {
    await b?.close();
  });

  const kcatOauth = (principal: string) => [
    '-X',
    'security.protocol=SASL_PLAINTEXT',
    '-X',
    'sasl.mechanisms=OAUTHBEARER',
    '-X',
    'enable.sasl.oauthbearer.unsecure.jwt=true',
    '-X',
    `sasl.oauthbearer.config=principal=${principal}`,
  ];

  test('kcat with an unsecured JWT produces and consumes; the broker warned at startup', async () => {
    const topic = uniqueTopic('oauth-kcat');
    await runOk(KCAT, ['-b', b.bootstrapServers, ...kcatOauth('alice'), '-P', '-t', topic], {
      input: 'v1\nv2\n',
      timeoutMs: 60_000,
    });
    const r = await runOk(
      KCAT,
      ['-b', b.bootstrapServers, ...kcatOauth('alice'), '-C', '-t', topic, '-o', 'beginning', '-e', '-q'],
      { timeoutMs: 60_000 },
    );
    assert.deepEqual(r.stdout.trim().split('\n'), ['v1', 'v2']);
    assert.match(b.log(), /unsecured \(unsigned\) JWTs.*for testing only/);
  });

  test('a signed token is refused by the unsecured validator', async () => {
    const r = await pyClient('confluent', b.bootstrapServers, uniqueTopic('oauth-uns'), await token());
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /'none'/);
  });
});

// a data dir of the test's own: a refused configuration leaves no broker temp dir behind
test('startup stops with one line: no JAAS entry, an unreadable key set, a callback handler Samsa does not have', async () => {
  const base = { 'sasl.enabled.mechanisms': 'OAUTHBEARER' };
  const jaas = { 'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN };
  const handler = 'listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class';
  await assert.rejects(
    startSaslBroker(base, { dataDir: path.join(dir, 'data') }),
    /OAUTHBEARER is enabled on listener SASL_PLAINTEXT, but it has no JAAS/,
  );
  await assert.rejects(
    startSaslBroker(
      {
        ...base,
        ...jaas,
        [handler]: VALIDATOR,
        'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(path.join(dir, 'missing.json')).href,
      },
      { dataDir: path.join(dir, 'data') },
    ),
    /cannot read the JWKS/,
  );
  await assert.rejects(
    startSaslBroker({ ...base, ...jaas, [handler]: 'com.example.MyValidator' }, { dataDir: path.join(dir, 'data') }),
    /cannot be honoured: Samsa runs no Java classes/,
  );
});
