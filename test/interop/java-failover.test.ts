/**
 * The Java client (kafka-clients 4.3.1) through broker kills on three
 * `samsa start` processes (test/helpers/cluster.ts), one JVM running
 * test/interop/java/failover/FailoverClient.java: an idempotent producer
 * (acks=all, default retries) sending continuously to the 3 partitions of a
 * topic with replication factor 3 and min.insync.replicas=2, a classic group
 * member reading and committing (commitSync) after each poll, and an Admin
 * answering the test's commands.
 *
 *  - Admin: describeCluster lists the three nodes; describeTopics shows the
 *    leader, replicas and ISR every broker's Metadata answers;
 *  - kill -9 of the broker leading partition 0, then of the broker
 *    coordinating the group (the group id is picked so that they differ),
 *    each restarted once the clients made progress again: the ISR
 *    (describeTopics) drops the killed broker (the controller fences it when
 *    its heartbeat connection closes, or, when the killed broker was the
 *    active controller, controller.quorum.fetch.timeout.ms after the new one
 *    takes over) and is back to 3
 *    after the restart; after the coordinator's kill the group member is
 *    replaced by a new one, which resumes at the committed offsets;
 *  - Admin electLeaders(PREFERRED) moves leaderships back to the first replicas;
 *  - a broker frozen with SIGSTOP (neither the active controller nor the
 *    coordinator; its heartbeat connection stays open, so it is fenced only
 *    after broker.session.timeout.ms): the leaders it follows drop it from
 *    their ISR after replica.lag.time.max.ms (3000 here) while it is still
 *    unfenced, and take it back after SIGCONT;
 *  - no exception reaches the application; every acknowledged record is read
 *    back, in offset order per partition, exactly once apart from
 *    re-deliveries after a rebalance, which are counted and must all be at
 *    or after the partition's last commit;
 *  - the unavailability (kill to the next acknowledged record of each
 *    partition the killed broker led) is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import readline from 'node:readline';
import { Connection } from '../../src/client/connection.ts';
import { ZERO_UUID } from '../../src/protocol/schema.ts';
import { partitionForGroup } from '../../src/coordinator/group/offsets-records.ts';
import { startProcessCluster, type ProcessCluster } from '../helpers/cluster.ts';
import { compileJava } from '../helpers/kafka-ref.ts';
import { waitFor } from '../helpers/groups.ts';

const PARTITIONS = 3;
const OFFSETS_PARTITIONS = 3;
const LAG_MS = 3000;
const SEND_INTERVAL_MS = 10;

interface PartitionView {
  p: number;
  leader: number;
  replicas: number[];
  isr: number[];
}
interface Describe {
  type: 'describe';
  t: number;
  nodes: number[];
  controller: number;
  partitions: PartitionView[];
}
interface Ack {
  p: number;
  o: number;
  v: string;
  t: number;
}

/** The consumer's view of one partition, updated line by line in the order the JVM printed them. */
class ConsumedPartition {
  /** Offset -> value of every record read. */
  readonly values = new Map<number, string>();
  /** One past the highest offset read. */
  next = 0;
  /** The last offset commitSync returned for. */
  committed = 0;
  redelivered = 0;
  readonly violations: string[] = [];

  record(o: number, v: string) {
    if (o === this.next) {
      this.values.set(o, v);
      this.next++;
    } else if (o < this.next) {
      // read again after a rebalance: only records after the last commit may come back
      this.redelivered++;
      if (o < this.committed)
        this.violations.push(`offset ${o} read again below the committed offset ${this.committed}`);
      if (this.values.get(o) !== v) this.violations.push(`offset ${o} read as ${v}, before as ${this.values.get(o)}`);
    } else {
      this.violations.push(`offset ${o} read after ${this.next - 1}: a gap`);
      this.values.set(o, v);
      this.next = o + 1;
    }
  }
}

