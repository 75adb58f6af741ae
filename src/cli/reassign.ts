/**
 * Moving replicas between brokers (KIP-455's AlterPartitionReassignments and
 * ListPartitionReassignments, sent to any broker, which forwards them to the
 * active controller):
 *
 *   samsa partitions reassign --topic T --partition P --replicas 1,2,3
 *   samsa partitions reassign --topic T --partition P --cancel
 *   samsa partitions reassign --list [--topic T]
 *   samsa cluster rebalance [--dry-run] [--topic T ...]
 *
 * A reassignment (and a rebalance) waits until the controller has completed
 * it, with a progress line whenever the count of partitions still moving
 * changes (`--no-wait` returns once it is accepted). `cluster rebalance`
 * plans an even spread of replicas and preferred leaders over the live
 * brokers (rebalance-plan.ts), prints it, submits it in one request, and
 * once the moves are done asks for a preferred-leader election (ElectLeaders)
 * of the partitions it moved, so that leadership is spread as planned.
 */
import type { Command, OptionValues } from 'commander';
import type { KafkaClient } from '../client/client.ts';
import { ErrorCode, errorName, KafkaError } from '../protocol/error-codes.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { UsageError, formatTable, parseIntOption } from './format.ts';
import { type PartitionAssignment, planRebalance, type RebalancePlan } from './rebalance-plan.ts';

type Flags = ClientFlags & OptionValues;

/** How often the wait asks ListPartitionReassignments. */
const POLL_MS = 500;

export interface Ongoing {
  topic: string;
  partition: number;
  replicas: number[];
  adding: number[];
  removing: number[];
}

