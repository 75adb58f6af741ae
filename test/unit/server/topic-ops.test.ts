/**
 * Large topic operations keep the broker serving: while a CreateTopics or
 * DeleteTopics of thousands of partitions runs, a request on another
 * connection is answered before it completes. Deletion is durable and safe
 * across a restart (leftover `-delete` directories and partition directories
 * of topics no longer in the metadata are removed, and a topic re-created
 * under the same name starts empty), and the topic and partition caps hold
 * for CreateTopics, CreatePartitions and Metadata auto-creation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { startBroker, type RunningBroker } from '../../../src/server/index.ts';
import { Connection } from '../../../src/client/connection.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../../src/protocol/schema.ts';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-topic-ops-'));
}

function start(dir: string, overrides: Record<string, string> = {}): Promise<RunningBroker> {
  const config = loadBrokerConfig({
    overrides: {
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'log.dirs': dir,
      'auto.create.topics.enable': 'false',
      ...overrides,
    },
  });
  return startBroker({ config, logger: pino({ level: 'silent' }) });
}

async function connect(b: RunningBroker, clientId: string): Promise<Connection> {
  const c = new Connection({ host: b.host, port: b.port, clientId, requestTimeoutMs: 300_000 });
  await c.connect();
  return c;
}

/**
 * Resolves once `cond` holds, checked on every turn of the event loop (or every
 * `everyMs` for a costly check); fails after `ms`.
 */
async function until(cond: () => boolean, what: string, everyMs = 0, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => (everyMs > 0 ? setTimeout(r, everyMs) : setImmediate(r)));
  }
}

const createBody = (name: string, numPartitions: number) => ({
  topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
  timeoutMs: 300_000,
  validateOnly: false,
});
const deleteBody = (names: string[]) => ({
  topics: names.map((name) => ({ name })),
  topicNames: names,
  timeoutMs: 300_000,
});

function produceOne(c: Connection, topic: string, partition: number) {
  return c.send('Produce', {
    transactionalId: null,
    acks: 1,
    timeoutMs: 5000,
    topicData: [
      {
        name: topic,
        partitionData: [
          {
            index: partition,
            records: encodeBatch({ baseTimestamp: Date.now(), records: [{ value: Buffer.from('old') }] }),
          },
        ],
      },
    ],
  });
}

const PARTITIONS = 4000;

