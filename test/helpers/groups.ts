/**
 * Shared pieces of the consumer group interop tests (test/interop/groups-*.test.ts):
 * a broker with kafkajs admin + producer for the group tests, python group
 * members (test/interop/py/groups_consumer.py, one process each, reporting
 * JSON lines), kafkajs group members, and views of a group's state and
 * committed offsets.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AssignerProtocol,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Consumer,
  type KafkaConfig,
  type Producer,
} from 'kafkajs';
import { startTestBroker, type StartOptions, type TestBroker } from './broker.ts';
import type { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode, errorName } from '../../src/protocol/error-codes.ts';

/** Debian's python, which has python3-confluent-kafka and python3-kafka (SAMSA_TEST_PYTHON overrides it). */
export const PY = process.env.SAMSA_TEST_PYTHON ?? '/usr/bin/python3';
/** test/interop/py: the python clients the group tests run. */
export const PY_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'interop', 'py');
/** The group tests' topics have this many partitions, ALL = [0, 1, ..., PARTITIONS - 1]. */
export const PARTITIONS = 6;
export const ALL = [...Array(PARTITIONS).keys()];

/** Polls fn until it returns something other than undefined / false (its errors count as not yet). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 45_000,
  diag?: () => unknown,
): Promise<T> {
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
      throw new Error(
        `timed out waiting for ${what}` +
          (lastErr ? ` (last error: ${lastErr})` : '') +
          (diag ? `\n${JSON.stringify(diag(), null, 1)}` : ''),
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---------------------------------------------------------------- broker and clients

export interface GroupsCluster<B extends TestBroker = TestBroker> {
  broker: B;
  kafka: Kafka;
  admin: Admin;
  producer: Producer;
}

export interface GroupsClusterOptions<B extends TestBroker> {
  /** Default startTestBroker (in this process). */
  startBroker?: (opts: StartOptions) => Promise<B>;
  /** kafkajs retry settings. */
  retry?: KafkaConfig['retry'];
  /** Ignore errors disconnecting the producer and admin in after(). */
  quietDisconnect?: boolean;
  /** More broker properties. */
  overrides?: Record<string, string>;
}

/**
 * Registers before() / after() hooks that start a broker (no initial rebalance
 * delay, 1 partition by default) with a connected kafkajs admin and producer,
 * and stop them. The returned object's fields are set once before() has run.
 */
export function useGroupsCluster<B extends TestBroker = TestBroker>(
  clientId: string,
  opts: GroupsClusterOptions<B> = {},
): GroupsCluster<B> {
  const c = {} as Partial<GroupsCluster<B>>;
  const startBroker = opts.startBroker ?? (startTestBroker as unknown as (o: StartOptions) => Promise<B>);
  before(async () => {
    c.broker = await startBroker({
      overrides: { 'group.initial.rebalance.delay.ms': '0', 'num.partitions': '1', ...opts.overrides },
    });
    c.kafka = new Kafka({
      clientId,
      brokers: [c.broker.bootstrapServers],
      logLevel: logLevel.NOTHING,
      ...(opts.retry ? { retry: opts.retry } : {}),
    });
    c.admin = c.kafka.admin();
    await c.admin.connect();
    c.producer = c.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await c.producer.connect();
  });
  after(async () => {
    const quiet = <T>(p: Promise<T> | undefined) => (opts.quietDisconnect ? p?.catch(() => undefined) : p);
    await quiet(c.producer?.disconnect());
    await quiet(c.admin?.disconnect());
    await c.broker?.close();
  });
  return c as GroupsCluster<B>;
}

// ---------------------------------------------------------------- group state

export interface GroupView {
  state: string;
  protocol: string;
  members: { memberId: string; clientId: string; partitions: number[] }[];
}

/** DescribeGroups, with each member's assignment of `topic` decoded (sorted partitions). */
export async function describeGroup(admin: Admin, groupId: string, topic: string): Promise<GroupView> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return {
    state: g.state,
    protocol: g.protocol,
    members: g.members.map((m) => {
      const a = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
      return {
        memberId: m.memberId,
        clientId: m.clientId,
        partitions: [...(a?.assignment[topic] ?? [])].sort((x, y) => x - y),
      };
    }),
  };
}

