/**
 * Growing a cluster: three brokers in one process (combined roles) and a
 * fourth, broker-only, started later. The Java Admin client moves a partition
 * that holds records from brokers 1 and 2 (1 leading) to 4 and 3
 * (alterPartitionReassignments, listPartitionReassignments until done): the
 * new replica copies the data through the normal replication path,
 * leadership moves to broker 4, every record is read back from it, the old
 * replicas' logs are deleted, and describeLogDirs (asked of each broker)
 * shows the partition on 3 and 4 only. Every wait polls for a condition.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { startBroker, type RunningBroker } from '../../src/server/index.ts';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { eventually, freePort, uniqueTopic } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { compileJava, runJava } from '../helpers/kafka-ref.ts';

interface Node {
  id: number;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
}

async function withConnection<T>(port: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'reassignment-test', requestTimeoutMs: 60_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** Replicas, leader and the broker count, as node `port` answers Metadata. */
async function metadata(port: number, topic: string) {
  return withConnection(port, async (c) => {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const p = md.topics[0]?.partitions.find((x) => x.partitionIndex === 0);
    return {
      brokers: md.brokers.map((b) => b.nodeId).sort(),
      leader: p?.leaderId ?? -1,
      replicas: p ? [...p.replicaNodes] : [],
      isr: p ? [...p.isrNodes].sort() : [],
    };
  });
}

function outcomes(stdout: string): Map<string, Record<string, unknown>> {
  const m = new Map<string, Record<string, unknown>>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const { step, ...rest } = JSON.parse(line) as Record<string, unknown>;
    m.set(step as string, rest);
  }
  return m;
}

describe('reassignment: a partition with data moves to a broker added later', () => {
  const nodes: Node[] = [];
  let base: string;
  let voters: string;
  let javaCp: Promise<string>;
  const logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });
  const live = () => nodes.filter((n) => n.running !== null);
  const bootstrap = () =>
    live()
      .map((n) => `127.0.0.1:${n.clientPort}`)
      .join(',');

  async function addNode(id: number): Promise<Node> {
    const n: Node = {
      id,
      clientPort: await freePort(),
      controllerPort: await freePort(),
      dir: path.join(base, `node-${id}`),
      running: null,
    };
    nodes.push(n);
    return n;
  }

  async function start(n: Node, roles: string): Promise<void> {
    const listeners =
      roles === 'broker'
        ? `PLAINTEXT://127.0.0.1:${n.clientPort}`
        : `PLAINTEXT://127.0.0.1:${n.clientPort},CONTROLLER://127.0.0.1:${n.controllerPort}`;
    const config = loadBrokerConfig({
      overrides: {
        'node.id': String(n.id),
        'process.roles': roles,
        listeners,
        'controller.listener.names': 'CONTROLLER',
        'controller.quorum.voters': voters,
        'log.dirs': n.dir,
        'replica.fetch.backoff.ms': '100',
      },
    });
    n.running = await startBroker({ config, logger: logger.child({ node: n.id }) });
  }

  before(async () => {
    javaCp = compileJava('reassign');
    javaCp.catch(() => {}); // awaited in the test
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-reassign-'));
    for (const id of [1, 2, 3]) await addNode(id);
    voters = nodes.map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`).join(',');
    await Promise.all(nodes.map((n) => start(n, 'broker,controller')));
  });

  after(async () => {
    const n4 = nodes.find((n) => n.id === 4);
    if (n4?.running) await n4.running.close(); // the broker-only node first, while the quorum is whole
    if (n4) n4.running = null;
    await Promise.all(live().map((n) => n.running!.close()));
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('the Java Admin client moves a partition to a new broker; its records are all there, the old logs gone', async () => {
    const topic = uniqueTopic('move');
    const first = nodes[0];
    await eventually(
      () =>
        withConnection(first.clientPort, async (c) => {
          const r = await c.send('CreateTopics', {
            topics: [
              {
                name: topic,
                numPartitions: -1,
                replicationFactor: -1,
                assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
                configs: [{ name: 'file.delete.delay.ms', value: '0' }],
              },
            ],
            timeoutMs: 30_000,
            validateOnly: false,
          });
          return r.topics[0].errorCode === ErrorCode.NONE;
        }),
      60_000,
    );
    await eventually(async () => {
      const m = await metadata(first.clientPort, topic);
      return m.leader === 1 && m.isr.length === 2;
    }, 60_000);
    const records = Array.from({ length: 300 }, (_, i) => `k${i}:v${i}`);
    await kcatProduce(bootstrap(), topic, records, ['-X', 'acks=all', '-X', 'message.send.max.retries=20']);

    // a fourth broker joins (broker only)
    const n4 = await addNode(4);
    await start(n4, 'broker');
    await eventually(async () => (await metadata(first.clientPort, topic)).brokers.length === 4, 60_000);

    const cp = await javaCp;
    const r = await runJava(cp, 'Reassign', [bootstrap(), 'reassign', topic, '0', '4,3']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const out = outcomes(r.stdout);
    assert.deepEqual(out.get('cancelNone'), {
      ok: false,
      error: 'NoReassignmentInProgressException',
      message: out.get('cancelNone')?.message,
    });
    assert.equal(out.get('unknownBroker')?.error, 'InvalidReplicaAssignmentException');
    assert.equal(out.get('unknownTopic')?.error, 'UnknownTopicOrPartitionException');
    assert.deepEqual(out.get('reassign'), { ok: true });
    const wait = out.get('wait')!;
    assert.equal(wait.completed, true, JSON.stringify(wait));
    if (wait.adding !== undefined) {
      // seen while in progress: target first, then the removing replicas
      assert.deepEqual(wait.replicas, [4, 3, 1, 2]);
      assert.deepEqual(wait.adding, [4, 3]);
      assert.deepEqual(wait.removing, [1, 2]);
    }
    assert.equal(out.get('listAll')?.reassignments, 0);

    // leadership moved to the first target replica; every record is read back from it
    const moved = await eventually(async () => {
      const m = await metadata(n4.clientPort, topic);
      return m.leader === 4 && m.replicas.join() === '4,3' ? m : undefined;
    }, 60_000);
    assert.deepEqual(moved.isr, [3, 4]);
    const got = await kcatConsume(`127.0.0.1:${n4.clientPort}`, topic, { partition: 0, timeoutMs: 60_000 });
    assert.deepEqual(
      got.map((x) => x.payload),
      Array.from({ length: 300 }, (_, i) => `v${i}`),
      'every record, once, in order, from the new leader',
    );

    // the removed replicas' logs are deleted from their brokers' log dirs
    const hosts = (n: Node) => fs.readdirSync(n.dir).some((f) => f.startsWith(`${topic}-0`));
    await eventually(() => !hosts(nodes[0]) && !hosts(nodes[1]), 60_000);
    assert.ok(hosts(nodes[2]) && hosts(n4));

    const d = await runJava(cp, 'Reassign', [bootstrap(), 'logdirs', topic, '0', '1,2,3,4']);
    assert.equal(d.code, 0, `${d.stdout}\n${d.stderr}`);
    const sizes = outcomes(d.stdout).get('logdirs')?.sizes as Record<string, number>;
    assert.equal(sizes['1'], -1);
    assert.equal(sizes['2'], -1);
    assert.ok(sizes['4'] > 0, JSON.stringify(sizes));
    assert.equal(sizes['4'], sizes['3'], 'the replicas hold the same bytes');
  });
});