/** ListPartitionReassignments: the reassignments in progress (of `topics`' partitions, or all). */
export async function listReassignments(
  c: KafkaClient,
  topics: { name: string; partitionIndexes: number[] }[] | null = null,
): Promise<Ongoing[]> {
  const res = await c.request('ListPartitionReassignments', { timeoutMs: 30_000, topics });
  if (res.errorCode !== ErrorCode.NONE) throw new KafkaError(res.errorCode, res.errorMessage ?? undefined);
  return res.topics
    .flatMap((t) =>
      t.partitions.map((p) => ({
        topic: t.name,
        partition: p.partitionIndex,
        replicas: p.replicas,
        adding: p.addingReplicas,
        removing: p.removingReplicas,
      })),
    )
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/**
 * AlterPartitionReassignments for `items` (target null: cancel); throws with
 * one line per refused partition.
 */
export async function submitReassignments(
  c: KafkaClient,
  items: { topic: string; partition: number; target: number[] | null }[],
): Promise<void> {
  const byTopic = new Map<string, { partitionIndex: number; replicas: number[] | null }[]>();
  for (const it of items) {
    let list = byTopic.get(it.topic);
    if (!list) byTopic.set(it.topic, (list = []));
    list.push({ partitionIndex: it.partition, replicas: it.target });
  }
  const res = await c.request('AlterPartitionReassignments', {
    timeoutMs: 30_000,
    allowReplicationFactorChange: true,
    topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
  });
  if (res.errorCode !== ErrorCode.NONE)
    throw new KafkaError(
      res.errorCode,
      `${errorName(res.errorCode)}${res.errorMessage ? `: ${res.errorMessage}` : ''}`,
    );
  const refused = res.responses.flatMap((t) =>
    t.partitions
      .filter((p) => p.errorCode !== ErrorCode.NONE)
      .map(
        (p) =>
          `${t.name}-${p.partitionIndex}: ${errorName(p.errorCode)}${p.errorMessage ? ` (${p.errorMessage})` : ''}`,
      ),
  );
  if (refused.length > 0) throw new Error(`reassignment refused: ${refused.join('; ')}`);
}

/**
 * Waits until none of `parts` is being reassigned, printing a progress line
 * when the count still moving changes; throws after `maxWaitMs`.
 */
export async function waitForReassignments(
  c: KafkaClient,
  parts: { topic: string; partition: number }[],
  progress: (line: string) => void,
  maxWaitMs: number,
): Promise<void> {
  const byTopic = new Map<string, number[]>();
  for (const p of parts) {
    let list = byTopic.get(p.topic);
    if (!list) byTopic.set(p.topic, (list = []));
    list.push(p.partition);
  }
  const query = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  const deadline = Date.now() + maxWaitMs;
  let last = -1;
  for (;;) {
    const ongoing = await listReassignments(c, query);
    if (ongoing.length !== last) {
      last = ongoing.length;
      if (ongoing.length > 0) {
        const adding = ongoing.reduce((s, o) => s + o.adding.length, 0);
        progress(
          `${parts.length - ongoing.length} of ${parts.length} partition(s) reassigned; ${ongoing.length} in progress (${adding} replica(s) catching up)`,
        );
      }
    }
    if (ongoing.length === 0) {
      progress(`${parts.length} of ${parts.length} partition(s) reassigned`);
      return;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `${ongoing.length} reassignment(s) still in progress after ${maxWaitMs} ms (they go on: see samsa partitions reassign --list)`,
      );
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function parseReplicas(s: string): number[] {
  const ids = s.split(',').map((x) => parseIntOption(x.trim(), '--replicas', 0));
  if (ids.length === 0) throw new UsageError('--replicas needs at least one broker id');
  return ids;
}

function formatCounts(plan: RebalancePlan, before: Record<string, number>, after: Record<string, number>): string[][] {
  return Object.keys({ ...before, ...after })
    .sort((a, b) => Number(a) - Number(b))
    .map((id) => [
      id,
      plan.brokers.includes(Number(id)) ? 'live' : 'not live',
      String(before[id] ?? 0),
      String(after[id] ?? 0),
    ]);
}

/** The human-readable rebalance plan. */
export function formatPlan(plan: RebalancePlan): string {
  let out = formatTable(
    ['BROKER', 'STATE', 'REPLICAS NOW', 'REPLICAS AFTER'],
    formatCounts(plan, plan.replicasBefore, plan.replicasAfter),
  );
  out += '\n';
  out += formatTable(
    ['BROKER', 'STATE', 'PREFERRED LEADER NOW', 'PREFERRED LEADER AFTER'],
    formatCounts(plan, plan.leadersBefore, plan.leadersAfter),
  );
  out += '\n';
  if (plan.changes.length === 0) return `${out}The replicas and preferred leaders are already evenly spread.\n`;
  out += formatTable(
    ['TOPIC', 'PARTITION', 'REPLICAS', 'NEW REPLICAS'],
    plan.changes.map((ch) => [ch.topic, ch.partition, ch.replicas.join(','), ch.target.join(',')]),
  );
  return `${out}${plan.changes.length} partition(s) to reassign, ${plan.replicaMoves} replica(s) to copy.\n`;
}

function waitMs(o: Flags): number {
  return parseIntOption(String(o.waitMs), '--wait-ms', 1);
}

export function registerPartitionCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const partitions = program.command('partitions').description('move partition replicas between brokers');
  clientOptions(
    partitions
      .command('reassign')
      .description(
        'move a partition to a new replica list (and wait until done), cancel a move, or list those under way',
      )
      .option('--topic <name>', 'the topic')
      .option('--partition <n>', 'the partition')
      .option(
        '--replicas <ids>',
        'the new replica list, comma-separated broker ids (the first is the preferred leader)',
      )
      .option('--cancel', 'cancel the reassignment of the partition (the new replicas are dropped)')
      .option('--list', 'list the reassignments in progress (of --topic, if given)')
      .option('--no-wait', 'return once the controller accepted the reassignment')
      .option('--wait-ms <ms>', 'give up waiting after this long (the reassignment goes on)', '600000'),
  ).action(async (o: Flags) => {
    if (o.list) {
      await withClient(o, async (c) => {
        let ongoing = await listReassignments(c);
        if (o.topic) ongoing = ongoing.filter((x) => x.topic === o.topic);
        if (o.json) io.stdout(`${JSON.stringify(ongoing)}\n`);
        else if (ongoing.length === 0) io.stdout('No reassignment in progress.\n');
        else
          io.stdout(
            formatTable(
              ['TOPIC', 'PARTITION', 'REPLICAS', 'ADDING', 'REMOVING'],
              ongoing.map((x) => [
                x.topic,
                x.partition,
                x.replicas.join(','),
                x.adding.join(','),
                x.removing.join(','),
              ]),
            ),
          );
      });
      return;
    }
    if (!o.topic || o.partition === undefined) throw new UsageError('--topic and --partition are required (or --list)');
    if (Boolean(o.cancel) === (o.replicas !== undefined)) throw new UsageError('give either --replicas or --cancel');
    const partition = parseIntOption(o.partition, '--partition', 0);
    const target = o.cancel ? null : parseReplicas(o.replicas);
    const maxWait = waitMs(o);
    await withClient(o, async (c) => {
      await submitReassignments(c, [{ topic: o.topic, partition, target }]);
      const what = `${o.topic}-${partition}`;
      if (!o.json)
        io.stdout(
          target === null ? `cancelled the reassignment of ${what}\n` : `reassigning ${what} to ${target.join(',')}\n`,
        );
      if (target !== null && o.wait)
        await waitForReassignments(c, [{ topic: o.topic, partition }], (l) => o.json || io.stdout(`${l}\n`), maxWait);
      if (o.json)
        io.stdout(`${JSON.stringify({ topic: o.topic, partition, replicas: target, cancelled: target === null })}\n`);
    });
  });
}

/** `samsa cluster rebalance`, added to the `cluster` command. */
export function registerRebalanceCommand(cluster: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  clientOptions(
    cluster
      .command('rebalance')
      .description(
        'spread replicas and preferred leaders evenly over the live brokers with the fewest moves, and wait until done',
      )
      .option('--dry-run', 'print the plan, change nothing')
      .option('--topic <name>', 'only these topics (repeatable; default: every topic but internal ones)', collectTopics)
      .option('--no-wait', 'return once the controller accepted the reassignments')
      .option('--wait-ms <ms>', 'give up waiting after this long (the reassignments go on)', '600000'),
  ).action(async (o: Flags) => {
    const maxWait = waitMs(o);
    await withClient(o, async (c) => {
      const md = await c.metadata();
      const wanted: string[] | undefined = o.topic;
      for (const name of wanted ?? [])
        if (!md.topics.some((t) => t.name === name)) throw new UsageError(`topic '${name}' does not exist`);
      const topics = md.topics.filter((t) => (wanted ? wanted.includes(t.name) : !t.isInternal));
      const ongoing = await listReassignments(c);
      if (ongoing.length > 0)
        throw new Error(
          `${ongoing.length} reassignment(s) in progress: wait for them, or cancel them (samsa partitions reassign --list)`,
        );
      const parts: PartitionAssignment[] = topics
        .flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partition, replicas: [...p.replicas] })))
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const plan = planRebalance(
        parts,
        md.brokers.map((b) => b.nodeId),
      );
      if (o.json) io.stdout(`${JSON.stringify({ ...plan, dryRun: Boolean(o.dryRun) })}\n`);
      else io.stdout(formatPlan(plan));
      if (o.dryRun || plan.changes.length === 0) return;
      await submitReassignments(
        c,
        plan.changes.map((ch) => ({ topic: ch.topic, partition: ch.partition, target: ch.target })),
      );
      if (!o.json) io.stdout(`submitted ${plan.changes.length} reassignment(s)\n`);
      if (!o.wait) return;
      await waitForReassignments(
        c,
        plan.changes.map((ch) => ({ topic: ch.topic, partition: ch.partition })),
        (l) => o.json || io.stdout(`${l}\n`),
        maxWait,
      );
      const line = await electPreferred(c, plan);
      if (!o.json) io.stdout(`${line}\n`);
    });
  });
}

