/**
 * Listeners and TLS with real clients: one broker with a PLAINTEXT, an SSL
 * and a mutual-TLS (SSL, ssl.client.auth=required) listener side by side,
 * certificates made on the fly with openssl.
 *
 * - Metadata on each listener names the broker at that listener's address.
 * - kcat and confluent-kafka-python produce and consume over SSL.
 * - Mutual TLS: kcat with a certificate of the CA is served, and its
 *   principal is the subject DN mapped by ssl.principal.mapping.rules; a
 *   certificate of another CA, or none, is refused.
 * - A TLS handshake on the PLAINTEXT port, plaintext on the SSL port, and a
 *   handshake that never finishes are closed and logged; other clients go on.
 * - The certificate file replaced on disk, or ssl.keystore.location changed
 *   with IncrementalAlterConfigs: new handshakes get the new certificate.
 * - SASL_SSL: SASL/PLAIN inside TLS (kcat), a wrong password refused.
 * - Samsa's own client with Kafka's client properties (security.protocol=SSL,
 *   ssl.truststore.location): a fetch of several MiB from the segment files,
 *   sent over TLS in pieces instead of sendfile, arrives intact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { type RunningBroker, startBroker } from '../../src/server/index.ts';
import { eventually, uniqueTopic } from '../helpers/broker.ts';
import { type Issued, type Pki, makePki } from '../helpers/certs.ts';
import { KCAT, PYTHON, run, runOk } from '../helpers/proc.ts';
import { parseKcatJson } from '../helpers/kcat.ts';
import { PLAIN_JAAS } from '../helpers/sasl.ts';
import crypto from 'node:crypto';
import { KafkaClient } from '../../src/client/client.ts';
import { clientSecurityFromProperties } from '../../src/security/client-config.ts';
import { sendfileAvailable, sendfileStats } from '../../src/server/sendfile.ts';

describe('listeners and TLS', () => {
  let pki: Pki;
  let otherCa: Pki;
  let server: Issued;
  let alice: Issued;
  let mallory: Issued;
  let reloadKeystore: string;
  let dataDir: string;
  let broker: RunningBroker;
  const logLines: string[] = [];
  const port = (name: string) => broker.listeners.find((l) => l.name === name)!.port;
  const logged = (re: RegExp) => logLines.some((l) => re.test(l));

  before(async () => {
    pki = makePki();
    otherCa = makePki('/CN=Another CA');
    server = pki.issue('server', '/O=Samsa/CN=localhost');
    alice = pki.issue('alice', '/C=US/O=Acme/OU=Eng/CN=Alice');
    mallory = otherCa.issue('mallory', '/CN=Alice');
    reloadKeystore = path.join(pki.dir, 'reloading.keystore.pem');
    fs.copyFileSync(server.keystore, reloadKeystore);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-tls-'));
    const config = loadBrokerConfig({
      overrides: {
        listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0,SASLSSL://127.0.0.1:0',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASLSSL:SASL_SSL,CONTROLLER:PLAINTEXT',
        'sasl.enabled.mechanisms': 'PLAIN',
        'listener.name.saslssl.plain.sasl.jaas.config': PLAIN_JAAS,
        'log.dirs': dataDir,
        'num.partitions': '1',
        'ssl.keystore.type': 'PEM',
        'ssl.keystore.location': server.keystore,
        'ssl.truststore.type': 'PEM',
        'ssl.truststore.location': pki.ca,
        'samsa.ssl.handshake.timeout.ms': '1000',
        // the SSL listener's own keystore file, replaced by the reload test
        'listener.name.ssl.ssl.keystore.location': reloadKeystore,
        'listener.name.mtls.ssl.client.auth': 'required',
        'listener.name.mtls.ssl.principal.mapping.rules': 'RULE:^CN=([^,]*),.*$/$1/L,DEFAULT',
      },
    });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    broker = await startBroker({ config, logger, onFatal: () => {} });
  });

  after(async () => {
    await broker?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    pki?.cleanup();
    otherCa?.cleanup();
  });

  const sslArgs = () => ['-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${pki.ca}`];
  const mtlsArgs = (who: Issued) => [
    ...sslArgs(),
    '-X',
    `ssl.certificate.location=${who.cert}`,
    '-X',
    `ssl.key.location=${who.key}`,
  ];

  async function kcatMetadata(listener: string, extra: string[]): Promise<{ brokers: { id: number; name: string }[] }> {
    const r = await runOk(KCAT, ['-b', `127.0.0.1:${port(listener)}`, '-L', '-J', ...extra], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout);
  }

  test('Metadata on each listener names the broker at that listener', async () => {
    assert.deepEqual(
      broker.listeners.map((l) => [l.name, l.securityProtocol]),
      [
        ['PLAINTEXT', 'PLAINTEXT'],
        ['SSL', 'SSL'],
        ['MTLS', 'SSL'],
        ['SASLSSL', 'SASL_SSL'],
      ],
    );
    const plain = await kcatMetadata('PLAINTEXT', []);
    assert.deepEqual(
      plain.brokers.map((b) => b.name),
      [`127.0.0.1:${port('PLAINTEXT')}`],
    );
    const ssl = await kcatMetadata('SSL', sslArgs());
    assert.deepEqual(
      ssl.brokers.map((b) => b.name),
      [`127.0.0.1:${port('SSL')}`],
    );
    const mtls = await kcatMetadata('MTLS', mtlsArgs(alice));
    assert.deepEqual(
      mtls.brokers.map((b) => b.name),
      [`127.0.0.1:${port('MTLS')}`],
    );
  });

  test('kcat produces and consumes over SSL', async () => {
    const topic = uniqueTopic('tls-kcat');
    const bs = `127.0.0.1:${port('SSL')}`;
    await runOk(KCAT, ['-b', bs, '-P', '-t', topic, '-K:', ...sslArgs()], { input: 'k1:v1\nk2:v2\nk3:v3\n' });
    const r = await runOk(KCAT, ['-b', bs, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q', ...sslArgs()]);
    const recs = parseKcatJson(r.stdout);
    assert.deepEqual(
      recs.map((x) => [x.key, x.payload]),
      [
        ['k1', 'v1'],
        ['k2', 'v2'],
        ['k3', 'v3'],
      ],
    );
  });

  test('confluent-kafka-python produces and consumes over SSL', async () => {
    const topic = uniqueTopic('tls-py');
    const script = `
import json, sys
from confluent_kafka import Producer, Consumer
conf = {'bootstrap.servers': sys.argv[1], 'security.protocol': 'SSL', 'ssl.ca.location': sys.argv[2]}
p = Producer(conf)
for i in range(20):
    p.produce(sys.argv[3], key=str(i), value=('x' * 1000) + str(i))
left = p.flush(30)
c = Consumer(dict(conf, **{'group.id': 'tls-py', 'auto.offset.reset': 'earliest'}))
c.subscribe([sys.argv[3]])
got = []
for _ in range(120):
    m = c.poll(0.5)
    if m is None or m.error():
        if len(got) >= 20: break
        continue
    got.append(m.value().decode()[-2:].lstrip('x'))
    if len(got) >= 20: break
c.close()
print(json.dumps({'unflushed': left, 'got': got}))
`;
    const r = await runOk(PYTHON, ['-c', script, `127.0.0.1:${port('SSL')}`, pki.ca, topic], { timeoutMs: 120_000 });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.equal(out.unflushed, 0);
    assert.deepEqual(
      out.got,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
  });

  test('mutual TLS: a certificate of the CA is served as its mapped principal; another CA or none is refused', async () => {
    const topic = uniqueTopic('tls-mtls');
    const bs = `127.0.0.1:${port('MTLS')}`;
    await runOk(KCAT, ['-b', bs, '-P', '-t', topic, ...mtlsArgs(alice)], { input: 'hello\n' });
    const r = await runOk(KCAT, ['-b', bs, '-C', '-t', topic, '-o', 'beginning', '-e', '-J', '-q', ...mtlsArgs(alice)]);
    assert.deepEqual(
      parseKcatJson(r.stdout).map((x) => x.payload),
      ['hello'],
    );
    // the subject as RFC 2253 (CN first), mapped by RULE:^CN=([^,]*),.*$/$1/L
    assert.ok(
      logged(/"dn":"CN=Alice,OU=Eng,O=Acme,C=US".*"principal":"User:alice".*TLS client authenticated/),
      'the principal is logged',
    );

    for (const [who, args, reason] of [
      ['a certificate of another CA', mtlsArgs(mallory), /"reason":"client certificate not trusted"/],
      ['no certificate', sslArgs(), /"reason":"no client certificate \(ssl.client.auth=required\)"/],
    ] as const) {
      const bad = await run(KCAT, ['-b', bs, '-L', '-m', '5', ...args], { timeoutMs: 60_000 });
      assert.notEqual(bad.code, 0, `${who}: kcat must fail`);
      assert.doesNotMatch(bad.stdout, /brokers:/, `${who}: no metadata`);
      await eventually(
        () => logLines.some((l) => reason.test(l) && /TLS handshake failed on listener MTLS/.test(l)),
        30_000,
      );
    }
    // the listener still serves a good client
    await kcatMetadata('MTLS', mtlsArgs(alice));
  });

  test('TLS on the PLAINTEXT port, plaintext on the SSL port, a stalled handshake: closed, logged, others unaffected', async () => {
    // a TLS client on the PLAINTEXT port
    const hello = tls.connect({ host: '127.0.0.1', port: port('PLAINTEXT'), rejectUnauthorized: false });
    await new Promise<void>((resolve) => {
      hello.on('error', () => resolve());
      hello.on('close', () => resolve());
    });
    await eventually(() => logged(/TLS handshake received on PLAINTEXT listener PLAINTEXT/), 30_000);

    // an ApiVersions request in plaintext on the SSL port
    const plain = net.connect({ host: '127.0.0.1', port: port('SSL') });
    const frame = Buffer.from('0000001200120003000000010006636c69656e74000000', 'hex');
    plain.on('connect', () => plain.write(frame));
    plain.on('error', () => {});
    await new Promise<void>((resolve) => plain.on('close', () => resolve()));
    await eventually(() => logged(/TLS handshake failed on listener SSL/), 30_000);

    // a connection that never starts its handshake
    const idle = net.connect({ host: '127.0.0.1', port: port('SSL') });
    idle.on('error', () => {});
    await new Promise<void>((resolve) => idle.on('close', () => resolve()));
    await eventually(() => logged(/not complete within samsa.ssl.handshake.timeout.ms/), 30_000);

    await kcatMetadata('PLAINTEXT', []);
    await kcatMetadata('SSL', sslArgs());
  });

  test('a replaced certificate file is served to new handshakes without a restart', async () => {
    const peerSubject = () =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: port('SSL'), ca: fs.readFileSync(pki.ca) }, () => {
          const subject = s.getPeerX509Certificate()?.subject ?? '';
          s.destroy();
          resolve(subject);
        });
        s.on('error', reject);
      });
    assert.match(await peerSubject(), /CN=localhost/);
    const renewed = pki.issue('renewed', '/O=Samsa/CN=localhost/OU=renewed');
    const tmp = `${reloadKeystore}.tmp`;
    fs.copyFileSync(renewed.keystore, tmp);
    fs.renameSync(tmp, reloadKeystore);
    await eventually(async () => /OU=renewed/.test(await peerSubject()), 30_000);
    assert.ok(logged(/TLS certificates reloaded/));
  });

  test('SASL_SSL: SASL/PLAIN inside TLS; a wrong password is refused', async () => {
    const topic = uniqueTopic('tls-sasl');
    const bs = `127.0.0.1:${port('SASLSSL')}`;
    const auth = (password: string) => [
      '-X',
      'security.protocol=SASL_SSL',
      '-X',
      `ssl.ca.location=${pki.ca}`,
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=alice',
      '-X',
      `sasl.password=${password}`,
    ];
    await runOk(KCAT, ['-b', bs, '-P', '-t', topic, ...auth('alice-secret')], { input: 's1\ns2\n' });
    const r = await runOk(KCAT, ['-b', bs, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', ...auth('alice-secret')]);
    assert.deepEqual(r.stdout.trim().split('\n'), ['s1', 's2']);
    const bad = await run(KCAT, ['-b', bs, '-L', '-m', '5', ...auth('wrong')], { timeoutMs: 60_000 });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /SASL authentication error|Authentication failed|Invalid username or password/i);
  });

  test("Samsa's client over SSL with client properties; a multi-MiB fetch over TLS arrives intact", async () => {
    const topic = uniqueTopic('tls-client');
    const client = new KafkaClient({
      bootstrapServers: `127.0.0.1:${port('SSL')}`,
      security: clientSecurityFromProperties({ 'security.protocol': 'SSL', 'ssl.truststore.location': pki.ca }),
    });
    try {
      const md = await client.metadata();
      assert.deepEqual(
        md.brokers.map((b) => b.port),
        [port('SSL')],
      );
      await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
      const values: Buffer[] = [];
      for (let batch = 0; batch < 8; batch++) {
        const records = Array.from({ length: 8 }, () => crypto.randomBytes(64 * 1024));
        values.push(...records);
        await client.produce(
          topic,
          0,
          records.map((value) => ({ value })),
          { acks: 1 },
        );
      }
      const copiedBefore = sendfileStats.bytesCopied;
      const inPlaceBefore = sendfileStats.bytesInPlace;
      const got: Buffer[] = [];
      while (got.length < values.length) {
        const r = await client.fetch(topic, 0, got.length, { maxBytes: 8 << 20, partitionMaxBytes: 8 << 20 });
        assert.ok(r.records.length > 0, 'progress');
        for (const rec of r.records) got.push(rec.value!);
      }
      assert.equal(got.length, values.length);
      for (let k = 0; k < values.length; k++) assert.ok(got[k].equals(values[k]), `record ${k}`);
      // the segment bytes went as file regions, read and written in pieces: none by sendfile past the TLS layer
      if (sendfileAvailable) {
        assert.ok(sendfileStats.bytesCopied - copiedBefore >= 4 << 20, 'file regions read and written over TLS');
        assert.equal(sendfileStats.bytesInPlace, inPlaceBefore, 'nothing by sendfile on a TLS socket');
      }
    } finally {
      await client.close();
    }
  });

  test('ssl.keystore.location changed with IncrementalAlterConfigs: new handshakes get the new certificate', async () => {
    const peerSubject = () =>
      new Promise<string>((resolve, reject) => {
        const s = tls.connect(
          {
            host: '127.0.0.1',
            port: port('MTLS'),
            ca: fs.readFileSync(pki.ca),
            cert: fs.readFileSync(alice.cert),
            key: fs.readFileSync(alice.key),
          },
          () => {
            const subject = s.getPeerX509Certificate()?.subject ?? '';
            s.destroy();
            resolve(subject);
          },
        );
        s.on('error', reject);
      });
    assert.doesNotMatch(await peerSubject(), /OU=dynamic/);
    const next = pki.issue('dynamic', '/O=Samsa/CN=localhost/OU=dynamic');
    const admin = new KafkaClient({ bootstrapServers: `127.0.0.1:${port('PLAINTEXT')}` });
    try {
      const bad = await admin.incrementalAlterConfigs([
        {
          type: 'broker',
          name: '1',
          configs: [{ name: 'ssl.keystore.location', value: path.join(pki.dir, 'nope.pem') }],
        },
      ]);
      assert.match(String(bad[0].error), /no such file/, 'an unusable keystore is refused');
      const [r] = await admin.incrementalAlterConfigs([
        { type: 'broker', name: '1', configs: [{ name: 'ssl.keystore.location', value: next.keystore }] },
      ]);
      assert.equal(r.error, null);
    } finally {
      await admin.close();
    }
    await eventually(async () => /OU=dynamic/.test(await peerSubject()), 30_000);
    // the SSL listener keeps its own listener.name.ssl.ssl.keystore.location
    const ssl = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: port('SSL'), ca: fs.readFileSync(pki.ca) }, () => {
        resolve(s.getPeerX509Certificate()?.subject ?? '');
        s.destroy();
      });
      s.on('error', reject);
    });
    assert.doesNotMatch(ssl, /OU=dynamic/);
  });
});
