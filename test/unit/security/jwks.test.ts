// The OAUTHBEARER key set over HTTP: periodic refresh, failed refreshes keep the keys and back off, bounded bodies;
// and OAUTHBEARER's per-listener configuration (KIP-768 names and precedence).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { JwksKeySet, MAX_JWKS_BYTES } from '../../../src/security/sasl/jwks.ts';
import { oauthBearerSettings } from '../../../src/security/sasl/oauthbearer-config.ts';
import { ConfigError } from '../../../src/config/broker-config.ts';

let body = '';
let status = 200;
const server = http.createServer((_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
after(() => server.close());

async function jwk(kid: string) {
  const { publicKey } = await generateKeyPair('ES256');
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
}

async function until(what: string, cond: () => boolean, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('JWKS over HTTP: read again every refresh.ms; a failed read keeps the keys and retries with backoff', async () => {
  const a = await jwk('a');
  const b = await jwk('b');
  body = JSON.stringify({ keys: [a] });
  const errors: string[] = [];
  const set = await JwksKeySet.open({
    url,
    refreshMs: 50,
    retryBackoffMs: 20,
    retryBackoffMaxMs: 40,
    onRefreshError: (m) => errors.push(m),
  });
  try {
    const header = (kid: string) => ({ alg: 'ES256', kid });
    const token = { payload: '', signature: '', protected: '' };
    assert.ok(await set.resolve(header('a'), token));
    body = JSON.stringify({ keys: [a, b] });
    const before = set.loads;
    await until('a periodic refresh', () => set.loads > before);
    assert.ok(await set.resolve(header('b'), token));

    status = 500;
    await until('three failed refreshes', () => errors.length >= 3);
    assert.match(errors[0], /HTTP status 500.*keeping the keys|keeping the keys.*HTTP status 500/);
    assert.match(errors[0], /retrying in 20 ms/);
    assert.match(errors[2], /retrying in 40 ms/, 'the backoff doubles up to its maximum');
    assert.ok(await set.resolve(header('b'), token), 'the keys read before stay in use');

    status = 200;
    const afterFailures = set.loads;
    await until('a refresh after recovery', () => set.loads > afterFailures);
  } finally {
    set.close();
  }
});

test('JWKS over HTTP: an unreachable endpoint, an error status or an oversized body stops startup', async () => {
  const opts = { refreshMs: 1000, retryBackoffMs: 10, retryBackoffMaxMs: 10 };
  status = 404;
  await assert.rejects(JwksKeySet.open({ ...opts, url }), /HTTP status 404/);
  status = 200;
  body = JSON.stringify({ keys: [await jwk('a')], pad: 'x'.repeat(MAX_JWKS_BYTES) });
  await assert.rejects(JwksKeySet.open({ ...opts, url }), /larger than/);
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  await assert.rejects(JwksKeySet.open({ ...opts, url: `http://127.0.0.1:${port}/` }));
});

const VALIDATOR = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler';

test('config: the listener.name.<l>.oauthbearer. prefix wins over listener.name.<l>., which wins over the plain name', () => {
  const raw = new Map([
    ['listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class', VALIDATOR],
    ['sasl.oauthbearer.jwks.endpoint.url', 'https://idp.example/keys'],
    ['listener.name.sasl_plaintext.sasl.oauthbearer.jwks.endpoint.url', 'https://listener.example/keys'],
    ['listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url', 'file:///etc/samsa/jwks.json'],
    ['sasl.oauthbearer.expected.audience', 'kafka, other'],
    ['listener.name.sasl_plaintext.sasl.oauthbearer.clock.skew.seconds', '5'],
  ]);
  const s = oauthBearerSettings(raw, 'SASL_PLAINTEXT', new Map());
  assert.equal(s.kind, 'jwks');
  if (s.kind !== 'jwks') return;
  assert.equal(s.jwksUrl, 'file:///etc/samsa/jwks.json');
  assert.deepEqual(s.expectedAudience, ['kafka', 'other']);
  assert.equal(s.expectedIssuer, null);
  assert.equal(s.clockSkewSeconds, 5);
  assert.equal(s.refreshMs, 3_600_000);
  assert.equal(s.retryBackoffMs, 100);
  assert.equal(s.retryBackoffMaxMs, 10_000);
  assert.equal(s.subClaimName, 'sub');
  assert.equal(s.scopeClaimName, 'scope');
});

test("config: without a callback handler class, Kafka's unsecured validator with the JAAS options", () => {
  const s = oauthBearerSettings(new Map(), 'SASL_PLAINTEXT', new Map([['unsecuredValidatorRequiredScope', 'x']]));
  assert.equal(s.kind, 'unsecured');
  assert.throws(
    () => oauthBearerSettings(new Map(), 'L', new Map([['unsecuredValidatorAllowableClockSkewMs', 'soon']])),
    ConfigError,
  );
});

test('config: refusals name the property', () => {
  const handler = 'listener.name.l.oauthbearer.sasl.server.callback.handler.class';
  assert.throws(
    () => oauthBearerSettings(new Map([[handler, 'com.example.MyHandler']]), 'L', new Map()),
    /com\.example|runs no Java classes/,
  );
  assert.throws(
    () => oauthBearerSettings(new Map([[handler, VALIDATOR]]), 'L', new Map()),
    /needs sasl\.oauthbearer\.jwks\.endpoint\.url/,
  );
  assert.throws(
    () =>
      oauthBearerSettings(
        new Map([
          [handler, VALIDATOR],
          ['sasl.oauthbearer.jwks.endpoint.url', 'ldap://x'],
        ]),
        'L',
        new Map(),
      ),
    /'sasl\.oauthbearer\.jwks\.endpoint\.url'/,
  );
  assert.throws(
    () =>
      oauthBearerSettings(
        new Map([
          [handler, VALIDATOR],
          ['sasl.oauthbearer.jwks.endpoint.url', 'https://x/'],
          ['listener.name.l.oauthbearer.sasl.oauthbearer.clock.skew.seconds', '-1'],
        ]),
        'L',
        new Map(),
      ),
    /listener\.name\.l\.oauthbearer\.sasl\.oauthbearer\.clock\.skew\.seconds/,
  );
});
