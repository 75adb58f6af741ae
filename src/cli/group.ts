/**
 * `samsa group list | describe | reset-offsets | delete`: consumer groups.
 *
 *   describe      state, members (client id, host, assigned partitions), and per
 *                 partition committed offset, log end offset and lag, plus the
 *                 total lag. Like Kafka's kafka-consumer-groups, it asks with
 *                 ConsumerGroupDescribe first (KIP-848 groups, group.protocol=
 *                 consumer: the broker's assignment) and with DescribeGroups for
 *                 a classic group (assignments decoded from the ConsumerProtocol
 *                 bytes);
 *   list          every group with its type (classic / consumer, ListGroups v5);
 *   reset-offsets a plan (current -> new per partition) printed as a dry run,
 *                 committed with --execute only while the group has no members
 *                 (Empty or Dead), as Kafka's kafka-consumer-groups does;
 *   delete        DeleteGroups (the broker refuses a group with members).
 */
import type { Command } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { UsageError, collect, formatTable, parseIntOption } from './format.ts';
import type { KafkaClient } from '../client/client.ts';
import { decodeAssignment, type TopicPartitions } from '../client/consumer-protocol.ts';
import { KafkaError } from '../protocol/error-codes.ts';

export interface GroupMemberView {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  host: string;
  assignment: TopicPartitions[];
  /** Consumer-protocol groups: the member's epoch and the assignment it is moving to. */
  memberEpoch?: number;
  targetAssignment?: TopicPartitions[];
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committedOffset: number | null;
  logEndOffset: number;
  lag: number | null;
  memberId: string | null;
  clientId: string | null;
}

export interface GroupView {
  groupId: string;
  /** 'consumer' for a KIP-848 group, else 'classic'. */
  groupType: 'classic' | 'consumer';
  state: string;
  protocolType: string;
  protocol: string;
  members: GroupMemberView[];
  offsets: PartitionLag[];
  totalLag: number;
}

export interface GroupDescription {
  groupType: 'classic' | 'consumer';
  state: string;
  protocolType: string;
  /** Classic: the selected protocol (assignor); consumer: the server assignor. */
  protocol: string;
  members: GroupMemberView[];
}

const sortedTps = (tps: TopicPartitions[]): TopicPartitions[] =>
  tps
    .map((t) => ({ topic: t.topic, partitions: [...t.partitions].sort((a, b) => a - b) }))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));

/** The partitions of a ConsumerGroupDescribe assignment, by topic name (its id when the broker gave no name). */
function consumerAssignment(a: {
  topicPartitions: { topicId: string; topicName: string; partitions: number[] }[];
}): TopicPartitions[] {
  return sortedTps(a.topicPartitions.map((t) => ({ topic: t.topicName || t.topicId, partitions: t.partitions })));
}

/**
 * The group as its coordinator describes it: ConsumerGroupDescribe for a
 * consumer-protocol (KIP-848) group, else DescribeGroups (a group that does
 * not exist is a classic Dead group without members).
 */
export async function describeAnyGroup(c: KafkaClient, groupId: string): Promise<GroupDescription> {
  const cg = await c.describeConsumerGroup(groupId);
  if (cg) {
    return {
      groupType: 'consumer',
      state: cg.groupState,
      protocolType: 'consumer',
      protocol: cg.assignorName,
      members: cg.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.instanceId ?? null,
        clientId: m.clientId,
        host: m.clientHost,
        assignment: consumerAssignment(m.assignment),
        memberEpoch: m.memberEpoch,
        targetAssignment: consumerAssignment(m.targetAssignment),
      })),
    };
  }
  const g = await c.describeGroup(groupId);
  const members: GroupMemberView[] = g.members.map((m) => {
    let assignment: TopicPartitions[] = [];
    if (g.protocolType === 'consumer' || g.protocolType === '') {
      try {
        assignment = sortedTps(decodeAssignment(m.memberAssignment).partitions);
      } catch {
        assignment = [];
      }
    }
    return {
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId ?? null,
      clientId: m.clientId,
      host: m.clientHost,
      assignment,
    };
  });
  return { groupType: 'classic', state: g.groupState, protocolType: g.protocolType, protocol: g.protocolData, members };
}

