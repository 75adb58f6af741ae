/**
 * Data replication on three brokers in one process (combined roles, loopback
 * ports): a topic with replication factor 3 and min.insync.replicas=2 takes
 * records from kcat with acks=all; the partition leader's broker is closed;
 * a new leader is elected from the ISR, kcat produces again through it, and
 * every acknowledged record is read back, in order, exactly once. The two
 * surviving replicas hold the same bytes below the high watermark. Every
 * wait polls for a condition with a deadline.
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
import { eventually, freePort, uniqueTopic } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { partitionState, withConnection } from '../helpers/inprocess-cluster.ts';

interface Node {
  id: number;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
}

const IDS = [1, 2, 3];

describe('replication: RF=3, acks=all, the leader broker closed', () => {
  const nodes: Node[] = [];
  let base: string;
  const logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });
  const live = () => nodes.filter((n) => n.running !== null);

  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-repl-'));
    for (const id of IDS) {
      nodes.push({
        id,
        clientPort: await freePort(),
        controllerPort: await freePort(),
        dir: path.join(base, `node-${id}`),
        running: null,
      });
    }
    const voters = nodes.map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`).join(',');
    await Promise.all(
      nodes.map(async (n) => {
        const config = loadBrokerConfig({
          overrides: {
            'node.id': String(n.id),
            listeners: `PLAINTEXT://127.0.0.1:${n.clientPort},CONTROLLER://127.0.0.1:${n.controllerPort}`,
            'controller.quorum.voters': voters,
            'log.dirs': n.dir,
            'replica.fetch.backoff.ms': '100',
          },
        });
        n.running = await startBroker({ config, logger: logger.child({ node: n.id }) });
      }),
    );
  });

  after(async () => {
    await Promise.all(live().map((n) => n.running!.close()));
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('every acknowledged record survives the close of the leader and is read back once, in order', async () => {
    const topic = uniqueTopic('repl');
    const first = nodes[0];
    const created = await eventually(
      () =>
        withConnection(first.clientPort, async (c) => {
          const r = await c.send('CreateTopics', {
            topics: [
              {
                name: topic,
                numPartitions: 1,
                replicationFactor: 3,
                assignments: [],
                configs: [{ name: 'min.insync.replicas', value: '2' }],
              },
            ],
            timeoutMs: 30_000,
            validateOnly: false,
          });
          const t = r.topics[0];
          return t.errorCode === ErrorCode.NONE ? t : undefined;
        }),
      60_000,
    );
    assert.equal(created.errorCode, ErrorCode.NONE);
    const before = await eventually(async () => {
      const s = await partitionState(first.clientPort, topic);
      return s && s.leader >= 0 && s.isr.length === 3 ? s : undefined;
    }, 60_000);

    const bootstrap = live()
      .map((n) => `127.0.0.1:${n.clientPort}`)
      .join(',');
    const acks = ['-X', 'acks=all', '-X', 'message.send.max.retries=20', '-X', 'retry.backoff.ms=200'];
    const batch1 = Array.from({ length: 200 }, (_, i) => `k${i}:v${i}`);
    await kcatProduce(bootstrap, topic, batch1, acks);

    // close the leader's broker: a new leader comes from the ISR
    const old = nodes.find((n) => n.id === before.leader)!;
    const closedAt = Date.now();
    await old.running!.close();
    old.running = null;
    const survivor = live()[0];
    const after = await eventually(async () => {
      const s = await partitionState(survivor.clientPort, topic);
      return s && s.leader >= 0 && s.leader !== old.id ? s : undefined;
    }, 60_000);
    assert.ok(before.isr.includes(after.leader), 'the new leader was in the ISR');
    assert.ok(after.epoch > before.epoch, 'a new leader epoch');

    const bootstrap2 = live()
      .map((n) => `127.0.0.1:${n.clientPort}`)
      .join(',');
    const batch2 = Array.from({ length: 100 }, (_, i) => `k${200 + i}:v${200 + i}`);
    await kcatProduce(bootstrap2, topic, batch2, acks);
    console.log(
      `# leader ${old.id} closed; records produced through leader ${after.leader} ${Date.now() - closedAt} ms later`,
    );

    const got = await eventually(async () => {
      const r = await kcatConsume(bootstrap2, topic, { partition: 0, timeoutMs: 60_000 });
      return r.length >= 300 ? r : undefined;
    }, 60_000);
    assert.deepEqual(
      got.map((r) => r.payload),
      Array.from({ length: 300 }, (_, i) => `v${i}`),
      'every acknowledged record, once, in order',
    );

    // the surviving replicas agree byte for byte below the high watermark
    const logs = live().map((n) => n.running!.broker.replicas.get(topic, 0)!);
    await eventually(() => logs.every((p) => p.highWatermark === 300), 30_000, 50);
    const bytes = logs.map((p) => {
      const files = fs
        .readdirSync(p.log.dir)
        .filter((f) => f.endsWith('.log'))
        .sort();
      return Buffer.concat(files.map((f) => fs.readFileSync(path.join(p.log.dir, f))));
    });
    assert.ok(bytes[0].equals(bytes[1]), 'the surviving replicas hold the same bytes');
  });
});
