/**
 * The Java client (kafka-clients 4.3.1) over SASL_PLAINTEXT: PLAIN with a
 * session lifetime (connections.max.reauth.ms) that it re-authenticates
 * across, SCRAM-SHA-512 with a credential set by `samsa user scram set`, and
 * a wrong password (SaslAuthenticationException).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/main.ts';
import { uniqueTopic } from '../helpers/broker.ts';
import { compileJava, runJava } from '../helpers/kafka-ref.ts';
import { type SaslBroker, startSaslBroker } from '../helpers/sasl.ts';

const LIFETIME_MS = 3000;

describe('Java client over SASL', () => {
  let b: SaslBroker;
  let cp: string;
  before(async () => {
    [cp, b] = await Promise.all([
      compileJava('sasl'),
      startSaslBroker({
        'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-512',
        'connections.max.reauth.ms': String(LIFETIME_MS),
        'group.initial.rebalance.delay.ms': '0',
      }),
    ]);
    await setScramWithAdmin(b.bootstrapServers);
  });
  after(async () => {
    await b?.close();
  });

  const java = async (mech: string, user: string, pw: string, durationMs: number) => {
    const r = await runJava(
      cp,
      'SaslClient',
      [b.bootstrapServers, mech, user, pw, uniqueTopic('java-sasl'), String(durationMs)],
      {
        timeoutMs: 180_000,
      },
    );
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `no result: ${r.stdout}\n${r.stderr.slice(-3000)}`);
    return JSON.parse(line) as { sent: number; consumed: number; error: string | null };
  };

  test('PLAIN: produces and consumes across three session lifetimes (re-authenticating)', async () => {
    const from = b.log().length;
    const r = await java('PLAIN', 'alice', 'alice-secret', 3 * LIFETIME_MS);
    assert.equal(r.error, null);
    assert.ok(r.sent > 0);
    assert.equal(r.consumed, r.sent);
    assert.doesNotMatch(b.log().slice(from), /SASL session expired|SASL authentication failed/);
  });

  test('SCRAM-SHA-512 with a credential from samsa user scram set', async () => {
    const r = await java('SCRAM-SHA-512', 'carol', 'carol-Pa55', 0);
    assert.equal(r.error, null);
    assert.equal(r.consumed, r.sent);
  });

  test('a wrong password: SaslAuthenticationException, no password in the log', async () => {
    const r = await java('SCRAM-SHA-512', 'carol', 'not-carols-Pa55', 0);
    assert.match(r.error ?? '', /SaslAuthenticationException: Authentication failed: Invalid user credentials/);
    assert.ok(!b.log().includes('not-carols-Pa55'));
  });
});

/** `samsa user scram set carol` with the PLAIN admin login given by --command-config. */
async function setScramWithAdmin(bootstrap: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-java-sasl-'));
  const file = path.join(dir, 'admin.properties');
  fs.writeFileSync(
    file,
    'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=admin\nsasl.password=admin-secret\n',
  );
  try {
    let err = '';
    const code = await runCli(
      [
        'user',
        'scram',
        'set',
        'carol',
        '--mechanism',
        'SCRAM-SHA-512',
        '--password',
        'carol-Pa55',
        '-b',
        bootstrap,
        '--command-config',
        file,
      ],
      { stdout: () => {}, stderr: (s) => (err += s) },
    );
    assert.equal(code, 0, err);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