/** A group's members and, per partition it owns or has committed, committed offset, log end and lag. */
export async function describeGroupView(c: KafkaClient, groupId: string): Promise<GroupView> {
  const g = await describeAnyGroup(c, groupId);
  const committed = await c.offsetFetch(groupId);
  const members = g.members;
  if (
    (g.state === 'Dead' || g.state === '') &&
    members.length === 0 &&
    committed.filter((x) => x.offset >= 0).length === 0
  ) {
    throw new KafkaError(69, `group '${groupId}' does not exist`);
  }
  const owner = new Map<string, GroupMemberView>();
  for (const m of members) for (const t of m.assignment) for (const p of t.partitions) owner.set(`${t.topic}\0${p}`, m);
  const keys = new Map<string, { topic: string; partition: number }>();
  for (const x of committed)
    if (x.offset >= 0) keys.set(`${x.topic}\0${x.partition}`, { topic: x.topic, partition: x.partition });
  for (const m of members)
    for (const t of m.assignment)
      for (const p of t.partitions) keys.set(`${t.topic}\0${p}`, { topic: t.topic, partition: p });
  const sorted = [...keys.entries()].sort(([, a], [, b]) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition,
  );
  const offsets: PartitionLag[] = [];
  let totalLag = 0;
  for (const [key, { topic, partition }] of sorted) {
    const end = (await c.listOffsets(topic, partition, 'latest')).offset;
    const co = committed.find((x) => x.topic === topic && x.partition === partition && x.offset >= 0)?.offset ?? null;
    const lag = co === null ? null : Math.max(0, end - co);
    if (lag !== null) totalLag += lag;
    const m = owner.get(key);
    offsets.push({
      topic,
      partition,
      committedOffset: co,
      logEndOffset: end,
      lag,
      memberId: m?.memberId ?? null,
      clientId: m?.clientId ?? null,
    });
  }
  return {
    groupId,
    groupType: g.groupType,
    state: g.state,
    protocolType: g.protocolType,
    protocol: g.protocol,
    members,
    offsets,
    totalLag,
  };
}

export type ResetSpec =
  | { kind: 'earliest' }
  | { kind: 'latest' }
  | { kind: 'datetime'; timestamp: number }
  | { kind: 'offset'; offset: number }
  | { kind: 'shift'; by: number };

export interface ResetPlanRow {
  topic: string;
  partition: number;
  currentOffset: number | null;
  newOffset: number;
}

/** The offsets a reset would commit, per partition of the topics. */
export async function planReset(
  c: KafkaClient,
  groupId: string,
  topics: string[],
  spec: ResetSpec,
): Promise<ResetPlanRow[]> {
  const rows: ResetPlanRow[] = [];
  for (const topic of topics) {
    const partitions = await c.partitionsFor(topic);
    const committed = new Map<number, number>();
    for (const x of await c.offsetFetch(groupId, [{ topic, partitions }]))
      if (x.offset >= 0) committed.set(x.partition, x.offset);
    for (const p of partitions) {
      const [lo, hi] = await Promise.all([c.listOffsets(topic, p, 'earliest'), c.listOffsets(topic, p, 'latest')]);
      const clamp = (n: number) => Math.min(hi.offset, Math.max(lo.offset, n));
      const current = committed.get(p) ?? null;
      let next: number;
      switch (spec.kind) {
        case 'earliest':
          next = lo.offset;
          break;
        case 'latest':
          next = hi.offset;
          break;
        case 'datetime': {
          const r = await c.listOffsets(topic, p, spec.timestamp);
          next = r.offset < 0 ? hi.offset : clamp(r.offset);
          break;
        }
        case 'offset':
          next = clamp(spec.offset);
          break;
        case 'shift':
          if (current === null)
            throw new UsageError(
              `cannot shift the offset of ${topic}-${p}: group '${groupId}' has no committed offset for it`,
            );
          next = clamp(current + spec.by);
          break;
      }
      rows.push({ topic, partition: p, currentOffset: current, newOffset: next });
    }
  }
  return rows;
}

interface ResetFlags extends ClientFlags {
  topic?: string[];
  toEarliest?: boolean;
  toLatest?: boolean;
  toDatetime?: string;
  toOffset?: string;
  shiftBy?: string;
  execute?: boolean;
  dryRun?: boolean;
}

export function parseResetSpec(o: ResetFlags): ResetSpec {
  const given: ResetSpec[] = [];
  if (o.toEarliest) given.push({ kind: 'earliest' });
  if (o.toLatest) given.push({ kind: 'latest' });
  if (o.toDatetime !== undefined) {
    const t = Date.parse(o.toDatetime);
    if (Number.isNaN(t))
      throw new UsageError(
        `--to-datetime must be an ISO date-time such as 2024-01-31T12:00:00Z, got '${o.toDatetime}'`,
      );
    given.push({ kind: 'datetime', timestamp: t });
  }
  if (o.toOffset !== undefined) given.push({ kind: 'offset', offset: parseIntOption(o.toOffset, '--to-offset', 0) });
  if (o.shiftBy !== undefined) given.push({ kind: 'shift', by: parseIntOption(o.shiftBy, '--shift-by') });
  if (given.length !== 1)
    throw new UsageError('give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset, --shift-by');
  return given[0];
}

const RESETTABLE = new Set(['Empty', 'Dead', '']);

