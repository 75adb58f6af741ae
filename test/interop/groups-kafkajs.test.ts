/**
 * Consumer groups with kafkajs (and the admin views cross-checked with
 * confluent-kafka-python's AdminClient):
 *
 *  - 3 consumers share a 6-partition topic, no partition owned twice; a 4th
 *    joins and one leaves, and after each rebalance the records produced to
 *    all 6 partitions reach exactly one member each, its owner; the committed
 *    offsets (OffsetFetch, read the whole time) never go backwards;
 *  - a group that restarts resumes from its committed offsets;
 *  - listGroups / describeGroups / fetchOffsets, and lag = log end offset -
 *    committed offset; DeleteGroups removes an empty group and its offsets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  ALL,
  CommitWatcher,
  KafkajsMember as Member,
  PARTITIONS,
  PY,
  PY_DIR,
  committed,
  describeGroup,
  recordKeys,
  useGroupsCluster,
  waitFor,
  type GroupView,
} from '../helpers/groups.ts';

const run = promisify(execFile);
const cluster = useGroupsCluster('groups-kafkajs-test');

test('kafkajs: 3 members share 6 partitions; join and leave rebalance; every partition is consumed again; commits never go backwards', async () => {
  const { kafka, admin, producer } = cluster;
  const topic = 'groups-kjs-share';
  const groupId = 'g-kjs-share';
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const members: Member[] = [];
  const live = () => members.filter((m) => !m.stopped);
  const watcher = new CommitWatcher(admin, groupId, topic);
  const start = async (name: string) => {
    const m = new Member(name, kafka, groupId, topic);
    members.push(m);
    await m.start();
    return m;
  };

  const settle = async (label: string) => {
    let view: GroupView | undefined;
    await waitFor(
      `${label}: the group to settle with ${live().length} members`,
      async () => {
        view = await describeGroup(admin, groupId, topic);
        if (view.state !== 'Stable' || view.members.length !== live().length) return false;
        for (const m of live()) {
          const b = view.members.find((x) => x.memberId === m.memberId);
          if (!b || JSON.stringify(b.partitions) !== JSON.stringify(m.owned)) return false;
        }
        return new Set(view.members.flatMap((x) => x.partitions)).size === PARTITIONS;
      },
      60_000,
      () => ({ view, members: live().map((m) => ({ name: m.name, memberId: m.memberId, owned: m.owned })) }),
    );
    const owners = new Map<number, string[]>();
    for (const m of live()) for (const p of m.owned!) owners.set(p, [...(owners.get(p) ?? []), m.name]);
    for (const p of ALL)
      assert.equal(owners.get(p)?.length, 1, `${label}: partition ${p} owned by ${JSON.stringify(owners.get(p))}`);
    for (const m of live()) assert.ok(m.owned!.length >= 1, `${label}: ${m.name} owns nothing`);
    assert.equal(new Set(live().map((m) => m.memberId)).size, live().length, `${label}: member ids are distinct`);
  };

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
      () => [...receivers().keys()],
    );
    const got = receivers();
    for (const { p, v } of values) {
      const who = got.get(v)!;
      assert.equal(who.length, 1, `${label}: ${v} consumed by ${JSON.stringify(who)}`);
      const owner = live().find((m) => m.owned!.includes(p));
      assert.equal(
        who[0],
        owner?.name,
        `${label}: ${v} consumed by ${who[0]}, but partition ${p} is assigned to ${owner?.name}`,
      );
    }
  };

  try {
    await Promise.all([start('k1'), start('k2'), start('k3')]);
    await settle('3 members');
    await produceAndCheck('three');

    const k4 = await start('k4');
    await settle('after k4 joined');
    assert.ok(k4.owned!.length >= 1);
    await produceAndCheck('joined');

    await members[0].stop(); // LeaveGroup
    await settle('after k1 left');
    await produceAndCheck('left');

    const ends = await admin.fetchTopicOffsets(topic);
    for (const e of ends) assert.equal(Number(e.high), 6, `partition ${e.partition}: 3 rounds of 2 records`);
    await waitFor(
      'committed offsets to reach the log end offsets',
      async () => {
        await watcher.sample();
        return ends.every((e) => watcher.last.get(e.partition) === Number(e.high));
      },
      30_000,
      () => [...watcher.last],
    );
    assert.ok(watcher.samples > 5, 'the committed offsets were read over time');
    assert.deepEqual(watcher.regressions, []);
  } finally {
    await watcher.stop();
    await Promise.all(members.map((m) => m.stop().catch(() => undefined)));
  }
});

test('kafkajs: a restarted group resumes from its committed offsets', async () => {
  const { kafka, admin, producer } = cluster;
  const topic = 'groups-kjs-resume';
  const groupId = 'g-kjs-resume';
  const N = 5;
  const M = 3;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await producer.send({
    topic,
    messages: ALL.flatMap((p) => Array.from({ length: N }, (_, i) => ({ partition: p, value: `old:${p}:${i}` }))),
  });

  const first = new Member('first', kafka, groupId, topic);
  await first.start();
  try {
    await waitFor(
      `the first consumer to consume ${N * PARTITIONS} records`,
      () => first.received.length >= N * PARTITIONS,
      45_000,
      () => first.received.length,
    );
    await waitFor(
      'its commits to land',
      async () => {
        const c = await committed(admin, groupId, topic);
        return ALL.every((p) => c.get(p) === N);
      },
      30_000,
      async () => [...(await committed(admin, groupId, topic))],
    );
  } finally {
    await first.stop();
  }
  assert.equal(first.received.length, N * PARTITIONS, 'each record once');
  const after = await committed(admin, groupId, topic);
  for (const p of ALL) assert.equal(after.get(p), N, `partition ${p}: committed offset after close`);

  await producer.send({
    topic,
    messages: ALL.flatMap((p) => Array.from({ length: M }, (_, i) => ({ partition: p, value: `new:${p}:${i}` }))),
  });

  // fromBeginning only applies without a committed offset: the group has one
  const second = new Member('second', kafka, groupId, topic);
  await second.start(true);
  try {
    await waitFor(
      `the restarted group to consume the ${M * PARTITIONS} new records`,
      () => second.received.filter((r) => r.v.startsWith('new:')).length >= M * PARTITIONS,
      45_000,
      () => second.received,
    );
    // Per partition, records arrive in offset order: any old record consumed
    // again would have arrived before the new ones.
    const got = recordKeys(second.received).sort();
    const want = ALL.flatMap((p) => Array.from({ length: M }, (_, i) => `${p}@${N + i}=new:${p}:${i}`)).sort();
    assert.deepEqual(got, want);
  } finally {
    await second.stop();
  }
});

test('kafkajs admin: list, describe, fetch offsets, lag; confluent AdminClient agrees; delete an empty group', async () => {
  const { broker, kafka, admin, producer } = cluster;
  const topic = 'groups-kjs-lag';
  const groupId = 'g-kjs-lag';
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  // partition p holds 2p+3 records; the consumer reads them all but commits only the first p+1
  const produced = (p: number) => 2 * p + 3;
  const commitTo = (p: number) => p + 1;
  await producer.send({
    topic,
    messages: ALL.flatMap((p) =>
      Array.from({ length: produced(p) }, (_, i) => ({ partition: p, value: `v${p}.${i}` })),
    ),
  });

  const m = new Member('lagger', kafka, groupId, topic, { commitBelow: commitTo });
  await m.start();
  try {
    const total = ALL.reduce((s, p) => s + produced(p), 0);
    await waitFor(
      `the consumer to read all ${total} records`,
      () => m.received.length >= total,
      45_000,
      () => m.received.length,
    );
    await waitFor(
      'its commits to land',
      async () => {
        const c = await committed(admin, groupId, topic);
        return ALL.every((p) => c.get(p) === commitTo(p));
      },
      30_000,
      async () => [...(await committed(admin, groupId, topic))],
    );

    // while the member is connected
    const { groups } = await admin.listGroups();
    const listed = groups.find((g) => g.groupId === groupId);
    assert.ok(listed, `listGroups includes ${groupId}: ${JSON.stringify(groups)}`);
    assert.equal(listed.protocolType, 'consumer');

    const view = await describeGroup(admin, groupId, topic);
    assert.equal(view.state, 'Stable');
    assert.equal(view.protocol, 'RoundRobinAssigner', 'the protocol kafkajs proposed');
    assert.equal(view.members.length, 1);
    assert.equal(view.members[0].memberId, m.memberId);
    assert.equal(view.members[0].clientId, 'groups-kafkajs-test');
    assert.deepEqual(view.members[0].partitions, ALL);

    const py = JSON.parse(
      (await run(PY, [path.join(PY_DIR, 'groups_admin.py'), 'list', broker.bootstrapServers], { timeout: 60_000 }))
        .stdout,
    );
    const pg = py.groups.find((g: any) => g.id === groupId);
    assert.ok(pg, `AdminClient.list_groups() includes ${groupId}: ${JSON.stringify(py)}`);
    assert.equal(pg.state, 'Stable');
    assert.equal(pg.protocol_type, 'consumer');
    assert.equal(pg.protocol, 'RoundRobinAssigner');
    assert.deepEqual(
      pg.members.map((x: any) => [x.id, x.client_id]),
      [[m.memberId, 'groups-kafkajs-test']],
    );
  } finally {
    await m.stop();
  }

  // lag = log end offset - committed offset
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((e) => [e.partition, Number(e.high)]));
  const c = await committed(admin, groupId, topic);
  for (const p of ALL) {
    assert.equal(ends.get(p), produced(p), `partition ${p}: high watermark`);
    assert.equal(c.get(p), commitTo(p), `partition ${p}: committed offset`);
    assert.equal(ends.get(p)! - c.get(p)!, produced(p) - commitTo(p), `partition ${p}: lag`);
  }
  const lag = JSON.parse(
    (
      await run(
        PY,
        [path.join(PY_DIR, 'groups_admin.py'), 'lag', broker.bootstrapServers, groupId, topic, String(PARTITIONS)],
        { timeout: 60_000 },
      )
    ).stdout,
  );
  assert.deepEqual(
    lag.partitions
      .map((r: any) => [r.p, r.committed, r.high, r.high - r.committed])
      .sort((a: number[], b: number[]) => a[0] - b[0]),
    ALL.map((p) => [p, commitTo(p), produced(p), produced(p) - commitTo(p)]),
    'confluent-kafka sees the same committed offsets, high watermarks and lag',
  );

  // after the member left: Empty, no members; an unknown group is Dead
  const empty = await describeGroup(admin, groupId, topic);
  assert.equal(empty.state, 'Empty');
  assert.deepEqual(empty.members, []);
  const unknown = await admin.describeGroups(['g-never-existed']);
  assert.equal(unknown.groups[0].state, 'Dead');
  assert.deepEqual(unknown.groups[0].members, []);
  const py = JSON.parse(
    (await run(PY, [path.join(PY_DIR, 'groups_admin.py'), 'list', broker.bootstrapServers], { timeout: 60_000 }))
      .stdout,
  );
  assert.equal(py.groups.find((g: any) => g.id === groupId)?.state, 'Empty');

  // an empty group can be deleted, offsets and all
  const del = await admin.deleteGroups([groupId]);
  assert.deepEqual(
    del.map((d) => [d.groupId, d.errorCode]),
    [[groupId, 0]],
  );
  assert.ok(!(await admin.listGroups()).groups.some((g) => g.groupId === groupId), 'deleted group is not listed');
  const gone = await committed(admin, groupId, topic);
  for (const p of ALL) assert.equal(gone.get(p), -1, `partition ${p}: no committed offset after DeleteGroups`);
});
