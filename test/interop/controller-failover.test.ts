/**
 * Three combined nodes (`samsa start` processes), a topic with replication
 * factor 3 and min.insync.replicas=2:
 *
 * - kill -9 of the active controller's node: the new active controller fences
 *   its broker because its voter never fetched from the new leader
 *   (controller.quorum.fetch.timeout.ms after taking over, logged as such),
 *   not when the full broker.session.timeout.ms it was given runs out; the
 *   time from the kill to the first acks=all produce acknowledged on a
 *   partition the killed node led is printed, and is well under that timeout;
 * - the active controller's node frozen for 3 s (SIGSTOP, then SIGCONT): it
 *   lives on, and is back (unfenced, in the ISR, serving acks=all) after at
 *   most a fence and an unfence.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ClusterInfo, clusterInfo } from '../../src/cli/cluster.ts';
import { KafkaClient } from '../../src/client/client.ts';
import { type ClusterNode, type ProcessCluster, startProcessCluster } from '../helpers/cluster.ts';
import { eventually, uniqueTopic } from '../helpers/broker.ts';

const SESSION_TIMEOUT_MS = 9000;
const PARTITIONS = 3;

async function withClient<T>(bootstrap: string, fn: (c: KafkaClient) => Promise<T>): Promise<T> {
  const c = new KafkaClient({
    bootstrapServers: bootstrap,
    clientId: 'controller-failover-test',
    requestTimeoutMs: 5_000,
    connectTimeoutMs: 1_000,
    retries: 0,
  });
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

const info = (bootstrap: string): Promise<ClusterInfo> => withClient(bootstrap, (c) => clusterInfo(c));

/** One acks=all produce of one record (no retries): true when acknowledged. */
async function produceAll(bootstrap: string, topic: string, partition: number, value: string): Promise<boolean> {
  try {
    await withClient(bootstrap, async (c) => {
      await c.metadata([topic]);
      await c.produce(topic, partition, [{ value: Buffer.from(value) }], { acks: -1, timeoutMs: 5_000 });
    });
    return true;
  } catch {
    return false;
  }
}

async function partitionState(bootstrap: string, topic: string, partition: number) {
  const md = await withClient(bootstrap, (c) => c.metadata([topic]));
  return md.topics.find((t) => t.name === topic)?.partitions.find((p) => p.partition === partition);
}

