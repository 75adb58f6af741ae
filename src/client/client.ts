/**
 * KafkaClient: a small promise-based Kafka client on Samsa's own codecs.
 * Bootstrap, cluster metadata, one connection per broker, requests for a
 * partition routed to its leader (with a metadata refresh and retry on
 * leadership / unknown-topic errors), and typed calls for produce, fetch,
 * list offsets, topic admin, configs and consumer groups. Error codes in
 * responses become KafkaError carrying the Kafka error name.
 */
import { randomUUID } from 'node:crypto';
import { type ClientSecurity, Connection, ConnectionError } from './connection.ts';
import { ErrorCode, KafkaError, errorName, isRetriable } from '../protocol/error-codes.ts';
import { type BytesLike, encodeBatch, decodeBatch, compressionByName } from '../protocol/records/index.ts';
import { splitBatches } from '../protocol/records/validate.ts';
import type {
  ApiMessages,
  ApiName,
  ConsumerGroupDescribeResponseDescribedGroup,
  DescribeGroupsResponseDescribedGroup,
  HeartbeatResponse,
  OffsetCommitRequestPartitionInput,
  JoinGroupResponse,
  LeaveGroupResponse,
  SyncGroupResponse,
} from '../protocol/generated/messages.ts';

export interface ClientOptions {
  /** 'host:port', comma-separated list, or an array of them. */
  bootstrapServers: string | string[];
  clientId?: string;
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Attempts for a retriable error before giving up (default 5). */
  retries?: number;
  /** Wait before a retry, times the attempt number (default 100 ms). */
  retryBackoffMs?: number;
  /** TLS / SASL of every connection (security.protocol and the ssl.* / sasl.* client settings: src/security/client-config.ts). */
  security?: ClientSecurity;
}

export interface BrokerInfo {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
  errorCode: number;
}

export interface TopicInfo {
  name: string;
  topicId: string;
  isInternal: boolean;
  errorCode: number;
  partitions: PartitionInfo[];
}

export interface ClusterMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: BrokerInfo[];
  topics: TopicInfo[];
}

export interface ProduceRecord {
  key?: BytesLike | null;
  value?: BytesLike | null;
  headers?: { key: string; value?: BytesLike | null }[];
  timestamp?: number;
}

export type CompressionName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProduceOptions {
  /** -1 (all in-sync replicas, default), 1 (leader) or 0 (no answer). */
  acks?: -1 | 0 | 1;
  compression?: CompressionName;
  timeoutMs?: number;
}

export interface ProduceResult {
  /** Offset of the first record; -1 with acks=0. */
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
}

export interface FetchedRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
}

export interface FetchOptions {
  maxWaitMs?: number;
  minBytes?: number;
  maxBytes?: number;
  partitionMaxBytes?: number;
  /** 0 read uncommitted (default), 1 read committed. */
  isolationLevel?: 0 | 1;
}

export interface FetchResult {
  records: FetchedRecord[];
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  /** The offset to fetch next (after the last record returned, or the requested offset). */
  nextOffset: number;
}

export interface NewTopic {
  name: string;
  /** -1 = broker default */
  numPartitions?: number;
  /** -1 = broker default */
  replicationFactor?: number;
  configs?: Record<string, string>;
}

export interface TopicResult {
  name: string;
  /** null on success */
  error: KafkaError | null;
}

export type ResourceTypeName = 'topic' | 'broker' | 'group' | 'broker-logger';
export const RESOURCE_TYPES: Record<ResourceTypeName, number> = { topic: 2, group: 3, broker: 4, 'broker-logger': 8 };

export interface ConfigEntry {
  name: string;
  value: string | null;
  readOnly: boolean;
  /** ConfigSource code (5 = default). */
  source: number;
  isSensitive: boolean;
  synonyms: { name: string; value: string | null; source: number }[];
  configType: number;
  documentation: string | null;
}

export interface ConfigResourceResult {
  type: number;
  name: string;
  error: KafkaError | null;
  configs: ConfigEntry[];
}

export type AlterOp = 'set' | 'delete' | 'append' | 'subtract';
const ALTER_OPS: Record<AlterOp, number> = { set: 0, delete: 1, append: 2, subtract: 3 };

export interface AlterConfigResource {
  type: ResourceTypeName | number;
  name: string;
  configs: { name: string; value?: string | null; op?: AlterOp }[];
}

