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
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { eventually, freePort, uniqueTopic } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { compileJava, runJava } from '../helpers/kafka-ref.ts';
import { runCli } from '../../src/cli/main.ts';
import { withConnection } from '../helpers/inprocess-cluster.ts';

interface Node {
  id: number;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
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

  /**
   * Broker 1 holds a partition of ~300 kB in small batches; with `side`'s
   * rate set to 50 kB/s (as `resourceName`'s dynamic config) and the topic's
   * throttled-replicas list set to `*`, it is reassigned to [1, 4]: broker 4
   * joins the ISR no sooner than the rate allows.
   */
  async function throttledCopy(side: 'leader' | 'follower', resourceName: string): Promise<void> {
    const n4 = nodes.find((n) => n.id === 4);
    assert.ok(n4?.running, 'runs after the first test, which starts broker 4');
    const topic = uniqueTopic(`throttled-${side}`);
    const first = nodes[0];
    const created = await withConnection(first.clientPort, (c) =>
      c.send('CreateTopics', {
        topics: [
          {
            name: topic,
            numPartitions: -1,
            replicationFactor: -1,
            assignments: [{ partitionIndex: 0, brokerIds: [1] }],
            configs: [{ name: `${side}.replication.throttled.replicas`, value: '*' }],
          },
        ],
        timeoutMs: 30_000,
        validateOnly: false,
      }),
    );
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    await eventually(async () => (await metadata(first.clientPort, topic)).leader === 1, 60_000);
    const value = 'x'.repeat(1000);
    await kcatProduce(
      bootstrap(),
      topic,
      Array.from({ length: 300 }, (_, i) => `k${i}:${value}`),
      // small batches: a batch is never split, so one large batch would go out whole
      ['-X', 'acks=all', '-X', 'batch.size=4000'],
    );
    const size = first.running!.broker.replicas.get(topic, 0)!.log.size;
    const rate = 50_000;
    const setRate = async (v: string | null) => {
      const name = `${side}.replication.throttled.rate`;
      // a broker's own config is altered through that broker, as Kafka requires
      const via = resourceName === '' ? first : nodes.find((n) => String(n.id) === resourceName)!;
      const altered = await withConnection(via.clientPort, (c) =>
        c.send('IncrementalAlterConfigs', {
          resources: [
            { resourceType: 4, resourceName, configs: [{ name, configOperation: v === null ? 1 : 0, value: v }] },
          ],
          validateOnly: false,
        }),
      );
      assert.equal(altered.responses[0].errorCode, ErrorCode.NONE);
      await eventually(
        () => live().every((n) => (n.running!.broker.image.brokerConfigs.get(resourceName)?.get(name) ?? null) === v),
        30_000,
      );
    };
    await setRate(String(rate));

    const started = Date.now();
    const r = await withConnection(first.clientPort, (c) =>
      c.send('AlterPartitionReassignments', {
        timeoutMs: 30_000,
        topics: [{ name: topic, partitions: [{ partitionIndex: 0, replicas: [1, 4] }] }],
      }),
    );
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.equal(r.responses[0].partitions[0].errorCode, ErrorCode.NONE);
    await eventually(async () => (await metadata(first.clientPort, topic)).isr.join() === '1,4', 120_000, 100);
    const took = Date.now() - started;
    await setRate(null);
    // the bucket holds one second's worth at most; the last read may overrun it by one batch
    const least = ((size - rate - 5000) / rate) * 1000;
    console.log(`# ${side} side: ${size} bytes copied in ${took} ms at ${rate} B/s (at least ${Math.round(least)} ms)`);
    assert.ok(took >= least, `copied in ${took} ms, faster than the rate allows (${least} ms)`);
    assert.equal(n4.running.broker.replicas.get(topic, 0)!.log.size, size, 'the whole log was copied');
  }

  test('leader.replication.throttled.rate holds a reassignment copy to the rate', () => throttledCopy('leader', ''));

  test('follower.replication.throttled.rate holds a reassignment copy to the rate', () =>
    throttledCopy('follower', '4'));

