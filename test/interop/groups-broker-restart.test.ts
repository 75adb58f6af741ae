/**
 * Committed offsets and groups survive a broker kill -9 and restart (a child
 * process broker on the same data dir and port):
 *
 *  - before the kill: group A (kafkajs) and group B (confluent-kafka-python)
 *    consumed and committed everything and closed (Empty groups); group C
 *    (kafkajs) is still consuming when the broker is killed;
 *  - after the restart: all three groups are listed with the same committed
 *    offsets; records produced after the restart reach C's consumer, which
 *    never re-reads what it committed, and new members of A and B get
 *    exactly the new records.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type Producer } from 'kafkajs';
import { startChildBroker, type ChildBroker } from '../helpers/broker.ts';

const PY = '/usr/bin/python3';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const PARTITIONS = 6;
const ALL = [...Array(PARTITIONS).keys()];

// ---------------------------------------------------------------- helpers

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 45_000, diag?: () => unknown): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}` + (lastErr ? ` (last error: ${lastErr})` : '') + (diag ? `\n${JSON.stringify(diag(), null, 1)}` : ''));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface PyEvent { ev: string; partitions?: number[]; p?: number; o?: number; v?: string; generation?: number; msg?: string }

class PyMember {
  readonly events: PyEvent[] = [];
  owned: number[] | undefined;
  readonly received: { p: number; o: number; v: string }[] = [];
  exited = false;
  stderr = '';
  private readonly proc: ChildProcess;
  private readonly exit: Promise<number | null>;

  constructor(readonly name: string, argv: string[]) {
    this.proc = spawn(PY, [path.join(HERE, 'py', 'groups_consumer.py'), '--client-id', name, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.exit = new Promise((resolve) => this.proc.on('exit', (code) => { this.exited = true; resolve(code); }));
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let e: PyEvent;
      try { e = JSON.parse(line); } catch { return; }
      this.events.push(e);
      if (e.ev === 'owned') this.owned = e.partitions;
      if (e.ev === 'rec') this.received.push({ p: e.p!, o: e.o!, v: e.v! });
    });
    this.proc.stderr!.on('data', (d) => { this.stderr += d; });
  }

  /** Clean close: the member leaves the group. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.proc.stdin!.end('close\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 30_000);
    const code = await this.exit;
    clearTimeout(timer);
    assert.equal(code, 0, `${this.name} exited with ${code}: ${this.stderr.slice(-2000)}`);
  }

  /** SIGKILL: no LeaveGroup, the broker must notice by the session timeout. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGKILL');
    await this.exit;
  }
}


let broker: ChildBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

before(async () => {
  broker = await startChildBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '1' } });
  kafka = new Kafka({
    clientId: 'groups-restart-test',
    brokers: [broker.bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 12, initialRetryTime: 300, maxRetryTime: 2000 },
  });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await broker?.close();
});

async function committed(groupId: string, topic: string): Promise<Map<number, number>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(res[0].partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** A kafkajs member that commits each record it consumes. */
function kafkajsMember(groupId: string, topic: string) {
  const received: string[] = [];
  const consumer: Consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, rebalanceTimeout: 15_000, heartbeatInterval: 500, maxWaitTimeInMs: 300 });
  const start = async () => {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        received.push(`${partition}@${message.offset}=${message.value}`);
        try {
          await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
        } catch {
          // retried by consuming again
        }
      },
    });
  };
  return { consumer, received, start };
}

