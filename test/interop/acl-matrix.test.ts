/**
 * The authorization matrix with real clients over SASL_PLAINTEXT/PLAIN: a
 * broker with the StandardAuthorizer, `super.users=User:admin;User:ANONYMOUS`
 * and a second, PLAINTEXT listener on loopback for the administrator (who is
 * User:ANONYMOUS there). ACLs created by the super user with kafka-python's
 * `KafkaAdminClient.create_acls` (listed with `describe_acls`) and with
 * `samsa acl add|list|remove`; then, per row of the API table, one principal
 * allowed and one refused with the error Kafka's clients name: Produce
 * (kcat, kafka-python), Fetch + OffsetCommit through a consumer group,
 * Metadata (topics the principal may describe), CreateTopics, DeleteTopics,
 * DescribeConfigs, ListGroups, transactions (confluent-kafka), the ACL APIs
 * themselves; super user bypass, PREFIXED and wildcard (`*`, `User:*`)
 * patterns, Deny over Allow. Every other row: test/unit/security/acl-enforcement.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { runCli } from '../../src/cli/main.ts';
import { freePort } from '../helpers/broker.ts';
import { KCAT, PY_DIR, PYTHON, run, runOk } from '../helpers/proc.ts';
import { kcatSasl, type SaslBroker, startSaslBroker } from '../helpers/sasl.ts';

const JAAS =
  'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-pw" ' +
  'user_admin="admin-pw" user_alice="alice-pw" user_bob="bob-pw" user_dave="dave-pw";';
const PASSWORDS: Record<string, string> = { admin: 'admin-pw', alice: 'alice-pw', bob: 'bob-pw', dave: 'dave-pw' };

let b: SaslBroker;
/** A PLAINTEXT listener on loopback for the administrator: User:ANONYMOUS there, a super user. */
let adminPort: number;

/** `samsa acl ...` (in-process) through the admin listener. */
async function samsaAcl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['acl', ...args, '-b', `127.0.0.1:${adminPort}`], {
    stdout: (x) => (out += x),
    stderr: (x) => (err += x),
    stdin: Readable.from(['']),
  });
  return { code, out, err };
}

