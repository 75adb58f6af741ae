/**
 * Fetching from the closest replica (KIP-392) on three brokers in one
 * process, in racks a, b and c, with
 * replica.selector.class=RackAwareReplicaSelector. A topic of two partitions
 * with RF=3 led by the brokers of racks a and c; a confluent-kafka-python
 * consumer (librdkafka) with client.rack=b reads every record, and the
 * brokers' counters show that the rack-b broker, a follower of both
 * partitions, served all of them while the leaders only named it as the
 * preferred read replica. Then the rack-b broker stops: it leaves the ISR,
 * the consumer goes back to the leaders and reads what is produced next.
 * The protocol rules are checked with raw Fetch requests too: a follower
 * serves consumers from v11 only, up to its high watermark, and answers
 * OFFSET_OUT_OF_RANGE past its log end offset. Every wait polls for a
 * condition with a deadline.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { startBroker, type RunningBroker } from '../../src/server/index.ts';
import { KafkaClient } from '../../src/client/client.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { RACK_AWARE_REPLICA_SELECTOR, replicaReadStats } from '../../src/server/replica-selector.ts';
import { eventually, freePort, REPO_ROOT, uniqueTopic } from '../helpers/broker.ts';
import { currentPython } from '../helpers/pyclient.ts';
import { withConnection } from '../helpers/inprocess-cluster.ts';

interface Node {
  id: number;
  rack: string;
  clientPort: number;
  controllerPort: number;
  dir: string;
  running: RunningBroker | null;
}

const RACKS: Record<number, string> = { 1: 'a', 2: 'b', 3: 'c' };
const PER_PARTITION = 150;
const FETCH_WAIT_MS = 25_000;
const FETCH = apiByName('Fetch');

/** Leader, ISR and leader epoch of each partition as the broker on `port` answers Metadata. */
async function partitionStates(port: number, topic: string) {
  return withConnection(port, async (c) => {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return (md.topics[0]?.partitions ?? [])
      .map((p) => ({
        partition: p.partitionIndex,
        leader: p.leaderId,
        isr: [...p.isrNodes].sort(),
        epoch: p.leaderEpoch,
      }))
      .sort((a, b) => a.partition - b.partition);
  });
}

/** One consumer Fetch (replica id -1) of one partition at an explicit version; its partition answer. */
async function consumerFetch(
  port: number,
  version: number,
  topic: string,
  partition: number,
  fetchOffset: number,
  rackId = '',
) {
  return withConnection(port, async (c) => {
    const res = await c.sendAt(FETCH, version, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1_048_576,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          topicId: ZERO_UUID,
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 1_048_576,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId,
    });
    const p = res.responses[0].partitions[0];
    const bytes = p.records?.length ?? 0;
    return { errorCode: p.errorCode, highWatermark: Number(p.highWatermark), preferred: p.preferredReadReplica, bytes };
  });
}

