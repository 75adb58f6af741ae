/**
 * `samsa group ...` and `samsa consume --group` against an in-process broker,
 * sharing groups with kafkajs:
 *
 *  - a kafkajs consumer group consumes and commits; `group describe --json`
 *    shows its member (client id, host, partitions decoded from the
 *    assignment bytes) and lag = log end offset - committed offset;
 *  - reset-offsets refuses --execute while the group has members; after the
 *    member leaves, the dry run changes nothing and --execute moves the
 *    committed offsets (checked through kafkajs' admin);
 *  - `samsa consume --group` resumes from the reset position;
 *  - two `samsa consume --group` processes split a 4-partition topic, no
 *    partition (and no record) consumed by both;
 *  - `samsa consume --group` shares one group with a kafkajs member (its
 *    RoundRobinAssigner protocol) and with a kcat / librdkafka member (range);
 *  - `group list` / `group delete`;
 *  - a KIP-848 group (confluent-kafka 2.16, group.protocol=consumer):
 *    describe shows its members with what the broker assigned them and the
 *    lag, list its type; reset-offsets and delete wait until it is empty.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { runCli } from '../../src/cli/main.ts';
import { startTestBroker, REPO_ROOT, type TestBroker } from '../helpers/broker.ts';
import { PyMember } from '../helpers/groups.ts';
import { currentPython } from '../helpers/pyclient.ts';

const BIN = path.join(REPO_ROOT, 'bin', 'samsa.mjs');
let broker: TestBroker;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

before(async () => {
  broker = await startTestBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } });
  kafka = new Kafka({ clientId: 'cg-test', brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING });
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

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-b', broker.bootstrapServers], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
  });
  return { code, out, err };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function committedOffsets(groupId: string, topic: string): Promise<number[]> {
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return t.partitions.sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset));
}

async function produceTo(topic: string, partition: number, values: string[]): Promise<void> {
  await producer.send({ topic, messages: values.map((value) => ({ partition, value })) });
}

async function describe(groupId: string): Promise<any> {
  const r = await cli(['group', 'describe', groupId, '--json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

const TOPIC = 'cg-topic';
const GROUP = 'cg-kafkajs';

test('kafkajs group: describe shows the member and the lag; reset-offsets dry run / execute; consume --group resumes from the reset', async () => {
  let r = await cli(['topic', 'create', TOPIC, '--partitions', '4']);
  assert.equal(r.code, 0, r.err);
  for (let p = 0; p < 4; p++)
    await produceTo(
      TOPIC,
      p,
      [0, 1, 2, 3, 4].map((i) => `p${p}-${i}`),
    );

  const consumer = kafka.consumer({ groupId: GROUP, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
  await waitFor(
    'kafkajs to consume and commit 20 records',
    async () => seen.length >= 20 && (await committedOffsets(GROUP, TOPIC)).every((o) => o === 5),
  );
  consumer.pause([{ topic: TOPIC }]);
  await produceTo(TOPIC, 1, ['late-1', 'late-2', 'late-3']);

  const view = await describe(GROUP);
  assert.equal(view.state, 'Stable');
  assert.equal(view.protocolType, 'consumer');
  assert.equal(view.members.length, 1);
  const m = view.members[0];
  assert.equal(m.clientId, 'cg-test');
  assert.ok(m.host.length > 0);
  assert.deepEqual(m.assignment, [{ topic: TOPIC, partitions: [0, 1, 2, 3] }]);
  const ends = new Map((await admin.fetchTopicOffsets(TOPIC)).map((x) => [x.partition, Number(x.high)]));
  assert.deepEqual(
    view.offsets.map((o: any) => [o.partition, o.committedOffset, o.logEndOffset, o.lag, o.memberId]),
    [
      [0, 5, 5, 0, m.memberId],
      [1, 5, 8, 3, m.memberId],
      [2, 5, 5, 0, m.memberId],
      [3, 5, 5, 0, m.memberId],
    ],
  );
  for (const o of view.offsets) assert.equal(o.lag, ends.get(o.partition)! - o.committedOffset);
  assert.equal(view.totalLag, 3);

  r = await cli(['group', 'describe', GROUP]);
  assert.match(r.out, /State: Stable/);
  assert.match(r.out, /Total lag: 3/);
  assert.match(r.out, new RegExp(`${TOPIC}\\s+1\\s+5\\s+8\\s+3\\s+cg-test`));

  r = await cli(['group', 'list', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).filter((g: any) => g.groupId === GROUP),
    [{ groupId: GROUP, protocolType: 'consumer', state: 'Stable', type: 'classic' }],
  );

  // a group with members: --execute refused, delete refused
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-earliest', '--execute']);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /^samsa: group 'cg-kafkajs' is Stable with 1 member\(s\)/);
  r = await cli(['group', 'delete', GROUP]);
  assert.equal(r.code, 1);
  assert.match(r.err, /NON_EMPTY_GROUP/);
  assert.deepEqual(await committedOffsets(GROUP, TOPIC), [5, 5, 5, 5]);

  await consumer.disconnect();
  await waitFor('the group to be empty', async () => (await describe(GROUP)).state === 'Empty');

  // dry run: the plan, nothing committed
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-earliest', '--json']);
  assert.equal(r.code, 0, r.err);
  const plan = JSON.parse(r.out);
  assert.equal(plan.executed, false);
  assert.deepEqual(
    plan.partitions.map((x: any) => [x.partition, x.currentOffset, x.newOffset]),
    [
      [0, 5, 0],
      [1, 5, 0],
      [2, 5, 0],
      [3, 5, 0],
    ],
  );
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-earliest']);
  assert.match(r.out, /dry run: nothing changed/);
  assert.deepEqual(await committedOffsets(GROUP, TOPIC), [5, 5, 5, 5]);

  // other specs, dry run
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--shift-by', '-2', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).partitions.map((x: any) => x.newOffset),
    [3, 3, 3, 3],
  );
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-offset', '7', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).partitions.map((x: any) => x.newOffset),
    [5, 7, 5, 5],
  );
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-latest', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).partitions.map((x: any) => x.newOffset),
    [5, 8, 5, 5],
  );
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-datetime', '2000-01-01T00:00:00Z', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).partitions.map((x: any) => x.newOffset),
    [0, 0, 0, 0],
  );
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-datetime', 'yesterday']);
  assert.equal(r.code, 1);
  assert.match(r.err, /^samsa: --to-datetime must be an ISO date-time/);
  assert.deepEqual(await committedOffsets(GROUP, TOPIC), [5, 5, 5, 5]);

  // execute
  r = await cli(['group', 'reset-offsets', GROUP, '--topic', TOPIC, '--to-earliest', '--execute']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /committed new offsets for group 'cg-kafkajs'/);
  assert.deepEqual(await committedOffsets(GROUP, TOPIC), [0, 0, 0, 0]);
  assert.equal((await describe(GROUP)).totalLag, 23);

  // samsa joins the same group and reads from the reset position
  r = await cli(['consume', TOPIC, '--group', GROUP, '-e', '--format', '%p:%o:%v\\n']);
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trim().split('\n').sort();
  const expected = [...seen, 'late-1', 'late-2', 'late-3'];
  assert.equal(lines.length, 23);
  assert.deepEqual(lines.map((l) => l.split(':')[2]).sort(), expected.sort());
  assert.deepEqual(await committedOffsets(GROUP, TOPIC), [5, 8, 5, 5]);
  const done = await describe(GROUP);
  assert.equal(done.state, 'Empty');
  assert.equal(done.totalLag, 0);
});

function spawnConsumer(
  topic: string,
  group: string,
): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const proc = spawn(
    process.execPath,
    [
      BIN,
      'consume',
      topic,
      '--group',
      group,
      '--from-beginning',
      '--format',
      '%p:%v\\n',
      '-b',
      broker.bootstrapServers,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  void exited.then((code) => {
    if (code !== 0) process.stderr.write(`consumer exited ${code}: ${err}\n`);
  });
  return { proc, out: () => out, exited };
}

test('two samsa consume --group processes split a 4-partition topic; group delete', async () => {
  const topic = 'cg-split';
  const group = 'cg-split-group';
  let r = await cli(['topic', 'create', topic, '--partitions', '4']);
  assert.equal(r.code, 0, r.err);

  const a = spawnConsumer(topic, group);
  const b = spawnConsumer(topic, group);
  try {
    const view = await waitFor('two members with two partitions each', async () => {
      const v = await describe(group);
      return v.state === 'Stable' &&
        v.members.length === 2 &&
        v.members.every((m: any) => m.assignment.length === 1 && m.assignment[0].partitions.length === 2)
        ? v
        : false;
    });
    const owned = view.members.flatMap((m: any) => m.assignment[0].partitions).sort();
    assert.deepEqual(owned, [0, 1, 2, 3]);
    assert.ok(view.members.every((m: any) => m.clientId === 'samsa-cli'));

    for (let p = 0; p < 4; p++)
      await produceTo(
        topic,
        p,
        [...Array(10).keys()].map((i) => `v${p}-${i}`),
      );
    await waitFor(
      '40 records printed',
      async () => (a.out() + b.out()).trim().split('\n').filter(Boolean).length >= 40,
    );
    await waitFor('all offsets committed', async () => (await committedOffsets(group, topic)).every((o) => o === 10));
  } finally {
    a.proc.kill('SIGTERM');
    b.proc.kill('SIGTERM');
  }
  assert.equal(await a.exited, 0);
  assert.equal(await b.exited, 0);

  const parse = (s: string) =>
    s
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ p: Number(l.split(':')[0]), v: l.split(':')[1] }));
  const ra = parse(a.out());
  const rb = parse(b.out());
  const all = [...ra, ...rb].map((x) => x.v).sort();
  assert.equal(all.length, 40);
  assert.equal(new Set(all).size, 40, 'no record printed twice');
  const pa = new Set(ra.map((x) => x.p));
  const pb = new Set(rb.map((x) => x.p));
  assert.deepEqual(
    [...pa].filter((p) => pb.has(p)),
    [],
    'no partition consumed by both',
  );
  assert.equal(pa.size, 2);
  assert.equal(pb.size, 2);

  // both left on SIGTERM: the group is empty and can be deleted
  await waitFor('the group to be empty', async () => (await describe(group)).state === 'Empty');
  r = await cli(['group', 'delete', group]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `deleted group '${group}'\n`);
  r = await cli(['group', 'list', '--json']);
  assert.deepEqual(
    JSON.parse(r.out).filter((g: any) => g.groupId === group),
    [],
  );
  r = await cli(['group', 'describe', group]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `samsa: group '${group}' does not exist\n`);
});

/** Waits for a Stable group of `n` members that together own partitions 0..3 of `topic`, each owning some. */
async function waitForSplit(group: string, topic: string, n: number): Promise<any> {
  return waitFor(`${n} members sharing ${topic}`, async () => {
    const v = await describe(group);
    if (v.state !== 'Stable' || v.members.length !== n) return false;
    const owned = v.members
      .flatMap((m: any) => m.assignment.filter((t: any) => t.topic === topic).flatMap((t: any) => t.partitions))
      .sort();
    return owned.join() === '0,1,2,3' && v.members.every((m: any) => m.assignment.length > 0) ? v : false;
  });
}