class JavaFailoverClient {
  readonly proc: ChildProcess;
  readonly events: any[] = [];
  readonly acks: Ack[][] = Array.from({ length: PARTITIONS }, () => []);
  readonly consumed = Array.from({ length: PARTITIONS }, () => new ConsumedPartition());
  readonly errors: any[] = [];
  stderr = '';
  exited = false;

  constructor(cp: string, args: string[]) {
    this.proc = spawn(
      'java',
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-cp',
        cp,
        'FailoverClient',
        ...args,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    this.proc.stdin!.on('error', () => {});
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    this.proc.once('exit', () => {
      this.exited = true;
    });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => this.onLine(line));
  }

  private onLine(line: string) {
    if (!line.startsWith('{')) return;
    const e = JSON.parse(line);
    switch (e.type) {
      case 'ack':
        this.acks[e.p].push(e);
        return;
      case 'rec':
        this.consumed[e.p].record(e.o, e.v);
        return;
      case 'commit':
        for (const [p, o] of Object.entries(e.offsets)) this.consumed[Number(p)].committed = o as number;
        return;
      case 'error':
        this.errors.push(e);
        return;
      default:
        this.events.push(e);
    }
  }

  /** Sends a command; resolves with the answer of type `type` (or an admin-error). */
  async command(cmd: string, type: string, timeoutMs = 60_000): Promise<any> {
    const from = this.events.length;
    this.proc.stdin!.write(`${cmd}\n`);
    return waitFor(
      `the Java client's answer to ${cmd}`,
      () => {
        const answer = this.events.slice(from).find((e) => e.type === type || e.type === 'admin-error');
        if (!answer && this.exited) throw new Error(`the JVM exited:\n${this.stderr}`);
        return answer;
      },
      timeoutMs,
      () => this.stderr.slice(-3000),
    );
  }

  async ok(cmd: string, type: string, timeoutMs?: number) {
    const r = await this.command(cmd, type, timeoutMs);
    assert.equal(r.type, type, `${cmd}: ${JSON.stringify(r)}`);
    return r;
  }

  /** describeCluster + describeTopics, or undefined while the Admin call fails. */
  async describe(topic?: string): Promise<Describe | undefined> {
    const r = await this.command(topic ? `describe ${topic}` : 'describe', 'describe');
    return r.type === 'describe' ? r : undefined;
  }

  /** The number of records the producer had acknowledged and the consumer had committed, per partition. */
  progress() {
    return {
      acked: this.acks.map((a) => a.length),
      committed: this.consumed.map((c) => c.committed),
      errors: this.errors.slice(0, 5),
      lastAnswers: this.events.slice(-3),
    };
  }

  kill() {
    if (!this.exited) this.proc.kill('SIGKILL');
  }
}