  test('samsa cluster rebalance spreads replicas and preferred leaders onto the added broker', async () => {
    const topic = uniqueTopic('spread');
    const first = nodes[0];
    // 6 partitions, 2 replicas each, on brokers 1-3 only
    const assignments = Array.from({ length: 6 }, (_, i) => ({
      partitionIndex: i,
      brokerIds: [1 + (i % 3), 1 + ((i + 1) % 3)],
    }));
    const created = await withConnection(first.clientPort, (c) =>
      c.send('CreateTopics', {
        topics: [{ name: topic, numPartitions: -1, replicationFactor: -1, assignments, configs: [] }],
        timeoutMs: 30_000,
        validateOnly: false,
      }),
    );
    assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
    await kcatProduce(
      bootstrap(),
      topic,
      Array.from({ length: 60 }, (_, i) => `k${i}:v${i}`),
      ['-X', 'acks=all'],
    );

    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli([...args, '-b', bootstrap()], {
        stdout: (x) => {
          out += x;
        },
        stderr: (x) => {
          err += x;
        },
      });
      return { code, out, err };
    };
    // the broker-only node forwards both APIs to the active controller's CONTROLLER listener
    const n4 = nodes.find((n) => n.id === 4)!;
    const viaBroker = await withConnection(n4.clientPort, async (c) => ({
      list: await c.send('ListPartitionReassignments', { timeoutMs: 30_000, topics: null }),
      cancel: await c.send('AlterPartitionReassignments', {
        timeoutMs: 30_000,
        topics: [{ name: topic, partitions: [{ partitionIndex: 1, replicas: null }] }],
      }),
    }));
    assert.equal(viaBroker.list.errorCode, ErrorCode.NONE);
    assert.deepEqual(viaBroker.list.topics, []);
    assert.equal(viaBroker.cancel.errorCode, ErrorCode.NONE);
    assert.equal(viaBroker.cancel.responses[0].partitions[0].errorCode, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS);

    const none = await cli('partitions', 'reassign', '--topic', topic, '--partition', '0', '--cancel');
    assert.equal(none.code, 1);
    assert.match(none.err, /NO_REASSIGNMENT_IN_PROGRESS/);

    const dry = await cli('cluster', 'rebalance', '--dry-run', '--topic', topic);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /partition\(s\) to reassign, 3 replica\(s\) to copy\.\n$/);
    const unchanged = await metadataOf(topic);
    assert.ok(
      unchanged.every((p) => !p.replicas.includes(4)),
      'a dry run changes nothing',
    );

    const run = await cli('cluster', 'rebalance', '--topic', topic);
    assert.equal(run.code, 0, run.err);
    console.log(run.out.replace(/^/gm, '# '));
    const planned = Number(/(\d+) partition\(s\) to reassign/.exec(run.out)?.[1]);
    assert.ok(run.out.includes(`\n${planned} of ${planned} partition(s) reassigned\n`), run.out);
    const after = await eventually(async () => {
      const m = await metadataOf(topic);
      const per = new Map<number, number>();
      for (const p of m) for (const id of p.replicas) per.set(id, (per.get(id) ?? 0) + 1);
      return [1, 2, 3, 4].every((id) => per.get(id) === 3) ? m : undefined;
    }, 60_000);
    const leaders = new Map<number, number>();
    for (const p of after) leaders.set(p.replicas[0], (leaders.get(p.replicas[0]) ?? 0) + 1);
    assert.ok(Math.max(...leaders.values()) <= 2, `preferred leaders spread: ${JSON.stringify([...leaders])}`);
    assert.match(run.out, /preferred leaders: \d+ elected, \d+ already leading\n$/);
    // leadership follows the first replicas (the election ran after the moves)
    await eventually(async () => (await metadataOf(topic)).every((p) => p.leader === p.replicas[0]), 60_000);
    const again = await cli('cluster', 'rebalance', '--dry-run', '--topic', topic);
    assert.match(again.out, /already evenly spread/);
    const list = await cli('partitions', 'reassign', '--list');
    assert.equal(list.out, 'No reassignment in progress.\n');
    const got = await kcatConsume(bootstrap(), topic, { timeoutMs: 60_000 });
    assert.equal(got.length, 60, 'every record is still there');
  });

  /** Partitions of `topic` as the first node answers Metadata. */
  async function metadataOf(topic: string) {
    return withConnection(nodes[0].clientPort, async (c) => {
      const md = await c.send('Metadata', {
        topics: [{ name: topic, topicId: ZERO_UUID }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: false,
      });
      return md.topics[0].partitions.map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        replicas: [...p.replicaNodes],
      }));
    });
  }
});
