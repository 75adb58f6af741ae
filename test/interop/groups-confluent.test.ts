/**
 * Consumer groups with confluent-kafka-python (librdkafka), once with the
 * eager `range` assignor and once with `cooperative-sticky`:
 *
 *  - 3 member processes share a 6-partition topic, no partition owned twice;
 *  - a 4th member joins, one leaves (clean close: LeaveGroup), one is killed
 *    (SIGKILL: the session times out); after each rebalance the records then
 *    produced to all 6 partitions are each consumed by exactly one remaining
 *    member, the one the group assigned that partition to;
 *  - the committed offsets (read with OffsetFetch the whole time) never go
 *    backwards, and end at the log end offsets.
 *
 * Each member is a process running test/interop/py/groups_consumer.py, which
 * reports its owned partitions and records as JSON lines.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AssignerProtocol, Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';

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

interface GroupView { state: string; members: { memberId: string; clientId: string; partitions: number[] }[] }

async function describeGroup(admin: Admin, groupId: string, topic: string): Promise<GroupView> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return {
    state: g.state,
    members: g.members.map((m) => {
      const a = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
      return { memberId: m.memberId, clientId: m.clientId, partitions: [...(a?.assignment[topic] ?? [])].sort((x, y) => x - y) };
    }),
  };
}

/** Polls the group's committed offsets (OffsetFetch) and records any that go backwards. */
class CommitWatcher {
  readonly last = new Map<number, number>();
  readonly regressions: string[] = [];
  samples = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly admin: Admin, private readonly groupId: string, private readonly topic: string) {
    this.loop = (async () => {
      while (this.running) {
        await this.sample().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300));
      }
    })();
  }

  async sample(): Promise<Map<number, number>> {
    const res = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    this.samples++;
    for (const { partition, offset } of res[0].partitions) {
      const o = Number(offset);
      const prev = this.last.get(partition);
      if (prev !== undefined && o < prev) this.regressions.push(`partition ${partition}: committed offset went from ${prev} to ${o}`);
      if (prev === undefined || o > prev) this.last.set(partition, o);
    }
    return this.last;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

// ---------------------------------------------------------------- scenario

let broker: TestBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

before(async () => {
  broker = await startTestBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '1' } });
  kafka = new Kafka({ clientId: 'groups-confluent-test', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  await admin.connect();
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
});

after(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await broker?.close();
});

for (const strategy of ['range', 'cooperative-sticky']) {
  describe(`confluent-kafka-python, partition.assignment.strategy=${strategy}`, () => {
    test('members share the partitions; join, leave and kill rebalance; every partition is consumed again; commits never go backwards', async () => {
      const topic = `groups-ck-${strategy}`;
      const groupId = `g-ck-${strategy}`;
      await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
      const members: PyMember[] = [];
      const live = () => members.filter((m) => !m.exited);
      const watcher = new CommitWatcher(admin, groupId, topic);
      const start = (name: string) => {
        const m = new PyMember(name, [
          '--client', 'confluent', '--bootstrap', broker.bootstrapServers, '--group', groupId, '--topic', topic,
          '--strategy', strategy, '--session-timeout-ms', '6000', '--debug-cgrp',
        ]);
        members.push(m);
        return m;
      };
      const diag = () => ({
        members: members.map((m) => ({ name: m.name, exited: m.exited, owned: m.owned, history: m.events.filter((e) => e.ev !== 'rec' && e.ev !== 'commit').slice(-8), stderr: m.stderr.slice(-500) })),
      });

      /**
       * Waits until the broker reports the group Stable with exactly the live
       * members, each live process owns what the group says it was assigned,
       * and every partition is assigned; then checks nobody shares a partition.
       */
      const settle = async (label: string) => {
        let view: GroupView | undefined;
        await waitFor(`${label}: the group to settle with ${live().length} members`, async () => {
          view = await describeGroup(admin, groupId, topic);
          if (view.state !== 'Stable' || view.members.length !== live().length) return false;
          const fromBroker = view.members.map((m) => JSON.stringify(m.partitions)).sort();
          const fromMembers = live().map((m) => JSON.stringify(m.owned ?? null)).sort();
          if (JSON.stringify(fromBroker) !== JSON.stringify(fromMembers)) return false;
          const covered = new Set(view.members.flatMap((m) => m.partitions));
          return covered.size === PARTITIONS;
        }, 60_000, () => ({ view, ...diag() }));
        const owners = new Map<number, string[]>();
        for (const m of live()) for (const p of m.owned!) owners.set(p, [...(owners.get(p) ?? []), m.name]);
        for (const p of ALL) assert.equal(owners.get(p)?.length, 1, `${label}: partition ${p} owned by ${JSON.stringify(owners.get(p))}`);
        for (const m of live()) assert.ok(m.owned!.length >= 1, `${label}: ${m.name} owns nothing while there are enough partitions`);
      };

      /** Produces 2 records to every partition; each must reach exactly one live member, its owner. */
      const produceAndCheck = async (label: string) => {
        const values: { p: number; v: string }[] = [];
        for (const p of ALL) for (let i = 0; i < 2; i++) values.push({ p, v: `${label}:${p}:${i}` });
        await producer.send({ topic, messages: values.map(({ p, v }) => ({ partition: p, value: v })) });
        const receivers = () => {
          const got = new Map<string, string[]>();
          for (const m of members) for (const r of m.received) if (r.v.startsWith(`${label}:`)) got.set(r.v, [...(got.get(r.v) ?? []), m.name]);
          return got;
        };
        await waitFor(`${label}: all ${values.length} records to be consumed`, () => receivers().size === values.length, 45_000, () => ({ received: [...receivers().keys()], ...diag() }));
        const got = receivers();
        for (const { p, v } of values) {
          const who = got.get(v)!;
          assert.equal(who.length, 1, `${label}: ${v} consumed by ${JSON.stringify(who)}`);
          const owner = live().find((m) => m.owned!.includes(p));
          assert.equal(who[0], owner?.name, `${label}: ${v} consumed by ${who[0]}, but partition ${p} is assigned to ${owner?.name}`);
        }
      };

      try {
        // 1. three members share six partitions
        start('m1'); start('m2'); start('m3');
        await settle('3 members');
        await produceAndCheck('three');

        // 2a. a fourth member joins
        const m4 = start('m4');
        await settle('after m4 joined');
        assert.ok(m4.owned!.length >= 1);
        await produceAndCheck('joined');

        // 2b. a member leaves cleanly
        await members[0].close();
        await settle('after m1 left');
        await produceAndCheck('left');

        // 2c. a member is killed: the broker must expire it by the session timeout
        await members[1].kill();
        await settle('after m2 was killed');
        assert.equal(live().length, 2);
        await produceAndCheck('killed');

        // the survivors commit everything they consumed: committed = log end, and never went backwards
        const ends = await admin.fetchTopicOffsets(topic);
        await waitFor('committed offsets to reach the log end offsets', async () => {
          const c = await watcher.sample();
          return ends.every((e) => c.get(e.partition) === Number(e.high));
        }, 30_000, () => ({ committed: [...watcher.last], ends }));
        for (const e of ends) assert.equal(Number(e.high), 8, `partition ${e.partition}: 4 rounds of 2 records`);
        assert.ok(watcher.samples > 5, 'the committed offsets were read over time');
        assert.deepEqual(watcher.regressions, []);
      } finally {
        await watcher.stop();
        await Promise.all(members.map((m) => m.close().catch(() => m.kill())));
      }
    });
  });
}