/**
 * ConsumerGroupDescribe (KIP-848 groups), in describeGroup's form: each
 * member's current assignment of `topic` (sorted partitions), the server
 * assignor as the protocol. A group the coordinator does not have as a
 * consumer-protocol group is Dead with no members.
 */
export async function describeConsumerGroup(client: KafkaClient, groupId: string, topic: string): Promise<GroupView> {
  const res = await client.groupRequestRaw(groupId, 'ConsumerGroupDescribe', {
    groupIds: [groupId],
    includeAuthorizedOperations: false,
  });
  const g = res.groups[0];
  if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return { state: 'Dead', protocol: '', members: [] };
  if (g.errorCode !== ErrorCode.NONE)
    throw new Error(`ConsumerGroupDescribe ${groupId}: ${errorName(g.errorCode)} ${g.errorMessage ?? ''}`);
  return {
    state: g.groupState,
    protocol: g.assignorName,
    members: g.members.map(
      (m: {
        memberId: string;
        clientId: string;
        assignment: { topicPartitions: { topicName: string; partitions: number[] }[] };
      }) => ({
        memberId: m.memberId,
        clientId: m.clientId,
        partitions: m.assignment.topicPartitions
          .filter((t) => t.topicName === topic)
          .flatMap((t) => t.partitions)
          .sort((x, y) => x - y),
      }),
    ),
  };
}

/** The group's committed offsets of `topic` (OffsetFetch), partition -> offset (-1: none). */
export async function committed(admin: Admin, groupId: string, topic: string): Promise<Map<number, number>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(res[0].partitions.map((p) => [p.partition, Number(p.offset)]));
}

/** Polls the group's committed offsets (OffsetFetch) and records any that go backwards. */
export class CommitWatcher {
  readonly last = new Map<number, number>();
  readonly regressions: string[] = [];
  samples = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly admin: Admin,
    private readonly groupId: string,
    private readonly topic: string,
  ) {
    this.loop = (async () => {
      while (this.running) {
        await this.sample().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300)); // the sampling period of a watcher, not a wait for an event
      }
    })();
  }

  async sample(): Promise<Map<number, number>> {
    const res = await this.admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] });
    this.samples++;
    for (const { partition, offset } of res[0].partitions) {
      const o = Number(offset);
      const prev = this.last.get(partition);
      if (prev !== undefined && o < prev)
        this.regressions.push(`partition ${partition}: committed offset went from ${prev} to ${o}`);
      if (prev === undefined || o > prev) this.last.set(partition, o);
    }
    return this.last;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

// ---------------------------------------------------------------- python members

/** A JSON line of groups_consumer.py. */
export interface PyEvent {
  ev: string;
  ok?: boolean;
  partitions?: number[];
  tps?: string[];
  t?: string;
  p?: number;
  o?: number;
  v?: string;
  generation?: number;
  msg?: string;
  lib?: string;
}

/** A group member process running test/interop/py/groups_consumer.py. */
export class PyMember {
  readonly events: PyEvent[] = [];
  owned: number[] | undefined;
  /** Owned partitions as "topic:partition", sorted. */
  ownedTps: string[] | undefined;
  readonly received: { t?: string; p: number; o: number; v: string }[] = [];
  /** librdkafka's version (confluent members). */
  lib: string | undefined;
  /** The LeaveGroup response arrived (confluent members with --debug-cgrp). */
  left = false;
  /** close() returned in the process. */
  closed = false;
  exited = false;
  exitCode: number | null = null;
  stderr = '';
  private readonly proc: ChildProcess;
  private readonly exit: Promise<number | null>;