/** Special timestamps of ListOffsets. */
export const EARLIEST = -2;
export const LATEST = -1;

const REFRESH_ON = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
]);

/** Throws KafkaError for a non-zero code; `context` prefixes the message. */
export function check(code: number, context: string, message?: string | null): void {
  if (code === ErrorCode.NONE) return;
  throw new KafkaError(code, `${context}: ${errorName(code)}${message ? ` (${message})` : ''}`);
}

/** 'host:port' (IPv6 as [::1]:9092) -> parts. */
export function parseHostPort(s: string): { host: string; port: number } {
  const t = s.trim();
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(t) ?? /^([^:]+):(\d+)$/.exec(t);
  if (!m) throw new Error(`invalid broker address '${s}': expected host:port`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`invalid broker address '${s}': port out of range`);
  return { host: m[1], port };
}

/** The topic is absent from the cluster (not retried: waiting does not create it). */
export class TopicNotFoundError extends KafkaError {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class KafkaClient {
  private readonly bootstrap: { host: string; port: number }[];
  private readonly opts: ClientOptions;
  private readonly connections = new Map<string, Promise<Connection>>();
  private meta: ClusterMetadata | undefined;
  private readonly topicIds = new Map<string, string>();
  private closed = false;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    const list = Array.isArray(opts.bootstrapServers) ? opts.bootstrapServers : opts.bootstrapServers.split(',');
    this.bootstrap = list.filter((s) => s.trim() !== '').map(parseHostPort);
    if (this.bootstrap.length === 0) throw new Error('no bootstrap servers given');
  }

  // ------------------------------------------------------------ connections

  private connection(host: string, port: number): Promise<Connection> {
    const key = `${host}:${port}`;
    let p = this.connections.get(key);
    if (p) {
      return p.then((c) => {
        if (c.isOpen) return c;
        this.connections.delete(key);
        return this.connection(host, port);
      });
    }
    const c = new Connection({
      host,
      port,
      clientId: this.opts.clientId,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      security: this.opts.security,
    });
    p = c.connect().then(() => c);
    p.catch(() => this.connections.delete(key));
    this.connections.set(key, p);
    return p;
  }

  /** A connection to any reachable broker (known brokers first, then the bootstrap list). */
  async anyConnection(): Promise<Connection> {
    const candidates = [...(this.meta?.brokers ?? []), ...this.bootstrap];
    let last: Error | undefined;
    for (const b of candidates) {
      try {
        return await this.connection(b.host, b.port);
      } catch (err) {
        last = err as Error;
      }
    }
    throw last ?? new ConnectionError('no broker reachable');
  }

  /** The connection to one broker by node id (metadata is loaded if needed). */
  async brokerConnection(nodeId: number): Promise<Connection> {
    let b = this.meta?.brokers.find((x) => x.nodeId === nodeId);
    if (!b) {
      await this.refreshMetadata();
      b = this.meta?.brokers.find((x) => x.nodeId === nodeId);
    }
    if (!b) throw new KafkaError(ErrorCode.BROKER_NOT_AVAILABLE, `broker ${nodeId} is not in the cluster metadata`);
    return this.connection(b.host, b.port);
  }

  /** Sends any API request to any broker (or to `nodeId`); the raw decoded response. */
  async request<K extends ApiName>(
    apiName: K,
    body: ApiMessages[K]['requestInput'],
    opts: { nodeId?: number; noResponse?: boolean } = {},
  ): Promise<ApiMessages[K]['response']> {
    const c = opts.nodeId === undefined ? await this.anyConnection() : await this.brokerConnection(opts.nodeId);
    return c.send(apiName, body, { noResponse: opts.noResponse });
  }