/** The consumer script: its JSON lines as they come, and a way to let it go on to phase 2. */
function startRackConsumer(bootstrap: string, topic: string, rack: string, count1: number, count2: number) {
  const script = path.join(REPO_ROOT, 'test', 'interop', 'py', 'ck_rack_consume.py');
  const p: ChildProcess = spawn(
    currentPython(),
    [script, bootstrap, topic, '2', rack, String(count1), String(count2)],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  type Doc = { phase: number; consumed: { partition: number; offset: number; value: string }[]; errors: string[] };
  const phase = (n: number) =>
    eventually(
      () => {
        if (p.exitCode !== null && !out.includes(`"phase": ${n}`))
          throw new Error(`consumer exited (${p.exitCode}) before phase ${n}:\n${out}\n${err}`);
        const line = out.split('\n').find((l) => l.startsWith(`{"phase": ${n}`));
        return line ? (JSON.parse(line) as Doc) : undefined;
      },
      120_000,
      100,
    );
  return {
    phase,
    next: () => p.stdin!.write('\n'),
    stop: async () => {
      if (p.exitCode === null) p.kill('SIGKILL');
      await exited;
    },
  };
}

/** The values of one partition's records, in the order they came. */
function valuesOf(docs: { partition: number; value: string }[], partition: number): string[] {
  return docs.filter((r) => r.partition === partition).map((r) => r.value);
}

describe('follower fetching (KIP-392): a consumer in rack b reads from the rack-b replica', () => {
  const nodes: Node[] = [];
  let base: string;
  const logger = pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'warn' });
  const live = () => nodes.filter((n) => n.running !== null);
  const node = (id: number) => nodes.find((n) => n.id === id)!;
  const stats = (id: number) => replicaReadStats(node(id).running!.broker);

  before(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-ffetch-'));
    for (const id of [1, 2, 3]) {
      nodes.push({
        id,
        rack: RACKS[id],
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
            'broker.rack': n.rack,
            'replica.selector.class': RACK_AWARE_REPLICA_SELECTOR,
            'replica.fetch.backoff.ms': '100',
            // far longer than any wait below: a follower must learn a moved high watermark without waiting for it
            'replica.fetch.wait.max.ms': String(FETCH_WAIT_MS),
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

  test('every record comes from the rack-b follower; back to the leaders once it is gone', async () => {
    const topic = uniqueTopic('ffetch');
    const first = nodes[0];
    // partition 0 led by rack a (node 1), partition 1 by rack c (node 3); node 2 (rack b) follows both
    await eventually(
      () =>
        withConnection(first.clientPort, async (c) => {
          const r = await c.send('CreateTopics', {
            topics: [
              {
                name: topic,
                numPartitions: -1,
                replicationFactor: -1,
                assignments: [
                  { partitionIndex: 0, brokerIds: [1, 2, 3] },
                  { partitionIndex: 1, brokerIds: [3, 1, 2] },
                ],
                configs: [{ name: 'min.insync.replicas', value: '2' }],
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
      const s = await partitionStates(first.clientPort, topic);
      return s.length === 2 && s[0].leader === 1 && s[1].leader === 3 && s.every((p) => p.isr.length === 3);
    }, 60_000);

    const bootstrap = nodes.map((n) => `127.0.0.1:${n.clientPort}`).join(',');
    const producer = new KafkaClient({ bootstrapServers: bootstrap, clientId: 'ffetch-producer', retries: 20 });
    const produce = async (from: number, count: number) => {
      for (const partition of [0, 1])
        for (let i = from; i < from + count; i += 50)
          await producer.produce(
            topic,
            partition,
            Array.from({ length: Math.min(50, from + count - i) }, (_, j) => ({
              value: Buffer.from(`p${partition}-${i + j}`),
            })),
            { acks: -1 },
          );
    };
    const expected = (partition: number, from: number, count: number) =>
      Array.from({ length: count }, (_, i) => `p${partition}-${from + i}`);

    // counters from before the consumer's first fetch (it starts while the records are produced)
    const before = new Map([1, 2, 3].map((id) => [id, { ...stats(id) }]));
    const consumer = startRackConsumer(bootstrap, topic, 'b', 2 * PER_PARTITION, 2 * PER_PARTITION);
    try {
      await produce(0, PER_PARTITION);
      // KIP-1166: the leader answers a caught-up follower's fetch as soon as its high watermark passes the
      // follower's, instead of holding it for replica.fetch.wait.max.ms
      const hwAt = Date.now();
      await eventually(
        () => [0, 1].every((p) => node(2).running!.broker.replicas.get(topic, p)?.highWatermark === PER_PARTITION),
        FETCH_WAIT_MS / 2,
        20,
      );
      console.log(
        `# the rack-b follower had the leaders' high watermark ${Date.now() - hwAt} ms after the last produce`,
      );
      const one = await consumer.phase(1);
      assert.deepEqual(one.errors, []);
      for (const p of [0, 1]) assert.deepEqual(valuesOf(one.consumed, p), expected(p, 0, PER_PARTITION));
      // the leaders (racks a and c) named the rack-b follower and sent no records; it sent them all
      for (const leader of [1, 3]) {
        assert.equal(stats(leader).leaderBytes, before.get(leader)!.leaderBytes, `leader ${leader} sent no records`);
        assert.ok(
          stats(leader).redirects > before.get(leader)!.redirects,
          `leader ${leader} named a preferred replica`,
        );
      }
      assert.ok(stats(2).followerBytes > before.get(2)!.followerBytes, 'the rack-b follower served the records');
      assert.equal(stats(2).leaderBytes, 0);
      console.log(
        `# consumer in rack b: ${stats(2).followerBytes} record bytes from node 2 (follower), leaders named it ${stats(1).redirects} + ${stats(3).redirects} times`,
      );

      // the raw rules on the follower: v11+ only, up to its high watermark, out of range past its end
      const f = await consumerFetch(node(2).clientPort, 12, topic, 0, 0, 'b');
      assert.equal(f.errorCode, ErrorCode.NONE);
      assert.ok(f.bytes > 0 && f.highWatermark === PER_PARTITION);
      const old = await consumerFetch(node(2).clientPort, 10, topic, 0, 0);
      assert.equal(old.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'a follower serves no consumer fetch below v11');
      const past = await consumerFetch(node(2).clientPort, 12, topic, 0, PER_PARTITION + 1, 'b');
      assert.equal(past.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
      const atEnd = await consumerFetch(node(2).clientPort, 12, topic, 0, PER_PARTITION, 'b');
      assert.deepEqual([atEnd.errorCode, atEnd.bytes], [ErrorCode.NONE, 0]);
      // the leader names rack b's replica to a rack-b consumer, and serves one in its own rack or with none
      assert.equal((await consumerFetch(first.clientPort, 12, topic, 0, 0, 'b')).preferred, 2);
      assert.equal((await consumerFetch(first.clientPort, 12, topic, 0, 0, 'a')).preferred, -1);
      assert.equal((await consumerFetch(first.clientPort, 12, topic, 0, 0, '')).preferred, -1);

      // rack b's broker stops: it leaves the ISR, the leaders stop naming it, the consumer returns to them
      const gone = node(2);
      await gone.running!.close();
      gone.running = null;
      await eventually(async () => {
        const s = await partitionStates(first.clientPort, topic);
        return s.length === 2 && s.every((p) => !p.isr.includes(2) && p.leader !== 2);
      }, 60_000);
      const redirected = await consumerFetch(first.clientPort, 12, topic, 0, 0, 'b');
      assert.equal(redirected.preferred, -1, 'no preferred replica outside the ISR');
      assert.ok(redirected.bytes > 0, 'the leader serves the rack-b consumer itself');
      const leaderBytes = new Map([1, 3].map((id) => [id, stats(id).leaderBytes]));
      await produce(PER_PARTITION, PER_PARTITION);
      consumer.next();
      const two = await consumer.phase(2);
      for (const p of [0, 1]) assert.deepEqual(valuesOf(two.consumed, p), expected(p, PER_PARTITION, PER_PARTITION));
      for (const leader of [1, 3])
        assert.ok(stats(leader).leaderBytes > leaderBytes.get(leader)!, `leader ${leader} served the consumer again`);
    } finally {
      await consumer.stop();
      await producer.close();
    }
  });
});
