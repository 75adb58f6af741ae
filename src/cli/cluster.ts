/**
 * `samsa cluster info`: cluster id, the active controller, the brokers (live
 * or fenced), the under-replicated partitions (a leader, and fewer in-sync
 * replicas than replicas) and offline ones (no leader) of every topic,
 * internal ones included, the controller quorum and the metadata offset.
 *
 * Brokers come from DescribeCluster v2 with `includeFencedBrokers` (KIP-1073;
 * Metadata lists live brokers only), or from Metadata when the broker does not
 * serve that version. The quorum comes from DescribeQuorum (55) on the
 * `__cluster_metadata` partition, sent to the bootstrap broker, which forwards
 * it to the active controller (as Kafka's `kafka-metadata-quorum
 * --bootstrap-server` does): the leader, its epoch, the high watermark and
 * each voter's and observer's log end offset, lag behind the leader and last
 * fetch. A broker that does not answer DescribeQuorum leaves the quorum out,
 * with the reason, and the rest is still printed.
 */
import type { Command } from 'commander';
import type { KafkaClient, PartitionInfo } from '../client/client.ts';
import { ErrorCode, errorName, isRetriable } from '../protocol/error-codes.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { UsageError, formatTable, parseIntOption } from './format.ts';
import { registerRebalanceCommand } from './reassign.ts';
import { isOffline, isUnderReplicated } from './topic.ts';

export const METADATA_TOPIC = '__cluster_metadata';

export interface BrokerState {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
  /** null when the broker cannot tell (no DescribeCluster v2): it listed only live brokers. */
  fenced: boolean | null;
}

export interface QuorumReplica {
  nodeId: number;
  logEndOffset: number;
  /** The leader's log end offset minus this replica's. */
  lag: number;
  /** -1 when unknown (DescribeQuorum v0, or never fetched). */
  lastFetchTimestamp: number;
  lastCaughtUpTimestamp: number;
  /** The node's CONTROLLER endpoints (DescribeQuorum v2), as NAME://host:port. */
  endpoints: string[];
}

export interface QuorumInfo {
  leaderId: number;
  leaderEpoch: number;
  highWatermark: number;
  voters: QuorumReplica[];
  observers: QuorumReplica[];
}

export interface ClusterInfo {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerState[];
  topics: number;
  partitions: number;
  quorum: QuorumInfo | null;
  /** Why the quorum is missing, when it is. */
  quorumError: string | null;
  /** Offset of the last committed metadata record (high watermark - 1), when the quorum was described. */
  metadataOffset: number | null;
  /** Partitions (internal topics included) with a leader and fewer in-sync replicas than replicas. */
  underReplicatedPartitions: PartitionProblem[];
  /** Partitions (internal topics included) without a leader. */
  offlinePartitions: PartitionProblem[];
}

export interface PartitionProblem {
  topic: string;
  partition: number;
  /** -1: none. */
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

async function describeBrokers(c: KafkaClient): Promise<BrokerState[] | null> {
  const conn = await c.anyConnection();
  if (!conn.supports('DescribeCluster') || conn.versionOf('DescribeCluster') < 2) return null;
  const res = await c.request('DescribeCluster', {
    includeClusterAuthorizedOperations: false,
    endpointType: 1,
    includeFencedBrokers: true,
  });
  if (res.errorCode !== ErrorCode.NONE) return null;
  return res.brokers.map((b) => ({
    nodeId: b.brokerId,
    host: b.host,
    port: b.port,
    rack: b.rack ?? null,
    fenced: b.isFenced,
  }));
}

/** DescribeQuorum of the metadata partition; retriable errors (an election under way) are retried briefly. */
export async function describeQuorum(c: KafkaClient, attempts = 5): Promise<QuorumInfo> {
  for (let attempt = 1; ; attempt++) {
    const res = await c.request('DescribeQuorum', {
      topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }],
    });
    const p = res.topics.find((t) => t.topicName === METADATA_TOPIC)?.partitions.find((x) => x.partitionIndex === 0);
    const code =
      res.errorCode !== ErrorCode.NONE ? res.errorCode : (p?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (code === ErrorCode.NONE && p) {
      const endpoints = new Map<number, string[]>();
      for (const n of res.nodes ?? [])
        endpoints.set(
          n.nodeId,
          n.listeners.map((l) => `${l.name}://${l.host}:${l.port}`),
        );
      const leaderEnd = p.currentVoters.find((v) => v.replicaId === p.leaderId)?.logEndOffset;
      const replica = (r: (typeof p.currentVoters)[number]): QuorumReplica => ({
        nodeId: r.replicaId,
        logEndOffset: Number(r.logEndOffset),
        lag: leaderEnd === undefined ? -1 : Math.max(0, Number(leaderEnd) - Number(r.logEndOffset)),
        lastFetchTimestamp: Number(r.lastFetchTimestamp ?? -1),
        lastCaughtUpTimestamp: Number(r.lastCaughtUpTimestamp ?? -1),
        endpoints: endpoints.get(r.replicaId) ?? [],
      });
      return {
        leaderId: p.leaderId,
        leaderEpoch: p.leaderEpoch,
        highWatermark: Number(p.highWatermark),
        voters: p.currentVoters.map(replica).sort((a, b) => a.nodeId - b.nodeId),
        observers: p.observers.map(replica).sort((a, b) => a.nodeId - b.nodeId),
      };
    }
    const message = res.errorMessage ?? p?.errorMessage ?? null;
    if (!isRetriable(code) || attempt >= attempts)
      throw new Error(`DescribeQuorum: ${errorName(code)}${message ? ` (${message})` : ''}`);
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}

export async function clusterInfo(c: KafkaClient): Promise<ClusterInfo> {
  const md = await c.metadata();
  const topics = md.topics.filter((t) => !t.isInternal);
  const brokers =
    (await describeBrokers(c)) ??
    md.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack, fenced: null }));
  let quorum: QuorumInfo | null = null;
  let quorumError: string | null = null;
  try {
    const conn = await c.anyConnection();
    if (!conn.supports('DescribeQuorum')) quorumError = `the broker at ${conn.address} does not serve DescribeQuorum`;
    else quorum = await describeQuorum(c);
  } catch (err) {
    quorumError = (err as Error).message.split('\n')[0];
  }
  const problems = (which: (p: PartitionInfo) => boolean): PartitionProblem[] =>
    md.topics
      .filter((t) => t.errorCode === ErrorCode.NONE)
      .flatMap((t) =>
        t.partitions.filter(which).map((p) => ({
          topic: t.name,
          partition: p.partition,
          leader: p.leader,
          leaderEpoch: p.leaderEpoch,
          replicas: p.replicas,
          isr: p.isr,
        })),
      )
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  return {
    clusterId: md.clusterId,
    controllerId: md.controllerId,
    brokers: brokers.sort((a, b) => a.nodeId - b.nodeId),
    topics: topics.length,
    partitions: topics.reduce((n, t) => n + t.partitions.length, 0),
    quorum,
    quorumError,
    metadataOffset: quorum ? quorum.highWatermark - 1 : null,
    underReplicatedPartitions: problems(isUnderReplicated),
    offlinePartitions: problems(isOffline),
  };
}