test('a large CreateTopics and DeleteTopics: another connection is answered before they complete', async () => {
  const dir = tempDir();
  // file.delete.delay.ms 0: removal of the renamed directories starts at once
  const b = await start(dir, { 'log.segment.delete.delay.ms': '0', 'samsa.max.partitions': String(2 * PARTITIONS) });
  const admin = await connect(b, 'admin');
  const other = await connect(b, 'other');
  try {
    const events: string[] = [];
    // Create: once the first partition directory exists the creation is under way.
    const created = admin.send('CreateTopics', createBody('big', PARTITIONS)).then((r) => {
      events.push('create answered');
      return r;
    });
    await until(() => fs.existsSync(path.join(dir, 'big-0')) || events.length > 0, 'the first partition directory');
    const md = await other.send('Metadata', {
      topics: [{ topicId: ZERO_UUID, name: 'big' }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    events.push('Metadata answered');
    const cr = await created;
    assert.equal(cr.topics[0].errorCode, ErrorCode.NONE);
    assert.deepEqual(events, ['Metadata answered', 'create answered']);
    // partitions whose logs were not open yet are shown without a leader (clients wait and retry)
    for (const p of md.topics[0].partitions) {
      if (p.errorCode === ErrorCode.LEADER_NOT_AVAILABLE) assert.equal(p.leaderId, -1);
      else assert.deepEqual([p.errorCode, p.leaderId], [ErrorCode.NONE, b.broker.nodeId]);
    }
    assert.equal(b.broker.image.topicsByName.get('big')!.partitions.length, PARTITIONS);
    for (let p = 0; p < PARTITIONS; p += 499) assert.ok(b.broker.replicas.get('big', p), `big-${p} has a log`);

    // Delete: once the first partition directory is renamed away the deletion is under way.
    events.length = 0;
    const deleted = admin.send('DeleteTopics', deleteBody(['big'])).then((r) => {
      events.push('delete answered');
      return r;
    });
    await until(
      () => !fs.existsSync(path.join(dir, 'big-0')) || events.length > 0,
      'the first partition directory to go',
    );
    await other.send('Metadata', {
      topics: [],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    events.push('Metadata answered');
    const dr = await deleted;
    assert.equal(dr.responses[0].errorCode, ErrorCode.NONE);
    assert.deepEqual(events, ['Metadata answered', 'delete answered']);
    // answered: no partition directory of the topic is left under its own name
    assert.equal(fs.readdirSync(dir).filter((n) => /^big-\d+$/.test(n)).length, 0);
    // and the renamed directories are removed in the background
    await until(
      () => fs.readdirSync(dir).every((n) => !n.startsWith('big-')),
      'the -delete directories to be removed',
      50,
    );
  } finally {
    await admin.close();
    await other.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a deletion cut short by a restart is finished at start-up, and the re-created topic is empty', async () => {
  const dir = tempDir();
  const aside = tempDir();
  const open: { b?: RunningBroker; c?: Connection } = {};
  try {
    // Keep file removal from starting, so that the renamed directories are what a crash would leave.
    open.b = await start(dir, { 'log.segment.delete.delay.ms': '600000' });
    open.c = await connect(open.b, 'restart');
    let c = open.c;
    assert.equal((await c.send('CreateTopics', createBody('gone', 3))).topics[0].errorCode, ErrorCode.NONE);
    for (let p = 0; p < 3; p++)
      assert.equal((await produceOne(c, 'gone', p)).responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    // a copy of partition 2 as it was: put back below, it stands for a crash after the
    // deletion was committed but before that partition's directory was renamed away
    fs.cpSync(path.join(dir, 'gone-2'), path.join(aside, 'gone-2'), { recursive: true });
    assert.equal((await c.send('DeleteTopics', deleteBody(['gone']))).responses[0].errorCode, ErrorCode.NONE);
    const renamed = fs.readdirSync(dir).filter((n) => n.startsWith('gone-') && n.endsWith('-delete'));
    assert.equal(renamed.length, 3);
    await c.close();
    await open.b.close();
    fs.cpSync(path.join(aside, 'gone-2'), path.join(dir, 'gone-2'), { recursive: true });

    // file.delete.delay.ms stays at its default (60 s): what is left from the last run goes at once
    const b = (open.b = await start(dir));
    c = open.c = await connect(b, 'restart');
    assert.equal(b.broker.replicas.logs.getLog('gone', 2), undefined, 'the stray partition is not served');
    assert.equal((await c.send('CreateTopics', createBody('gone', 3))).topics[0].errorCode, ErrorCode.NONE);
    for (let p = 0; p < 3; p++) {
      const log = b.broker.replicas.get('gone', p)!.log;
      assert.equal(log.logEndOffset, 0, `gone-${p} starts empty`);
    }
    await until(
      () => fs.readdirSync(dir).every((n) => !n.startsWith('gone-') || /^gone-\d+$/.test(n)),
      'leftover directories to be removed',
      20,
    );
  } finally {
    await open.c?.close();
    await open.b?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(aside, { recursive: true, force: true });
  }
});

test('caps: CreateTopics, CreatePartitions and Metadata auto-creation are refused with POLICY_VIOLATION', async () => {
  const dir = tempDir();
  const b = await start(dir, {
    'samsa.max.partitions': '8',
    'samsa.max.topics': '3',
    'auto.create.topics.enable': 'true',
    'num.partitions': '2',
  });
  const c = await connect(b, 'caps');
  try {
    const r = await c.send('CreateTopics', {
      topics: [
        { name: 'five', numPartitions: 5, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'four', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    assert.deepEqual(
      r.topics.map((t: any) => t.errorCode),
      [ErrorCode.NONE, ErrorCode.POLICY_VIOLATION],
    );
    assert.match(r.topics[1].errorMessage ?? '', /samsa\.max\.partitions/);

    const grow = await c.send('CreatePartitions', {
      topics: [{ name: 'five', count: 9, assignments: null }],
      timeoutMs: 10_000,
      validateOnly: false,
    });
    assert.equal(grow.results[0].errorCode, ErrorCode.POLICY_VIOLATION);
    assert.match(grow.results[0].errorMessage ?? '', /samsa\.max\.partitions/);

    // auto-creation asks for num.partitions (2): the first fits (7 of 8), the second does not
    const md = await c.send('Metadata', {
      topics: [
        { topicId: ZERO_UUID, name: 'auto-a' },
        { topicId: ZERO_UUID, name: 'auto-b' },
      ],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    });
    assert.deepEqual(
      md.topics.map((t: any) => t.errorCode),
      [ErrorCode.NONE, ErrorCode.POLICY_VIOLATION],
    );
    assert.equal(b.broker.image.topicsByName.has('auto-b'), false);

    const one = await c.send('CreateTopics', createBody('one', 1));
    assert.equal(one.topics[0].errorCode, ErrorCode.NONE);
    const third = await c.send('CreateTopics', createBody('x', 1));
    assert.equal(third.topics[0].errorCode, ErrorCode.POLICY_VIOLATION);
    assert.match(third.topics[0].errorMessage ?? '', /samsa\.max\.(topics|partitions)/);
  } finally {
    await c.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('DeleteTopics of several topics, unknown and repeated names among them: one answer per name, in order', async () => {
  const dir = tempDir();
  const b = await start(dir, { 'log.segment.delete.delay.ms': '0' });
  const c = await connect(b, 'multi');
  try {
    const made = await c.send('CreateTopics', {
      topics: ['m1', 'm2', 'm3'].map((name) => ({
        name,
        numPartitions: 2,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      })),
      timeoutMs: 10_000,
      validateOnly: false,
    });
    assert.deepEqual(
      made.topics.map((t: any) => t.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.NONE],
    );
    const r = await c.send('DeleteTopics', deleteBody(['m1', 'nope', 'm3', 'm1']));
    assert.deepEqual(
      r.responses.map((x: any) => [x.name, x.errorCode]),
      [
        ['m1', ErrorCode.NONE],
        ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ['m3', ErrorCode.NONE],
        ['m1', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    );
    assert.deepEqual([...b.broker.image.topicsByName.keys()], ['m2']);
    assert.deepEqual(
      fs
        .readdirSync(dir)
        .filter((n) => /^m\d-\d+$/.test(n))
        .sort(),
      ['m2-0', 'm2-1'],
    );
    assert.equal(b.broker.replicas.get('m1', 0), undefined);
    assert.ok(b.broker.replicas.get('m2', 1));
  } finally {
    await c.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('delete.topic.enable=false: DeleteTopics is answered TOPIC_DELETION_DISABLED and the topic stays', async () => {
  const dir = tempDir();
  const b = await start(dir, { 'delete.topic.enable': 'false' });
  const c = await connect(b, 'no-delete');
  try {
    const made = await c.send('CreateTopics', createBody('kept', 1));
    assert.equal(made.topics[0].errorCode, ErrorCode.NONE);
    const r = await c.send('DeleteTopics', deleteBody(['kept', 'nope']));
    assert.deepEqual(
      r.responses.map((x: any) => [x.name, x.errorCode]),
      [
        ['kept', ErrorCode.TOPIC_DELETION_DISABLED],
        ['nope', ErrorCode.TOPIC_DELETION_DISABLED],
      ],
    );
    assert.ok(b.broker.image.topicsByName.has('kept'));
    assert.ok(b.broker.replicas.get('kept', 0));
  } finally {
    await c.close();
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
