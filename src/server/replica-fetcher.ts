/**
 * A follower's side of replication: for every partition this node follows,
 * Fetch from its leader and append the leader's batches as they are.
 *
 * - One ReplicaFetcher per leader broker (num.replica.fetchers = 1), all of
 *   that leader's partitions in one Fetch; the manager follows the replica
 *   manager's leadership changes: a partition is fetched while this node is
 *   a follower of it with a known leader, and moves to another fetcher when
 *   the leader changes.
 * - Each Fetch names the partition's current leader epoch and the epoch of
 *   its last batch (`last_fetched_epoch`, KIP-595). A leader whose log ends
 *   that epoch earlier answers the diverging epoch; the follower truncates
 *   as Kafka's fetcher does (to the smaller of the leader's end of that epoch
 *   and its own; when it does not know the epoch, to its own end of the
 *   largest epoch it knows below it, and asks again), so a returning follower
 *   never keeps a divergent tail. This is the truncation on becoming
 *   follower as well: no separate OffsetForLeaderEpoch round is needed with
 *   Fetch v12+.
 * - Durability: the fetch offset a follower sends is the leader's evidence
 *   that the follower has everything below it, and acks=all counts on it.
 *   So the fetcher fsyncs what it appended before the next Fetch goes out
 *   (a fetch offset is always this node's fsynced log end offset).
 * - The follower's high watermark is the leader's, up to its own log end.
 * - A partition answered with an error (NOT_LEADER_OR_FOLLOWER,
 *   FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, unknown topic, storage error
 *   on the leader) waits replica.fetch.backoff.ms before it is fetched again
 *   (the metadata image usually names its new leader meanwhile); a
 *   connection failure backs the whole fetcher off. A partition whose log
 *   dir failed here is no longer fetched.
 * - OFFSET_OUT_OF_RANGE: the fetcher asks the leader's log start offset
 *   (ListOffsets, earliest); a log that ends before it is dropped and starts
 *   empty there, a log that ends past the leader's high watermark is cut
 *   back to it. A first batch that straddles an empty log's start (the
 *   leader's log start fell inside a batch) restarts the log at the batch's
 *   base offset, as Kafka's follower does.
 *
 * The connection and the clock are injected (`connect`, `env`), so that a
 * test runs a leader and a follower in one process.
 */
import type { ApiMessages } from '../protocol/generated/messages.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { batch as hdr, BATCH_HEADER_SIZE } from '../protocol/records/batch-header.ts';
import { KafkaStorageError } from '../storage/errors.ts';
import { type Env, systemEnv, type TimerHandle } from '../util/env.ts';
import { LogLimiter } from '../util/log-limiter.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { Partition } from './partition.ts';
import type { ReplicaManager } from './replica-manager.ts';
import type { ReplicationQuota } from './replication-quota.ts';

type FetchApi = 'Fetch' | 'ListOffsets';

/** A connection to a leader broker as the fetcher uses it (the client's Connection is one). */
export interface FetcherChannel {
  send<K extends FetchApi>(api: K, body: ApiMessages[K]['requestInput']): Promise<ApiMessages[K]['response']>;
  close(): void | Promise<void>;
}

/** Opens a channel to broker `nodeId` at host:port (rejects when it cannot). */
export type FetcherConnector = (endpoint: { nodeId: number; host: string; port: number }) => Promise<FetcherChannel>;

/** The replica.* settings the fetcher follows (Kafka's names and defaults). */
export interface ReplicaFetcherSettings {
  /** replica.fetch.max.bytes */
  fetchMaxBytes: number;
  /** replica.fetch.response.max.bytes */
  responseMaxBytes: number;
  /** replica.fetch.wait.max.ms */
  fetchWaitMaxMs: number;
  /** replica.fetch.min.bytes */
  fetchMinBytes: number;
  /** replica.fetch.backoff.ms */
  fetchBackoffMs: number;
  /** num.replica.fetchers: fetch loops (each its own connection) per leader broker */
  numFetchers: number;
}

export const DEFAULT_REPLICA_FETCHER_SETTINGS: ReplicaFetcherSettings = {
  fetchMaxBytes: 1048576,
  responseMaxBytes: 10485760,
  fetchWaitMaxMs: 500,
  fetchMinBytes: 1,
  fetchBackoffMs: 1000,
  numFetchers: 1,
};