function age(ts: number, now: number): string | null {
  return ts < 0 ? null : `${Math.max(0, now - ts)} ms ago`;
}

function partitionsText(title: string, list: PartitionProblem[]): string {
  if (list.length === 0) return `${title}: none\n`;
  return (
    `${title}: ${list.length}\n` +
    formatTable(
      ['TOPIC', 'PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR'],
      list.map((p) => [
        p.topic,
        p.partition,
        p.leader < 0 ? 'none' : String(p.leader),
        p.leaderEpoch,
        p.replicas.join(','),
        p.isr.join(',') || null,
      ]),
    )
  );
}

/** The human-readable form of `clusterInfo`. */
export function formatClusterInfo(info: ClusterInfo, now = Date.now()): string {
  let out =
    `Cluster id: ${info.clusterId ?? '-'}\n` +
    `Controller: ${info.controllerId < 0 ? 'none (no active controller)' : info.controllerId}\n` +
    `Metadata offset: ${info.metadataOffset ?? '-'}\n` +
    `Topics: ${info.topics} (${info.partitions} partitions)\n\n`;
  out += formatTable(
    ['BROKER', 'HOST', 'PORT', 'RACK', 'STATE'],
    info.brokers.map((b) => [
      b.nodeId,
      b.host,
      b.port,
      b.rack,
      b.fenced === null ? 'live' : b.fenced ? 'fenced' : 'live',
    ]),
  );
  out += '\n';
  out += partitionsText('Under-replicated partitions', info.underReplicatedPartitions);
  out += partitionsText('Offline partitions', info.offlinePartitions);
  out += '\n';
  const q = info.quorum;
  if (!q) return out + `Quorum: not available: ${info.quorumError ?? 'unknown'}\n`;
  out += `Quorum: leader ${q.leaderId < 0 ? 'none' : q.leaderId}, epoch ${q.leaderEpoch}, high watermark ${q.highWatermark}\n`;
  const rows = [
    ...q.voters.map((r) => ({ r, role: r.nodeId === q.leaderId ? 'leader' : 'voter' })),
    ...q.observers.map((r) => ({ r, role: 'observer' })),
  ];
  const withEndpoints = rows.some(({ r }) => r.endpoints.length > 0);
  out += formatTable(
    ['NODE', 'ROLE', 'LOG END OFFSET', 'LAG', 'LAST FETCH', 'LAST CAUGHT UP', ...(withEndpoints ? ['ENDPOINT'] : [])],
    rows.map(({ r, role }) => [
      r.nodeId,
      role,
      r.logEndOffset,
      r.lag < 0 ? null : r.lag,
      role === 'leader' ? null : age(r.lastFetchTimestamp, now),
      role === 'leader' ? null : age(r.lastCaughtUpTimestamp, now),
      ...(withEndpoints ? [r.endpoints.join(',') || null] : []),
    ]),
  );
  return out;
}

