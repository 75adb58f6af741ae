/**
 * Three nodes in one process (combined roles, loopback ports) form a metadata
 * quorum: kcat bootstrapped from one node sees all three brokers and the
 * active controller; CreateTopics sent to a node that is not the active
 * controller is forwarded, and that node's next Metadata has the topic, its
 * partitions led by the three brokers; records go to and come from those
 * leaders. Closing the active controller elects another, and CreateTopics
 * works again (the time from the close to the first success is printed).
 * Every wait polls for a condition with a deadline.
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
import { KCAT, runOk } from '../helpers/proc.ts';

interface Node {
  id: number;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
}

const IDS = [1, 2, 3];

async function createTopic(port: number, name: string, partitions: number, timeoutMs = 30_000) {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'cluster-test', requestTimeoutMs: 60_000 });
  await c.connect();
  try {
    const res = await c.send('CreateTopics', {
      topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] }],
      timeoutMs,
      validateOnly: false,
    });
    const md = await c.send('Metadata', {
      topics: [{ name, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return { result: res.topics[0], metadata: md };
  } finally {
    await c.close();
  }
}

describe('a three-node cluster (in one process)', () => {
  const nodes: Node[] = [];
  let base: string;
  const logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });

  const start = async (n: Node) => {
    const voters = nodes.map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`).join(',');
    const config = loadBrokerConfig({
      overrides: {
        'node.id': String(n.id),
        listeners: `PLAINTEXT://127.0.0.1:${n.clientPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
        'controller.quorum.voters': voters,
        'log.dirs': n.dir,
        'group.initial.rebalance.delay.ms': '0',
      },
    });
    n.running = await startBroker({ config, logger: logger.child({ node: n.id }) });
  };
  const live = () => nodes.filter((n) => n.running !== null);
  /** The node every live node agrees leads the quorum, once they do. */
  const leader = () =>
    eventually(() => {
      const ids = new Set(live().map((n) => n.running!.quorum.leaderId));
      const [id] = ids;
      const n = ids.size === 1 ? live().find((m) => m.id === id) : undefined;
      return n?.running?.controller.isActive ? n : undefined;
    }, 60_000);

  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-cluster-'));
    for (const id of IDS) {
      nodes.push({
        id,
        clientPort: await freePort(),
        controllerPort: await freePort(),
        dir: path.join(base, `node-${id}`),
        running: null,
      });
    }
    // each start waits for the quorum, which needs a majority of the nodes
    await Promise.all(nodes.map(start));
  });

  after(async () => {
    await Promise.all(live().map((n) => n.running!.close()));
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('one cluster id; kcat bootstrapped from one node sees three brokers and the active controller', async () => {
    const ids = new Set(nodes.map((n) => n.running!.clusterId));
    assert.equal(ids.size, 1, 'every node adopted the same cluster id');
    for (const n of nodes) {
      const meta = fs.readFileSync(path.join(n.dir, 'meta.properties'), 'utf8');
      assert.match(meta, new RegExp(`cluster.id=${[...ids][0]}`));
      assert.match(meta, new RegExp(`node.id=${n.id}`));
    }
    const l = await leader();
    const from = nodes.find((n) => n.id !== l.id)!;
    const md = await eventually(async () => {
      const r = await runOk(KCAT, ['-b', `127.0.0.1:${from.clientPort}`, '-L', '-J']);
      const m = JSON.parse(r.stdout);
      return m.brokers.length === 3 ? m : undefined;
    });
    assert.deepEqual(md.brokers.map((b: { id: number }) => b.id).sort(), [1, 2, 3]);
    for (const b of md.brokers) {
      const n = nodes.find((x) => x.id === b.id)!;
      assert.equal(b.name, `127.0.0.1:${n.clientPort}`);
    }
    assert.equal(md.controllerid, l.id, 'the controller id is the quorum leader');
  });

  test('CreateTopics through a node that is not the active controller; partitions spread over the brokers; produce and consume', async () => {
    const l = await leader();
    const via = nodes.find((n) => n.id !== l.id)!;
    const topic = uniqueTopic('fwd');
    const { result, metadata } = await createTopic(via.clientPort, topic, 3);
    assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
    // answered once the forwarding node's own image has it
    const t = metadata.topics[0];
    assert.equal(t.errorCode, ErrorCode.NONE);
    assert.deepEqual(t.partitions.map((p) => p.leaderId).sort(), [1, 2, 3], 'one partition led by each broker');
    for (const p of t.partitions) assert.deepEqual(p.replicaNodes, [p.leaderId]);
    // the other nodes learn of it from the quorum shortly after (a client may ask any of them)
    await eventually(() => nodes.every((n) => n.running!.controller.image.topicsByName.has(topic)));
    const bs = nodes.map((n) => `127.0.0.1:${n.clientPort}`).join(',');
    for (const p of [0, 1, 2]) await kcatProduce(bs, topic, [`k${p}:v${p}-a`, `k${p}:v${p}-b`], ['-p', String(p)]);
    for (const p of [0, 1, 2]) {
      const got = await kcatConsume(bs, topic, { partition: p, count: 2 });
      assert.deepEqual(
        got.map((r) => r.payload),
        [`v${p}-a`, `v${p}-b`],
      );
    }
    // the same name again, through another node: refused by the controller
    const other = nodes.find((n) => n.id !== l.id && n.id !== via.id)!;
    const again = await createTopic(other.clientPort, topic, 1);
    assert.equal(again.result.errorCode, ErrorCode.TOPIC_ALREADY_EXISTS);
    // a replication factor of 3 over the three brokers
    const c = new Connection({ host: '127.0.0.1', port: via.clientPort });
    await c.connect();
    const rf = await c.send('CreateTopics', {
      topics: [{ name: uniqueTopic('rf3'), numPartitions: 1, replicationFactor: 3, assignments: [], configs: [] }],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    await c.close();
    assert.equal(rf.topics[0].errorCode, ErrorCode.NONE);
  });

  test('configs, partitions, deletion and producer ids through a node that is not the active controller', async () => {
    const l = await leader();
    const [via, other] = nodes.filter((n) => n.id !== l.id);
    const topic = uniqueTopic('admin');
    assert.equal((await createTopic(via.clientPort, topic, 3)).result.errorCode, ErrorCode.NONE);
    const c = new Connection({ host: '127.0.0.1', port: via.clientPort, requestTimeoutMs: 60_000 });
    await c.connect();
    try {
      const TOPIC = 2;
      const BROKER = 4;
      const inc = await c.send('IncrementalAlterConfigs', {
        resources: [
          {
            resourceType: TOPIC,
            resourceName: topic,
            configs: [{ name: 'retention.ms', configOperation: 0, value: '12345' }],
          },
          {
            resourceType: BROKER,
            resourceName: String(via.id),
            configs: [{ name: 'log.retention.ms', configOperation: 0, value: '7200000' }],
          },
        ],
        validateOnly: false,
      });
      assert.deepEqual(
        inc.responses.map((r) => [r.errorCode, r.errorMessage]),
        [
          [ErrorCode.NONE, null],
          [ErrorCode.NONE, null],
        ],
      );
      const legacy = await c.send('AlterConfigs', {
        resources: [
          { resourceType: TOPIC, resourceName: topic, configs: [{ name: 'segment.bytes', value: '1048576' }] },
        ],
        validateOnly: false,
      });
      assert.equal(legacy.responses[0].errorCode, ErrorCode.NONE);
      // answered once this node's image has them
      const described = await c.send('DescribeConfigs', {
        resources: [
          { resourceType: TOPIC, resourceName: topic, configurationKeys: ['retention.ms', 'segment.bytes'] },
          { resourceType: BROKER, resourceName: String(via.id), configurationKeys: ['log.retention.ms'] },
        ],
        includeSynonyms: false,
        includeDocumentation: false,
      });
      // the legacy AlterConfigs replaced the topic's overrides: retention.ms is now the broker's (set above, per broker)
      assert.deepEqual(described.results[0].configs.map((x) => [x.name, x.value, x.configSource]).sort(), [
        ['retention.ms', '7200000', 2],
        ['segment.bytes', '1048576', 1],
      ]);
      assert.equal(described.results[1].configs[0].value, '7200000');
      const cp = await c.send('CreatePartitions', {
        topics: [{ name: topic, count: 5, assignments: null }],
        timeoutMs: 30_000,
        validateOnly: false,
      });
      assert.equal(cp.results[0].errorCode, ErrorCode.NONE);
      assert.equal(via.running!.controller.image.topicsByName.get(topic)!.partitions.length, 5);
      const del = await c.send('DeleteTopics', {
        topics: [{ name: topic, topicId: ZERO_UUID }],
        topicNames: [topic],
        timeoutMs: 30_000,
      });
      assert.equal(del.responses[0].errorCode, ErrorCode.NONE);
      assert.equal(via.running!.controller.image.topicsByName.has(topic), false);
      // producer ids come from the active controller: unique across brokers
      const pid = async (port: number) => {
        const k = new Connection({ host: '127.0.0.1', port });
        await k.connect();
        const r = await k.send('InitProducerId', { transactionalId: null, transactionTimeoutMs: 60_000 });
        await k.close();
        assert.equal(r.errorCode, ErrorCode.NONE);
        return Number(r.producerId);
      };
      const ids = [
        await pid(via.clientPort),
        await pid(other.clientPort),
        await pid(l.clientPort),
        await pid(via.clientPort),
      ];
      assert.equal(new Set(ids).size, 4, `distinct producer ids: ${ids}`);
    } finally {
      await c.close();
    }
  });

  test('DescribeQuorum sent to any broker is answered by the quorum leader', async () => {
    const l = await leader();
    for (const n of live()) {
      const c = new Connection({ host: '127.0.0.1', port: n.clientPort });
      await c.connect();
      const res = await c.send('DescribeQuorum', {
        topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
      });
      await c.close();
      const p = res.topics[0].partitions[0];
      assert.equal(p.errorCode, ErrorCode.NONE, `asked node ${n.id}`);
      assert.equal(p.leaderId, l.id);
      assert.deepEqual(p.currentVoters.map((v) => v.replicaId).sort(), IDS);
    }
  });

  test('a broker-only node finds the voters through controller.quorum.bootstrap.servers and joins', async () => {
    const dir = path.join(base, 'broker-4');
    const port = await freePort();
    const config = loadBrokerConfig({
      overrides: {
        'node.id': '4',
        'process.roles': 'broker',
        listeners: `PLAINTEXT://127.0.0.1:${port}`,
        'controller.quorum.bootstrap.servers': nodes.map((n) => `127.0.0.1:${n.controllerPort}`).join(','),
        'log.dirs': dir,
      },
    });
    const b = await startBroker({ config, logger: logger.child({ node: 4 }) });
    try {
      assert.equal(b.clusterId, nodes[0].running!.clusterId);
      // an observer of the quorum: it follows the log, and every broker lists it
      const topic = uniqueTopic('via-4');
      const { result } = await createTopic(port, topic, 4);
      assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
      const md = await eventually(async () => {
        const r = await runOk(KCAT, ['-b', `127.0.0.1:${nodes[0].clientPort}`, '-L', '-J', '-t', topic]);
        const m = JSON.parse(r.stdout);
        return m.brokers.length === 4 && m.topics[0]?.partitions?.length === 4 ? m : undefined;
      });
      assert.deepEqual(md.topics[0].partitions.map((p: { leader: number }) => p.leader).sort(), [1, 2, 3, 4]);
    } finally {
      await b.close();
    }
    // closed: fenced by the controller, no longer given to clients
    await eventually(() => nodes.every((n) => !n.running!.controller.image.isLive(4)));
  });

  test('closing the active controller elects another; CreateTopics works again', async () => {
    const old = await leader();
    const t0 = Date.now();
    await old.running!.close();
    old.running = null;
    const via = live()[0];
    const topic = uniqueTopic('after');
    const ok = await eventually(async () => {
      const { result } = await createTopic(via.clientPort, topic, 2);
      return result.errorCode === ErrorCode.NONE ? result : undefined;
    }, 60_000);
    const ms = Date.now() - t0;
    console.log(`# from closing the active controller (node ${old.id}) to a successful CreateTopics: ${ms} ms`);
    assert.equal(ok.errorCode, ErrorCode.NONE);
    const next = await leader();
    assert.notEqual(next.id, old.id);
    // the closed broker is no longer given to clients, the two others are
    const c = new Connection({ host: '127.0.0.1', port: via.clientPort });
    await c.connect();
    const md = await eventually(async () => {
      const m = await c.send('Metadata', { topics: null, allowAutoTopicCreation: false });
      return m.brokers.length === 2 ? m : undefined;
    });
    await c.close();
    assert.deepEqual(
      md.brokers.map((b) => b.nodeId).sort(),
      IDS.filter((id) => id !== old.id),
    );
    assert.equal(md.controllerId, next.id);
    // the new topic's partitions were placed on the live brokers only
    const t = md.topics.find((x) => x.name === topic)!;
    for (const p of t.partitions) assert.notEqual(p.leaderId, old.id);
  });

  test('one node of three left: no quorum, CreateTopics answers REQUEST_TIMED_OUT within its timeout', async () => {
    const [gone, last] = live();
    await gone.running!.close();
    gone.running = null;
    const t0 = Date.now();
    const { result } = await createTopic(last.clientPort, uniqueTopic('no-quorum'), 1, 3000);
    const ms = Date.now() - t0;
    assert.equal(result.errorCode, ErrorCode.REQUEST_TIMED_OUT, result.errorMessage ?? '');
    // no leader, or the leader known last is gone: either way the answer says so
    assert.match(result.errorMessage ?? '', /active controller/);
    assert.ok(ms < 15_000, `answered in ${ms} ms`);
  });
});

describe('a controller-only node and a broker-only node', () => {
  test('the broker registers with the controller, which clients never see; admin requests are forwarded to it', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-roles-'));
    const logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });
    const [qPort, bPort] = [await freePort(), await freePort()];
    const voters = `1@127.0.0.1:${qPort}`;
    const controllerConfig = loadBrokerConfig({
      overrides: {
        'node.id': '1',
        'process.roles': 'controller',
        listeners: `CONTROLLER://127.0.0.1:${qPort}`,
        'controller.quorum.voters': voters,
        'log.dirs': path.join(base, 'controller'),
      },
    });
    const brokerConfig = loadBrokerConfig({
      overrides: {
        'node.id': '2',
        'process.roles': 'broker',
        listeners: `PLAINTEXT://127.0.0.1:${bPort}`,
        'controller.quorum.voters': voters,
        'log.dirs': path.join(base, 'broker'),
      },
    });
    const [controller, broker] = await Promise.all([
      startBroker({ config: controllerConfig, logger: logger.child({ node: 1 }) }),
      startBroker({ config: brokerConfig, logger: logger.child({ node: 2 }) }),
    ]);
    try {
      assert.deepEqual(controller.controllerAddress, { host: '127.0.0.1', port: qPort });
      assert.throws(() => controller.broker, /controller-only node/);
      assert.equal(broker.clusterId, controller.clusterId);
      const topic = uniqueTopic('roles');
      const { result, metadata } = await createTopic(bPort, topic, 2);
      assert.equal(result.errorCode, ErrorCode.NONE, result.errorMessage ?? '');
      assert.deepEqual(
        metadata.brokers.map((b) => b.nodeId),
        [2],
        'the controller is not a broker',
      );
      // the active controller is not a broker clients can reach: they are given this broker, which forwards
      assert.equal(metadata.controllerId, 2);
      assert.deepEqual(
        metadata.topics[0].partitions.map((p) => p.leaderId),
        [2, 2],
      );
      assert.equal(controller.controller.image.topicsByName.get(topic)?.partitions.length, 2);
    } finally {
      await broker.close();
      await controller.close();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
