/**
 * Static group membership (KIP-345, `group.instance.id`) with
 * confluent-kafka-python / librdkafka 2.0:
 *
 *  - a static member that is killed and restarted with the same instance id
 *    within the session timeout gets its partitions back without a
 *    rebalance: its JoinGroup answer carries the same generation, the other
 *    member sees no revoke / assign / rejoin, and the group's assignment is
 *    unchanged (only the member id of the instance changes);
 *  - a static member that stays away longer than the session timeout is
 *    removed, and its partitions move to the remaining member.
 *
 * Generations are read from librdkafka's cgrp debug log ("JoinGroup response:
 * GenerationId N"), reported by test/interop/py/groups_consumer.py.
 */
import { test, before, after } from 'node:test';
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

interface PyEvent { ev: string; ok?: boolean; partitions?: number[]; p?: number; o?: number; v?: string; generation?: number; msg?: string }

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

// ---------------------------------------------------------------- scenario

let broker: TestBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

before(async () => {
  broker = await startTestBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '1' } });
  kafka = new Kafka({ clientId: 'groups-static-test', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING });
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

/** The generations of a member's successful JoinGroup answers. */
const generations = (m: PyMember) => m.events.filter((e) => e.ev === 'join' && e.ok).map((e) => e.generation!);

test('a restarted static member rejoins without a rebalance; one that stays away past the session timeout is replaced', async () => {
  const topic = 'groups-static';
  const groupId = 'g-static';
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const members: PyMember[] = [];
  const start = (name: string, instanceId: string) => {
    const m = new PyMember(name, [
      '--client', 'confluent', '--bootstrap', broker.bootstrapServers, '--group', groupId, '--topic', topic,
      '--strategy', 'range', '--session-timeout-ms', '10000', '--instance-id', instanceId, '--debug-cgrp',
    ]);
    members.push(m);
    return m;
  };
  const diag = () => members.map((m) => ({ name: m.name, exited: m.exited, owned: m.owned, events: m.events.filter((e) => e.ev !== 'rec' && e.ev !== 'commit').slice(-6), stderr: m.stderr.slice(-300) }));
  const settled = async (live: PyMember[]) => {
    const view = await describeGroup(admin, groupId, topic);
    if (view.state !== 'Stable' || view.members.length !== live.length) return false;
    const fromBroker = view.members.map((m) => JSON.stringify(m.partitions)).sort();
    const fromMembers = live.map((m) => JSON.stringify(m.owned ?? null)).sort();
    if (JSON.stringify(fromBroker) !== JSON.stringify(fromMembers)) return false;
    return new Set(view.members.flatMap((m) => m.partitions)).size === PARTITIONS ? view : false;
  };
  const produceAndCheck = async (label: string, owners: PyMember[]) => {
    await producer.send({ topic, messages: ALL.map((p) => ({ partition: p, value: `${label}:${p}` })) });
    await waitFor(`${label}: every partition's record to be consumed`, () =>
      ALL.every((p) => owners.some((m) => m.received.some((r) => r.v === `${label}:${p}`))), 45_000, diag);
    for (const p of ALL) {
      const who = members.filter((m) => m.received.some((r) => r.v === `${label}:${p}`)).map((m) => m.name);
      const owner = owners.find((m) => m.owned!.includes(p))!;
      assert.deepEqual(who, [owner.name], `${label}: partition ${p}'s record consumed by ${who}, its owner is ${owner.name}`);
    }
  };

  try {
    const a = start('static-a', 'instance-a');
    const b = start('static-b', 'instance-b');
    const before = await waitFor('two static members to settle', () => settled([a, b]), 60_000, diag);
    await produceAndCheck('before', [a, b]);
    const genA = generations(a).at(-1);
    const genB = generations(b).at(-1);
    assert.ok(genA !== undefined && genA > 0, `a's JoinGroup generation from the cgrp log: ${JSON.stringify(generations(a))}`);
    assert.equal(genB, genA, 'both members are in the same generation');
    const aOwned = a.owned!;
    const bEventsBefore = b.events.filter((e) => e.ev === 'owned' || e.ev === 'join').length;
    const memberIdOf = (v: GroupView, partitions: number[]) => v.members.find((m) => JSON.stringify(m.partitions) === JSON.stringify(partitions))?.memberId;
    const aMemberId = memberIdOf(before, aOwned);
    const bMemberId = memberIdOf(before, b.owned!);

    // restart instance-a within the session timeout: no LeaveGroup was sent
    await a.kill();
    const a2 = start('static-a2', 'instance-a');
    await waitFor('the restarted instance to own its old partitions', () => JSON.stringify(a2.owned) === JSON.stringify(aOwned), 30_000, diag);
    const after = await waitFor('the group to be stable with the restarted instance', () => settled([a2, b]), 30_000, diag);
    assert.deepEqual(generations(a2), [genA], 'the rejoining static member was answered with the same generation');
    assert.equal(b.events.filter((e) => e.ev === 'owned' || e.ev === 'join').length, bEventsBefore, `b saw no rebalance: ${JSON.stringify(b.events.slice(-5))}`);
    assert.equal(memberIdOf(after, b.owned!), bMemberId, "b's membership is untouched");
    const a2MemberId = memberIdOf(after, aOwned);
    assert.ok(a2MemberId, 'the instance keeps its assignment');
    assert.notEqual(a2MemberId, aMemberId, 'the restarted instance got a new member id');
    await produceAndCheck('rejoined', [a2, b]);

    // now instance-a goes away for longer than the session timeout (10 s): it is removed
    await a2.kill();
    await waitFor('b to take over every partition after the session timeout', () => settled([b]), 45_000, diag);
    assert.deepEqual(b.owned, ALL);
    assert.ok(generations(b).at(-1)! > genA, `the removal was a rebalance into a new generation: ${JSON.stringify(generations(b))}`);
    await produceAndCheck('replaced', [b]);
  } finally {
    await Promise.all(members.map((m) => m.close().catch(() => m.kill())));
  }
});