/** One partition's outcome of `samsa cluster elect-leaders`. */
export interface ElectionResult {
  topic: string;
  partition: number;
  /** NONE: a new leader was elected; ELECTION_NOT_NEEDED: nothing to do. */
  errorCode: number;
  error: string | null;
  errorMessage: string | null;
}

/**
 * ElectLeaders (43) through the bootstrap broker, which forwards it to the
 * active controller. `topic` null: every partition of every topic (the
 * answer leaves out those that need no election); `partition` null: every
 * partition of `topic`.
 */
export async function electLeaders(
  c: KafkaClient,
  type: 'preferred' | 'unclean',
  topic: string | null,
  partition: number | null,
  timeoutMs = 30_000,
): Promise<ElectionResult[]> {
  const conn = await c.anyConnection();
  if (!conn.supports('ElectLeaders')) throw new Error(`the broker at ${conn.address} does not serve ElectLeaders`);
  if (type === 'unclean' && conn.versionOf('ElectLeaders') < 1)
    throw new Error(`the broker at ${conn.address} serves only preferred elections (ElectLeaders v0)`);
  let topicPartitions: { topic: string; partitions: number[] }[] | null = null;
  if (topic !== null) {
    let partitions: number[];
    if (partition !== null) partitions = [partition];
    else {
      const md = await c.metadata([topic]);
      const t = md.topics.find((x) => x.name === topic);
      if (!t || t.errorCode !== ErrorCode.NONE) throw new UsageError(`topic '${topic}' does not exist`);
      partitions = t.partitions.map((p) => p.partition).sort((a, b) => a - b);
    }
    topicPartitions = [{ topic, partitions }];
  }
  const res = await c.request('ElectLeaders', {
    electionType: type === 'preferred' ? 0 : 1,
    topicPartitions,
    timeoutMs,
  });
  if ((res.errorCode ?? ErrorCode.NONE) !== ErrorCode.NONE)
    throw new Error(`ElectLeaders: ${errorName(res.errorCode)}`);
  const out: ElectionResult[] = [];
  for (const t of res.replicaElectionResults)
    for (const p of t.partitionResult)
      out.push({
        topic: t.topic,
        partition: p.partitionId,
        errorCode: p.errorCode,
        error: p.errorCode === ErrorCode.NONE ? null : errorName(p.errorCode),
        errorMessage: p.errorMessage ?? null,
      });
  return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

/** Whether a partition's outcome is not a failure (elected, or no election needed). */
export const electionSucceeded = (r: ElectionResult) =>
  r.errorCode === ErrorCode.NONE || r.errorCode === ErrorCode.ELECTION_NOT_NEEDED;

/** The human-readable form of `electLeaders`. */
export function formatElections(results: ElectionResult[]): string {
  if (results.length === 0) return 'No partition needed an election.\n';
  return formatTable(
    ['TOPIC', 'PARTITION', 'RESULT'],
    results.map((r) => [
      r.topic,
      r.partition,
      r.errorCode === ErrorCode.NONE
        ? 'elected'
        : r.errorCode === ErrorCode.ELECTION_NOT_NEEDED
          ? 'no election needed'
          : `${r.error}${r.errorMessage ? `: ${r.errorMessage}` : ''}`,
    ]),
  );
}

export function registerClusterCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const cluster = program.command('cluster').description('cluster-wide information');
  clientOptions(
    cluster
      .command('info')
      .description(
        'cluster id, controller, brokers (live, fenced), under-replicated and offline partitions, the controller quorum, the metadata offset',
      ),
  ).action(async (o: ClientFlags) => {
    await withClient(o, async (c) => {
      const info = await clusterInfo(c);
      io.stdout(o.json ? JSON.stringify(info) + '\n' : formatClusterInfo(info));
    });
  });
  clientOptions(
    cluster
      .command('elect-leaders')
      .description(
        'move leadership to the preferred replica (first in the replica list), or elect a leader outside the ISR (unclean) for partitions without one',
      )
      .option('--topic <name>', 'only this topic (default: every partition of every topic)')
      .option('--partition <n>', 'only this partition of --topic')
      .option('--type <type>', 'preferred or unclean', 'preferred'),
  ).action(async (o: ClientFlags & { topic?: string; partition?: string; type: string }) => {
    const type = o.type.trim().toLowerCase();
    if (type !== 'preferred' && type !== 'unclean')
      throw new UsageError(`--type must be preferred or unclean, got '${o.type}'`);
    if (o.partition !== undefined && o.topic === undefined) throw new UsageError('--partition needs --topic');
    const partition = o.partition === undefined ? null : parseIntOption(o.partition, '--partition', 0);
    await withClient(o, async (c) => {
      const results = await electLeaders(c, type, o.topic ?? null, partition, Number(o.timeoutMs ?? 30_000));
      io.stdout(o.json ? JSON.stringify(results) + '\n' : formatElections(results));
      const failed = results.filter((r) => !electionSucceeded(r)).length;
      if (failed > 0) throw new Error(`${failed} partition(s) got no new leader`);
    });
  });
  registerRebalanceCommand(cluster, io, clientOptions);
}
