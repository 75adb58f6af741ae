/** SCRAM-SHA-256/512 against RFC 7677's test vector, and the server's refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SaslAuthenticationError } from '../../../src/security/sasl/mechanism.ts';
import {
  newCredential,
  type ScramCredential,
  saltedPassword,
  credentialFromSaltedPassword,
  scramByName,
  scramClient,
  scramServerMechanism,
} from '../../../src/security/sasl/scram.ts';

const SHA256 = scramByName('SCRAM-SHA-256')!;
const SHA512 = scramByName('SCRAM-SHA-512')!;
// RFC 7677 section 3
const CLIENT_NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_NONCE_PART = '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
const SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const CLIENT_FIRST = `n,,n=user,r=${CLIENT_NONCE}`;
const SERVER_FIRST = `r=${CLIENT_NONCE}${SERVER_NONCE_PART},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`;
const CLIENT_FINAL = `c=biws,r=${CLIENT_NONCE}${SERVER_NONCE_PART},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=`;
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

const rfcCredential = (): ScramCredential =>
  credentialFromSaltedPassword(SHA256, saltedPassword(SHA256, 'pencil', SALT, 4096), SALT, 4096);

test('client: RFC 7677 SCRAM-SHA-256 exchange, byte for byte', () => {
  const c = scramClient(SHA256, 'user', 'pencil', CLIENT_NONCE);
  assert.equal(c.first().toString(), CLIENT_FIRST);
  assert.equal(c.final(Buffer.from(SERVER_FIRST)).toString(), CLIENT_FINAL);
  c.verify(Buffer.from(SERVER_FINAL));
  assert.throws(() => c.verify(Buffer.from('v=AAAA')), /server signature/);
});

test('server: RFC 7677 SCRAM-SHA-256 exchange, byte for byte', async () => {
  const mech = scramServerMechanism(
    SHA256,
    { credential: (u) => (u === 'user' ? rfcCredential() : undefined) },
    () => SERVER_NONCE_PART,
  );
  const s = mech.start('SASL_PLAINTEXT');
  const first = await s.step(Buffer.from(CLIENT_FIRST));
  assert.equal(first.done, false);
  assert.equal(first.response.toString(), SERVER_FIRST);
  const last = await s.step(Buffer.from(CLIENT_FINAL));
  assert.ok(last.done);
  assert.equal(last.response.toString(), SERVER_FINAL);
  assert.deepEqual(last.principal, { type: 'User', name: 'user' });
});

for (const m of [SHA256, SHA512]) {
  test(`${m.name}: our client and server agree; a wrong password fails without naming it`, async () => {
    const cred = newCredential(m, 'secret-pw', 4096);
    const mech = scramServerMechanism(m, { credential: (u) => (u === 'al,ice=' ? cred : undefined) });
    const ok = scramClient(m, 'al,ice=', 'secret-pw');
    const s = mech.start('L');
    const sf = await s.step(ok.first());
    const done = await s.step(ok.final(sf.response));
    assert.ok(done.done);
    assert.equal(done.principal.name, 'al,ice=');
    ok.verify(done.response);

    const bad = scramClient(m, 'al,ice=', 'not-the-pw');
    const s2 = mech.start('L');
    const sf2 = await s2.step(bad.first());
    await assert.rejects(
      async () => s2.step(bad.final(sf2.response)),
      (e: Error) => e instanceof SaslAuthenticationError && !e.message.includes('not-the-pw'),
    );
  });
}

test('server refuses an unknown user, tokenauth, another authzid, a changed nonce and garbage', async () => {
  const cred = newCredential(SHA256, 'pw', 4096);
  const mech = scramServerMechanism(SHA256, { credential: (u) => (u === 'bob' ? cred : undefined) });
  const refuse = async (msgs: string[], re: RegExp) => {
    const s = mech.start('L');
    let last: unknown;
    try {
      for (const m of msgs) await s.step(Buffer.from(m));
    } catch (e) {
      last = e;
    }
    assert.ok(last instanceof SaslAuthenticationError, `${msgs.join(' | ')}: ${last}`);
    assert.match((last as Error).message, re);
  };
  await refuse(['n,,n=nobody,r=abc'], /Invalid user credentials/);
  await refuse(['n,,n=bob,r=abc,tokenauth=true'], /delegation tokens/);
  await refuse(['n,a=eve,n=bob,r=abc'], /authorization id/);
  await refuse(['garbage'], /Invalid SCRAM client first message/);
  await refuse(['n,,n=bob,r=abc', 'c=biws,r=abc,p=AAAA'], /nonce/);
});
