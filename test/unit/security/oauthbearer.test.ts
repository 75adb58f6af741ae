// SASL/OAUTHBEARER server side: the client's message (RFC 7628), signed JWTs checked against a JWKS file
// (signature, exp, nbf, iat, aud, iss, sub), Kafka's unsecured validator, and the failure exchange.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import {
  JwtValidator,
  OAuthBearerMechanism,
  UnsecuredJwtValidator,
  parseClientInitialResponse,
  oauthBearerClientMessage,
  unsecuredValidatorOptions,
  TokenValidationError,
  type TokenValidator,
} from '../../../src/security/sasl/oauthbearer.ts';
import { JwksKeySet } from '../../../src/security/sasl/jwks.ts';
import { SaslAuthenticationError } from '../../../src/security/sasl/mechanism.ts';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const sec = (ms: number) => Math.floor(ms / 1000);

let dir: string;
let keyA: { privateKey: CryptoKey; publicJwk: JWK };
let keyB: { privateKey: CryptoKey; publicJwk: JWK };
let keys: JwksKeySet;

async function makeKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateKey, publicJwk };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-oauth-'));
  keyA = await makeKey('a');
  keyB = await makeKey('b');
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [keyA.publicJwk] }));
  keys = await JwksKeySet.open({
    url: pathToFileURL(path.join(dir, 'jwks.json')).href,
    refreshMs: 3_600_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 10_000,
  });
});
after(() => {
  keys.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Claims {
  sub?: unknown;
  aud?: string | string[];
  iss?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  [k: string]: unknown;
}

async function sign(claims: Claims, key = keyA, kid = key.publicJwk.kid as string): Promise<string> {
  const { sub, aud, iss, exp, iat, nbf, ...rest } = claims;
  const jwt = new SignJWT({ ...rest, ...(sub === undefined ? {} : { sub }) } as Record<
    string,
    unknown
  >).setProtectedHeader({
    alg: 'RS256',
    kid,
  });
  if (aud !== undefined) jwt.setAudience(aud);
  if (iss !== undefined) jwt.setIssuer(iss);
  if (exp !== undefined) jwt.setExpirationTime(exp);
  if (iat !== undefined) jwt.setIssuedAt(iat);
  if (nbf !== undefined) jwt.setNotBefore(nbf);
  return jwt.sign(key.privateKey);
}

const good = (over: Claims = {}): Claims => ({
  sub: 'alice',
  aud: 'kafka',
  iss: 'https://idp.example',
  iat: sec(NOW) - 60,
  exp: sec(NOW) + 3600,
  ...over,
});

function validator(over: Partial<ConstructorParameters<typeof JwtValidator>[0]> = {}) {
  return new JwtValidator({
    keys: keys.resolve,
    expectedAudience: ['kafka'],
    expectedIssuer: 'https://idp.example',
    clockSkewSeconds: 30,
    subClaimName: 'sub',
    scopeClaimName: 'scope',
    now: () => NOW,
    ...over,
  });
}

const first = (token: string, extra = '') => Buffer.from(`n,,\x01auth=Bearer ${token}\x01${extra}\x01`);

async function refused(v: TokenValidator, token: string, reason: RegExp) {
  await assert.rejects(v.validate(token), (e: unknown) => {
    assert.ok(e instanceof TokenValidationError, String(e));
    assert.match(e.message, reason);
    assert.ok(!e.message.includes(token), 'the message never repeats the token');
    return true;
  });
}

test('client first message: token, authorization id and extensions are parsed as RFC 7628 writes them', () => {
  const r = parseClientInitialResponse(Buffer.from('n,a=al=2Cice,\x01auth=Bearer abc.def.ghi\x01traceId=42 x\x01\x01'));
  assert.equal(r.token, 'abc.def.ghi');
  assert.equal(r.authorizationId, 'al,ice');
  assert.deepEqual([...r.extensions], [['traceId', '42 x']]);
  const plain = parseClientInitialResponse(first('x.y.'));
  assert.equal(plain.token, 'x.y.');
  assert.equal(plain.authorizationId, '');
  assert.equal(parseClientInitialResponse(Buffer.from('n,,\x01auth=bEaReR  t0k\x01\x01')).token, 't0k');
});

test("the client's first message as Samsa's client writes it parses back", () => {
  const m = oauthBearerClientMessage('h.p.s', {
    authorizationId: 'a,b=c',
    extensions: new Map([['traceId', '7']]),
  });
  assert.equal(m.toString('latin1'), 'n,a=a=2Cb=3Dc,\x01auth=Bearer h.p.s\x01traceId=7\x01\x01');
  const r = parseClientInitialResponse(m);
  assert.equal(r.token, 'h.p.s');
  assert.equal(r.authorizationId, 'a,b=c');
  assert.deepEqual([...r.extensions], [['traceId', '7']]);
  assert.equal(oauthBearerClientMessage('t').toString('latin1'), 'n,,\x01auth=Bearer t\x01\x01');
  assert.throws(() => oauthBearerClientMessage('not a jwt'), /JWT/);
  assert.throws(() => oauthBearerClientMessage('t', { extensions: new Map([['auth', 'x']]) }), /extension/);
});

test('client first message: malformed ones are refused without quoting them', () => {
  for (const bad of [
    '',
    '\x01',
    'n,,auth=Bearer abc\x01\x01', // no separator after the GS2 header
    'y,,\x01auth=Bearer abc\x01\x01',
    'n,,\x01auth=Bearer abc\x01', // missing the final separator
    'n,,\x01\x01', // no auth
    'n,,\x01auth=Basic abc\x01\x01',
    'n,,\x01auth=Bearer ab$c\x01\x01',
    'n,,\x01auth=Bearer abc\x01ba-d=1\x01\x01',
    'n,,\x01auth=Bearer abc\x01k=\x01\x01',
    'n,a=x=y,\x01auth=Bearer abc\x01\x01',
    'n,,\x01auth=Bearer ab\u00e9c\x01\x01',
  ]) {
    assert.throws(
      () => parseClientInitialResponse(Buffer.from(bad, 'utf8')),
      (e: unknown) =>
        e instanceof SaslAuthenticationError &&
        /OAUTHBEARER client first message/.test(e.message) &&
        !e.message.includes('abc'),
      JSON.stringify(bad),
    );
  }
});

test('a signed token with the expected claims authenticates its subject until its exp', async () => {
  const v = validator();
  const t = await v.validate(await sign(good({ scope: 'kafka.read kafka.write' })));
  assert.equal(t.principalName, 'alice');
  assert.deepEqual(t.scope, ['kafka.read kafka.write']);
  assert.equal(t.expiresAtMs, (sec(NOW) + 3600) * 1000);
  const custom = validator({ subClaimName: 'client_id', scopeClaimName: 'scp', expectedIssuer: null });
  const t2 = await custom.validate(await sign(good({ client_id: ' svc-1 ', scp: ['a', 'b', ' '], iss: 'other' })));
  assert.equal(t2.principalName, 'svc-1');
  assert.deepEqual(t2.scope, ['a', 'b']);
  const anyOf = validator({ expectedAudience: ['x', 'kafka'] });
  assert.equal((await anyOf.validate(await sign(good({ aud: ['web', 'kafka'] })))).principalName, 'alice');
});

test('expired, not yet valid, or without exp/iat: refused; the clock skew is allowed', async () => {
  const v = validator();
  await refused(v, await sign(good({ exp: sec(NOW) - 31 })), /expired/);
  assert.equal((await v.validate(await sign(good({ exp: sec(NOW) - 20 })))).principalName, 'alice');
  await refused(validator({ clockSkewSeconds: 0 }), await sign(good({ exp: sec(NOW) - 1 })), /expired/);
  await refused(v, await sign(good({ nbf: sec(NOW) + 60 })), /not valid yet/);
  await refused(v, await sign(good({ exp: undefined })), /exp/);
  await refused(v, await sign(good({ iat: undefined })), /iat/);
  await refused(v, await sign(good({ iat: sec(NOW) + 10, exp: sec(NOW) + 5 })), /before its issued-at/);
  assert.equal(
    (await v.validate(await sign(good({ iat: sec(NOW) + 600 })))).principalName,
    'alice',
    'iat in the future',
  );
});

test('wrong audience, an audience nobody expects, wrong issuer, no subject: refused', async () => {
  const v = validator();
  await refused(v, await sign(good({ aud: 'billing' })), /audience/);
  await refused(v, await sign(good({ aud: undefined })), /aud/);
  await refused(validator({ expectedAudience: null }), await sign(good()), /expected\.audience is not set/);
  assert.equal(
    (await validator({ expectedAudience: null }).validate(await sign(good({ aud: undefined })))).principalName,
    'alice',
  );
  await refused(v, await sign(good({ iss: 'https://evil.example' })), /issuer/);
  await refused(v, await sign(good({ sub: undefined })), /missing: sub/);
  await refused(v, await sign(good({ sub: '  ' })), /empty/);
  await refused(v, await sign(good({ sub: 7 })), /not a string/);
  assert.deepEqual((await v.validate(await sign(good({ scope: 5 })))).scope, [], 'a scope of another type is no scope');
  await refused(v, await sign(good({ scope: ['a', 5] })), /scope/);
});

test('wrong key, unknown kid, tampered payload, alg none, garbage: refused', async () => {
  const v = validator();
  await refused(v, await sign(good(), keyB, 'a'), /signature/);
  await refused(v, await sign(good(), keyB), /no key/);
  const [h, , s] = (await sign(good())).split('.');
  const forged = Buffer.from(JSON.stringify({ ...good(), sub: 'admin' })).toString('base64url');
  await refused(v, `${h}.${forged}.${s}`, /signature/);
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good())).toString('base64url')}.`;
  await refused(v, none, /algorithm|well-formed/);
  for (const g of ['garbage', 'a.b.c', '...', 'e30.e30.e30']) await refused(v, g, /./);
});

test('JWKS: a new key published after startup is found through an early read of the file', async () => {
  const file = path.join(dir, 'rotating.json');
  fs.writeFileSync(file, JSON.stringify({ keys: [keyA.publicJwk] }));
  let now = NOW;
  const set = await JwksKeySet.open({
    url: pathToFileURL(file).href,
    refreshMs: 3_600_000,
    retryBackoffMs: 100,
    retryBackoffMaxMs: 1000,
    env: { now: () => now, setTimer: () => ({ cancel() {} }), uuid: () => 'x' },
  });
  try {
    const v = validator({ keys: set.resolve });
    const byB = await sign(good(), keyB);
    fs.writeFileSync(file, JSON.stringify({ keys: [keyA.publicJwk, keyB.publicJwk] }));
    assert.equal((await v.validate(byB)).principalName, 'alice');
    assert.equal(set.loads, 2);
    // unknown kids do not cause a read each: at most one per interval
    const byC = await sign(good(), keyB, 'c');
    await refused(v, byC, /no key/);
    await refused(v, byC, /no key/);
    assert.equal(set.loads, 2);
    now += 10_000;
    await refused(v, byC, /no key/);
    assert.equal(set.loads, 3);
  } finally {
    set.close();
  }
});

test('JWKS: a missing, empty or malformed key set stops startup', async () => {
  const opts = { refreshMs: 1000, retryBackoffMs: 100, retryBackoffMaxMs: 1000 };
  const bad = path.join(dir, 'bad.json');
  await assert.rejects(JwksKeySet.open({ ...opts, url: pathToFileURL(path.join(dir, 'nope.json')).href }), /ENOENT/);
  fs.writeFileSync(bad, '{"keys":[]}');
  await assert.rejects(JwksKeySet.open({ ...opts, url: pathToFileURL(bad).href }), /no keys/);
  fs.writeFileSync(bad, '[1,2]');
  await assert.rejects(JwksKeySet.open({ ...opts, url: pathToFileURL(bad).href }), /not a JWKS/);
  fs.writeFileSync(bad, 'not json');
  await assert.rejects(JwksKeySet.open({ ...opts, url: pathToFileURL(bad).href }), /not JSON/);
  await assert.rejects(JwksKeySet.open({ ...opts, url: 'ftp://x/y' }), /protocol/);
});

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const unsigned = (claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'none' }) =>
  `${b64(header)}.${b64(claims)}.`;

test("unsecured validator: Kafka's rules for unsigned tokens", async () => {
  const v = new UnsecuredJwtValidator({ now: () => NOW });
  const ok = await v.validate(unsigned({ sub: 'bob', iat: NOW / 1000, exp: NOW / 1000 + 60.5 }));
  assert.equal(ok.principalName, 'bob');
  assert.equal(ok.expiresAtMs, NOW + 60_500);
  await refused(v, unsigned({ sub: 'bob', exp: NOW / 1000 }), /Expiration Time/);
  await refused(v, unsigned({ sub: 'bob', exp: NOW / 1000 + 60, iat: NOW / 1000 + 1 }), /Issued At/);
  await refused(v, unsigned({ sub: 'bob' }), /no expiration/);
  await refused(v, unsigned({ exp: NOW / 1000 + 60 }), /missing: sub/);
  await refused(v, unsigned({ sub: 'bob', exp: '1' }), /not a number/);
  await refused(v, unsigned({ sub: 'bob', exp: NOW / 1000 + 60 }, { alg: 'RS256' }), /'none'/);
  await refused(v, `${unsigned({ sub: 'bob', exp: NOW / 1000 + 60 })}c2ln`, /signature/);
  await refused(v, 'a..b', /'\.\.'/);
  await refused(v, 'e30.e30', /3 dot-separated/);
  const skew = new UnsecuredJwtValidator({ now: () => NOW, allowableClockSkewMs: 5000 });
  assert.equal((await skew.validate(unsigned({ sub: 'bob', exp: NOW / 1000 - 1 }))).principalName, 'bob');
  const opts = unsecuredValidatorOptions(
    new Map([
      ['unsecuredValidatorPrincipalClaimName', 'user'],
      ['unsecuredValidatorRequiredScope', 'read  write'],
    ]),
  );
  const scoped = new UnsecuredJwtValidator({ ...opts, now: () => NOW });
  assert.equal(
    (await scoped.validate(unsigned({ user: 'u', scope: ['read', 'write'], exp: NOW / 1000 + 9 }))).principalName,
    'u',
  );
  await assert.rejects(scoped.validate(unsigned({ user: 'u', scope: 'read', exp: NOW / 1000 + 9 })), (e: unknown) => {
    assert.ok(e instanceof TokenValidationError);
    assert.equal(e.status, 'insufficient_scope');
    return true;
  });
  assert.throws(
    () => unsecuredValidatorOptions(new Map([['unsecuredValidatorAllowableClockSkewMs', '-1']])),
    /non-negative/,
  );
});

test('the exchange: success ends at once; a bad token gets the JSON error, then the 0x01 gets the failure', async () => {
  const mech = new OAuthBearerMechanism(new Map([['SASL_PLAINTEXT', validator()]]));
  assert.equal(mech.name, 'OAUTHBEARER');
  const token = await sign(good());
  const ok = await mech.start('SASL_PLAINTEXT').step(first(token, 'traceId=1\x01'));
  assert.ok(ok.done);
  assert.equal(ok.done && ok.principal.name, 'alice');
  assert.equal(ok.done && ok.principal.type, 'User');
  assert.equal(ok.done && ok.credentialExpiresAt, (sec(NOW) + 3600) * 1000);
  assert.equal(ok.response.length, 0);

  const expired = await sign(good({ exp: sec(NOW) - 3600 }));
  const s = mech.start('SASL_PLAINTEXT');
  const challenge = await s.step(first(expired));
  assert.equal(challenge.done, false);
  assert.equal(challenge.response.toString(), '{"status":"invalid_token"}');
  await assert.rejects(
    Promise.resolve().then(() => s.step(Buffer.from([1]))),
    (e: unknown) => {
      assert.ok(e instanceof SaslAuthenticationError);
      assert.match(e.message, /expired/);
      assert.ok(!e.message.includes(expired));
      return true;
    },
  );

  // 0x01 out of turn is a malformed first message, not a failure replay
  await assert.rejects(
    Promise.resolve().then(() => mech.start('SASL_PLAINTEXT').step(Buffer.from([1]))),
    /client first message/,
  );
  // an authorization id other than the token's principal
  await assert.rejects(
    Promise.resolve().then(() =>
      mech.start('SASL_PLAINTEXT').step(Buffer.from(`n,a=bob,\x01auth=Bearer ${token}\x01\x01`)),
    ),
    /authorization id \(bob\)/,
  );
  const same = await mech.start('SASL_PLAINTEXT').step(Buffer.from(`n,a=alice,\x01auth=Bearer ${token}\x01\x01`));
  assert.ok(same.done);
  assert.throws(() => mech.start('OTHER'), /not configured/);
});
