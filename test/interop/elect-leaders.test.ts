/**
 * Leader elections with a real client, on brokers in one process (loopback
 * ports; nodes 1-3 are voters and brokers, 4 and 5 brokers only, so that two
 * brokers can be down while the quorum keeps its majority):
 *
 * - the Java Admin client's electLeaders(PREFERRED) moves leadership back
 *   to the preferred replica after it restarted and caught up;
 * - electLeaders(UNCLEAN) on a partition whose only in-sync replica is down
 *   elects the live replica outside the ISR;
 * - with auto.leader.rebalance.enable and a short
 *   leader.imbalance.check.interval.seconds, the controller does it alone.
 *
 * Every wait polls for a condition with a deadline. (test/helpers/inprocess-cluster.ts
 * has voters only and no replica assignments, hence the cluster below.)
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
import { compileJava, runJava } from '../helpers/kafka-ref.ts';
import { withConnection } from '../helpers/inprocess-cluster.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';

const ACKS_ALL = ['-X', 'acks=all', '-X', 'message.send.max.retries=20', '-X', 'retry.backoff.ms=200'];

interface Node {
  id: number;
  voter: boolean;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
}

/** Live brokers, and leader and ISR of each partition of `topic`, as node `port` answers Metadata. */
async function metadata(port: number, topic: string) {
  return withConnection(port, async (c) => {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return {
      brokers: md.brokers.map((b) => b.nodeId).sort(),
      partitions: (md.topics[0]?.partitions ?? [])
        .map((p) => ({ partition: p.partitionIndex, leader: p.leaderId, isr: [...p.isrNodes].sort() }))
        .sort((a, b) => a.partition - b.partition),
    };
  });
}

/** Brokers in one process: `voters` of them combined voters and brokers, then broker-only ones. */
class Cluster {
  readonly nodes: Node[] = [];
  private base = '';
  private readonly logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });

  constructor(
    private readonly voters: number,
    private readonly brokersOnly: number,
    private readonly overrides: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    this.base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-elect-'));
    for (let id = 1; id <= this.voters + this.brokersOnly; id++) {
      this.nodes.push({
        id,
        voter: id <= this.voters,
        clientPort: await freePort(),
        controllerPort: await freePort(),
        dir: path.join(this.base, `node-${id}`),
        running: null,
      });
    }
    await Promise.all(this.nodes.map((n) => this.startNode(n.id)));
  }

  node(id: number): Node {
    return this.nodes[id - 1];
  }

  get bootstrap(): string {
    return this.nodes
      .filter((n) => n.running)
      .map((n) => `127.0.0.1:${n.clientPort}`)
      .join(',');
  }

  async startNode(id: number): Promise<void> {
    const n = this.node(id);
    const voters = this.nodes
      .filter((m) => m.voter)
      .map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`)
      .join(',');
    const config = loadBrokerConfig({
      overrides: {
        'node.id': String(n.id),
        ...(n.voter
          ? {
              listeners: `PLAINTEXT://127.0.0.1:${n.clientPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
              'controller.quorum.voters': voters,
            }
          : {
              'process.roles': 'broker',
              listeners: `PLAINTEXT://127.0.0.1:${n.clientPort}`,
              'controller.quorum.bootstrap.servers': this.nodes
                .filter((m) => m.voter)
                .map((m) => `127.0.0.1:${m.controllerPort}`)
                .join(','),
            }),
        'log.dirs': n.dir,
        'replica.fetch.backoff.ms': '100',
        ...this.overrides,
      },
    });
    n.running = await startBroker({ config, logger: this.logger.child({ node: n.id }) });
  }

  async stopNode(id: number): Promise<void> {
    const n = this.node(id);
    await n.running!.close();
    n.running = null;
  }

  /** A live node's client port, not `but`. */
  port(but: number[] = []): number {
    return this.nodes.find((n) => n.running && !but.includes(n.id))!.clientPort;
  }

  async createTopic(topic: string, assignments: number[][]): Promise<void> {
    await eventually(
      () =>
        withConnection(this.port(), async (c) => {
          const r = await c.send('CreateTopics', {
            topics: [
              {
                name: topic,
                numPartitions: -1,
                replicationFactor: -1,
                assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
                configs: [],
              },
            ],
            timeoutMs: 30_000,
            validateOnly: false,
          });
          return r.topics[0].errorCode === ErrorCode.NONE;
        }),
      60_000,
    );
  }

  /** Polls Metadata (on a live node other than `but`) until `check` holds for the partition states. */
  waitFor(
    topic: string,
    check: (m: Awaited<ReturnType<typeof metadata>>) => boolean,
    but: number[] = [],
  ): Promise<Awaited<ReturnType<typeof metadata>>> {
    return eventually(async () => {
      const m = await metadata(this.port(but), topic);
      return check(m) ? m : undefined;
    }, 90_000);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.filter((n) => n.running).map((n) => n.running!.close()));
    if (this.base) fs.rmSync(this.base, { recursive: true, force: true });
  }
}

