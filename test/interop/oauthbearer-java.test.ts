/**
 * The Java client (kafka-clients of the reference Kafka) with SASL/OAUTHBEARER
 * against Samsa: KIP-768's login callback handler with a signed token (read
 * from a file, as sasl.oauthbearer.token.endpoint.url=file:// allows) against
 * a broker that checks it with a JWKS; an expired one is refused; the login
 * module's own unsigned token against a broker with Kafka's default
 * unsecured validator.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { uniqueTopic } from '../helpers/broker.ts';
import { compileJava } from '../helpers/kafka-ref.ts';
import { run } from '../helpers/proc.ts';
import { type SaslBroker, startSaslBroker } from '../helpers/sasl.ts';

const LOGIN = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;';
const VALIDATOR = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler';

let dir: string;
let cp: string;
let secured: SaslBroker;
let unsecured: SaslBroker;

async function java(bootstrap: string, topic: string, mode: string, arg: string) {
  const r = await run(
    'java',
    [
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
      `-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=${['token.jwt', 'expired.jwt'].map((f) => pathToFileURL(path.join(dir, f)).href).join(',')}`,
      '-cp',
      cp,
      'OAuthClient',
      bootstrap,
      topic,
      mode,
      arg,
    ],
    { timeoutMs: 120_000 },
  );
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as { ok: boolean; values: string[]; error?: string; message?: string };
  } catch {
    throw new Error(`OAuthClient printed no JSON:\n${r.stdout}\n${r.stderr}`);
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-oauth-java-'));
  const pair = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  const now = Math.floor(Date.now() / 1000);
  const sign = (iat: number, exp: number) =>
    new SignJWT({ sub: 'alice', aud: 'kafka', scope: 'kafka' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(pair.privateKey);
  fs.writeFileSync(path.join(dir, 'token.jwt'), await sign(now - 5, now + 3600));
  fs.writeFileSync(path.join(dir, 'expired.jwt'), await sign(now - 7200, now - 3600));
  [cp, secured, unsecured] = await Promise.all([
    compileJava('oauth'),
    startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN,
      'listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class': VALIDATOR,
      'sasl.oauthbearer.jwks.endpoint.url': pathToFileURL(path.join(dir, 'jwks.json')).href,
      'sasl.oauthbearer.expected.audience': 'kafka',
    }),
    startSaslBroker({
      'sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config': LOGIN,
    }),
  ]);
});
after(async () => {
  await secured?.close();
  await unsecured?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('Java client with OAUTHBEARER', () => {
  test('a signed token from the login callback handler: produces and consumes', async () => {
    const r = await java(
      secured.bootstrapServers,
      uniqueTopic('oauth-java'),
      'token-file',
      path.join(dir, 'token.jwt'),
    );
    assert.deepEqual(r, { ok: true, values: ['hello-oauth-java'] });
  });

  test('an expired token: the broker refuses it (SaslAuthenticationException, saying why)', async () => {
    const r = await java(
      secured.bootstrapServers,
      uniqueTopic('oauth-java-x'),
      'token-file',
      path.join(dir, 'expired.jwt'),
    );
    assert.equal(r.ok, false);
    assert.equal(r.error, 'SaslAuthenticationException');
    assert.match(r.message ?? '', /the token has expired/);
  });

  test("the login module's unsecured token against Kafka's default validator: produces and consumes", async () => {
    const r = await java(unsecured.bootstrapServers, uniqueTopic('oauth-java-u'), 'unsecured', 'carol');
    assert.deepEqual(r, { ok: true, values: ['hello-oauth-java'] });
  });
});