test('samsa consume --group shares a group with a kafkajs member', async () => {
  const topic = 'cg-mixed-kjs';
  const group = 'cg-mixed-kjs-group';
  assert.equal((await cli(['topic', 'create', topic, '--partitions', '4'])).code, 0);
  const consumer = kafka.consumer({ groupId: group, heartbeatInterval: 300 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const kjs: { p: number; v: string }[] = [];
  await consumer.run({
    eachMessage: async ({ partition, message }) => void kjs.push({ p: partition, v: message.value!.toString() }),
  });
  await waitForSplit(group, topic, 1);

  let out = '';
  let err = '';
  const samsa = runCli(
    [
      'consume',
      topic,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      '20',
      '--format',
      '%p:%v\\n',
      '-b',
      broker.bootstrapServers,
    ],
    {
      stdout: (x) => (out += x),
      stderr: (x) => (err += x),
    },
  );
  try {
    const view = await waitForSplit(group, topic, 2);
    assert.equal(view.protocol, 'RoundRobinAssigner');
    assert.ok(view.members.some((m: any) => m.clientId === 'samsa-cli'));
    assert.ok(view.members.some((m: any) => m.clientId === 'cg-test'));
    for (const m of view.members) assert.equal(m.assignment[0].partitions.length, 2);
    for (let p = 0; p < 4; p++)
      await produceTo(
        topic,
        p,
        [...Array(10).keys()].map((i) => `v${p}-${i}`),
      );
    assert.equal(await samsa, 0, err);
    await waitFor('kafkajs to get the other 20 records', async () => kjs.length >= 20);
  } finally {
    await consumer.disconnect();
  }
  const mine = out
    .trim()
    .split('\n')
    .map((l) => ({ p: Number(l.split(':')[0]), v: l.split(':')[1] }));
  assert.equal(mine.length, 20);
  assert.equal(kjs.length, 20);
  const all = [...mine, ...kjs].map((x) => x.v);
  assert.equal(new Set(all).size, 40);
  const pm = new Set(mine.map((x) => x.p));
  assert.deepEqual(
    [...new Set(kjs.map((x) => x.p))].filter((p) => pm.has(p)),
    [],
  );
});

test('samsa consume --group shares a group with a kcat (librdkafka) member', async () => {
  const topic = 'cg-mixed-kcat';
  const group = 'cg-mixed-kcat-group';
  assert.equal((await cli(['topic', 'create', topic, '--partitions', '4'])).code, 0);
  const kcat = spawn(
    'kcat',
    [
      '-b',
      broker.bootstrapServers,
      '-G',
      group,
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'client.id=kcat-member',
      '-q',
      '-u',
      '-f',
      '%p:%s\\n',
      topic,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let kout = '';
  kcat.stdout!.on('data', (d) => (kout += d));
  const kcatExit = new Promise((resolve) => kcat.on('exit', resolve));
  let out = '';
  let err = '';
  try {
    await waitForSplit(group, topic, 1);
    const samsa = runCli(
      [
        'consume',
        topic,
        '--group',
        group,
        '--from-beginning',
        '--max-messages',
        '20',
        '--format',
        '%p:%v\\n',
        '-b',
        broker.bootstrapServers,
      ],
      {
        stdout: (x) => (out += x),
        stderr: (x) => (err += x),
      },
    );
    const view = await waitForSplit(group, topic, 2);
    assert.equal(view.protocol, 'range');
    assert.ok(view.members.some((m: any) => m.clientId === 'kcat-member'));
    for (const m of view.members) assert.equal(m.assignment[0].partitions.length, 2);
    for (let p = 0; p < 4; p++)
      await produceTo(
        topic,
        p,
        [...Array(10).keys()].map((i) => `w${p}-${i}`),
      );
    assert.equal(await samsa, 0, err);
    await waitFor('kcat to get the other 20 records', async () => kout.trim().split('\n').filter(Boolean).length >= 20);
  } finally {
    kcat.kill('SIGTERM');
    await kcatExit;
  }
  const parse = (s: string) =>
    s
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ p: Number(l.split(':')[0]), v: l.split(':')[1] }));
  const mine = parse(out);
  const theirs = parse(kout);
  assert.equal(mine.length, 20);
  assert.equal(theirs.length, 20);
  assert.equal(new Set([...mine, ...theirs].map((x) => x.v)).size, 40);
  const pm = new Set(mine.map((x) => x.p));
  assert.deepEqual(
    [...new Set(theirs.map((x) => x.p))].filter((p) => pm.has(p)),
    [],
  );
});

test('a KIP-848 group of confluent-kafka 2.16 members: describe, list, reset-offsets and delete', async () => {
  const topic = 'cg-848';
  const group = 'cg-848-group';
  assert.equal((await cli(['topic', 'create', topic, '--partitions', '4'])).code, 0);
  for (let p = 0; p < 4; p++)
    await produceTo(
      topic,
      p,
      [...Array(5).keys()].map((i) => `k${p}-${i}`),
    );
  const python = currentPython();
  const start = (name: string) =>
    new PyMember(
      name,
      [
        '--client',
        'confluent',
        '--bootstrap',
        broker.bootstrapServers,
        '--group',
        group,
        '--topic',
        topic,
        '--group-protocol',
        'consumer',
      ],
      python,
    );
  const members = [start('m848-a'), start('m848-b')];
  try {
    // Stable, both members own what the broker says they were assigned, all 4 partitions, all 20 records committed
    const view = await waitFor('2 members sharing the topic with everything committed', async () => {
      const v = await describe(group);
      if (v.state !== 'Stable' || v.members.length !== 2) return false;
      for (const pm of members) {
        const m = v.members.find((x: any) => x.clientId === pm.name);
        const tps = (m?.assignment ?? [])
          .flatMap((t: any) => t.partitions.map((p: number) => `${t.topic}:${p}`))
          .sort();
        if (!m || tps.length === 0 || JSON.stringify(tps) !== JSON.stringify(pm.ownedTps ?? null)) return false;
      }
      const owned = v.members.flatMap((m: any) => m.assignment.flatMap((t: any) => t.partitions)).sort();
      return owned.join() === '0,1,2,3' &&
        v.offsets.length === 4 &&
        v.offsets.every((o: any) => o.committedOffset === 5)
        ? v
        : false;
    });
    assert.equal(view.groupType, 'consumer');
    assert.equal(view.protocolType, 'consumer');
    assert.equal(view.totalLag, 0);
    for (const m of view.members) {
      assert.ok(m.memberEpoch > 0);
      assert.deepEqual(m.targetAssignment, m.assignment);
    }
    for (const o of view.offsets) {
      assert.deepEqual([o.logEndOffset, o.lag], [5, 0]);
      assert.equal(
        o.memberId,
        view.members.find((m: any) => m.assignment.some((t: any) => t.partitions.includes(o.partition))).memberId,
      );
    }
    let r = await cli(['group', 'describe', group]);
    assert.match(r.out, /^Group: cg-848-group\nType: consumer\nState: Stable\n/);
    assert.match(r.out, /Members: 2\n/);
    assert.match(r.out, /\sm848-a\s/);

    r = await cli(['group', 'list', '--json']);
    assert.deepEqual(
      JSON.parse(r.out).filter((g: any) => g.groupId === group),
      [{ groupId: group, protocolType: 'consumer', state: 'Stable', type: 'consumer' }],
    );

    r = await cli(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--execute']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^samsa: group 'cg-848-group' is Stable with 2 member\(s\)/);
    r = await cli(['group', 'delete', group]);
    assert.equal(r.code, 1);
    assert.match(r.err, /NON_EMPTY_GROUP/);
  } finally {
    await Promise.all(members.map((m) => m.close()));
  }
  await waitFor('the group to be empty', async () => {
    const v = await describe(group);
    return v.groupType === 'consumer' && v.state === 'Empty' && v.members.length === 0;
  });
  let r = await cli(['group', 'reset-offsets', group, '--topic', topic, '--to-earliest', '--execute']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(await committedOffsets(group, topic), [0, 0, 0, 0]);
  assert.equal((await describe(group)).totalLag, 20);
  r = await cli(['group', 'delete', group]);
  assert.equal(r.code, 0, r.err);
  r = await cli(['group', 'describe', group]);
  assert.equal(r.code, 1);
  assert.equal(r.err, `samsa: group '${group}' does not exist\n`);
});
