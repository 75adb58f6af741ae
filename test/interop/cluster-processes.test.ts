/**
 * A three-node cluster of real `samsa start` processes on loopback (each node
 * runs what `samsa start --nodes 3` gives it; test/helpers/cluster.ts):
 *
 * - kill -9 of the active controller: another node is elected and CreateTopics
 *   works again; the time from the kill to the first successful CreateTopics
 *   is printed;
 * - the killed node, restarted after the leader's log was trimmed past
 *   everything it had (a tiny metadata.log.max.record.bytes.between.snapshots),
 *   catches up from a snapshot;
 * - two of three stopped: CreateTopics fails with a clear error (no quorum)
 *   while produce and fetch go on on a partition the live node leads; one
 *   node back: CreateTopics works again.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { KafkaClient } from '../../src/client/client.ts';
import { clusterInfo, type ClusterInfo } from '../../src/cli/cluster.ts';
import { ErrorCode, errorName } from '../../src/protocol/error-codes.ts';
import { startProcessCluster, type ClusterNode, type ProcessCluster } from '../helpers/cluster.ts';
import { eventually, uniqueTopic } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { KCAT, runOk } from '../helpers/proc.ts';

const SNAPSHOT_BYTES = 2048;

function client(bootstrap: string, requestTimeoutMs = 10_000): KafkaClient {
  return new KafkaClient({
    bootstrapServers: bootstrap,
    clientId: 'cluster-processes-test',
    requestTimeoutMs,
    connectTimeoutMs: 2_000,
    retries: 0,
  });
}

async function withClient<T>(bootstrap: string, fn: (c: KafkaClient) => Promise<T>, timeoutMs?: number): Promise<T> {
  const c = client(bootstrap, timeoutMs);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

type CreateOutcome = { ok: true } | { ok: false; code: number | null; message: string };

/** One CreateTopics through `bootstrap` (no retries): what came back. */
async function createTopic(bootstrap: string, name: string, partitions = 1, timeoutMs = 5_000): Promise<CreateOutcome> {
  try {
    const [r] = await withClient(
      bootstrap,
      (c) => c.createTopics([{ name, numPartitions: partitions }], { timeoutMs }),
      timeoutMs + 5_000,
    );
    if (r.error === null) return { ok: true };
    return { ok: false, code: r.error.code, message: r.error.message };
  } catch (err) {
    const e = err as Error & { code?: number };
    return { ok: false, code: typeof e.code === 'number' ? e.code : null, message: e.message };
  }
}

