// OAUTHBEARER's per-listener broker configuration: KIP-768 names, Kafka's order of prefixes, the JAAS entry Kafka
// requires, the validator class (secured with a JWKS, or Kafka's unsecured default), and the refusals.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import {
  OAUTHBEARER_LOGIN_MODULE,
  oauthBearerMechanism,
  oauthBearerSettings,
  rawProperty,
} from '../../../src/security/sasl/oauthbearer-config.ts';
import { ConfigError } from '../../../src/config/broker-config.ts';

const VALIDATOR = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler';
const LOGIN = { loginModule: OAUTHBEARER_LOGIN_MODULE, options: new Map<string, string>() };
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-oauth-cfg-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const settings = (raw: Map<string, string>, l = 'SASL_PLAINTEXT', jaas: typeof LOGIN | null = LOGIN) =>
  oauthBearerSettings((name) => rawProperty(raw, l, name), l, jaas);

test('the listener.name.<l>.oauthbearer. prefix wins, then oauthbearer., then listener.name.<l>., then the name', () => {
  const s = settings(
    new Map([
      ['listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class', VALIDATOR],
      ['sasl.oauthbearer.jwks.endpoint.url', 'https://idp.example/keys'],
      ['listener.name.sasl_plaintext.sasl.oauthbearer.jwks.endpoint.url', 'https://listener.example/keys'],
      ['listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url', 'file:///etc/samsa/jwks.json'],
      ['sasl.oauthbearer.expected.audience', 'kafka, other'],
      ['listener.name.sasl_plaintext.sasl.oauthbearer.clock.skew.seconds', '5'],
      ['sasl.oauthbearer.clock.skew.seconds', '7'],
    ]),
  );
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

test("without a callback handler class: Kafka's unsecured validator, its options from the JAAS entry", () => {
  const s = settings(new Map(), 'L', {
    loginModule: OAUTHBEARER_LOGIN_MODULE,
    options: new Map([['unsecuredValidatorRequiredScope', 'x']]),
  });
  assert.equal(s.kind, 'unsecured');
  assert.throws(
    () =>
      settings(new Map(), 'L', {
        loginModule: OAUTHBEARER_LOGIN_MODULE,
        options: new Map([['unsecuredValidatorAllowableClockSkewMs', 'soon']]),
      }),
    ConfigError,
  );
});

test('refusals: no JAAS entry, another login module, an unknown class, no or a bad JWKS URL, a bad number', () => {
  const handler = 'listener.name.l.oauthbearer.sasl.server.callback.handler.class';
  assert.throws(
    () => settings(new Map(), 'L', null),
    /no JAAS configuration: set listener\.name\.l\.oauthbearer\.sasl\.jaas\.config=/,
  );
  assert.throws(
    () => settings(new Map(), 'L', { loginModule: 'com.example.Login', options: new Map() }),
    /names com\.example\.Login, expected org\.apache\.kafka\.common\.security\.oauthbearer\.OAuthBearerLoginModule/,
  );
  assert.throws(() => settings(new Map([[handler, 'com.example.MyHandler']]), 'L'), /runs no Java classes/);
  assert.throws(() => settings(new Map([[handler, VALIDATOR]]), 'L'), /needs sasl\.oauthbearer\.jwks\.endpoint\.url/);
  assert.throws(
    () =>
      settings(
        new Map([
          [handler, VALIDATOR],
          ['sasl.oauthbearer.jwks.endpoint.url', 'ldap://x'],
        ]),
        'L',
      ),
    /sasl\.oauthbearer\.jwks\.endpoint\.url \(listener L\)/,
  );
  assert.throws(
    () =>
      settings(
        new Map([
          [handler, VALIDATOR],
          ['sasl.oauthbearer.jwks.endpoint.url', 'https://x/'],
          ['listener.name.l.oauthbearer.sasl.oauthbearer.clock.skew.seconds', '-1'],
        ]),
        'L',
      ),
    /sasl\.oauthbearer\.clock\.skew\.seconds \(listener L\)/,
  );
});

test('the mechanism: prepared per listener at startup (an unreadable JWKS file stops it), then authenticates', async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }));
  const raw = new Map([
    ['listener.name.sasl_plaintext.oauthbearer.sasl.server.callback.handler.class', VALIDATOR],
    ['listener.name.sasl_plaintext.oauthbearer.sasl.oauthbearer.jwks.endpoint.url', pathToFileURL(jwksFile).href],
    ['listener.name.broken.oauthbearer.sasl.server.callback.handler.class', VALIDATOR],
    ['listener.name.broken.oauthbearer.sasl.oauthbearer.jwks.endpoint.url', pathToFileURL(`${jwksFile}.missing`).href],
    ['sasl.oauthbearer.expected.audience', 'kafka'],
  ]);
  const warnings: string[] = [];
  const mech = oauthBearerMechanism({
    jaas: () => LOGIN,
    property: (l, _m, name) => rawProperty(raw, l, name),
    logger: { warn: (_o, msg) => warnings.push(msg) },
  });
  assert.throws(
    () => mech.prepare('BROKEN'),
    (e: unknown) => e instanceof ConfigError && /cannot read the JWKS/.test(e.message),
  );
  mech.prepare('SASL_PLAINTEXT');
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ sub: 'carol' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setAudience('kafka')
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(privateKey);
  const r = await mech.start('SASL_PLAINTEXT').step(Buffer.from(`n,,\x01auth=Bearer ${token}\x01\x01`));
  assert.ok(r.done);
  assert.equal(r.done && r.principal.name, 'carol');
  assert.equal(r.done && r.credentialExpiresAt, (now + 600) * 1000);
  assert.deepEqual(warnings, []);
  raw.delete('sasl.oauthbearer.expected.audience');
  raw.set('listener.name.noaud.oauthbearer.sasl.server.callback.handler.class', VALIDATOR);
  raw.set('sasl.oauthbearer.jwks.endpoint.url', pathToFileURL(jwksFile).href);
  mech.prepare('NOAUD');
  assert.match(warnings.join('\n'), /expected\.audience is not set/);
  mech.prepare('OPEN');
  assert.match(warnings.join('\n'), /unsecured .*for testing only/);
  mech.close();
});