  /** Runs `fn`, refreshing metadata and retrying on retriable errors and lost connections. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    const retries = this.opts.retries ?? 5;
    const backoff = this.opts.retryBackoffMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const retriable =
          err instanceof ConnectionError ||
          (!(err instanceof TopicNotFoundError) &&
            err instanceof KafkaError &&
            (isRetriable(err.code) || REFRESH_ON.has(err.code)));
        if (!retriable || attempt > retries || this.closed) throw err;
        await sleep(backoff * attempt);
        if (err instanceof ConnectionError || REFRESH_ON.has((err as KafkaError).code))
          await this.refreshMetadata().catch(() => undefined);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((p) => p.then((c) => c.close()).catch(() => undefined)));
  }

  // --------------------------------------------------------------- metadata

  /** Cluster metadata for the given topics (all topics when omitted/null). */
  async metadata(
    topics: string[] | null = null,
    opts: { allowAutoTopicCreation?: boolean } = {},
  ): Promise<ClusterMetadata> {
    const c = await this.anyConnection();
    const v = c.versionOf('Metadata');
    const res = await c.send('Metadata', {
      topics: topics === null ? (v === 0 ? [] : null) : topics.map((name) => ({ name, topicId: undefined })),
      allowAutoTopicCreation: opts.allowAutoTopicCreation ?? false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    const md: ClusterMetadata = {
      clusterId: res.clusterId ?? null,
      controllerId: res.controllerId ?? -1,
      brokers: res.brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack ?? null })),
      topics: res.topics.map((t) => ({
        name: t.name ?? '', // null only for a topic asked by id; this client asks by name
        topicId: t.topicId,
        isInternal: t.isInternal,
        errorCode: t.errorCode,
        partitions: t.partitions
          .map((p) => ({
            partition: p.partitionIndex,
            leader: p.leaderId,
            leaderEpoch: p.leaderEpoch,
            replicas: p.replicaNodes,
            isr: p.isrNodes,
            offlineReplicas: p.offlineReplicas ?? [],
            errorCode: p.errorCode,
          }))
          .sort((a: PartitionInfo, b: PartitionInfo) => a.partition - b.partition),
      })),
    };
    // Merge into the cache: brokers are replaced, topics updated.
    const topicsByName = new Map((this.meta?.topics ?? []).map((t) => [t.name, t]));
    for (const t of md.topics) {
      if (t.errorCode === ErrorCode.NONE) {
        topicsByName.set(t.name, t);
        this.topicIds.set(t.name, t.topicId);
      } else topicsByName.delete(t.name);
    }
    this.meta = { ...md, topics: [...topicsByName.values()] };
    return md;
  }

  /** Reloads metadata for the topics already known. */
  async refreshMetadata(): Promise<void> {
    const known = this.meta?.topics.map((t) => t.name) ?? [];
    await this.metadata(known.length > 0 ? known : []);
  }

  /** The cached leader of a partition, loading metadata when needed. */
  private async leaderOf(topic: string, partition: number, autoCreate = false): Promise<number> {
    let t = this.meta?.topics.find((x) => x.name === topic);
    if (!t) {
      const md = await this.metadata([topic], { allowAutoTopicCreation: autoCreate });
      const fresh = md.topics.find((x) => x.name === topic);
      if (fresh?.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION && !autoCreate) {
        throw new TopicNotFoundError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
      }
      if (fresh) check(fresh.errorCode, `topic '${topic}'`);
      t = this.meta?.topics.find((x) => x.name === topic);
    }
    const p = t?.partitions.find((x) => x.partition === partition);
    if (!p) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition}: no such partition`);
    if (p.leader < 0) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition}: no leader`);
    return p.leader;
  }

  /** Partition ids of a topic (from metadata); `autoCreate` lets the broker create it, as a producer would. */
  async partitionsFor(topic: string, opts: { autoCreate?: boolean } = {}): Promise<number[]> {
    const md = await this.metadata([topic], { allowAutoTopicCreation: opts.autoCreate ?? false });
    const t = md.topics.find((x) => x.name === topic);
    if (!t || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
      throw new TopicNotFoundError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
    check(t.errorCode, `topic '${topic}'`);
    return t.partitions.map((p) => p.partition);
  }

  // ------------------------------------------------------- produce / fetch

  /** Appends records to one partition as one v2 batch. */
  produce(
    topic: string,
    partition: number,
    records: ProduceRecord[],
    opts: ProduceOptions = {},
  ): Promise<ProduceResult> {
    const acks = opts.acks ?? -1;
    const batch = encodeBatch({ compression: compressionByName(opts.compression ?? 'none'), records });
    return this.withRetry(async () => {
      const c = await this.brokerConnection(await this.leaderOf(topic, partition, true));
      const body = {
        transactionalId: null,
        acks,
        timeoutMs: opts.timeoutMs ?? 30_000,
        topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
      };
      if (acks === 0) {
        await c.send('Produce', body, { noResponse: true });
        return { baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
      }
      const res = await c.send('Produce', body);
      const pr = res.responses[0].partitionResponses[0];
      check(pr.errorCode, `produce to ${topic}-${partition}`, pr.errorMessage);
      return {
        baseOffset: Number(pr.baseOffset),
        logAppendTimeMs: Number(pr.logAppendTimeMs),
        logStartOffset: Number(pr.logStartOffset),
      };
    });
  }

  /** Reads records of one partition from `offset` (control records are skipped). */
  fetch(topic: string, partition: number, offset: number, opts: FetchOptions = {}): Promise<FetchResult> {
    return this.withRetry(async () => {
      const c = await this.brokerConnection(await this.leaderOf(topic, partition));
      const v = c.versionOf('Fetch');
      const topicId = this.topicIds.get(topic);
      if (v >= 13 && !topicId) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_ID, `no topic id known for '${topic}'`);
      const res = await c.send('Fetch', {
        replicaId: -1,
        maxWaitMs: opts.maxWaitMs ?? 500,
        minBytes: opts.minBytes ?? 1,
        maxBytes: opts.maxBytes ?? 52_428_800,
        isolationLevel: opts.isolationLevel ?? 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            topicId,
            partitions: [
              {
                partition,
                currentLeaderEpoch: -1,
                fetchOffset: offset,
                lastFetchedEpoch: -1,
                logStartOffset: -1,
                partitionMaxBytes: opts.partitionMaxBytes ?? 1_048_576,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      check(res.errorCode ?? 0, `fetch ${topic}-${partition}`);
      const pr = res.responses[0]?.partitions[0];
      if (!pr) throw new KafkaError(ErrorCode.UNKNOWN_SERVER_ERROR, `fetch ${topic}-${partition}: empty response`);
      check(pr.errorCode, `fetch ${topic}-${partition} at offset ${offset}`);
      const records = decodeFetchedRecords(pr.records, offset);
      return {
        records,
        highWatermark: Number(pr.highWatermark),
        lastStableOffset: Number(pr.lastStableOffset),
        logStartOffset: Number(pr.logStartOffset),
        nextOffset: records.length > 0 ? records[records.length - 1].offset + 1 : offset,
      };
    });
  }

  /** The offset for a timestamp, or EARLIEST (-2) / LATEST (-1). */
  listOffsets(
    topic: string,
    partition: number,
    timestamp: number | 'earliest' | 'latest',
  ): Promise<{ offset: number; timestamp: number; leaderEpoch: number }> {
    const ts = timestamp === 'earliest' ? EARLIEST : timestamp === 'latest' ? LATEST : timestamp;
    return this.withRetry(async () => {
      const c = await this.brokerConnection(await this.leaderOf(topic, partition));
      const res = await c.send('ListOffsets', {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          {
            name: topic,
            partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp: ts, maxNumOffsets: 1 }],
          },
        ],
        timeoutMs: 30_000,
      });
      const pr = res.topics[0].partitions[0];
      check(pr.errorCode, `list offsets of ${topic}-${partition}`);
      const offset =
        pr.oldStyleOffsets && pr.oldStyleOffsets.length > 0 && c.versionOf('ListOffsets') === 0
          ? Number(pr.oldStyleOffsets[0])
          : Number(pr.offset);
      return { offset, timestamp: Number(pr.timestamp), leaderEpoch: pr.leaderEpoch ?? -1 };
    });
  }

  // ---------------------------------------------------------------- admin

  async createTopics(
    topics: NewTopic[],
    opts: { timeoutMs?: number; validateOnly?: boolean } = {},
  ): Promise<TopicResult[]> {
    const res = await this.withRetry(async () =>
      this.request('CreateTopics', {
        topics: topics.map((t) => ({
          name: t.name,
          numPartitions: t.numPartitions ?? -1,
          replicationFactor: t.replicationFactor ?? -1,
          assignments: [],
          configs: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
        })),
        timeoutMs: opts.timeoutMs ?? 30_000,
        validateOnly: opts.validateOnly ?? false,
      }),
    );
    return res.topics.map((t) => ({
      name: t.name,
      error:
        t.errorCode === ErrorCode.NONE
          ? null
          : new KafkaError(
              t.errorCode,
              `create topic '${t.name}': ${errorName(t.errorCode)}${t.errorMessage ? ` (${t.errorMessage})` : ''}`,
            ),
    }));
  }

  async deleteTopics(names: string[], opts: { timeoutMs?: number } = {}): Promise<TopicResult[]> {
    const res = await this.withRetry(async () =>
      this.request('DeleteTopics', {
        topics: names.map((name) => ({ name, topicId: undefined })),
        topicNames: names,
        timeoutMs: opts.timeoutMs ?? 30_000,
      }),
    );
    for (const n of names) this.topicIds.delete(n);
    if (this.meta) this.meta = { ...this.meta, topics: this.meta.topics.filter((t) => !names.includes(t.name)) };
    return res.responses.map((t) => ({
      name: t.name ?? '', // null only for a topic deleted by id
      error:
        t.errorCode === ErrorCode.NONE
          ? null
          : new KafkaError(
              t.errorCode,
              `delete topic '${t.name}': ${errorName(t.errorCode)}${t.errorMessage ? ` (${t.errorMessage})` : ''}`,
            ),
    }));
  }

  async describeConfigs(
    resources: { type: ResourceTypeName | number; name: string; keys?: string[] | null }[],
    opts: { includeSynonyms?: boolean; includeDocumentation?: boolean } = {},
  ): Promise<ConfigResourceResult[]> {
    const res = await this.withRetry(async () =>
      this.request('DescribeConfigs', {
        resources: resources.map((r) => ({
          resourceType: resourceType(r.type),
          resourceName: r.name,
          configurationKeys: r.keys ?? null,
        })),
        includeSynonyms: opts.includeSynonyms ?? false,
        includeDocumentation: opts.includeDocumentation ?? false,
      }),
    );
    return res.results.map((r) => ({
      type: r.resourceType,
      name: r.resourceName,
      error:
        r.errorCode === ErrorCode.NONE
          ? null
          : new KafkaError(
              r.errorCode,
              `describe configs of '${r.resourceName}': ${errorName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`,
            ),
      configs: (r.configs ?? []).map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: c.readOnly,
        source: c.configSource ?? (c.isDefault ? 5 : 0),
        isSensitive: c.isSensitive,
        synonyms: c.synonyms ?? [],
        configType: c.configType ?? 0,
        documentation: c.documentation ?? null,
      })),
    }));
  }

  async incrementalAlterConfigs(
    resources: AlterConfigResource[],
    opts: { validateOnly?: boolean } = {},
  ): Promise<{ type: number; name: string; error: KafkaError | null }[]> {
    const res = await this.withRetry(async () =>
      this.request('IncrementalAlterConfigs', {
        resources: resources.map((r) => ({
          resourceType: resourceType(r.type),
          resourceName: r.name,
          configs: r.configs.map((c) => ({
            name: c.name,
            configOperation: ALTER_OPS[c.op ?? 'set'],
            value: c.value ?? null,
          })),
        })),
        validateOnly: opts.validateOnly ?? false,
      }),
    );
    return res.responses.map((r) => ({
      type: r.resourceType,
      name: r.resourceName,
      error:
        r.errorCode === ErrorCode.NONE
          ? null
          : new KafkaError(
              r.errorCode,
              `alter configs of '${r.resourceName}': ${errorName(r.errorCode)}${r.errorMessage ? ` (${r.errorMessage})` : ''}`,
            ),
    }));
  }

  // ---------------------------------------------------------------- groups

  /** The coordinator broker of a group (keyType 0) or transactional id (1). */
  async findCoordinator(key: string, keyType: 0 | 1 = 0): Promise<BrokerInfo> {
    return this.withRetry(async () => {
      const c = await this.anyConnection();
      const v = c.versionOf('FindCoordinator');
      const res = await c.send('FindCoordinator', { key, keyType, coordinatorKeys: [key] });
      const r = v >= 4 ? res.coordinators[0] : res;
      check(r.errorCode, `find coordinator for '${key}'`, r.errorMessage);
      return { nodeId: r.nodeId, host: r.host, port: r.port, rack: null };
    });
  }

  /** Sends a group API request to the group's coordinator; throws on a top-level error code. */
  async groupRequest<K extends ApiName>(
    groupId: string,
    apiName: K,
    body: ApiMessages[K]['requestInput'],
  ): Promise<ApiMessages[K]['response']> {
    return this.withRetry(async () => {
      const coord = await this.findCoordinator(groupId);
      const c = await this.connection(coord.host, coord.port);
      const res = await c.send(apiName, body);
      const top = res as { errorCode?: unknown; errorMessage?: string | null }; // not every group API has a top-level error
      if (typeof top.errorCode === 'number')
        check(top.errorCode, `${apiName} for group '${groupId}'`, top.errorMessage);
      return res;
    });
  }

  /** Sends a group API request to the group's coordinator and returns the answer unchecked (error codes are the caller's). */
  async groupRequestRaw<K extends ApiName>(
    groupId: string,
    apiName: K,
    body: ApiMessages[K]['requestInput'],
  ): Promise<ApiMessages[K]['response']> {
    const coord = await this.findCoordinator(groupId);
    const c = await this.connection(coord.host, coord.port);
    return c.send(apiName, body);
  }

  /** Deletes empty groups (and their committed offsets); one result per group. */
  async deleteGroups(groupIds: string[]): Promise<{ groupId: string; error: KafkaError | null }[]> {
    const out: { groupId: string; error: KafkaError | null }[] = [];
    for (const groupId of groupIds) {
      const res = await this.groupRequest(groupId, 'DeleteGroups', { groupsNames: [groupId] });
      const r = res.results.find((x) => x.groupId === groupId) ?? res.results[0];
      out.push({
        groupId,
        error:
          r.errorCode === ErrorCode.NONE
            ? null
            : new KafkaError(r.errorCode, `delete group '${groupId}': ${errorName(r.errorCode)}`),
      });
    }
    return out;
  }

  joinGroup(body: {
    groupId: string;
    sessionTimeoutMs: number;
    rebalanceTimeoutMs?: number;
    memberId: string;
    groupInstanceId?: string | null;
    protocolType: string;
    protocols: { name: string; metadata: Buffer }[];
    reason?: string | null;
  }): Promise<JoinGroupResponse> {
    return this.groupRequest(body.groupId, 'JoinGroup', {
      rebalanceTimeoutMs: body.sessionTimeoutMs,
      groupInstanceId: null,
      reason: null,
      ...body,
    });
  }

  syncGroup(body: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId?: string | null;
    protocolType?: string | null;
    protocolName?: string | null;
    assignments: { memberId: string; assignment: Buffer }[];
  }): Promise<SyncGroupResponse> {
    return this.groupRequest(body.groupId, 'SyncGroup', {
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      ...body,
    });
  }

  heartbeat(body: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupInstanceId?: string | null;
  }): Promise<HeartbeatResponse> {
    return this.groupRequest(body.groupId, 'Heartbeat', { groupInstanceId: null, ...body });
  }

  leaveGroup(groupId: string, memberId: string): Promise<LeaveGroupResponse> {
    return this.groupRequest(groupId, 'LeaveGroup', {
      groupId,
      memberId,
      members: [{ memberId, groupInstanceId: null, reason: null }],
    });
  }

  /** Commits offsets outside of a generation (a simple/standalone consumer) unless generation fields are given. */
  async offsetCommit(
    groupId: string,
    offsets: { topic: string; partition: number; offset: number; metadata?: string | null }[],
    member: { generationId?: number; memberId?: string } = {},
  ): Promise<void> {
    const topics = new Map<string, OffsetCommitRequestPartitionInput[]>();
    for (const o of offsets) {
      const list = topics.get(o.topic) ?? [];
      list.push({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: -1,
        commitTimestamp: -1,
        committedMetadata: o.metadata ?? null,
      });
      topics.set(o.topic, list);
    }
    const res = await this.groupRequest(groupId, 'OffsetCommit', {
      groupId,
      generationIdOrMemberEpoch: member.generationId ?? -1,
      memberId: member.memberId ?? '',
      groupInstanceId: null,
      retentionTimeMs: -1,
      topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
    });
    for (const t of res.topics)
      for (const p of t.partitions)
        check(p.errorCode, `commit offset of ${t.name}-${p.partitionIndex} for group '${groupId}'`);
  }

  /** Committed offsets of a group; all of its partitions when `topics` is omitted. */
  async offsetFetch(
    groupId: string,
    topics?: { topic: string; partitions: number[] }[],
  ): Promise<{ topic: string; partition: number; offset: number; metadata: string | null }[]> {
    const c0 = await this.anyConnection();
    const v = c0.versionOf('OffsetFetch');
    const reqTopics = topics ? topics.map((t) => ({ name: t.topic, partitionIndexes: t.partitions })) : null;
    const body =
      v >= 8
        ? { groups: [{ groupId, memberId: null, memberEpoch: -1, topics: reqTopics }], requireStable: false }
        : { groupId, topics: reqTopics, requireStable: false };
    const res = await this.groupRequest(groupId, 'OffsetFetch', body);
    const g = v >= 8 ? res.groups[0] : res;
    check(g.errorCode ?? 0, `fetch offsets of group '${groupId}'`);
    const out: { topic: string; partition: number; offset: number; metadata: string | null }[] = [];
    for (const t of g.topics) {
      for (const p of t.partitions) {
        check(p.errorCode, `fetch offset of ${t.name}-${p.partitionIndex} for group '${groupId}'`);
        out.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: Number(p.committedOffset),
          metadata: p.metadata,
        });
      }
    }
    return out;
  }

  /** Groups known to every broker in the cluster; type: 'classic' or 'consumer' (KIP-848), null before ListGroups v5. */
  async listGroups(): Promise<{ groupId: string; protocolType: string; state: string | null; type: string | null }[]> {
    const md = await this.metadata([]);
    const out: { groupId: string; protocolType: string; state: string | null; type: string | null }[] = [];
    for (const b of md.brokers) {
      const res = await this.request('ListGroups', { statesFilter: [], typesFilter: [] }, { nodeId: b.nodeId });
      check(res.errorCode, 'list groups');
      for (const g of res.groups)
        out.push({
          groupId: g.groupId,
          protocolType: g.protocolType,
          state: g.groupState ?? null,
          type: g.groupType ?? null,
        });
    }
    return out;
  }

  async describeGroup(groupId: string): Promise<DescribeGroupsResponseDescribedGroup> {
    const res = await this.groupRequest(groupId, 'DescribeGroups', {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    const g = res.groups[0];
    // DescribeGroups v6+ reports a group that does not exist as GROUP_ID_NOT_FOUND;
    // older versions as state Dead. Callers see the older form either way.
    if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND)
      return { ...g, errorCode: ErrorCode.NONE, groupState: 'Dead', members: [] };
    check(g.errorCode, `describe group '${groupId}'`);
    return g;
  }

  /**
   * ConsumerGroupDescribe (KIP-848 consumer-protocol groups): the group as the
   * coordinator answers it, or null when it has no such group (a classic group
   * or none: GROUP_ID_NOT_FOUND) or does not support the API.
   */
  async describeConsumerGroup(groupId: string): Promise<ConsumerGroupDescribeResponseDescribedGroup | null> {
    return this.withRetry(async () => {
      const coord = await this.findCoordinator(groupId);
      const c = await this.connection(coord.host, coord.port);
      if (!c.supports('ConsumerGroupDescribe')) return null;
      const res = await c.send('ConsumerGroupDescribe', { groupIds: [groupId], includeAuthorizedOperations: false });
      const g = res.groups[0];
      if (g.errorCode === ErrorCode.GROUP_ID_NOT_FOUND) return null;
      check(g.errorCode, `describe consumer group '${groupId}'`, g.errorMessage);
      return g;
    });
  }

  /** A fresh client-side member id prefix, as Java clients use client.id-UUID. */
  static memberIdPrefix(clientId = 'samsa-client'): string {
    return `${clientId}-${randomUUID()}`;
  }
}

function resourceType(t: ResourceTypeName | number): number {
  if (typeof t === 'number') return t;
  const n = RESOURCE_TYPES[t];
  if (n === undefined) throw new Error(`unknown resource type '${t}'`);
  return n;
}

/** Decodes the records field of a fetch answer: whole batches only, control batches and records before `fromOffset` left out. */
export function decodeFetchedRecords(records: Buffer | null, fromOffset: number): FetchedRecord[] {
  const out: FetchedRecord[] = [];
  if (!records || records.length === 0) return out;
  for (const pos of splitBatches(records, 0, records.length, { allowPartialTail: true })) {
    const b = decodeBatch(records, pos.at);
    if (b.isControl) continue;
    for (const r of b.records) {
      if (r.offset < fromOffset) continue;
      out.push({ offset: r.offset, timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers });
    }
  }
  return out;
}