/** The live brokers and the topic's partitions (leader, replicas, ISR) as the broker on `port` answers Metadata. */
async function metadataOf(port: number, topic: string): Promise<{ brokers: number[]; partitions: PartitionView[] }> {
  const c = new Connection({ host: '127.0.0.1', port, clientId: 'java-failover-test', requestTimeoutMs: 10_000 });
  await c.connect();
  try {
    const md = await c.send('Metadata', {
      topics: [{ name: topic, topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    return {
      brokers: md.brokers.map((b) => b.nodeId).sort((x, y) => x - y),
      partitions: md.topics[0].partitions
        .map((p) => ({ p: p.partitionIndex, leader: p.leaderId, replicas: [...p.replicaNodes], isr: [...p.isrNodes] }))
        .sort((x, y) => x.p - y.p),
    };
  } finally {
    await c.close();
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

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

test('Java producer, group consumer and Admin through leader and coordinator kills and a frozen follower (3 broker processes, RF=3)', async () => {
  const cp = await compileJava('failover');
  const cluster: ProcessCluster = await startProcessCluster({
    nodes: 3,
    overrides: {
      'replica.lag.time.max.ms': String(LAG_MS),
      'group.initial.rebalance.delay.ms': '0',
      'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS),
    },
  });
  const topic = 'java-failover';
  const j = new JavaFailoverClient(cp, [cluster.bootstrapServers, topic, String(PARTITIONS), String(SEND_INTERVAL_MS)]);
  const diag = () => j.progress();
  try {
    await j.ok('create', 'created', 90_000);

    // Admin: three nodes, every partition on all three with all three in sync, as every broker's Metadata says
    const d0 = await waitFor(
      'describeTopics to show 3 in-sync replicas on every partition',
      async () => {
        const d = await j.describe();
        return d && d.partitions.length === PARTITIONS && d.partitions.every((p) => p.leader >= 0 && p.isr.length === 3)
          ? d
          : false;
      },
      60_000,
      diag,
    );
    assert.deepEqual(sorted(d0.nodes), [1, 2, 3], 'describeCluster');
    assert.ok([1, 2, 3].includes(d0.controller), `controller ${d0.controller}`);
    for (const p of d0.partitions) assert.deepEqual(sorted(p.replicas), [1, 2, 3], `partition ${p.p} replicas`);
    await waitFor(
      "every broker's Metadata to match describeTopics",
      async () => {
        const d = await j.describe();
        if (!d) return false;
        const admin = d.partitions.map((p) => ({ ...p, isr: sorted(p.isr) })).sort((a, b) => a.p - b.p);
        for (const n of cluster.nodes) {
          const md = (await metadataOf(n.clientPort, topic)).partitions.map((p) => ({ ...p, isr: sorted(p.isr) }));
          assert.deepEqual(md, admin, `node ${n.nodeId}'s Metadata`);
        }
        return true;
      },
      30_000,
    );

    // the group's coordinator is not partition 0's leader: one kill for each, the first broker restarted in between
    // (__consumer_offsets is created by the first FindCoordinator, which describeConsumerGroups sends)
    const offsets = await waitFor(
      '__consumer_offsets with 3 in-sync replicas on each partition',
      async () => {
        const d = await j.describe('__consumer_offsets');
        if (!d) await j.command('coordinator java-failover-probe', 'coordinator');
        return d &&
          d.partitions.length === OFFSETS_PARTITIONS &&
          d.partitions.every((p) => p.leader >= 0 && p.isr.length === 3)
          ? d
          : false;
      },
      60_000,
      diag,
    );
    const leader0 = d0.partitions.find((p) => p.p === 0)!.leader;
    const elsewhere = offsets.partitions.filter((p) => p.leader !== leader0).map((p) => p.p);
    assert.ok(elsewhere.length > 0, `a __consumer_offsets partition not led by node ${leader0}`);
    let group = '';
    for (let i = 0; !group; i++) {
      const id = `java-failover-${i}`;
      if (elsewhere.includes(partitionForGroup(id, OFFSETS_PARTITIONS))) group = id;
    }

    await j.ok(`start ${group}`, 'started');
    const progressed = (what: string, since: number[], committedSince: number[], timeoutMs = 90_000) =>
      waitFor(
        what,
        () =>
          j.errors.length === 0 &&
          j.acks.every((a, p) => a.length >= since[p] + 20) &&
          j.consumed.every((c, p) => c.committed >= committedSince[p] + 20),
        timeoutMs,
        diag,
      );
    await progressed('records acknowledged and committed on every partition', [0, 0, 0], [0, 0, 0]);
    const coordinator = await j.ok(`coordinator ${group}`, 'coordinator');
    assert.equal(coordinator.state, 'Stable', JSON.stringify(coordinator));
    const before0 = await waitFor('describeTopics', () => j.describe());
    assert.equal(before0.partitions.find((p) => p.p === 0)!.leader, leader0, 'partition 0 kept its leader');
    assert.notEqual(coordinator.id, leader0, 'the coordinator is not partition 0 leader');
    console.log(`# partition 0 led by node ${leader0}, group ${group} coordinated by node ${coordinator.id}`);

    for (const role of ['partition 0 leader', 'group coordinator']) {
      const victim: number =
        role === 'partition 0 leader'
          ? leader0
          : (
              await waitFor('the coordinator', async () => {
                const r = await j.command(`coordinator ${group}`, 'coordinator');
                return r.type === 'coordinator' && r.id >= 0 && r;
              })
            ).id;
      const before = await waitFor('describeTopics', () => j.describe());
      const led = before.partitions.filter((p) => p.leader === victim).map((p) => p.p);
      const acked = j.acks.map((a) => a.length);
      const committed = j.consumed.map((c) => c.committed);
      const killedAt = Date.now();
      await cluster.node(victim).kill('SIGKILL');

      // the ISR drops the killed broker: its followers by replica.lag.time.max.ms or the fence, its partitions by the fence
      const shrunk = await waitFor(
        `describeTopics without node ${victim} in any ISR`,
        async () => {
          const d = await j.describe();
          return d?.partitions.every(
            (p) => p.leader >= 0 && p.leader !== victim && !p.isr.includes(victim) && p.isr.length === 2,
          )
            ? d.t - killedAt
            : false;
        },
        60_000,
        diag,
      );
      await progressed(`records acknowledged and committed after node ${victim} was killed`, acked, committed);
      const pauses = led.map((p) => `p${p} ${unavailability(j.acks[p], killedAt)} ms`).join(', ');
      console.log(
        `# node ${victim} (${role}${before.controller === victim ? ', active controller' : ''}; led ${led.map((p) => `p${p}`).join(',') || 'nothing'}) killed: ISR without it after ${shrunk} ms; kill to next acknowledged record: ${pauses}`,
      );

      if (role === 'group coordinator') {
        // a new member, while the old coordinator is still down, resumes at the committed offsets
        await j.ok('restart-consumer', 'consumer-restarted', 120_000);
        await progressed(
          'records committed by a new member of the group',
          j.acks.map((a) => a.length),
          j.consumed.map((c) => c.committed),
        );
      }
      const restartedAt = Date.now();
      await cluster.node(victim).start();
      const back = await waitFor(
        `node ${victim} back in every ISR`,
        async () => {
          const d = await j.describe();
          return d?.partitions.every((p) => p.isr.length === 3) ? d.t - restartedAt : false;
        },
        90_000,
        diag,
      );
      console.log(`# node ${victim} restarted: back in every ISR ${back} ms after the start`);
      await progressed(
        `records acknowledged and committed after node ${victim} restarted`,
        j.acks.map((a) => a.length),
        j.consumed.map((c) => c.committed),
      );
    }

    // A frozen broker (SIGSTOP) keeps the connection of its heartbeats open, so the controller fences it
    // only after broker.session.timeout.ms (9000); the leaders it follows drop it from their ISR after
    // replica.lag.time.max.ms, before that. Frozen: neither the active controller nor the coordinator.
    // Preferred leaders first (Admin electLeaders), so that leaderships are spread again after the kills.
    const elected = await j.ok('elect-preferred', 'elected');
    assert.deepEqual(elected.failed, [], 'electLeaders(PREFERRED)');
    const current = await waitFor(
      'describeTopics to show every partition led by its first replica',
      async () => {
        const d = await j.describe();
        return d?.partitions.every((p) => p.leader === p.replicas[0] && p.isr.length === 3) && d;
      },
      60_000,
      diag,
    );
    const coordinatorNow = (
      await waitFor('the coordinator', async () => {
        const r = await j.command(`coordinator ${group}`, 'coordinator');
        return r.type === 'coordinator' && r.id >= 0 && r;
      })
    ).id;
    const frozen = [1, 2, 3].find(
      (n) => n !== current.controller && n !== coordinatorNow && current.partitions.some((p) => p.leader !== n),
    );
    assert.ok(frozen, `a broker to freeze: ${JSON.stringify({ current, coordinatorNow })}`);
    const follows = current.partitions.filter((p) => p.leader !== frozen).map((p) => p.p);
    const watcher = cluster.nodes.find((n) => n.nodeId === current.controller)!;
    const frozenAt = Date.now();
    process.kill(cluster.node(frozen).pid!, 'SIGSTOP');
    try {
      const md = await waitFor(
        `node ${frozen} out of the ISR of ${follows.map((p) => `p${p}`).join(',')}`,
        async () => {
          const m = await metadataOf(watcher.clientPort, topic);
          return (
            m.partitions.every((p) => !follows.includes(p.p) || !p.isr.includes(frozen)) && { ...m, t: Date.now() }
          );
        },
        60_000,
        diag,
      );
      assert.ok(
        md.brokers.includes(frozen),
        `node ${frozen} left the ISRs because it lagged, not because it was fenced: ${JSON.stringify(md)}`,
      );
      console.log(
        `# node ${frozen} frozen (SIGSTOP): out of the ISR of the partitions it follows after ${md.t - frozenAt} ms (replica.lag.time.max.ms=${LAG_MS}), still unfenced`,
      );
      await waitFor(
        `describeTopics without node ${frozen} in the ISR of ${follows.map((p) => `p${p}`).join(',')}`,
        async () => {
          const d = await j.describe();
          return d?.partitions.every((p) => !follows.includes(p.p) || !p.isr.includes(frozen));
        },
        60_000,
        diag,
      );
    } finally {
      process.kill(cluster.node(frozen).pid!, 'SIGCONT');
    }
    const thawedAt = Date.now();
    const thawed = await waitFor(
      `node ${frozen} back in every ISR`,
      async () => {
        const d = await j.describe();
        return d?.partitions.every((p) => p.isr.length === 3) ? d.t - thawedAt : false;
      },
      90_000,
      diag,
    );
    console.log(`# node ${frozen} resumed (SIGCONT): back in every ISR after ${thawed} ms`);
    await progressed(
      `records acknowledged and committed after node ${frozen} resumed`,
      j.acks.map((a) => a.length),
      j.consumed.map((c) => c.committed),
    );

    await j.ok('stop-producer', 'producer-closed', 180_000);
    const produced = j.events.find((e) => e.type === 'produced');
    const total = j.acks.reduce((n, a) => n + a.length, 0);
    assert.equal(total, produced?.sent, 'every record sent was acknowledged');
    await waitFor(
      'the consumer to commit everything acknowledged',
      () => j.consumed.every((c, p) => c.committed === j.acks[p].length),
      90_000,
      diag,
    );
    await j.ok('close', 'closed', 90_000);

    assert.deepEqual(j.errors, [], 'no exception reached the application');
    let redelivered = 0;
    for (let p = 0; p < PARTITIONS; p++) {
      const acks = j.acks[p];
      // the producer's order is the log's: p<p>-<n> at increasing offsets, offsets 0..n-1
      const bySeq = [...acks].sort((a, b) => Number(a.v.split('-')[1]) - Number(b.v.split('-')[1]));
      assert.deepEqual(
        bySeq.map((a) => a.o),
        bySeq.map((_, i) => i),
        `partition ${p}: record n at offset n`,
      );
      const c = j.consumed[p];
      assert.deepEqual(c.violations, [], `partition ${p}`);
      assert.equal(c.values.size, acks.length, `partition ${p}: records read`);
      for (const a of acks) assert.equal(c.values.get(a.o), a.v, `partition ${p} offset ${a.o}`);
      redelivered += c.redelivered;
    }
    console.log(
      `# ${total} records acknowledged and read back; ${redelivered} re-delivered after a rebalance (all after the last commit)`,
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\n${JSON.stringify(diag())}\nJava stderr:\n${j.stderr.slice(-3000)}\n${cluster.output().slice(-15_000)}`,
    );
  } finally {
    j.kill();
    await cluster.close();
  }
});