/**
 * After the moves: a preferred-leader election (ElectLeaders) for the planned
 * partitions, so that leadership follows the new first replicas; one line saying
 * how it went (no failure: the moves are done, and automatic leader balancing
 * or `samsa cluster elect-leaders` can do it later).
 */
async function electPreferred(c: KafkaClient, plan: RebalancePlan): Promise<string> {
  const conn = await c.anyConnection();
  if (!conn.supports('ElectLeaders')) return 'preferred leaders not elected: the broker does not serve ElectLeaders';
  const byTopic = new Map<string, number[]>();
  for (const ch of plan.changes) {
    let list = byTopic.get(ch.topic);
    if (!list) byTopic.set(ch.topic, (list = []));
    list.push(ch.partition);
  }
  const res = await c.request('ElectLeaders', {
    electionType: 0,
    topicPartitions: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
    timeoutMs: 30_000,
  });
  if ((res.errorCode ?? ErrorCode.NONE) !== ErrorCode.NONE)
    return `preferred leaders not elected: ${errorName(res.errorCode)}`;
  let elected = 0;
  let notNeeded = 0;
  const failed: string[] = [];
  for (const t of res.replicaElectionResults)
    for (const p of t.partitionResult) {
      if (p.errorCode === ErrorCode.NONE) elected++;
      else if (p.errorCode === ErrorCode.ELECTION_NOT_NEEDED) notNeeded++;
      else failed.push(`${t.topic}-${p.partitionId}: ${errorName(p.errorCode)}`);
    }
  return (
    `preferred leaders: ${elected} elected, ${notNeeded} already leading` +
    (failed.length > 0 ? `; not elected: ${failed.join(', ')}` : '')
  );
}

function collectTopics(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}