  /** python: the interpreter (default PY; currentPython() in test/helpers/pyclient.ts for the current confluent-kafka). */
  constructor(
    readonly name: string,
    argv: string[],
    python: string = PY,
  ) {
    this.proc = spawn(python, [path.join(PY_DIR, 'groups_consumer.py'), '--client-id', name, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exit = new Promise((resolve) =>
      this.proc.on('exit', (code) => {
        this.exited = true;
        this.exitCode = code;
        resolve(code);
      }),
    );
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let e: PyEvent;
      try {
        e = JSON.parse(line);
      } catch {
        return;
      }
      this.events.push(e);
      if (e.ev === 'owned') {
        this.owned = e.partitions;
        this.ownedTps = e.tps;
      }
      if (e.ev === 'rec') this.received.push({ t: e.t, p: e.p!, o: e.o!, v: e.v! });
      if (e.ev === 'version') this.lib = e.lib;
      if (e.ev === 'left') this.left = true;
      if (e.ev === 'closed') this.closed = true;
    });
    this.proc.stderr!.on('data', (d) => {
      this.stderr += d;
    });
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

  /** Asks the process to close its consumer (clean close) without waiting. */
  requestClose(): void {
    if (!this.exited) this.proc.stdin!.end('close\n');
  }

  /** The exit code once the process has exited, or undefined if it is still running after timeoutMs. */
  async waitExit(timeoutMs: number): Promise<number | null | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const r = await Promise.race([this.exit, timeout]);
    clearTimeout(timer);
    return r;
  }

  /** SIGKILL: no LeaveGroup, the broker must notice by the session timeout. */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGKILL');
    await this.exit;
  }
}

export interface PyGroupScenario {
  topic: string;
  groupId: string;
  /** groups_consumer.py --client: confluent or kafka-python. */
  client: string;
  /** partition.assignment.strategy. */
  strategy: string;
  /** More groups_consumer.py arguments. */
  extraArgs?: string[];
  /** The members' python (default PY). */
  python?: string;
  /** The group as the broker describes it (default describeGroup: DescribeGroups, classic groups). */
  view?: (groupId: string, topic: string) => Promise<GroupView>;
  /** What failure diagnostics show of a member besides its name, owned partitions and stderr. */
  memberDiag: (m: PyMember) => object;
}

/**
 * Python members (groups_consumer.py processes) share a PARTITIONS-partition
 * topic: 3 members, a 4th joins, one leaves cleanly (LeaveGroup), one is
 * killed (the session times out, 6 s). After each rebalance the group is
 * Stable with exactly the live members, each owning what the broker assigned
 * it, no partition owned twice; 2 records then produced to every partition
 * each reach exactly one live member, its owner. The committed offsets
 * (OffsetFetch, read the whole time) never go backwards and end at the log
 * end offsets.
 */