/** Reads the replica.* settings from a broker config's raw properties, with Kafka's defaults. */
export function replicaFetcherSettings(raw: ReadonlyMap<string, string>): ReplicaFetcherSettings {
  const num = (k: string, d: number) => {
    const v = raw.get(k);
    return v === undefined ? d : Number(v);
  };
  const d = DEFAULT_REPLICA_FETCHER_SETTINGS;
  return {
    fetchMaxBytes: num('replica.fetch.max.bytes', d.fetchMaxBytes),
    responseMaxBytes: num('replica.fetch.response.max.bytes', d.responseMaxBytes),
    fetchWaitMaxMs: num('replica.fetch.wait.max.ms', d.fetchWaitMaxMs),
    fetchMinBytes: num('replica.fetch.min.bytes', d.fetchMinBytes),
    fetchBackoffMs: num('replica.fetch.backoff.ms', d.fetchBackoffMs),
    numFetchers: Math.max(1, num('num.replica.fetchers', d.numFetchers)),
  };
}

/**
 * The address of broker `nodeId`'s listener named `listenerName` (the first
 * one it registered when not given), from the metadata image.
 */
export function brokerEndpoint(
  image: MetadataImage,
  nodeId: number,
  listenerName?: string,
): { host: string; port: number } | undefined {
  const b = image.brokers.get(nodeId);
  if (!b || b.listeners.length === 0) return undefined;
  const l = listenerName ? b.listeners.find((x) => x.name === listenerName) : b.listeners[0];
  return l ? { host: l.host, port: l.port } : undefined;
}

export interface ReplicaFetcherOptions {
  /** This broker's node id. */
  localId: number;
  /** This broker's epoch (ReplicaState.replica_epoch in Fetch v15+), -1 while unknown. */
  brokerEpoch?: () => number;
  /** A broker's address for replication, -1 leaders excluded. */
  endpointOf: (nodeId: number) => { host: string; port: number } | undefined;
  connect: FetcherConnector;
  settings?: Partial<ReplicaFetcherSettings>;
  /** follower.replication.throttled.rate (replication-quota.ts); none: no throttle. */
  quota?: ReplicationQuota;
  env?: Env;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** How a fetched partition stands in its fetcher. */
interface Fetching {
  p: Partition;
  /** Not fetched before this time (after an error). */
  backoffUntil: number;
}

/**
 * Which of the `numFetchers` fetch loops to a leader fetches a partition:
 * a stable hash of topic and partition, as Kafka spreads partitions over
 * its fetcher threads.
 */
export function fetcherIndex(topic: string, partition: number, numFetchers: number): number {
  if (numFetchers <= 1) return 0;
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (Math.imul(h, 31) + topic.charCodeAt(i)) | 0;
  h = (Math.imul(h, 31) + partition) | 0;
  return (h >>> 0) % numFetchers;
}

/**
 * The followers' fetchers of one broker: `num.replica.fetchers` fetch loops
 * per leader broker, each partition on one of them (fetcherIndex).
 */
export class ReplicaFetcherManager {
  /** Keyed by `${leaderId}/${fetcherIndex}`. */
  private readonly fetchers = new Map<string, ReplicaFetcher>();
  /** Which fetch loop each followed partition is fetched by. */
  private readonly assigned = new Map<Partition, { leader: number; key: string }>();
  private readonly settings: ReplicaFetcherSettings;
  private readonly env: Env;
  private readonly limiter: LogLimiter;
  private closed = false;

  constructor(private readonly opts: ReplicaFetcherOptions) {
    this.settings = { ...DEFAULT_REPLICA_FETCHER_SETTINGS, ...opts.settings };
    this.env = opts.env ?? systemEnv;
    this.limiter = new LogLimiter(10_000, 1000, () => this.env.now());
  }

  /** Follows `replicas`: its partitions now, and every leadership change from now on. */
  follow(replicas: ReplicaManager): void {
    replicas.onLeadershipChange((p, hosted) => this.onLeadershipChange(p, hosted));
    for (const p of replicas.all()) this.onLeadershipChange(p, true);
  }

