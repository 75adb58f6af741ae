/**
 * kafka-python (Debian's python3-kafka, 2.0) through a leader kill on three
 * `samsa start` processes (test/helpers/cluster.ts): a producer
 * (test/interop/py/kp_failover_produce.py: acks=all, retries, one request in
 * flight) sending continuously to the 3 partitions of a topic with
 * replication factor 3 and min.insync.replicas=2, and a group member
 * (test/interop/py/groups_consumer.py, a synchronous commit after each
 * record). The broker leading partition 0 is killed (-9) and restarted once
 * both clients made progress again:
 *
 *  - no send fails and no commit fails (the clients only retry);
 *  - every acknowledged record is read back at the offset it was acknowledged
 *    with (kafka-python 2.0 has no idempotent producer: a retry of a write
 *    whose acknowledgement died with the leader may be stored twice, which
 *    is allowed here);
 *  - the restarted broker is back in every ISR (Metadata);
 *  - the time from the kill to the next acknowledged record of partition 0
 *    is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '../../src/client/connection.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { startProcessCluster } from '../helpers/cluster.ts';
import { PY, PY_DIR, PyMember, waitFor } from '../helpers/groups.ts';

const PARTITIONS = 3;
const SEND_INTERVAL_MS = 20;

interface Ack {
  p: number;
  o: number;
  v: string;
  t: number;
}

/** Leader and ISR of the topic's partitions as the broker on `port` answers Metadata. */
async function metadataOf(port: number, topic: string) {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'kp-failover-test', requestTimeoutMs: 10_000 });
  await c.connect();
  try {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return md.topics[0].partitions.map((p) => ({ p: p.partitionIndex, leader: p.leaderId, isr: [...p.isrNodes] }));
  } finally {
    await c.close();
  }
}

/** Time from `killedAt` to the acknowledgement that ends the longest pause in `acks` after the kill. */
function unavailability(acks: Ack[], killedAt: number): number | undefined {
  let best: { gap: number; t: number } | undefined;
  for (let i = 1; i < acks.length; i++) {
    if (acks[i].t <= killedAt) continue;
    const gap = acks[i].t - Math.max(acks[i - 1].t, killedAt);
    if (!best || gap > best.gap) best = { gap, t: acks[i].t };
  }
  return best && best.t - killedAt;
}

class PyProducer {
  readonly proc: ChildProcess;
  readonly acks: Ack[][] = Array.from({ length: PARTITIONS }, () => []);
  readonly errors: unknown[] = [];
  created = false;
  sent: number | undefined;
  stderr = '';

  constructor(args: string[]) {
    this.proc = spawn(PY, [path.join(PY_DIR, 'kp_failover_produce.py'), ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    this.proc.stdin!.on('error', () => {});
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const e = JSON.parse(line);
      if (e.ev === 'ack') this.acks[e.p].push(e);
      else if (e.ev === 'error') this.errors.push(e);
      else if (e.ev === 'created') this.created = true;
      else if (e.ev === 'produced') this.sent = e.sent;
    });
  }

  stop() {
    this.proc.stdin!.write('stop\n');
  }

  kill() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

test('kafka-python producer (acks=all) and group member through a leader kill (3 broker processes, RF=3)', async () => {
  const cluster = await startProcessCluster({
    nodes: 3,
    overrides: {
      'replica.lag.time.max.ms': '3000',
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.num.partitions': '3',
    },
  });
  const topic = 'kp-failover';
  const producer = new PyProducer([cluster.bootstrapServers, topic, String(PARTITIONS), String(SEND_INTERVAL_MS)]);
  let member: PyMember | undefined;
  const received = () => {
    const byPartition: Map<number, string>[] = Array.from({ length: PARTITIONS }, () => new Map());
    for (const r of member?.received ?? []) byPartition[r.p].set(r.o, r.v);
    return byPartition;
  };
  const consumerErrors = () => (member?.events ?? []).filter((e) => e.ev === 'error');
  const diag = () => ({
    acked: producer.acks.map((a) => a.length),
    read: received().map((m) => m.size),
    producerErrors: producer.errors.slice(0, 5),
    consumerErrors: consumerErrors().slice(0, 5),
  });
  const progressed = (what: string, acked: number[], read: number[]) =>
    waitFor(
      what,
      () =>
        producer.errors.length === 0 &&
        producer.acks.every((a, p) => a.length >= acked[p] + 20) &&
        received().every((m, p) => m.size >= read[p] + 20),
      90_000,
      diag,
    );
  try {
    await waitFor(
      'the topic created',
      () => producer.created,
      60_000,
      () => producer.stderr.slice(-2000),
    );
    member = new PyMember('kp-failover-member', [
      '--client',
      'kafka-python',
      '--bootstrap',
      cluster.bootstrapServers,
      '--group',
      'kp-failover',
      '--topic',
      topic,
      '--session-timeout-ms',
      '10000',
    ]);
    await progressed('records acknowledged and read on every partition', [0, 0, 0], [0, 0, 0]);

    const before = await metadataOf(cluster.nodes[0].clientPort, topic);
    const victim = before.find((p) => p.p === 0)!.leader;
    const led = before.filter((p) => p.leader === victim).map((p) => p.p);
    const acked = producer.acks.map((a) => a.length);
    const killedAt = Date.now();
    await cluster.node(victim).kill('SIGKILL');
    await progressed(
      `records acknowledged and read after node ${victim} was killed`,
      acked,
      received().map((m) => m.size),
    );
    const next = led.map((p) => `p${p} ${unavailability(producer.acks[p], killedAt)} ms`);
    console.log(
      `# node ${victim} (leading ${led.map((p) => `p${p}`).join(',')}) killed: kill to next acknowledged record: ${next.join(', ')}`,
    );

    await cluster.node(victim).start();
    const survivor = cluster.nodes.find((n) => n.nodeId !== victim)!;
    await waitFor(
      `node ${victim} back in every ISR`,
      async () => (await metadataOf(survivor.clientPort, topic)).every((p) => p.isr.length === 3),
      90_000,
      diag,
    );
    await progressed(
      `records acknowledged and read after node ${victim} restarted`,
      producer.acks.map((a) => a.length),
      received().map((m) => m.size),
    );

    producer.stop();
    await waitFor('the producer to flush', () => producer.sent !== undefined, 120_000, diag);
    const total = producer.acks.reduce((n, a) => n + a.length, 0);
    assert.equal(total, producer.sent, 'every record sent was acknowledged');
    await waitFor(
      'the member to read every acknowledged record',
      () => producer.acks.every((acks, p) => acks.every((a) => received()[p].get(a.o) === a.v)),
      90_000,
      diag,
    );
    await member.close();

    assert.deepEqual(producer.errors, [], 'no send failed');
    assert.deepEqual(consumerErrors(), [], 'no commit failed');
    const read = received();
    let duplicates = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      for (const a of producer.acks[p]) assert.equal(read[p].get(a.o), a.v, `partition ${p} offset ${a.o}`);
      duplicates += read[p].size - producer.acks[p].length;
    }
    console.log(`# ${total} records acknowledged and read back; ${duplicates} stored twice by a retry`);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n${JSON.stringify(diag())}\nproducer stderr:\n${producer.stderr.slice(-3000)}\nmember stderr:\n${member?.stderr.slice(-3000)}\n${cluster.output().slice(-15_000)}`,
    );
  } finally {
    producer.kill();
    await member?.kill();
    await cluster.close();
  }
});