export async function pyGroupRebalanceScenario(cluster: GroupsCluster, o: PyGroupScenario): Promise<void> {
  const { broker, admin, producer } = cluster;
  const { topic, groupId } = o;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const members: PyMember[] = [];
  const live = () => members.filter((m) => !m.exited);
  const watcher = new CommitWatcher(admin, groupId, topic);
  const start = (name: string) => {
    const m = new PyMember(
      name,
      [
        '--client',
        o.client,
        '--bootstrap',
        broker.bootstrapServers,
        '--group',
        groupId,
        '--topic',
        topic,
        '--strategy',
        o.strategy,
        '--session-timeout-ms',
        '6000',
        ...(o.extraArgs ?? []),
      ],
      o.python,
    );
    members.push(m);
    return m;
  };
  const diag = () => ({
    members: members.map((m) => ({
      name: m.name,
      exited: m.exited,
      owned: m.owned,
      ...o.memberDiag(m),
      stderr: m.stderr.slice(-500),
    })),
  });

  /**
   * Waits until the broker reports the group Stable with exactly the live
   * members, each live process owns what the group says it was assigned,
   * and every partition is assigned; then checks nobody shares a partition.
   */
  const settle = async (label: string) => {
    let view: GroupView | undefined;
    await waitFor(
      `${label}: the group to settle with ${live().length} members`,
      async () => {
        view = await (o.view ? o.view(groupId, topic) : describeGroup(admin, groupId, topic));
        if (view.state !== 'Stable' || view.members.length !== live().length) return false;
        const fromBroker = view.members.map((m) => JSON.stringify(m.partitions)).sort();
        const fromMembers = live()
          .map((m) => JSON.stringify(m.owned ?? null))
          .sort();
        if (JSON.stringify(fromBroker) !== JSON.stringify(fromMembers)) return false;
        const covered = new Set(view.members.flatMap((m) => m.partitions));
        return covered.size === PARTITIONS;
      },
      60_000,
      () => ({ view, ...diag() }),
    );
    const owners = new Map<number, string[]>();
    for (const m of live()) for (const p of m.owned!) owners.set(p, [...(owners.get(p) ?? []), m.name]);
    for (const p of ALL)
      assert.equal(owners.get(p)?.length, 1, `${label}: partition ${p} owned by ${JSON.stringify(owners.get(p))}`);
    for (const m of live())
      assert.ok(m.owned!.length >= 1, `${label}: ${m.name} owns nothing while there are enough partitions`);
  };

  /** Produces 2 records to every partition; each must reach exactly one live member, its owner. */
  const produceAndCheck = async (label: string) => {
    const values: { p: number; v: string }[] = [];
    for (const p of ALL) for (let i = 0; i < 2; i++) values.push({ p, v: `${label}:${p}:${i}` });
    await producer.send({ topic, messages: values.map(({ p, v }) => ({ partition: p, value: v })) });
    const receivers = () => {
      const got = new Map<string, string[]>();
      for (const m of members)
        for (const r of m.received) if (r.v.startsWith(`${label}:`)) got.set(r.v, [...(got.get(r.v) ?? []), m.name]);
      return got;
    };
    await waitFor(
      `${label}: all ${values.length} records to be consumed`,
      () => receivers().size === values.length,
      45_000,
      () => ({ received: [...receivers().keys()], ...diag() }),
    );
    const got = receivers();
    for (const { p, v } of values) {
      const who = got.get(v)!;
      assert.equal(who.length, 1, `${label}: ${v} consumed by ${JSON.stringify(who)}`);
      const owner = live().find((m) => m.owned!.includes(p));
      assert.equal(
        who[0],
        owner?.name,
        `${label}: ${v} consumed by ${who[0]}, but partition ${p} is assigned to ${owner?.name}: ${JSON.stringify(diag())}`,
      );
    }
  };

  try {
    // 1. three members share six partitions
    start('m1');
    start('m2');
    start('m3');
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
    await waitFor(
      'committed offsets to reach the log end offsets',
      async () => {
        const c = await watcher.sample();
        return ends.every((e) => c.get(e.partition) === Number(e.high));
      },
      30_000,
      () => ({ committed: [...watcher.last], ends }),
    );
    for (const e of ends) assert.equal(Number(e.high), 8, `partition ${e.partition}: 4 rounds of 2 records`);
    assert.ok(watcher.samples > 5, 'the committed offsets were read over time');
    assert.deepEqual(watcher.regressions, []);
  } finally {
    await watcher.stop();
    await Promise.all(members.map((m) => m.close().catch(() => m.kill())));
  }
}

// ---------------------------------------------------------------- kafkajs members

export interface KafkajsMemberOptions {
  /** Commit a record only if its offset is below commitBelow(partition) (default: commit every record). */
  commitBelow?: (p: number) => number;
  sessionTimeout?: number;
  rebalanceTimeout?: number;
}

/** A kafkajs group member that records its joins and records and commits each record it consumes. */
export class KafkajsMember {
  readonly consumer: Consumer;
  memberId: string | undefined;
  owned: number[] | undefined;
  joins = 0;
  readonly received: { p: number; o: number; v: string }[] = [];
  stopped = false;
  private readonly commitBelow?: (p: number) => number;