describe('failover of the active controller on three combined nodes', () => {
  let cluster: ProcessCluster;
  let topic: string;

  before(async () => {
    cluster = await startProcessCluster({ nodes: 3, overrides: { 'auto.create.topics.enable': 'false' } });
  });
  after(async () => {
    await cluster?.close();
  });

  const fail = (what: string) => `${what}\n--- node output ---\n${cluster.output().slice(-30_000)}`;
  const within = <T>(what: string, ms: number, fn: () => Promise<T | undefined | false> | T | undefined | false) =>
    eventually(fn, ms, 50).catch((e) => assert.fail(fail(`${what} within ${ms} ms (last: ${(e as Error).message})`)));

  /** The active controller once three unfenced brokers and a quorum of three with it as leader are reported. */
  async function settledController(): Promise<ClusterNode> {
    const i = await within('three live brokers and a quorum of three led by the controller', 90_000, async () => {
      for (const n of cluster.nodes.filter((x) => x.alive())) {
        const r = await info(n.bootstrap).catch(() => undefined);
        if (
          r?.quorum &&
          r.quorum.voters.length === 3 &&
          r.quorum.leaderId === r.controllerId &&
          r.brokers.length === 3 &&
          r.brokers.every((b) => b.fenced === false) &&
          r.quorum.voters.every((v) => v.lag === 0)
        )
          return r;
      }
      return undefined;
    });
    return cluster.node(i.controllerId);
  }

  /** A partition of the topic that `node` leads with all three replicas in sync. */
  async function partitionLedBy(node: ClusterNode): Promise<number> {
    const other = cluster.nodes.find((n) => n !== node)!;
    return within(`a partition led by node ${node.nodeId} with a full ISR`, 60_000, async () => {
      const md = await withClient(other.bootstrap, (c) => c.metadata([topic]));
      const t = md.topics.find((x) => x.name === topic);
      const p = t?.partitions.find((x) => x.leader === node.nodeId && x.isr.length === 3);
      if (p) return { p: p.partition };
      // no partition led by it (or not in sync yet): ask for the preferred leaders again
      return undefined;
    }).then((r) => r.p);
  }

  test('kill -9 of the active controller: its partitions are led elsewhere well before broker.session.timeout.ms', async (t) => {
    const controller = await settledController();
    const others = cluster.nodes.filter((n) => n !== controller);
    topic = uniqueTopic('ctlfail');
    const [created] = await withClient(others[0].bootstrap, (c) =>
      c.createTopics(
        [{ name: topic, numPartitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }],
        { timeoutMs: 10_000 },
      ),
    );
    assert.equal(created.error, null, fail(`CreateTopics: ${created.error?.message}`));
    const p = await partitionLedBy(controller);
    assert.ok(await produceAll(controller.bootstrap, topic, p, 'before'), fail('acks=all before the kill'));

    const bootstrap = others.map((n) => n.bootstrap).join(',');
    const killedAt = Date.now();
    await controller.kill('SIGKILL');
    await within(`an acks=all produce to ${topic}-${p} acknowledged`, 60_000, () =>
      produceAll(bootstrap, topic, p, 'after'),
    );
    const ms = Date.now() - killedAt;
    const state = await partitionState(bootstrap, topic, p);
    t.diagnostic(
      `kill -9 of the active controller (node ${controller.nodeId}) to the first acks=all produce acknowledged on ${topic}-${p} (led by it): ${ms} ms; new leader ${state?.leader}, ISR [${state?.isr}]`,
    );
    // The new controller gave the dead node's broker a session ending at least broker.session.timeout.ms after the
    // kill: faster means another rule fenced it; the log says which.
    assert.ok(ms < SESSION_TIMEOUT_MS, fail(`${ms} ms is not under broker.session.timeout.ms`));
    const line = cluster
      .output()
      .split('\n')
      .find((l) => l.includes(`fenced broker ${controller.nodeId}:`));
    assert.ok(line, fail(`no fence of broker ${controller.nodeId} logged`));
    assert.match(
      line,
      /quorum-silent|controller\.quorum\.fetch\.timeout\.ms/,
      fail(`fenced for another reason: ${line}`),
    );
    assert.ok(state && state.leader !== controller.nodeId && state.isr.length === 2, fail(JSON.stringify(state)));

    // restart it: it comes back unfenced and in the ISR
    await controller.start();
    await settledController();
    await within(`node ${controller.nodeId} back in the ISR of ${topic}-${p}`, 60_000, async () => {
      const s = await partitionState(bootstrap, topic, p);
      return s?.isr.includes(controller.nodeId) && s.isr.length === 3;
    });
  });

  test('the active controller frozen for 3 s (SIGSTOP, SIGCONT) comes back after at most a fence and an unfence', async (t) => {
    assert.ok(topic, 'the first test created the topic');
    const controller = await settledController();
    const pid = controller.pid;
    assert.ok(pid !== undefined);
    const others = cluster.nodes.filter((n) => n !== controller);
    const bootstrap = others.map((n) => n.bootstrap).join(',');
    const fencesBefore = cluster
      .output()
      .split('\n')
      .filter((l) => l.includes(`fenced broker ${controller.nodeId}:`)).length;

    // a frozen process, not a dead one: SIGCONT exactly 3 s later (the length of the fault, not a wait for an
    // event); meanwhile the others elect a new controller (fetch timeout 2 s)
    process.kill(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        process.kill(pid, 'SIGCONT');
        resolve();
      }, 3_000),
    );

    const back = await settledController();
    assert.ok(controller.alive(), fail(`node ${controller.nodeId} exited after SIGCONT`));
    const p = await within(`node ${controller.nodeId} in every ISR of ${topic}`, 60_000, async () => {
      const md = await withClient(bootstrap, (c) => c.metadata([topic]));
      const ps = md.topics.find((x) => x.name === topic)?.partitions ?? [];
      return ps.length === PARTITIONS && ps.every((x) => x.isr.length === 3 && x.leader > 0) ? ps : undefined;
    });
    for (const x of p)
      assert.ok(await produceAll(bootstrap, topic, x.partition, 'after-freeze'), fail(`acks=all to ${x.partition}`));
    const fenceLines = cluster
      .output()
      .split('\n')
      .filter((l) => l.includes(`fenced broker ${controller.nodeId}:`));
    const fences = fenceLines.length - fencesBefore;
    if (fences > 0) t.diagnostic(`fenced by: ${fenceLines.slice(-fences).join(' | ')}`);
    t.diagnostic(
      `node ${controller.nodeId} frozen 3 s: back unfenced and in every ISR ${Date.now() - stoppedAt} ms after SIGSTOP; fenced ${fences} time(s) meanwhile; controller now node ${back.nodeId}`,
    );
  });
});