  /** A hosted partition's role may have changed: fetch it from its leader, or stop fetching it. */
  onLeadershipChange(p: Partition, hosted: boolean): void {
    if (this.closed) return;
    const leader =
      hosted && p.role === 'follower' && p.leaderId >= 0 && p.leaderId !== this.opts.localId ? p.leaderId : -1;
    const was = this.assigned.get(p);
    if (was !== undefined && was.leader === leader) {
      this.fetchers.get(was.key)?.retryNow(p); // a new leader epoch: fetch again at once
      return;
    }
    if (was !== undefined) {
      this.assigned.delete(p);
      this.fetchers.get(was.key)?.remove(p);
    }
    if (leader < 0) return;
    const key = `${leader}/${fetcherIndex(p.topic.name, p.index, this.settings.numFetchers)}`;
    this.assigned.set(p, { leader, key });
    let f = this.fetchers.get(key);
    if (!f) {
      const created = new ReplicaFetcher(leader, this.opts, this.settings, this.env, this.limiter, () => {
        if (this.fetchers.get(key) === created) this.fetchers.delete(key);
      });
      this.fetchers.set(key, created);
      f = created;
    }
    f.add(p);
  }

  /** The leader each followed partition is fetched from (for tests and `samsa cluster info`). */
  fetchedFrom(p: Partition): number {
    return this.assigned.get(p)?.leader ?? -1;
  }

  /** How many fetch loops run (for tests). */
  get fetcherCount(): number {
    return this.fetchers.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const fs = [...this.fetchers.values()];
    this.fetchers.clear();
    this.assigned.clear();
    await Promise.all(fs.map((f) => f.close()));
  }
}

/** The fetch loop to one leader broker. */
export class ReplicaFetcher {
  private readonly parts = new Map<Partition, Fetching>();
  private channel: FetcherChannel | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Resolves the loop's wait (a partition was added, a backoff ended, or close). */
  private wakeUp: (() => void) | null = null;
  private timer: TimerHandle | null = null;
  /** The whole fetcher waits until then (the connection failed). */
  private backoffUntil = 0;

  constructor(
    readonly leaderId: number,
    private readonly opts: ReplicaFetcherOptions,
    private readonly settings: ReplicaFetcherSettings,
    private readonly env: Env,
    private readonly limiter: LogLimiter,
    private readonly onIdle: (leaderId: number) => void,
  ) {}

  add(p: Partition): void {
    this.parts.set(p, { p, backoffUntil: 0 });
    this.kick();
  }

  remove(p: Partition): void {
    this.parts.delete(p);
  }

