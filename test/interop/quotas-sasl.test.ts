/**
 * User quotas (KIP-55) on SASL_PLAINTEXT/PLAIN: a producer_byte_rate set for
 * user alice, with `samsa quota` while the broker had a PLAINTEXT listener,
 * holds two confluent-kafka-python producers authenticated as alice (two
 * client ids, one quota: the user's) within 10% of it over 10 s, after a
 * restart onto the SASL listener, while a producer authenticated as admin
 * on the same broker runs unlimited; `samsa quota --command-config` over the
 * SASL listener; with ACLs on, the quota APIs need AlterConfigs /
 * DescribeConfigs on the cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { uniqueTopic } from '../helpers/broker.ts';
import { runPy } from '../helpers/proc.ts';
import { type SaslBroker, startSaslBroker } from '../helpers/sasl.ts';
import { runCli } from '../../src/cli/main.ts';
import { startBroker } from '../../src/index.ts';

const QUOTA = 256 * 1024;
const FAST_BYTES = 16 * 1024 * 1024;

function perSecond(buckets: number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < buckets.length; i += 10) out.push(buckets.slice(i, i + 10).reduce((a, b) => a + b, 0));
  return out;
}

describe('user quotas with SASL/PLAIN', () => {
  let dataDir: string;
  let b: SaslBroker;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-quota-sasl-'));
    // a quota set while the broker had a PLAINTEXT listener ...
    const plain = await startBroker({ dataDir, overrides: { 'num.partitions': '1' } });
    let err = '';
    const code = await runCli(
      ['quota', 'set', '-b', plain.bootstrapServers, '--user', 'alice', '--add-config', `producer_byte_rate=${QUOTA}`],
      { stdout: () => {}, stderr: (s) => void (err += s) },
    );
    await plain.close();
    assert.equal(code, 0, err);
    // ... is kept across the restart onto the SASL listener and applies to its principals
    b = await startSaslBroker({ 'auto.create.topics.enable': 'true' }, { dataDir });
  });
  after(async () => {
    await b?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("alice's producers share her producer_byte_rate within 10%; admin is not limited", async () => {
    const alice = { SASL_USERNAME: 'alice', SASL_PASSWORD: 'alice-secret' };
    const admin = { SASL_USERNAME: 'admin', SASL_PASSWORD: 'admin-secret' };
    const bs = b.bootstrapServers;
    const [a1, a2, ad] = await Promise.all([
      runPy('ck_quota_produce.py', [bs, uniqueTopic('qs-a1'), 'app-1', '12', '1024'], { env: alice }),
      runPy('ck_quota_produce.py', [bs, uniqueTopic('qs-a2'), 'app-2', '12', '1024'], { env: alice }),
      runPy('ck_quota_produce.py', [bs, uniqueTopic('qs-admin'), 'app-1', '12', '1024', String(FAST_BYTES)], {
        env: admin,
      }),
    ]);
    // 1 s to 11 s after each producer's first acknowledgement (they start together)
    const s1 = perSecond(a1.buckets);
    const s2 = perSecond(a2.buckets);
    let sum = 0;
    for (let i = 1; i < 11; i++) sum += (s1[i] ?? 0) + (s2[i] ?? 0);
    const aliceRate = sum / 10;
    const adminRate = ad.total / Math.max(ad.elapsed, 0.001);
    console.log(
      `user alice producer_byte_rate=${QUOTA}: her two producers together ${aliceRate.toFixed(0)} B/s (${s1.join(' ')} | ${s2.join(' ')}); admin ${adminRate.toFixed(0)} B/s`,
    );
    assert.ok(Math.abs(aliceRate - QUOTA) / QUOTA <= 0.1, `alice held at ${aliceRate.toFixed(0)} B/s, quota ${QUOTA}`);
    assert.ok(a1.maxThrottleMs > 0 && a2.maxThrottleMs > 0, 'both were told their throttle time');
    assert.equal(ad.total, FAST_BYTES);
    assert.equal(ad.maxThrottleMs, 0, 'admin was never throttled');
    assert.ok(adminRate > 4 * QUOTA, `admin produced at ${adminRate.toFixed(0)} B/s`);
  });

  test('samsa quota over the SASL listener with --command-config', async () => {
    const props = path.join(dataDir, 'admin.properties');
    fs.writeFileSync(
      props,
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=admin\nsasl.password=admin-secret\n',
    );
    const cli = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli([...args, '-b', b.bootstrapServers, '--command-config', props], {
        stdout: (s) => void (out += s),
        stderr: (s) => void (err += s),
      });
      assert.equal(code, 0, err);
      return out;
    };
    await cli(['quota', 'set', '--user', 'bob', '--add-config', 'consumer_byte_rate=4096']);
    assert.deepEqual(JSON.parse(await cli(['quota', 'list', '--json'])), [
      { entity: 'user=alice', values: { producer_byte_rate: QUOTA } },
      { entity: 'user=bob', values: { consumer_byte_rate: 4096 } },
    ]);
  });
});

describe('client quota APIs with ACLs (StandardAuthorizer)', () => {
  let dir: string;
  let b: SaslBroker;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-quota-acl-'));
    b = await startSaslBroker({
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
    });
  });
  after(async () => {
    await b?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const cli = async (user: string, args: string[]) => {
    const props = path.join(dir, `${user}.properties`);
    fs.writeFileSync(
      props,
      `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=${user}\nsasl.password=${user}-secret\n`,
    );
    let out = '';
    let err = '';
    const code = await runCli([...args, '-b', b.bootstrapServers, '--command-config', props], {
      stdout: (s) => void (out += s),
      stderr: (s) => void (err += s),
    });
    return { code, out, err };
  };

  test('AlterClientQuotas needs AlterConfigs and DescribeClientQuotas DescribeConfigs on the cluster', async () => {
    let r = await cli('alice', ['quota', 'set', '--user', 'alice', '--add-config', 'producer_byte_rate=1']);
    assert.equal(r.code, 1);
    assert.match(r.err, /CLUSTER_AUTHORIZATION_FAILED/);
    r = await cli('alice', ['quota', 'list']);
    assert.equal(r.code, 1);
    assert.match(r.err, /CLUSTER_AUTHORIZATION_FAILED/);
    r = await cli('admin', ['quota', 'set', '--user', 'alice', '--add-config', 'producer_byte_rate=1000']);
    assert.equal(r.code, 0, r.err);
    r = await cli('admin', ['quota', 'list', '--json']);
    assert.deepEqual(JSON.parse(r.out), [{ entity: 'user=alice', values: { producer_byte_rate: 1000 } }]);
  });
});
