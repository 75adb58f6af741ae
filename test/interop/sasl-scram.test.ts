/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 with credentials set by `samsa user scram
 * set` (through a PLAIN admin login given with --command-config): kcat,
 * confluent-kafka-python, kafka-python 2.0.2 and kafkajs log in and produce
 * and consume; a wrong password is refused and not logged; the credential
 * survives a broker restart; `samsa user scram list/delete`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { runCli } from '../../src/cli/main.ts';
import { uniqueTopic } from '../helpers/broker.ts';
import { KCAT, PYTHON, PY_DIR, run, runOk } from '../helpers/proc.ts';
import { kcatSasl, type SaslBroker, startSaslBroker } from '../helpers/sasl.ts';

const MECHS = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;
const SASL_OVERRIDES = { 'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512' };

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

async function pyClient(client: string, bs: string, mech: string, user: string, pw: string, topic: string) {
  const r = await run(PYTHON, [path.join(PY_DIR, 'sasl_client.py'), client, bs, mech, user, pw, topic], {
    timeoutMs: 90_000,
  });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

describe('SASL/SCRAM', () => {
  let b: SaslBroker;
  let dataDir: string;
  let adminConfig: string;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-scram-'));
    adminConfig = path.join(dataDir, 'admin.properties');
    fs.writeFileSync(
      adminConfig,
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n' +
        'sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";\n',
    );
    b = await startSaslBroker(SASL_OVERRIDES, { dataDir: path.join(dataDir, 'data') });
  });
  after(async () => {
    await b?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('samsa user scram set (kafka-configs.sh form) and list', async () => {
    const set = await cli([
      'user',
      'scram',
      'set',
      'bob',
      '--add-config',
      'SCRAM-SHA-256=[iterations=8192,password=bob-Pa55],SCRAM-SHA-512=[password=bob-Pa55]',
      '-b',
      b.bootstrapServers,
      '--command-config',
      adminConfig,
    ]);
    assert.equal(set.code, 0, set.err);
    const list = await cli([
      'user',
      'scram',
      'list',
      '--json',
      '-b',
      b.bootstrapServers,
      '--command-config',
      adminConfig,
    ]);
    assert.equal(list.code, 0, list.err);
    assert.deepEqual(JSON.parse(list.out), [
      {
        user: 'bob',
        credentials: [
          { mechanism: 'SCRAM-SHA-256', iterations: 8192 },
          { mechanism: 'SCRAM-SHA-512', iterations: 4096 },
        ],
      },
    ]);
    const few = await cli([
      'user',
      'scram',
      'set',
      'carol',
      '--password',
      'x',
      '--iterations',
      '1000',
      '-b',
      b.bootstrapServers,
      '--command-config',
      adminConfig,
    ]);
    assert.equal(few.code, 1);
    assert.match(few.err, /UNACCEPTABLE_CREDENTIAL: Too few iterations/);
    const noAuth = await cli(['user', 'scram', 'list', '-b', b.bootstrapServers, '--timeout-ms', '5000']);
    assert.equal(noAuth.code, 1, 'without --command-config the broker closes the connection');
  });

  for (const mech of MECHS) {
    test(`${mech}: kcat produces and consumes as bob`, async () => {
      const topic = uniqueTopic('scram-kcat');
      const auth = kcatSasl(mech, 'bob', 'bob-Pa55');
      await runOk(KCAT, ['-b', b.bootstrapServers, ...auth, '-P', '-t', topic], { input: 'a\nb\n', timeoutMs: 60_000 });
      const r = await runOk(
        KCAT,
        ['-b', b.bootstrapServers, ...auth, '-C', '-t', topic, '-o', 'beginning', '-e', '-q'],
        { timeoutMs: 60_000 },
      );
      assert.deepEqual(r.stdout.trim().split('\n'), ['a', 'b']);
    });

    for (const client of ['confluent', 'kafka-python']) {
      test(`${mech}: ${client} produces and consumes`, async () => {
        const r = await pyClient(client, b.bootstrapServers, mech, 'bob', 'bob-Pa55', uniqueTopic(`scram-${client}`));
        assert.equal(r.error, null);
        assert.deepEqual(r.values, [`hello-${mech}`]);
      });
    }

    test(`${mech}: kafkajs produces and consumes; a wrong password is refused`, async () => {
      const topic = uniqueTopic('scram-kjs');
      const kafka = (password: string) =>
        new Kafka({
          brokers: [b.bootstrapServers],
          logLevel: logLevel.NOTHING,
          retry: { retries: 0 },
          sasl: { mechanism: mech.toLowerCase() as 'scram-sha-256', username: 'bob', password },
        });
      const producer = kafka('bob-Pa55').producer({ allowAutoTopicCreation: true });
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'kjs' }] });
      await producer.disconnect();
      const consumer = kafka('bob-Pa55').consumer({ groupId: `g-${topic}` });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(String(message.value)) });
      });
      await consumer.disconnect();
      assert.equal(got, 'kjs');
      const bad = kafka('wrong-Pa55').producer();
      await assert.rejects(bad.connect(), /SASL SCRAM SHA(256|512) authentication failed|Invalid user credentials/);
    });
  }

  test('kafkajs with PLAIN', async () => {
    const kafka = new Kafka({
      brokers: [b.bootstrapServers],
      logLevel: logLevel.NOTHING,
      sasl: { mechanism: 'plain', username: 'alice', password: 'alice-secret' },
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = uniqueTopic('plain-kjs');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
    assert.ok((await admin.listTopics()).includes(topic));
    await admin.disconnect();
  });

  test('wrong SCRAM password: kcat sees the error, the log has no password', async () => {
    const r = await run(
      KCAT,
      ['-b', b.bootstrapServers, ...kcatSasl('SCRAM-SHA-512', 'bob', 'guess-Pa55'), '-L', '-m', '5'],
      {
        timeoutMs: 60_000,
      },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /SASL authentication error: Authentication failed: Invalid user credentials/);
    assert.ok(!b.log().includes('guess-Pa55'));
    assert.ok(!b.log().includes('bob-Pa55'));
  });

  test('the credential survives a broker restart; delete removes it', async () => {
    const dir = path.join(dataDir, 'data');
    await b.close();
    b = await startSaslBroker(SASL_OVERRIDES, { dataDir: dir });
    const r = await runOk(
      KCAT,
      ['-b', b.bootstrapServers, ...kcatSasl('SCRAM-SHA-256', 'bob', 'bob-Pa55'), '-L', '-m', '20'],
      {
        timeoutMs: 60_000,
      },
    );
    assert.match(r.stdout, /1 brokers/);
    const del = await cli([
      'user',
      'scram',
      'delete',
      'bob',
      '-b',
      b.bootstrapServers,
      '--command-config',
      adminConfig,
    ]);
    assert.equal(del.code, 0, del.err);
    assert.match(del.out, /Deleted SCRAM-SHA-256, SCRAM-SHA-512 credentials of user bob/);
    const gone = await run(
      KCAT,
      ['-b', b.bootstrapServers, ...kcatSasl('SCRAM-SHA-256', 'bob', 'bob-Pa55'), '-L', '-m', '5'],
      {
        timeoutMs: 60_000,
      },
    );
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /Invalid user credentials/);
  });
});
