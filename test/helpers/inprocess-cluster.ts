/**
 * Several brokers in this process (combined broker+controller roles,
 * loopback ports, one data dir each), for tests that need a cluster but not
 * separate processes: start, close one, restart it, and a Samsa client
 * connection to any of them.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { startBroker, type RunningBroker } from '../../src/server/index.ts';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { eventually, freePort } from './broker.ts';

export interface InProcessNode {
  id: number;
  clientPort: number;
  controllerPort: number;
  /** The SSL listener's port (with the `ssl` option), else 0. */
  sslPort: number;
  dir: string;
  running: RunningBroker | null;
}

export interface InProcessCluster {
  nodes: InProcessNode[];
  live(): InProcessNode[];
  node(id: number): InProcessNode;
  /** Starts node `id` again on its data dir and ports. */
  start(id: number): Promise<void>;
  /** Closes node `id` (a graceful stop). */
  stop(id: number): Promise<void>;
  bootstrap(): string;
  close(): Promise<void>;
}

export async function startInProcessCluster(
  opts: {
    nodes?: number;
    overrides?: Record<string, string>;
    logLevel?: string;
    /** Each node also opens an SSL://127.0.0.1 listener (the overrides give its ssl.* settings). */
    ssl?: boolean;
  } = {},
): Promise<InProcessCluster> {
  const count = opts.nodes ?? 3;
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-cluster-'));
  const logger = pino({ level: opts.logLevel ?? process.env.SAMSA_LOG_LEVEL ?? 'warn' });
  const nodes: InProcessNode[] = [];
  for (let id = 1; id <= count; id++) {
    nodes.push({
      id,
      clientPort: await freePort(),
      controllerPort: await freePort(),
      sslPort: opts.ssl ? await freePort() : 0,
      dir: path.join(base, `node-${id}`),
      running: null,
    });
  }
  const voters = nodes.map((m) => `${m.id}@127.0.0.1:${m.controllerPort}`).join(',');
  const node = (id: number) => {
    const n = nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  };
  const start = async (id: number) => {
    const n = node(id);
    const config = loadBrokerConfig({
      overrides: {
        'node.id': String(n.id),
        listeners: `PLAINTEXT://127.0.0.1:${n.clientPort},CONTROLLER://127.0.0.1:${n.controllerPort}${opts.ssl ? `,SSL://127.0.0.1:${n.sslPort}` : ''}`,
        'controller.quorum.voters': voters,
        'log.dirs': n.dir,
        'replica.fetch.backoff.ms': '100',
        ...opts.overrides,
      },
    });
    n.running = await startBroker({ config, logger: logger.child({ node: n.id }) });
  };
  const cluster: InProcessCluster = {
    nodes,
    live: () => nodes.filter((n) => n.running !== null),
    node,
    start,
    async stop(id) {
      const n = node(id);
      const r = n.running;
      n.running = null;
      await r?.close();
    },
    bootstrap: () =>
      cluster
        .live()
        .map((n) => `127.0.0.1:${n.clientPort}`)
        .join(','),
    async close() {
      await Promise.all(cluster.live().map((n) => cluster.stop(n.id)));
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => start(n.id)));
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** Runs `fn` on a fresh Samsa client connection to `port`, closed afterwards. */
export async function withConnection<T>(port: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'cluster-test', requestTimeoutMs: 60_000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** Leader, ISR (sorted), replicas and leader epoch of `topic`'s partition as node `port` answers Metadata. */
export async function partitionState(port: number, topic: string, partition = 0) {
  return withConnection(port, async (c) => {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    const p = md.topics[0]?.partitions.find((x) => x.partitionIndex === partition);
    return p
      ? { leader: p.leaderId, isr: [...p.isrNodes].sort(), replicas: [...p.replicaNodes], epoch: p.leaderEpoch }
      : undefined;
  });
}

/** Creates a topic through node `port` (retried until the quorum answers) and waits until every partition has a leader. */
export async function createTopic(
  port: number,
  topic: string,
  opts: { partitions?: number; replicationFactor?: number; configs?: Record<string, string> } = {},
): Promise<void> {
  const partitions = opts.partitions ?? 1;
  await eventually(
    () =>
      withConnection(port, async (c) => {
        const r = await c.send('CreateTopics', {
          topics: [
            {
              name: topic,
              numPartitions: partitions,
              replicationFactor: opts.replicationFactor ?? 1,
              assignments: [],
              configs: Object.entries(opts.configs ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
          timeoutMs: 30_000,
          validateOnly: false,
        });
        const code = r.topics[0].errorCode;
        if (code !== ErrorCode.NONE && code !== ErrorCode.TOPIC_ALREADY_EXISTS)
          throw new Error(`CreateTopics ${topic}: error ${code} ${r.topics[0].errorMessage ?? ''}`);
        return true;
      }).catch(() => undefined),
    60_000,
  );
  for (let p = 0; p < partitions; p++)
    await eventually(async () => {
      const s = await partitionState(port, topic, p);
      return s && s.leader >= 0 ? s : undefined;
    }, 60_000);
}