export function registerGroupCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const group = program.command('group').description('consumer groups: list, describe (lag), reset offsets, delete');

  clientOptions(group.command('list').description('consumer groups of the cluster')).action(async (o: ClientFlags) => {
    await withClient(o, async (c) => {
      const groups = (await c.listGroups()).sort((a, b) =>
        a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0,
      );
      if (o.json) {
        io.stdout(JSON.stringify(groups) + '\n');
        return;
      }
      io.stdout(
        formatTable(
          ['GROUP', 'TYPE', 'STATE', 'PROTOCOL-TYPE'],
          groups.map((g) => [g.groupId, g.type, g.state, g.protocolType || null]),
        ),
      );
    });
  });

  clientOptions(
    group.command('describe <group>').description('members, assigned partitions, committed offsets and lag'),
  ).action(async (groupId: string, o: ClientFlags) => {
    await withClient(o, async (c) => {
      const v = await describeGroupView(c, groupId);
      if (o.json) {
        io.stdout(JSON.stringify(v) + '\n');
        return;
      }
      io.stdout(
        `Group: ${v.groupId}\nType: ${v.groupType}\nState: ${v.state}\nProtocol: ${v.protocolType || '-'}${v.protocol ? ` (${v.protocol})` : ''}\nMembers: ${v.members.length}\nTotal lag: ${v.totalLag}\n\n`,
      );
      if (v.members.length > 0) {
        const tps = (a: TopicPartitions[] | undefined) =>
          a?.map((t) => `${t.topic}:${t.partitions.join(',')}`).join(' ') || null;
        // A consumer-protocol member also has an epoch and the assignment it is reconciling towards.
        const consumer = v.groupType === 'consumer';
        io.stdout(
          formatTable(
            [
              'MEMBER',
              'CLIENT-ID',
              'HOST',
              ...(consumer ? ['EPOCH'] : []),
              'PARTITIONS',
              ...(consumer ? ['TARGET-PARTITIONS'] : []),
            ],
            v.members.map((m) => [
              m.memberId,
              m.clientId,
              m.host,
              ...(consumer ? [m.memberEpoch ?? null] : []),
              tps(m.assignment),
              ...(consumer ? [tps(m.targetAssignment)] : []),
            ]),
          ) + '\n',
        );
      }
      io.stdout(
        formatTable(
          ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'LOG-END-OFFSET', 'LAG', 'CLIENT-ID'],
          v.offsets.map((p) => [p.topic, p.partition, p.committedOffset, p.logEndOffset, p.lag, p.clientId]),
        ),
      );
    });
  });

  clientOptions(
    group
      .command('reset-offsets <group>')
      .description(
        "plan (dry run, the default) or --execute a change of a group's committed offsets; the group must have no members",
      )
      .requiredOption('--topic <topic>', 'topic whose offsets to reset (repeatable)', collect)
      .option('--to-earliest', 'the log start offset')
      .option('--to-latest', 'the log end offset')
      .option('--to-datetime <iso>', 'the first offset at or after this time (e.g. 2024-01-31T12:00:00Z)')
      .option('--to-offset <n>', 'this offset (kept within the log)')
      .option('--shift-by <n>', 'the committed offset plus n (negative: back)')
      .option('--dry-run', 'only print the plan (the default)')
      .option('--execute', 'commit the plan'),
  ).action(async (groupId: string, o: ResetFlags) => {
    const spec = parseResetSpec(o);
    if (o.execute && o.dryRun) throw new UsageError('give either --dry-run or --execute, not both');
    await withClient(o, async (c) => {
      const g = await describeAnyGroup(c, groupId);
      if (o.execute && !RESETTABLE.has(g.state)) {
        throw new UsageError(
          `group '${groupId}' is ${g.state} with ${g.members.length} member(s): offsets can only be reset while it has no members (stop its consumers first)`,
        );
      }
      const rows = await planReset(c, groupId, o.topic ?? [], spec);
      if (o.execute)
        await c.offsetCommit(
          groupId,
          rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.newOffset })),
        );
      if (o.json) {
        io.stdout(JSON.stringify({ groupId, executed: !!o.execute, partitions: rows }) + '\n');
        return;
      }
      io.stdout(
        formatTable(
          ['TOPIC', 'PARTITION', 'CURRENT-OFFSET', 'NEW-OFFSET'],
          rows.map((r) => [r.topic, r.partition, r.currentOffset, r.newOffset]),
        ),
      );
      io.stdout(
        o.execute
          ? `committed new offsets for group '${groupId}'\n`
          : 'dry run: nothing changed (add --execute to commit these offsets)\n',
      );
    });
  });

  clientOptions(
    group.command('delete <group>').description('delete a group without members, and its committed offsets'),
  ).action(async (groupId: string, o: ClientFlags) => {
    await withClient(o, async (c) => {
      const [r] = await c.deleteGroups([groupId]);
      if (r.error) throw r.error;
      io.stdout(o.json ? JSON.stringify({ groupId, deleted: true }) + '\n' : `deleted group '${groupId}'\n`);
    });
  });
}
