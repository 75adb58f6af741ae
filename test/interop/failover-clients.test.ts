/**
 * Real clients through a leader kill on a three-broker cluster (real `samsa
 * start` processes, test/helpers/cluster.ts): confluent-kafka-python, kafkajs
 * and kcat each produce (acks=all, idempotent) to their own topic (RF=3,
 * min.insync.replicas=2, one partition, all three led by node 1) and consume
 * it, all at once, while node 1 is killed with SIGKILL and later restarted.
 * The applications see no error beyond the clients' own retries (no failed
 * delivery, no exception from send(), no fatal error, kcat exits 0), and
 * every acknowledged record is read back by the same client exactly once, in
 * order, at the offset it was acknowledged with.
 *
 * The kafkajs consumer needs a group; its group id is chosen so that its
 * coordinator is not node 1 (__consumer_offsets has one replica for now: a
 * coordinator's failover is another test's subject).
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/client/client.ts';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { startProcessCluster, type ProcessCluster } from '../helpers/cluster.ts';
import { eventually, sleep, uniqueTopic } from '../helpers/broker.ts';
import { currentPython } from '../helpers/pyclient.ts';
import { KCAT, PYTHON } from '../helpers/proc.ts';
import { parseProducer, parseReads } from '../fault/checker.ts';
import { FAULT_BROKER_OVERRIDES, WORKLOAD_PY } from '../fault/nemesis.ts';

const VICTIM = 1;

interface Acked {
  offset: number;
  value: string;
}

function python(): string {
  try {
    return currentPython();
  } catch {
    return PYTHON;
  }
}

interface Proc {
  p: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

function spawnProc(cmd: string, args: string[]): Proc {
  const p = spawn(cmd, args, {
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => {
    out += d.toString();
  });
  p.stderr!.on('data', (d) => {
    err += d.toString();
  });
  p.stdin!.on('error', () => {});
  return { p, out: () => out, err: () => err, exited: new Promise((r) => p.once('exit', (c) => r(c))) };
}

/** `values` read exactly once each, in this order, at the acknowledged offsets (offsets 0..n-1, nothing else). */
function assertReadBack(who: string, acked: Acked[], read: Acked[]): void {
  const sorted = read.slice().sort((a, b) => a.offset - b.offset);
  const firstAt = new Map<number, string>();
  const dup: string[] = [];
  for (const r of sorted) {
    if (firstAt.has(r.offset)) dup.push(`${r.offset}`);
    firstAt.set(r.offset, r.value);
  }
  // a consumer may re-read after a rebalance or a reconnect: the same offset twice with the same value is not a duplicate record
  const conflicting = dup.filter((o) =>
    sorted.filter((r) => r.offset === Number(o)).some((r) => r.value !== firstAt.get(Number(o))),
  );
  assert.deepEqual(conflicting, [], `${who}: one value per offset`);
  const values = [...firstAt.entries()].sort((a, b) => a[0] - b[0]);
  const counts = new Map<string, number>();
  for (const [, v] of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const twice = [...counts].filter(([, c]) => c > 1).map(([v]) => v);
  assert.deepEqual(twice, [], `${who}: no record stored twice`);
  const missing = acked.filter((a) => firstAt.get(a.offset) !== a.value);
  assert.deepEqual(
    missing.slice(0, 10).map((a) => `${a.value}@${a.offset} read ${firstAt.get(a.offset) ?? 'nothing'}`),
    [],
    `${who}: every acknowledged record read back at its offset (${missing.length} not)`,
  );
  assert.deepEqual(
    values.map(([o]) => o),
    values.map((_, i) => i),
    `${who}: offsets 0..n-1 without gaps`,
  );
  const seqs = values.map(([, v]) => Number(v.slice(v.lastIndexOf('-') + 1)));
  seqs.forEach((s, i) => {
    if (i > 0) assert.ok(s > seqs[i - 1], `${who}: in send order at offset ${i}`);
  });
}

async function leaderOf(bootstrap: string, topic: string): Promise<number | undefined> {
  const [host, port] = bootstrap.split(':');
  const c = new Connection({ host, port: Number(port), clientId: 'failover-clients', requestTimeoutMs: 5_000 });
  try {
    await c.connect();
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const p = md.topics[0]?.partitions[0];
    return p && p.isrNodes.length === 3 ? p.leaderId : undefined;
  } catch {
    return undefined;
  } finally {
    await c.close().catch(() => {});
  }
}

/** Creates `topic` (one partition on brokers VICTIM, 2, 3: VICTIM leads it); the error code, undefined when no answer. */
async function createLedBy(bootstrap: string, topic: string): Promise<number | undefined> {
  const [host, port] = bootstrap.split(':');
  const c = new Connection({ host, port: Number(port), clientId: 'failover-clients', requestTimeoutMs: 40_000 });
  try {
    await c.connect();
    const r = await c.send('CreateTopics', {
      topics: [
        {
          name: topic,
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [{ partitionIndex: 0, brokerIds: [VICTIM, 2, 3] }],
          configs: [{ name: 'min.insync.replicas', value: '2' }],
        },
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    return r.topics[0].errorCode;
  } catch {
    return undefined;
  } finally {
    await c.close().catch(() => {});
  }
}

describe('clients through a leader kill (three samsa processes, RF=3, acks=all)', () => {
  let cluster: ProcessCluster;

  before(async () => {
    cluster = await startProcessCluster({ nodes: 3, overrides: FAULT_BROKER_OVERRIDES });
  });
  after(async () => {
    await cluster?.close();
  });

  test('confluent-kafka-python, kafkajs and kcat: no application error, every acknowledged record read back once, in order', async () => {
    const bootstrap = cluster.bootstrapServers;
    const topics = { py: uniqueTopic('fo-py'), js: uniqueTopic('fo-js'), kcat: uniqueTopic('fo-kcat') };
    let group = '';
    const admin = new KafkaClient({
      bootstrapServers: bootstrap,
      clientId: 'failover-clients',
      requestTimeoutMs: 40_000,
    });
    try {
      for (const name of Object.values(topics)) {
        const code = await eventually(async () => {
          const c = await createLedBy(cluster.node(2).bootstrap, name);
          return c === ErrorCode.NONE || c === ErrorCode.TOPIC_ALREADY_EXISTS ? c : undefined;
        }, 90_000);
        assert.ok(code !== undefined);
        await eventually(async () => (await leaderOf(cluster.node(2).bootstrap, name)) === VICTIM, 60_000);
      }
      // a consumer group whose coordinator is not the broker that will be killed
      for (let i = 0; i < 100 && !group; i++) {
        const g = `fo-group-${process.pid}-${i}`;
        const coordinator = await eventually(() => admin.findCoordinator(g).catch(() => undefined), 30_000);
        if (coordinator.nodeId !== VICTIM) group = g;
      }
      assert.ok(group, 'a group coordinated by another broker');
    } finally {
      await admin.close();
    }

    // confluent-kafka-python: the fault workload's idempotent producer and consumer
    const py = python();
    const pyProducer = spawnProc(py, [WORKLOAD_PY, 'produce', bootstrap, topics.py, '1', 'py', '50']);
    const pyConsumer = spawnProc(py, [WORKLOAD_PY, 'consume', bootstrap, topics.py, '1']);

    // kafkajs: an idempotent producer sending one record at a time, and a group consumer
    const kafka = new Kafka({
      clientId: 'failover-clients',
      brokers: bootstrap.split(','),
      logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
      connectionTimeout: 3000,
      requestTimeout: 15000,
    });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({
      groupId: group,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 2000 },
    });
    const jsAcked: Acked[] = [];
    const jsRead: Acked[] = [];
    const jsErrors: string[] = [];
    consumer.on(consumer.events.CRASH, (e) => jsErrors.push(`consumer crash: ${e.payload.error.message}`));
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic: topics.js, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        jsRead.push({ offset: Number(message.offset), value: message.value!.toString() });
      },
    });
    let stopJs = false;
    const jsLoop = (async () => {
      for (let n = 0; !stopJs; n++) {
        const value = `js-${n}`;
        try {
          const [r] = await producer.send({ topic: topics.js, acks: -1, messages: [{ value, partition: 0 }] });
          jsAcked.push({ offset: Number(r.baseOffset), value });
        } catch (e) {
          jsErrors.push(`send ${value}: ${(e as Error).message}`);
          return;
        }
        await sleep(20);
      }
    })();

    // kcat: a producer fed line by line, and a consumer printing offset and value
    const kcatProducer = spawnProc(KCAT, [
      '-b',
      bootstrap,
      '-P',
      '-t',
      topics.kcat,
      '-p',
      '0',
      '-X',
      'acks=all',
      '-X',
      'enable.idempotence=true',
      '-X',
      'message.timeout.ms=120000',
      '-X',
      'linger.ms=5',
    ]);
    const kcatConsumer = spawnProc(KCAT, [
      '-b',
      bootstrap,
      '-C',
      '-t',
      topics.kcat,
      '-p',
      '0',
      '-o',
      'beginning',
      '-u',
      '-f',
      '%o %s\\n',
    ]);
    let kcatSent = 0;
    let stopKcat = false;
    const kcatLoop = (async () => {
      while (!stopKcat) {
        kcatProducer.p.stdin!.write(`kcat-${kcatSent++}\n`);
        await sleep(20);
      }
      kcatProducer.p.stdin!.end();
    })();

    const kcatReadNow = () =>
      kcatConsumer
        .out()
        .split('\n')
        .filter((l) => /^\d+ /.test(l))
        .map((l) => ({ offset: Number(l.split(' ')[0]), value: l.split(' ')[1] }));
    const pyAckedNow = () => parseProducer(pyProducer.out()).acks.length;

    try {
      // every client has records through before the kill
      await eventually(() => pyAckedNow() >= 50 && jsAcked.length >= 20 && kcatReadNow().length >= 20, 90_000);
      const before = { py: pyAckedNow(), js: jsAcked.length, kcat: kcatReadNow().length };
      const killedAt = Date.now();
      await cluster.node(VICTIM).kill('SIGKILL');
      // each client gets records acknowledged by the new leader
      await eventually(
        () =>
          pyAckedNow() >= before.py + 50 &&
          jsAcked.length >= before.js + 20 &&
          kcatReadNow().length >= before.kcat + 20,
        120_000,
      );
      console.log(
        `# node ${VICTIM} killed; every client produced and consumed through the new leader within ${Date.now() - killedAt} ms`,
      );
      await cluster.node(VICTIM).start();
      await eventually(async () => {
        const leaders = await Promise.all(Object.values(topics).map((t) => leaderOf(cluster.node(2).bootstrap, t)));
        return leaders.every((l) => l !== undefined);
      }, 90_000);
      const more = { py: pyAckedNow(), js: jsAcked.length, kcat: kcatReadNow().length };
      await eventually(
        () => pyAckedNow() >= more.py + 20 && jsAcked.length >= more.js + 10 && kcatReadNow().length >= more.kcat + 10,
        90_000,
      );
    } finally {
      stopJs = true;
      stopKcat = true;
      pyProducer.p.stdin!.end();
      await jsLoop;
      await kcatLoop;
    }

    // producers done: everything they had acknowledged is read back by the consumers
    const pyCode = await pyProducer.exited;
    const kcatCode = await kcatProducer.exited;
    const pyLog = parseProducer(pyProducer.out());
    assert.equal(pyCode, 0, `python producer exit\n${pyProducer.err().slice(-2000)}`);
    assert.ok(pyLog.done && pyLog.undelivered === 0, 'python: everything delivered');
    assert.deepEqual(pyLog.failed, [], 'python: no failed delivery');
    assert.deepEqual(pyLog.errors, [], 'python: no fatal error');
    assert.deepEqual(jsErrors, [], 'kafkajs: no error reached the application');
    assert.equal(kcatCode, 0, `kcat producer exit\n${kcatProducer.err().slice(-2000)}`);
    assert.doesNotMatch(kcatProducer.err(), /Delivery failed|failed to deliver/i, 'kcat: no failed delivery');

    const pyAcked = pyLog.acks.map((a) => ({ offset: a.offset, value: a.value }));
    // kcat exited 0: every line it read was delivered, at offsets 0.. in order (one partition, idempotent)
    const kcatAcked = Array.from({ length: kcatSent }, (_, i) => ({ offset: i, value: `kcat-${i}` }));
    await eventually(() => {
      const pyRead = parseReads(pyConsumer.out()).records;
      return (
        pyRead.length >= pyAcked.length && jsRead.length >= jsAcked.length && kcatReadNow().length >= kcatAcked.length
      );
    }, 90_000);
    pyConsumer.p.stdin!.end();
    await pyConsumer.exited;
    kcatConsumer.p.kill('SIGTERM');
    await kcatConsumer.exited;
    await consumer.disconnect();
    await producer.disconnect();

    const pyReads = parseReads(pyConsumer.out());
    assert.deepEqual(pyReads.errors, [], 'python consumer: no error reached the application');
    assertReadBack('confluent-kafka-python', pyAcked, pyReads.records);
    assertReadBack('kafkajs', jsAcked, jsRead);
    assertReadBack('kcat', kcatAcked, kcatReadNow());
    console.log(
      `# acknowledged and read back: confluent-kafka-python ${pyAcked.length}, kafkajs ${jsAcked.length}, kcat ${kcatAcked.length}`,
    );
  });
});