  /** Fetch `p` without waiting for its backoff (its leader epoch changed). */
  retryNow(p: Partition): void {
    const f = this.parts.get(p);
    if (f) f.backoffUntil = 0;
    this.kick();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.wakeUp) {
      const w = this.wakeUp;
      this.wakeUp = null;
      w();
    }
    if (!this.running) {
      this.running = this.loop().finally(() => {
        this.running = null;
        if (!this.stopped && this.parts.size > 0) this.kick();
      });
    }
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.parts.size > 0) {
      const now = this.env.now();
      if (now < this.backoffUntil) {
        await this.sleep(this.backoffUntil - now);
        continue;
      }
      const ready = [...this.parts.values()].filter((f) => f.backoffUntil <= now);
      if (ready.length === 0) {
        const next = Math.min(...[...this.parts.values()].map((f) => f.backoffUntil));
        await this.sleep(next - now);
        continue;
      }
      try {
        await this.fetchOnce(ready);
      } catch (err) {
        this.warn('connection', { leaderId: this.leaderId, err: (err as Error).message }, 'replica fetch failed');
        this.dropChannel();
        this.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
      }
    }
    if (this.parts.size === 0) {
      this.dropChannel();
      this.onIdle(this.leaderId);
    }
  }

  /** Waits `ms`, or until kicked. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.timer?.cancel();
        this.timer = null;
        this.wakeUp = null;
        resolve();
      };
      this.wakeUp = done;
      this.timer = this.env.setTimer(Math.max(0, ms), done);
    });
  }

  private async ensureChannel(): Promise<FetcherChannel> {
    if (this.channel) return this.channel;
    const ep = this.opts.endpointOf(this.leaderId);
    if (!ep) throw new Error(`no address known for broker ${this.leaderId}`);
    this.channel = await this.opts.connect({ nodeId: this.leaderId, host: ep.host, port: ep.port });
    return this.channel;
  }

  private dropChannel(): void {
    const ch = this.channel;
    this.channel = null;
    if (ch) void Promise.resolve(ch.close()).catch(() => {});
  }

  /** One Fetch round: fsynced fetch offsets out, the leader's batches appended and fsynced. */
  private async fetchOnce(ready: Fetching[]): Promise<void> {
    // a fetch offset tells the leader the follower holds everything below it durably
    await Promise.all(
      ready.map((f) =>
        f.p.log.recoveryPoint < f.p.log.logEndOffset
          ? f.p.log.flushedUpTo(f.p.log.logEndOffset).catch((err) => this.localFailure(f, err))
          : undefined,
      ),
    );
    let sent = ready.filter((f) => this.parts.get(f.p) === f);
    // follower.replication.throttled.rate: throttled partitions sit out while the rate is used up
    const quota = this.opts.quota;
    const throttled = quota ? sent.filter((f) => quota.throttles(f.p, this.opts.localId)) : [];
    if (quota && throttled.length > 0 && quota.bucket.available() <= 0) {
      sent = sent.filter((f) => !throttled.includes(f));
      if (sent.length === 0) {
        await this.sleep(quota.bucket.delayMs());
        return;
      }
    }
    if (sent.length === 0) return;
    const ch = await this.ensureChannel();
    const epochs = new Map<Partition, { leaderEpoch: number; fetchOffset: number }>();
    const byTopic = new Map<string, { topic: string; topicId: string; partitions: object[] }>();
    for (const f of sent) {
      const p = f.p;
      const fetchOffset = p.log.logEndOffset;
      epochs.set(p, { leaderEpoch: p.leaderEpoch, fetchOffset });
      let t = byTopic.get(p.topic.topicId);
      if (!t) byTopic.set(p.topic.topicId, (t = { topic: p.topic.name, topicId: p.topic.topicId, partitions: [] }));
      t.partitions.push({
        partition: p.index,
        currentLeaderEpoch: p.leaderEpoch,
        fetchOffset,
        lastFetchedEpoch: p.log.latestEpoch,
        logStartOffset: p.log.logStartOffset,
        partitionMaxBytes: this.settings.fetchMaxBytes,
        highWatermark: p.highWatermark, // v18 (KIP-1166): the leader answers at once when its own is ahead
      });
    }
    const replicaId = this.opts.localId;
    const res = await ch.send('Fetch', {
      replicaId,
      replicaState: { replicaId, replicaEpoch: this.opts.brokerEpoch?.() ?? -1 },
      maxWaitMs: this.settings.fetchWaitMaxMs,
      minBytes: this.settings.fetchMinBytes,
      maxBytes: this.settings.responseMaxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1, // no fetch session: every fetch names all its partitions
      topics: [...byTopic.values()] as never,
      forgottenTopicsData: [],
      rackId: '',
    });
    if (res.errorCode !== ErrorCode.NONE) {
      this.warn(`top|${res.errorCode}`, { leaderId: this.leaderId, errorCode: res.errorCode }, 'replica fetch refused');
      this.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
      return;
    }
    const byKey = new Map<string, Fetching>();
    for (const f of sent) {
      byKey.set(`${f.p.topic.topicId}\u0000${f.p.index}`, f);
      byKey.set(`${f.p.topic.name}\u0000${f.p.index}`, f);
    }
    const appended: Fetching[] = [];
    const outOfRange: Fetching[] = [];
    for (const t of res.responses) {
      for (const pd of t.partitions) {
        const f =
          byKey.get(`${t.topicId}\u0000${pd.partitionIndex}`) ?? byKey.get(`${t.topic}\u0000${pd.partitionIndex}`);
        if (!f) continue;
        const asked = epochs.get(f.p)!;
        // the partition moved on while the fetch was out (new epoch, other leader, truncated): ask again
        if (this.parts.get(f.p) !== f || f.p.leaderEpoch !== asked.leaderEpoch || f.p.role !== 'follower') continue;
        if (f.p.log.logEndOffset !== asked.fetchOffset) continue;
        if (pd.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          outOfRange.push(f);
          continue;
        }
        try {
          if (await this.onPartition(f, pd)) appended.push(f);
          if (quota && throttled.includes(f))
            quota.bucket.record(f.p.log.logEndOffset > asked.fetchOffset ? recordsBytes(pd.records) : 0);
        } catch (err) {
          this.localFailure(f, err);
        }
      }
    }
    // fsync what was appended before the next fetch reports it
    await Promise.all(
      appended.map((f) => f.p.log.flushedUpTo(f.p.log.logEndOffset).catch((err) => this.localFailure(f, err))),
    );
    for (const f of outOfRange) {
      try {
        await this.onOutOfRange(ch, f, epochs.get(f.p)!);
      } catch (err) {
        this.localFailure(f, err);
      }
    }
  }

  /** The fetch offset is outside the leader's log: start where the leader's log starts, or cut back to its end. */
  private async onOutOfRange(
    ch: FetcherChannel,
    f: Fetching,
    asked: { leaderEpoch: number; fetchOffset: number },
  ): Promise<void> {
    const p = f.p;
    const ask = async (timestamp: number) => {
      const res = await ch.send('ListOffsets', {
        replicaId: this.opts.localId,
        isolationLevel: 0,
        topics: [
          {
            name: p.topic.name,
            partitions: [{ partitionIndex: p.index, currentLeaderEpoch: asked.leaderEpoch, timestamp }],
          },
        ],
      });
      const pd = res.topics[0]?.partitions[0];
      return pd && pd.errorCode === ErrorCode.NONE ? Number(pd.offset) : -1;
    };
    const still = () =>
      this.parts.get(p) === f &&
      p.role === 'follower' &&
      p.leaderEpoch === asked.leaderEpoch &&
      p.log.logEndOffset === asked.fetchOffset;
    const leaderStart = await ask(-2);
    if (leaderStart < 0 || !still()) {
      f.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
      return;
    }
    if (p.log.logEndOffset < leaderStart) {
      this.opts.logger?.info(
        { topic: p.topic.name, partition: p.index, leaderId: this.leaderId, from: p.log.logEndOffset, to: leaderStart },
        "the leader's log starts after this log's end: starting the log empty there",
      );
      p.truncateFullyAsFollower(leaderStart);
      return;
    }
    const leaderEnd = await ask(-1);
    if (leaderEnd < 0 || !still()) {
      f.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
      return;
    }
    if (p.log.logEndOffset > leaderEnd) {
      this.opts.logger?.info(
        { topic: p.topic.name, partition: p.index, leaderId: this.leaderId, from: p.log.logEndOffset, to: leaderEnd },
        "this log ends past the leader's: truncating to the leader's high watermark",
      );
      p.truncateAsFollower(leaderEnd);
    } else f.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
  }

  /** One partition of a Fetch response; returns whether records were appended. */
  private async onPartition(
    f: Fetching,
    pd: ApiMessages['Fetch']['response']['responses'][number]['partitions'][number],
  ): Promise<boolean> {
    const p = f.p;
    if (pd.errorCode !== ErrorCode.NONE) {
      // a leader change this node's image has not shown yet (or the leader's has not): info, not warn
      const transient =
        pd.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
        pd.errorCode === ErrorCode.FENCED_LEADER_EPOCH ||
        pd.errorCode === ErrorCode.UNKNOWN_LEADER_EPOCH;
      this.warn(
        `${p.topic.name}-${p.index}|${pd.errorCode}`,
        { topic: p.topic.name, partition: p.index, leaderId: this.leaderId, errorCode: pd.errorCode },
        'the leader refused a replica fetch',
        transient,
      );
      f.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
      return false;
    }
    const step = applyFetchedPartition(p, pd, (from, to, leaderEpoch, leaderEndOffset) =>
      this.opts.logger?.info(
        { topic: p.topic.name, partition: p.index, leaderId: this.leaderId, from, to, leaderEpoch, leaderEndOffset },
        'truncating a divergent log tail',
      ),
    );
    return step === 'appended';
  }

  /** A write or fsync here failed: a failed log dir's partitions are no longer fetched. */
  private localFailure(f: Fetching, err: unknown): void {
    const p = f.p;
    if (err instanceof KafkaStorageError && p.log.dirHealth.isFailed()) {
      this.warn(
        `${p.topic.name}-${p.index}|storage`,
        { topic: p.topic.name, partition: p.index, err: err.message },
        'log dir failed: no longer fetching the partition',
      );
      this.parts.delete(p);
      return;
    }
    this.warn(
      `${p.topic.name}-${p.index}|append`,
      { topic: p.topic.name, partition: p.index, leaderId: this.leaderId, err: (err as Error).message },
      "cannot append the leader's batches",
    );
    f.backoffUntil = this.env.now() + this.settings.fetchBackoffMs;
  }

  private warn(key: string, obj: object, msg: string, info = false): void {
    const suppressed = this.limiter.take(key);
    if (suppressed === null) return;
    const o = suppressed > 0 ? { ...obj, suppressed } : obj;
    if (info) this.opts.logger?.info(o, msg);
    else this.opts.logger?.warn(o, msg);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.parts.clear();
    if (this.wakeUp) this.wakeUp();
    this.dropChannel();
    await this.running?.catch(() => {});
  }
}