test('committed offsets and groups survive a broker kill -9 and restart', async () => {
  const topic = 'groups-restart';
  const N = 5;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const send = (tag: string, count: number) =>
    producer.send({ topic, messages: ALL.flatMap((p) => Array.from({ length: count }, (_, i) => ({ partition: p, value: `${tag}:${p}:${i}` }))) });
  const expected = (tag: string, from: number, count: number) =>
    ALL.flatMap((p) => Array.from({ length: count }, (_, i) => `${p}@${from + i}=${tag}:${p}:${i}`)).sort();
  const allAt = async (groupId: string, offset: number) => {
    const c = await committed(groupId, topic);
    return ALL.every((p) => c.get(p) === offset);
  };
  await send('old', N);

  // group A: kafkajs, consumed and committed everything, closed
  const a = kafkajsMember('g-restart-a', topic);
  await a.start();
  await waitFor('group A to commit everything', () => allAt('g-restart-a', N), 45_000, () => a.received.length);
  await a.consumer.disconnect();
  assert.deepEqual(a.received.sort(), expected('old', 0, N));

  // group B: confluent-kafka-python, consumed and committed everything, closed
  const pyArgs = (name: string) => new PyMember(name, ['--client', 'confluent', '--bootstrap', broker.bootstrapServers, '--group', 'g-restart-b', '--topic', topic, '--session-timeout-ms', '6000']);
  const b = pyArgs('b1');
  try {
    await waitFor('group B to commit everything', () => allAt('g-restart-b', N), 45_000, () => ({ received: b.received.length, stderr: b.stderr.slice(-500) }));
  } finally {
    await b.close();
  }
  assert.deepEqual(b.received.map((r) => `${r.p}@${r.o}=${r.v}`).sort(), expected('old', 0, N));

  // group C: kafkajs, still running when the broker dies
  const c = kafkajsMember('g-restart-c', topic);
  await c.start();
  let cLive = true;
  try {
    await waitFor('group C to commit everything', () => allAt('g-restart-c', N), 45_000, () => c.received.length);
    assert.deepEqual([...c.received].sort(), expected('old', 0, N));
    const listedBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
    for (const g of ['g-restart-a', 'g-restart-b', 'g-restart-c']) assert.ok(listedBefore.includes(g), `${g} listed before the kill`);

    await broker.kill('SIGKILL');
    await broker.restart();

    // the groups and their offsets came back from __consumer_offsets
    const listed = await waitFor('the restarted broker to list the groups', async () => {
      const { groups } = await admin.listGroups();
      const ids = groups.map((g) => g.groupId);
      return ['g-restart-a', 'g-restart-b', 'g-restart-c'].every((g) => ids.includes(g)) ? groups : false;
    }, 60_000, () => broker.output().slice(-2000));
    for (const g of listed.filter((x) => x.groupId.startsWith('g-restart-'))) assert.equal(g.protocolType, 'consumer');
    for (const g of ['g-restart-a', 'g-restart-b', 'g-restart-c']) {
      const offs = await committed(g, topic);
      assert.deepEqual(ALL.map((p) => offs.get(p)), ALL.map(() => N), `${g}: committed offsets after the restart`);
    }
    const { groups } = await admin.describeGroups(['g-restart-a', 'g-restart-b']);
    assert.deepEqual(groups.map((g) => [g.groupId, g.state, g.members.length]), [['g-restart-a', 'Empty', 0], ['g-restart-b', 'Empty', 0]]);

    await send('new', 2);

    // C's consumer carries on: it gets the new records and none of the committed ones again
    await waitFor('group C to consume the new records', () => c.received.filter((r) => r.includes('=new:')).length >= 2 * PARTITIONS, 60_000, () => c.received);
    assert.deepEqual([...c.received].sort(), [...expected('old', 0, N), ...expected('new', N, 2)].sort(), 'C consumed each record once');
    await waitFor('group C to commit the new records', () => allAt('g-restart-c', N + 2), 30_000);
    await c.consumer.disconnect();
    cLive = false;

    // new members of A and B resume from the committed offsets
    const a2 = kafkajsMember('g-restart-a', topic);
    await a2.start();
    try {
      await waitFor('group A to consume the new records', () => allAt('g-restart-a', N + 2), 45_000, () => a2.received);
    } finally {
      await a2.consumer.disconnect();
    }
    assert.deepEqual(a2.received.sort(), expected('new', N, 2));

    const b2 = pyArgs('b2');
    try {
      await waitFor('group B to consume the new records', () => allAt('g-restart-b', N + 2), 45_000, () => ({ received: b2.received, stderr: b2.stderr.slice(-500) }));
    } finally {
      await b2.close();
    }
    assert.deepEqual(b2.received.map((r) => `${r.p}@${r.o}=${r.v}`).sort(), expected('new', N, 2));
  } finally {
    if (cLive) await c.consumer.disconnect().catch(() => undefined);
  }
});