/** Retries CreateTopics of fresh topics through the given nodes until one succeeds; the time it took. */
async function createUntilOk(nodes: ClusterNode[], deadlineMs: number): Promise<{ ms: number; attempts: number }> {
  const t0 = Date.now();
  let last: CreateOutcome | undefined;
  for (let attempt = 1; ; attempt++) {
    const n = nodes[attempt % nodes.length];
    last = await createTopic(n.bootstrap, uniqueTopic('after'));
    if (last.ok) return { ms: Date.now() - t0, attempts: attempt };
    if (Date.now() - t0 > deadlineMs)
      throw new Error(`CreateTopics did not succeed within ${deadlineMs} ms; last: ${last.message}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function info(bootstrap: string): Promise<ClusterInfo> {
  return withClient(bootstrap, (c) => clusterInfo(c));
}

/** The metadata log dir of a node, and the end offset of its newest snapshot (-1 without one). */
function snapshotEnd(n: ClusterNode): number {
  const dir = path.join(n.dataDir, '__cluster_metadata-0');
  const ends = fs
    .readdirSync(dir)
    .map((f) => /^(\d{20})-\d{10}\.checkpoint$/.exec(f)?.[1])
    .filter((x) => x !== undefined)
    .map(Number);
  return ends.length ? Math.max(...ends) : -1;
}

/** The base offset of a node's first metadata log segment: no offset below it is on its disk. */
function firstSegment(n: ClusterNode): number {
  const dir = path.join(n.dataDir, '__cluster_metadata-0');
  return Math.min(
    ...fs
      .readdirSync(dir)
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20))),
  );
}

describe('a cluster of three samsa processes', () => {
  let cluster: ProcessCluster;

  before(async () => {
    cluster = await startProcessCluster({
      nodes: 3,
      overrides: {
        'metadata.log.max.record.bytes.between.snapshots': String(SNAPSHOT_BYTES),
        'auto.create.topics.enable': 'false',
      },
    });
  });
  after(async () => {
    await cluster?.close();
  });

  test('failover of the controller, catch-up from a snapshot, loss and return of the majority', async (t) => {
    const fail = (what: string) => `${what}\n--- node output ---\n${cluster.output().slice(-30_000)}`;
    /** Polls `fn` until it returns a value; fails with `what` and the nodes' output after `ms`. */
    const within = <T>(what: string, ms: number, fn: () => Promise<T | undefined | false> | T | undefined | false) =>
      eventually(fn, ms, 50).catch((e) => assert.fail(fail(`${what} within ${ms} ms (last: ${(e as Error).message})`)));
    const [n1] = cluster.nodes;

    // kcat bootstrapped from one node sees all three brokers and the controller
    const md = await within('kcat sees three brokers and a controller', 60_000, async () => {
      const r = await runOk(KCAT, ['-b', n1.bootstrap, '-L', '-J'], { timeoutMs: 30_000 });
      const j = JSON.parse(r.stdout) as { controllerid: number; brokers: { id: number }[] };
      return j.brokers.length === 3 && j.controllerid > 0 ? j : undefined;
    });
    assert.deepEqual(md.brokers.map((b) => b.id).sort(), [1, 2, 3]);

    // the quorum: three voters, one leader, who is the controller the brokers report
    const initial = await within('a quorum of three led by the controller', 60_000, async () => {
      const i = await info(n1.bootstrap);
      return i.quorum && i.quorum.voters.length === 3 && i.quorum.leaderId === i.controllerId ? i : undefined;
    });
    const controller = cluster.node(initial.controllerId);
    const others = cluster.nodes.filter((n) => n !== controller);

    // a topic created through a node that is not the controller
    assert.deepEqual(await createTopic(others[0].bootstrap, uniqueTopic('first'), 3), { ok: true });

    // quiet cluster, every voter caught up: what the controller's log holds now is all the killed node will have
    const settled = await within('every voter at the high watermark', 30_000, async () => {
      const i = await info(others[0].bootstrap);
      const q = i.quorum;
      return q?.voters.every((v) => v.lag === 0 && v.logEndOffset === q.highWatermark) ? q : undefined;
    });
    const killedEnd = settled.highWatermark;

    // kill -9 the active controller: a new one, and CreateTopics works again
    const killedAt = Date.now();
    await controller.kill('SIGKILL');
    const failover = await createUntilOk(others, 60_000).catch((e) => assert.fail(fail(e.message)));
    t.diagnostic(
      `failover: kill -9 of the active controller (node ${controller.nodeId}) to the first successful CreateTopics: ${Date.now() - killedAt} ms (${failover.attempts} attempt(s))`,
    );
    const elected = await within('another controller, leading the quorum', 30_000, async () => {
      const i = await info(others[0].bootstrap);
      return i.controllerId > 0 && i.controllerId !== controller.nodeId && i.quorum?.leaderId === i.controllerId
        ? i
        : undefined;
    });
    const leader = cluster.node(elected.controllerId);

    // enough metadata while it is down that the leader snapshots and trims its log past everything the dead node has
    for (let i = 0; snapshotEnd(leader) <= killedEnd; i++) {
      assert.ok(i < 200, fail(`the leader's snapshot stays at ${snapshotEnd(leader)}, not beyond ${killedEnd}`));
      assert.deepEqual(await createTopic(leader.bootstrap, uniqueTopic('fill'), 4), { ok: true });
    }
    const trimmedTo = snapshotEnd(leader);
    // what the dead node needs next (its log end) is below the leader's log: only the snapshot can bring it back
    await within(`the leader's log starting past ${killedEnd}`, 30_000, () => firstSegment(leader) > killedEnd);
    t.diagnostic(
      `node ${controller.nodeId} died at offset ${killedEnd}; the leader (node ${leader.nodeId}) snapshotted at ${trimmedTo} and its log starts at ${firstSegment(leader)}`,
    );

    // the dead controller's broker never connected to the new controller and its voter never fetched from it: it
    // is fenced controller.quorum.fetch.timeout.ms after the takeover (test/interop/controller-failover.test.ts)
    await within(`node ${controller.nodeId} fenced`, 30_000, async () => {
      const i = await info(leader.bootstrap);
      return !i.brokers.some((b) => b.nodeId === controller.nodeId && b.fenced !== true);
    });
    t.diagnostic(
      `the dead controller's broker (node ${controller.nodeId}) fenced ${Date.now() - killedAt} ms after the kill`,
    );

    // restart the killed node: it catches up from the snapshot (its log could not serve it: trimmed past its end)
    await controller.start();
    await within(`node ${controller.nodeId} caught up past ${trimmedTo}`, 60_000, async () => {
      const i = await info(leader.bootstrap);
      const v = i.quorum?.voters.find((x) => x.nodeId === controller.nodeId);
      return v && i.quorum && v.logEndOffset >= trimmedTo && v.lag === 0 ? i : undefined;
    });
    assert.ok(
      snapshotEnd(controller) >= trimmedTo,
      fail(`node ${controller.nodeId} has no snapshot at or past ${trimmedTo} (it has ${snapshotEnd(controller)})`),
    );
    // registered again and unfenced: three live brokers
    await within(`node ${controller.nodeId} unfenced`, 30_000, async () => {
      const i = await info(leader.bootstrap);
      return i.brokers.filter((b) => b.fenced === false).length === 3;
    });
    // and its view of the topics is the others'
    const topicsOf = (n: ClusterNode) =>
      withClient(n.bootstrap, async (c) => (await c.metadata()).topics.map((x) => x.name).sort());
    await within(
      `node ${controller.nodeId} listing the topics the leader lists`,
      30_000,
      async () => JSON.stringify(await topicsOf(controller)) === JSON.stringify(await topicsOf(leader)),
    );

    // two of three stopped: the survivor leads a partition of an RF=1 topic, which stays writable and readable
    const live = uniqueTopic('live');
    assert.deepEqual(await createTopic(leader.bootstrap, live, 6), { ok: true });
    const survivor = cluster.nodes.find((n) => n !== leader)!;
    const [stopClean, stopHard] = cluster.nodes.filter((n) => n !== survivor);
    const { partition } = await within(`a partition of ${live} led by node ${survivor.nodeId}`, 30_000, async () => {
      const m = await withClient(survivor.bootstrap, (c) => c.metadata([live]));
      return m.topics[0]?.partitions.find((p) => p.leader === survivor.nodeId);
    });
    await kcatProduce(survivor.bootstrap, live, ['a:1', 'b:2'], ['-p', String(partition)]);

    await stopClean.kill('SIGTERM');
    await stopHard.kill('SIGKILL');
    const refused = await createTopic(survivor.bootstrap, uniqueTopic('noquorum'));
    assert.equal(refused.ok, false, 'CreateTopics without a quorum');
    if (!refused.ok) {
      t.diagnostic(`CreateTopics without a quorum: ${refused.message}`);
      assert.ok(
        refused.code === ErrorCode.REQUEST_TIMED_OUT || refused.code === ErrorCode.NOT_CONTROLLER,
        `CreateTopics without a quorum answered ${refused.code === null ? refused.message : errorName(refused.code)}`,
      );
    }
    await kcatProduce(survivor.bootstrap, live, ['c:3'], ['-p', String(partition)]);
    const read = await kcatConsume(survivor.bootstrap, live, { partition });
    assert.deepEqual(
      read.map((r) => [r.key, r.payload]),
      [
        ['a', '1'],
        ['b', '2'],
        ['c', '3'],
      ],
    );

    // one back: a majority again, and CreateTopics works
    const backAt = Date.now();
    await stopClean.start();
    const resumed = await createUntilOk([survivor, stopClean], 60_000).catch((e) => assert.fail(fail(e.message)));
    t.diagnostic(`quorum back (node ${stopClean.nodeId} restarted): CreateTopics after ${Date.now() - backAt} ms`);
    assert.ok(resumed.attempts >= 1);
  });
});
