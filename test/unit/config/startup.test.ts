/**
 * What an operator sees at start: properties set without effect are listed
 * in one log line (none when there are none), and `samsa start` refuses a
 * security promise it cannot keep with one line on stderr and exit code 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startBroker } from '../../../src/index.ts';
import { runCli } from '../../../src/cli/main.ts';
import { ensureOffsetsTopic } from '../../../src/server/group-store.ts';
import { startBroker as startServer } from '../../../src/server/index.ts';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';

function capture() {
  const lines: any[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const ignoredLines = (lines: any[]) => lines.filter((l) => /without effect/.test(l.msg));

test('the ignored properties that were set are listed in one log line at start', async () => {
  const { logger, lines } = capture();
  const b = await startBroker({
    logger,
    overrides: { 'num.io.threads': '4', 'socket.send.buffer.bytes': '1000', 'log.retention.ms': '1000' },
  });
  await b.close();
  const found = ignoredLines(lines);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0].level, 40, 'a warning');
  assert.deepEqual(found[0].ignored, ['num.io.threads', 'socket.send.buffer.bytes']);
  assert.match(found[0].msg, /num\.io\.threads, socket\.send\.buffer\.bytes/);
});

test('no such line when every property that was set has an effect', async () => {
  const { logger, lines } = capture();
  const b = await startBroker({ logger, overrides: { 'num.partitions': '2' } });
  await b.close();
  assert.deepEqual(ignoredLines(lines), []);
});

test('ignored dynamic properties stored at runtime are listed at the next start', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-startup-'));
  try {
    const first = await startBroker({ dataDir });
    const { KafkaClient } = await import('../../../src/client/client.ts');
    const c = new KafkaClient({ bootstrapServers: first.bootstrapServers, clientId: 'startup-test' });
    const [r] = await c.incrementalAlterConfigs([
      { type: 'broker', name: '1', configs: [{ name: 'log.cleaner.threads', value: '2' }] },
    ]);
    assert.equal(r.error, null);
    await c.close();
    await first.close();
    const { logger, lines } = capture();
    const second = await startBroker({ dataDir, logger });
    await second.close();
    assert.deepEqual(
      ignoredLines(lines).map((l) => l.ignored),
      [['log.cleaner.threads']],
    );
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('samsa start refuses a SASL_PLAINTEXT listener and security properties with one line', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['listeners=SASL_PLAINTEXT://127.0.0.1:0'],
      /listener SASL_PLAINTEXT is SASL_PLAINTEXT with mechanism GSSAPI.*does not support GSSAPI.*set sasl\.enabled\.mechanisms/,
    ],
    [['listeners=SSL://127.0.0.1:0'], /listener SSL.*a TLS listener needs a certificate and key/],
    [
      ['authorizer.class.name=kafka.security.authorizer.AclAuthorizer'],
      /'authorizer\.class\.name'.*ZooKeeper.*StandardAuthorizer/,
    ],
    [
      ['sasl.server.callback.handler.class=com.example.Handler'],
      /'sasl\.server\.callback\.handler\.class' cannot be honoured: .*SASL.*remove it/,
    ],
  ];
  for (const [overrides, expected] of cases) {
    let out = '';
    let err = '';
    const args = [
      'start',
      ...overrides.flatMap((o) => ['--override', o]),
      '--override',
      `log.dirs=${path.join(os.tmpdir(), 'samsa-never-created')}`,
    ];
    const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
    assert.equal(code, 1, overrides.join(' '));
    assert.equal(out, '');
    assert.equal(err.split('\n').filter((l) => l !== '').length, 1, err);
    assert.match(err, /^samsa: /);
    assert.match(err, expected);
  }
  assert.equal(fs.existsSync(path.join(os.tmpdir(), 'samsa-never-created')), false, 'nothing was created');
});

test('__consumer_offsets on one broker: offsets.topic.replication.factor (3) is capped to 1 with one warning line when it is created', async () => {
  const { logger, lines } = capture();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-offsets-rf-'));
  const config = loadBrokerConfig({
    overrides: { listeners: 'PLAINTEXT://127.0.0.1:0', 'log.dirs': dir, 'offsets.topic.num.partitions': '2' },
  });
  const b = await startServer({ config, logger });
  try {
    assert.deepEqual(
      lines.filter((l) => /offsets\.topic\.replication\.factor/.test(l.msg)),
      [],
      'nothing said before the topic is created',
    );
    const topic = await ensureOffsetsTopic(b.broker);
    await ensureOffsetsTopic(b.broker);
    assert.deepEqual(
      topic.partitions.map((p) => p.replicas),
      [[1], [1]],
    );
    const capped = lines.filter((l) => /offsets\.topic\.replication\.factor/.test(l.msg));
    assert.equal(capped.length, 1, JSON.stringify(capped));
    assert.equal(capped[0].level, 40);
    assert.match(
      capped[0].msg,
      /__consumer_offsets is created with replication factor 1, the number of live brokers: offsets\.topic\.replication\.factor=3/,
    );
    assert.deepEqual(ignoredLines(lines), [], 'it has an effect: not listed as ignored');
  } finally {
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a combined node with controller.quorum.voters opens its CONTROLLER listener and is its own active controller', async () => {
  const { freePort } = await import('../../helpers/broker.ts');
  const port = await freePort();
  const { logger } = capture();
  const b = await startBroker({
    logger,
    overrides: {
      listeners: `PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:${port}`,
      'controller.quorum.voters': `1@127.0.0.1:${port}`,
    },
  });
  try {
    const { Connection } = await import('../../../src/client/connection.ts');
    const c = new Connection({ host: '127.0.0.1', port });
    await c.connect();
    const res = await c.send('DescribeQuorum', {
      topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
    });
    await c.close();
    assert.equal(res.topics[0].partitions[0].leaderId, 1);
    assert.deepEqual(
      res.nodes.map((n) => [n.nodeId, n.listeners[0].port]),
      [[1, port]],
    );
  } finally {
    await b.close();
  }
});