async function py(op: string, user: string, args: object = {}): Promise<Record<string, any>> {
  const r = await run(
    PYTHON,
    [path.join(PY_DIR, 'acl_matrix.py'), op, b.bootstrapServers, user, PASSWORDS[user], JSON.stringify(args)],
    { timeoutMs: 90_000 },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`acl_matrix.py ${op} as ${user}: no JSON answer (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }
}

async function kcatProduce(user: string, topic: string): Promise<{ code: number | null; stderr: string }> {
  const r = await run(
    KCAT,
    ['-b', b.bootstrapServers, ...kcatSasl('PLAIN', user, PASSWORDS[user]), '-P', '-t', topic],
    {
      input: `from-${user}\n`,
      timeoutMs: 60_000,
    },
  );
  return { code: r.code, stderr: r.stderr };
}

before(async () => {
  adminPort = await freePort();
  b = await startSaslBroker({
    listeners: `SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:${adminPort}`,
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': JAAS,
    'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    'super.users': 'User:admin;User:ANONYMOUS',
    'auto.create.topics.enable': 'false',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
  });
  // the super user makes the topics and the ACLs
  const made = await Promise.all(
    ['mx-orders', 'mx-pre-ok', 'mx-pre-denied', 'mx-secret'].map((topic) => py('create_topic', 'admin', { topic })),
  );
  assert.deepEqual(
    made.map((m) => m.error),
    [null, null, null, null],
  );
  const acls = await py('create_acls', 'admin', {
    acls: [
      // alice produces to and consumes mx-orders in group mx-g
      ['TOPIC', 'mx-orders', 'LITERAL', 'User:alice', '*', 'WRITE', 'ALLOW'],
      ['TOPIC', 'mx-orders', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      ['GROUP', 'mx-g', 'LITERAL', 'User:alice', '*', 'READ', 'ALLOW'],
      // alice may do everything with mx-pre-* topics, except write to mx-pre-denied
      ['TOPIC', 'mx-pre-', 'PREFIXED', 'User:alice', '*', 'ALL', 'ALLOW'],
      ['TOPIC', 'mx-pre-denied', 'LITERAL', 'User:alice', '*', 'WRITE', 'DENY'],
      // everyone may describe every topic
      ['TOPIC', '*', 'LITERAL', 'User:*', '*', 'DESCRIBE', 'ALLOW'],
      // bob may read mx-orders but is in no group
      ['TOPIC', 'mx-orders', 'LITERAL', 'User:bob', '*', 'READ', 'ALLOW'],
    ],
  });
  assert.equal(acls.error, null);
  assert.equal(acls.succeeded, 7);
});

after(async () => {
  await b?.close();
});

describe('authorization matrix (real clients, SASL/PLAIN)', () => {
  test('describe_acls (kafka-python) lists what create_acls made; only for who may describe the cluster', async () => {
    const [admin, alice] = await Promise.all([py('describe_acls', 'admin'), py('describe_acls', 'alice')]);
    assert.equal(admin.error, null);
    assert.equal(admin.acls.length, 7);
    assert.ok(
      admin.acls.some((a: string[]) => a.join(' ') === 'TOPIC mx-pre- PREFIXED User:alice * ALL ALLOW'),
      JSON.stringify(admin.acls),
    );
    assert.equal(alice.error, 'CLUSTER_AUTHORIZATION_FAILED');
  });

  test('Produce: Write on the topic (kcat, kafka-python); Deny over Allow; super user', async () => {
    const [aliceOrders, bobOrders, alicePre, aliceDenied, adminSecret] = await Promise.all([
      kcatProduce('alice', 'mx-orders'),
      kcatProduce('bob', 'mx-orders'),
      py('produce', 'alice', { topic: 'mx-pre-ok' }),
      py('produce', 'alice', { topic: 'mx-pre-denied' }),
      py('produce', 'admin', { topic: 'mx-secret' }),
    ]);
    assert.equal(aliceOrders.code, 0, aliceOrders.stderr);
    assert.notEqual(bobOrders.code, 0);
    assert.match(bobOrders.stderr, /Topic authorization failed/i);
    assert.equal(alicePre.error, null, 'PREFIXED allow');
    assert.equal(aliceDenied.error, 'TOPIC_AUTHORIZATION_FAILED', 'Deny wins over the PREFIXED allow');
    assert.equal(adminSecret.error, null, 'super user');
  });

  test('Fetch + group: Read on the topic and the group (kafka-python consumer)', async () => {
    const [alice, bob] = await Promise.all([
      py('consume', 'alice', { topic: 'mx-orders', group: 'mx-g' }),
      py('consume', 'bob', { topic: 'mx-orders', group: 'mx-g' }),
    ]);
    assert.equal(alice.error, null);
    assert.deepEqual(alice.values, ['from-alice']);
    assert.equal(bob.error, 'GROUP_AUTHORIZATION_FAILED');
    const dave = await py('consume', 'dave', { topic: 'mx-orders', group: 'mx-dave' });
    assert.match(dave.error, /AUTHORIZATION_FAILED/);
  });

  test('Metadata: the User:* Describe on * shows a principal without ACLs of its own every topic', async () => {
    // dave has no ACL of his own: the wildcard principal's Describe on every topic
    const dave = await py('topics', 'dave');
    assert.equal(dave.error, null);
    assert.deepEqual(dave.topics, ['mx-orders', 'mx-pre-denied', 'mx-pre-ok', 'mx-secret']);
    const r = await runOk(
      KCAT,
      ['-b', b.bootstrapServers, ...kcatSasl('PLAIN', 'bob', PASSWORDS.bob), '-L', '-t', 'mx-secret', '-J'],
      { timeoutMs: 60_000 },
    );
    const md = JSON.parse(r.stdout);
    assert.equal(md.topics[0].topic, 'mx-secret');
  });

  test('CreateTopics, DeleteTopics, DescribeConfigs (kafka-python admin)', async () => {
    const [aliceCreate, bobCreate, bobDelete, aliceConfigs, bobConfigs] = await Promise.all([
      py('create_topic', 'alice', { topic: 'mx-pre-new' }),
      py('create_topic', 'bob', { topic: 'mx-bob-new' }),
      py('delete_topic', 'bob', { topic: 'mx-orders' }),
      py('describe_configs', 'alice', { topic: 'mx-pre-ok' }),
      py('describe_configs', 'bob', { topic: 'mx-orders' }),
    ]);
    assert.equal(aliceCreate.error, null, 'Create via the PREFIXED All');
    assert.equal(bobCreate.error, 'TOPIC_AUTHORIZATION_FAILED');
    assert.equal(bobDelete.error, 'TOPIC_AUTHORIZATION_FAILED');
    assert.equal(aliceConfigs.error, null);
    assert.equal(bobConfigs.error, 'TOPIC_AUTHORIZATION_FAILED');
    const aliceDelete = await py('delete_topic', 'alice', { topic: 'mx-pre-new' });
    assert.equal(aliceDelete.error, null);
  });

  test('ListGroups leaves out the groups the principal may not describe', async () => {
    const [admin, alice, dave] = await Promise.all([
      py('list_groups', 'admin'),
      py('list_groups', 'alice'),
      py('list_groups', 'dave'),
    ]);
    assert.ok(admin.groups.includes('mx-g'), JSON.stringify(admin));
    assert.deepEqual(alice.groups, ['mx-g']);
    assert.deepEqual(dave.groups, []);
  });

  test('transactions: Write on the transactional id (confluent-kafka)', async () => {
    const denied = await py('txn', 'alice', { topic: 'mx-orders', txid: 'mx-tx' });
    assert.equal(denied.error, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED');
    const grant = await py('create_acls', 'admin', {
      acls: [['TRANSACTIONAL_ID', 'mx-tx', 'LITERAL', 'User:alice', '*', 'WRITE', 'ALLOW']],
    });
    assert.equal(grant.error, null);
    const allowed = await py('txn', 'alice', { topic: 'mx-orders', txid: 'mx-tx' });
    assert.equal(allowed.error, null);
  });

  test('samsa acl add / list / remove (as User:ANONYMOUS on the admin listener, a super user)', async () => {
    const before = await py('consume', 'dave', { topic: 'mx-orders', group: 'mx-dave' });
    assert.match(before.error, /AUTHORIZATION_FAILED/);
    const add = await samsaAcl(
      'add',
      '--allow-principal',
      'User:dave',
      '--consumer',
      '--topic',
      'mx-orders',
      '--group',
      'mx-dave',
    );
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /added 3 ACL/);
    const listed = await samsaAcl('list', '--principal', 'User:dave', '--json');
    assert.deepEqual(
      JSON.parse(listed.out)
        .map((a: { resourceName: string; operation: string }) => `${a.resourceName} ${a.operation}`)
        .sort(),
      ['mx-dave Read', 'mx-orders Describe', 'mx-orders Read'],
    );
    const after = await py('consume', 'dave', { topic: 'mx-orders', group: 'mx-dave' });
    assert.equal(after.error, null);
    assert.deepEqual(after.values, ['from-alice']);
    const removed = await samsaAcl(
      'remove',
      '--allow-principal',
      'User:dave',
      '--consumer',
      '--topic',
      'mx-orders',
      '--group',
      'mx-dave',
      '--force',
    );
    assert.equal(removed.code, 0, removed.err);
    assert.match(removed.out, /removed 3 ACL/);
    const again = await py('consume', 'dave', { topic: 'mx-orders', group: 'mx-dave' });
    assert.match(again.error, /AUTHORIZATION_FAILED/);
  });

  test('samsa acl with --command-config: the super user over SASL adds, alice over SASL is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-acl-cc-'));
    try {
      const config = (user: string) => {
        const file = path.join(dir, `${user}.properties`);
        fs.writeFileSync(
          file,
          `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=${user}\nsasl.password=${PASSWORDS[user]}\n`,
        );
        return file;
      };
      const run = async (user: string, ...args: string[]) => {
        let out = '';
        let err = '';
        const code = await runCli(['acl', ...args, '-b', b.bootstrapServers, '--command-config', config(user)], {
          stdout: (x) => (out += x),
          stderr: (x) => (err += x),
          stdin: Readable.from(['']),
        });
        return { code, out, err };
      };
      const added = await run(
        'admin',
        'add',
        '--allow-principal',
        'User:bob',
        '--operation',
        'Write',
        '--topic',
        'mx-cc',
      );
      assert.equal(added.code, 0, added.err);
      const listed = await run('admin', 'list', '--topic', 'mx-cc', '--json');
      assert.deepEqual(
        JSON.parse(listed.out).map((a: { principal: string; operation: string }) => `${a.principal} ${a.operation}`),
        ['User:bob Write'],
      );
      const refused = await run('alice', 'add', '--allow-principal', 'User:alice', '--topic', 'mx-secret');
      assert.equal(refused.code, 1);
      assert.match(refused.err, /CLUSTER_AUTHORIZATION_FAILED/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CreateAcls needs Alter on the cluster', async () => {
    const r = await py('create_acls', 'alice', {
      acls: [['TOPIC', 'mx-secret', 'LITERAL', 'User:alice', '*', 'ALL', 'ALLOW']],
    });
    assert.equal(r.error, 'CLUSTER_AUTHORIZATION_FAILED');
  });
});
