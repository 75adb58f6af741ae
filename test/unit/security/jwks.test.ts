// The OAUTHBEARER key set over HTTP: periodic refresh, failed refreshes keep the keys and back off, bounded bodies;
// and a key set read in the background at startup.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import { JwksKeySet, MAX_JWKS_BYTES } from '../../../src/security/sasl/jwks.ts';

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

test('JWKS over HTTP started without waiting: a token that comes before the first read waits for it', async () => {
  const a = await jwk('a');
  body = JSON.stringify({ keys: [a] });
  status = 200;
  const set = JwksKeySet.start({ url, refreshMs: 3_600_000, retryBackoffMs: 10, retryBackoffMaxMs: 10 });
  try {
    assert.equal(set.loads, 0);
    assert.ok(await set.resolve({ alg: 'ES256', kid: 'a' }, { payload: '', signature: '', protected: '' }));
    assert.equal(set.loads, 1);
  } finally {
    set.close();
  }
  status = 503;
  const errors: string[] = [];
  const failing = JwksKeySet.start({
    url,
    refreshMs: 3_600_000,
    retryBackoffMs: 10,
    retryBackoffMaxMs: 10,
    onRefreshError: (m) => errors.push(m),
  });
  try {
    await assert.rejects(
      failing.resolve({ alg: 'ES256', kid: 'a' }, { payload: '', signature: '', protected: '' }),
      /not been read yet/,
    );
    await until('retries of the first read', () => errors.length >= 2);
    assert.match(errors[0], /no keys yet/);
    status = 200;
    await until('the first read succeeding', () => failing.loads === 1);
  } finally {
    failing.close();
  }
});