describe('ElectLeaders from the Java Admin client', () => {
  const cluster = new Cluster(3, 2, { 'auto.leader.rebalance.enable': 'false' });
  let cp: string;

  /** Runs Admin.electLeaders; returns its output lines. */
  async function electLeaders(type: 'PREFERRED' | 'UNCLEAN', topic: string, ...partitions: number[]) {
    const r = await runJava(cp, 'ElectLeaders', [cluster.bootstrap, type, topic, ...partitions.map(String)]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    return r.stdout.trim().split('\n');
  }

  before(async () => {
    const [classpath] = await Promise.all([compileJava('elect'), cluster.start()]);
    cp = classpath;
  });
  after(() => cluster.close());

  test('PREFERRED: after its broker restarts, the preferred replica leads again once asked', async () => {
    const topic = uniqueTopic('preferred');
    await cluster.createTopic(topic, [[1, 2, 3]]);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === 1 && m.partitions[0].isr.length === 3);

    await cluster.stopNode(1);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader > 1);
    await cluster.startNode(1);
    // back in the ISR, but leadership stays where it went
    const back = await cluster.waitFor(topic, (m) => m.partitions[0]?.isr.length === 3);
    assert.notEqual(back.partitions[0].leader, 1);

    assert.deepEqual(await electLeaders('PREFERRED', topic, 0), [`${topic}-0 ok`]);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === 1);
    assert.deepEqual(await electLeaders('PREFERRED', topic, 0, 7), [
      `${topic}-0 ElectionNotNeededException`,
      `${topic}-7 UnknownTopicOrPartitionException`,
    ]);
  });

  test('UNCLEAN: the only in-sync replica is down; the live replica outside the ISR is elected', async () => {
    const topic = uniqueTopic('unclean');
    await cluster.createTopic(topic, [[4, 5]]);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === 4 && m.partitions[0].isr.length === 2);
    await cluster.stopNode(5);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.isr.join() === '4');
    // acknowledged by the ISR [4] only: 5 never gets them
    await kcatProduce(
      cluster.bootstrap,
      topic,
      Array.from({ length: 10 }, (_, i) => `k:lost-${i}`),
      ACKS_ALL,
    );
    await cluster.stopNode(4);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === -1);
    await cluster.startNode(5);
    // live again (unfenced), and not elected: unclean.leader.election.enable is false
    const waiting = await cluster.waitFor(topic, (m) => m.brokers.includes(5));
    assert.deepEqual(waiting.partitions[0], { partition: 0, leader: -1, isr: [4] });
    assert.deepEqual(await electLeaders('PREFERRED', topic, 0), [`${topic}-0 PreferredLeaderNotAvailableException`]);

    assert.deepEqual(await electLeaders('UNCLEAN', topic, 0), [`${topic}-0 ok`]);
    const after = await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === 5);
    assert.deepEqual(after.partitions[0].isr, [5], 'the ISR is reset to the new leader');
    assert.deepEqual(await electLeaders('UNCLEAN', topic, 0), [`${topic}-0 ElectionNotNeededException`]);
    const kept = Array.from({ length: 3 }, (_, i) => `k:kept-${i}`);
    await kcatProduce(cluster.bootstrap, topic, kept, ACKS_ALL);

    // the old leader returns: it truncates what the new leader does not have and follows it
    await cluster.startNode(4);
    await cluster.waitFor(topic, (m) => m.partitions[0]?.leader === 5 && m.partitions[0].isr.length === 2);
    const got = await kcatConsume(cluster.bootstrap, topic, { partition: 0 });
    assert.deepEqual(
      got.map((r) => r.payload),
      ['kept-0', 'kept-1', 'kept-2'],
      'the records only the old ISR had are gone (the documented trade)',
    );
    const logs = [4, 5].map((id) => cluster.node(id).running!.broker.replicas.get(topic, 0)!);
    await eventually(() => logs.every((p) => p.highWatermark === 3 && p.log.logEndOffset === 3), 30_000, 50);
    const bytes = logs.map((p) =>
      Buffer.concat(
        fs
          .readdirSync(p.log.dir)
          .filter((f) => f.endsWith('.log'))
          .sort()
          .map((f) => fs.readFileSync(path.join(p.log.dir, f))),
      ),
    );
    assert.ok(bytes[0].equals(bytes[1]), 'both replicas hold the same bytes');
  });
});

describe('auto.leader.rebalance.enable', () => {
  const cluster = new Cluster(3, 0, {
    'auto.leader.rebalance.enable': 'true',
    'leader.imbalance.check.interval.seconds': '1',
  });
  before(() => cluster.start());
  after(() => cluster.close());

  test('leadership goes back to the preferred replica once it is back in the ISR', async () => {
    const topic = uniqueTopic('rebalance');
    await cluster.createTopic(topic, [
      [2, 1, 3],
      [2, 3, 1],
    ]);
    await cluster.waitFor(topic, (m) => m.partitions.every((p) => p.leader === 2 && p.isr.length === 3));
    await cluster.stopNode(2);
    await cluster.waitFor(topic, (m) => m.partitions.every((p) => p.leader !== 2 && p.leader > 0));
    await cluster.startNode(2);
    await cluster.waitFor(topic, (m) => m.partitions.every((p) => p.leader === 2 && p.isr.length === 3));
  });
});