/** The part of a Fetch response's partition that a follower's step reads. */
export interface FetchedPartition {
  highWatermark: number | bigint;
  divergingEpoch?: { epoch: number; endOffset: number | bigint } | null;
  records?: Buffer | null;
}

/**
 * A follower's step for one partition of an error-free Fetch answer (no I/O
 * but the log's own writes): on a diverging epoch, truncate the divergent
 * tail (`onTruncate` is told first) and append nothing; otherwise append the
 * whole batches at or past this log's end (a first batch straddling an empty
 * log's start restarts the log at its base offset) and take the leader's high
 * watermark up to the new log end. Returns what it did. Throws what
 * Partition.appendAsFollower throws, nothing appended.
 */
export function applyFetchedPartition(
  p: Partition,
  pd: FetchedPartition,
  onTruncate?: (from: number, to: number, leaderEpoch: number, leaderEndOffset: number) => void,
): 'truncated' | 'appended' | 'none' {
  const hw = Number(pd.highWatermark);
  const d = pd.divergingEpoch;
  if (d && (d.epoch >= 0 || Number(d.endOffset) >= 0)) {
    const to = divergenceTruncationOffset(p, d.epoch, Number(d.endOffset));
    onTruncate?.(p.log.logEndOffset, to, d.epoch, Number(d.endOffset));
    p.truncateAsFollower(to);
    return 'truncated';
  }
  const records = pd.records;
  let whole = 0;
  let from = 0;
  if (records && records.length >= BATCH_HEADER_SIZE) {
    // whole batches only; any batch wholly below this log's end is skipped
    const leo = p.log.logEndOffset;
    for (let at = 0; at + BATCH_HEADER_SIZE <= records.length; ) {
      const size = hdr.totalSize(records, at);
      if (size < BATCH_HEADER_SIZE || at + size > records.length) break;
      if (hdr.lastOffset(records, at) < leo && whole === at) from = at + size;
      whole = at + size;
      at += size;
    }
  }
  if (whole > from) {
    const base = hdr.baseOffset(records!, from);
    const leo = p.log.logEndOffset;
    // the leader's log start fell inside this batch and this log is empty: it starts at the batch
    if (base < leo && leo === p.log.logStartOffset) p.truncateFullyAsFollower(base);
    p.appendAsFollower(records!.subarray(from, whole), hw);
    return 'appended';
  }
  p.updateFollowerHighWatermark(hw);
  return 'none';
}

/**
 * Where a follower truncates on the leader's diverging epoch (Kafka's
 * AbstractFetcherThread getOffsetTruncationState): to the smaller of the
 * leader's end of that epoch and its own end of it; when it does not know
 * the epoch, to its own end of the largest epoch it knows below it.
 */
export function divergenceTruncationOffset(p: Partition, leaderEpoch: number, leaderEndOffset: number): number {
  const leo = p.log.logEndOffset;
  if (leaderEndOffset < 0) return p.log.highWatermark;
  if (leaderEpoch < 0) return Math.min(leaderEndOffset, leo);
  const mine = p.log.endOffsetForEpoch(leaderEpoch);
  if (mine.epoch < 0 || mine.endOffset < 0) return Math.min(leaderEndOffset, leo);
  if (mine.epoch !== leaderEpoch) return Math.min(mine.endOffset, leo);
  // both know the epoch: what follows the earlier of the two ends of it diverges (this log may go on in later epochs)
  return Math.min(mine.endOffset, leaderEndOffset, leo);
}

/** Bytes of a fetched partition's records (a buffer, or nothing). */
function recordsBytes(records: unknown): number {
  return records instanceof Uint8Array ? records.length : 0;
}