  constructor(
    readonly name: string,
    kafka: Kafka,
    groupId: string,
    readonly topic: string,
    opts: KafkajsMemberOptions = {},
  ) {
    this.commitBelow = opts.commitBelow;
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: opts.sessionTimeout ?? 6000,
      rebalanceTimeout: opts.rebalanceTimeout ?? 10_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 300,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.joins++;
      this.memberId = e.payload.memberId;
      this.owned = [...(e.payload.memberAssignment[topic] ?? [])].sort((x, y) => x - y);
    });
  }

  async start(fromBeginning = true): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const o = Number(message.offset);
        this.received.push({ p: partition, o, v: message.value!.toString() });
        if (this.commitBelow && o >= this.commitBelow(partition)) return;
        try {
          await this.consumer.commitOffsets([{ topic: this.topic, partition, offset: String(o + 1) }]);
        } catch {
          // a commit racing a rebalance fails; the next owner consumes the record again
        }
      },
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.consumer.disconnect();
  }
}

/** Records as `partition@offset=value`, the form the tests compare. */
export const recordKeys = (received: { p: number; o: number; v: string }[]) =>
  received.map((r) => `${r.p}@${r.o}=${r.v}`);

// ---------------------------------------------------------------- KIP-848 members

/**
 * A consumer-protocol (KIP-848) group member made of ConsumerGroupHeartbeat
 * requests sent with Samsa's own client (src/client): none of the installed
 * clients (librdkafka 2.0.2, kafkajs, kafka-python) speaks KIP-848. It joins
 * with a topic subscription, heartbeats every `intervalMs` reporting the
 * partitions it owns, takes the assignment the coordinator sends (giving up
 * revoked partitions at once), and leaves with member epoch -1. It fetches no
 * records.
 */
export class Kip848Member {
  /** ConsumerGroupHeartbeat v1 (KIP-1082): the member makes its own id. */
  memberId: string = randomUUID();
  epoch = 0;
  /** Owned partitions by topic id. */
  private readonly owned = new Map<string, number[]>();
  readonly errors: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KafkaClient,
    readonly groupId: string,
    private readonly topics: string[],
    private readonly intervalMs = 300,
  ) {}

  /** Owned partitions as "topic:partition", sorted (topic names from the client's metadata). */
  async ownedTps(): Promise<string[]> {
    const md = await this.client.metadata(null);
    const names = new Map(md.topics.map((t) => [t.topicId, t.name]));
    const out: string[] = [];
    for (const [id, ps] of this.owned) for (const p of ps) out.push(`${names.get(id) ?? id}:${p}`);
    return out.sort();
  }

  private async heartbeat(): Promise<void> {
    const joining = this.epoch === 0;
    const res = await this.client.groupRequestRaw(this.groupId, 'ConsumerGroupHeartbeat', {
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: this.epoch,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: joining ? 10_000 : -1,
      subscribedTopicNames: joining ? this.topics : null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: joining ? [] : [...this.owned].map(([topicId, partitions]) => ({ topicId, partitions })),
    });
    if (res.errorCode !== ErrorCode.NONE) {
      this.errors.push(`${errorName(res.errorCode)}: ${res.errorMessage}`);
      return;
    }
    if (res.memberId) this.memberId = res.memberId;
    this.epoch = res.memberEpoch;
    if (res.assignment) {
      this.owned.clear();
      for (const tp of res.assignment.topicPartitions)
        this.owned.set(
          tp.topicId,
          [...tp.partitions].sort((a: number, b: number) => a - b),
        );
    }
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.heartbeat().catch((e) => {
          this.errors.push(String(e));
        });
        await new Promise((r) => setTimeout(r, this.intervalMs)); // the member's heartbeat interval, as a client keeps it
      }
    })();
  }

  /** Stops heartbeating (without leaving). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Stops heartbeating and leaves the group (member epoch -1); resolves with the leave's error code. */
  async leave(): Promise<number> {
    await this.stop();
    const res = await this.client.groupRequestRaw(this.groupId, 'ConsumerGroupHeartbeat', {
      groupId: this.groupId,
      memberId: this.memberId,
      memberEpoch: -1,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: -1,
      subscribedTopicNames: null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      topicPartitions: null,
    });
    this.owned.clear();
    this.epoch = -1;
    return res.errorCode;
  }
}
