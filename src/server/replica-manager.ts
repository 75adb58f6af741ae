/**
 * The replicas this broker hosts, following the metadata image: a Partition
 * (partition.ts: role, leader epoch, ISR, high watermark, delayed acks) with
 * its PartitionLog for every partition whose replica set names this node,
 * created and deleted as metadata records commit. A partition change in the
 * image makes the Partition leader or follower (with one node: always
 * leader). Also the wake-ups that long-polling fetches wait on.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { LogManager } from '../storage/log-manager.ts';
import type { LogDirHealth } from '../storage/log-dir-health.ts';
import { TimeSlice } from '../storage/time-slice.ts';
import { type LogConfig, defaultLogConfig } from '../storage/log-config.ts';
import type { MetadataImage, PartitionState, TopicState } from '../metadata/image.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { effectiveTopicConfig } from './topic-configs.ts';
import { type Clock, Partition } from './partition.ts';

export { Partition };

type Waiter = () => void;

/** Told of a hosted partition's role and leader epoch (`hosted` false: no longer hosted here). Must not throw. */
export type LeadershipListener = (p: Partition, hosted: boolean) => void;

export class ReplicaManager {
  private readonly partitions = new Map<string, Partition>();
  /** The hosted partitions of each topic, by topic id. */
  private readonly byTopic = new Map<string, Partition[]>();
  /** Topics (by id) some of whose committed partitions have no log yet: being created. */
  private readonly opening = new Set<string>();
  /** Effective topic configs by topic id, recomputed when configs change. */
  private readonly effective = new Map<string, Map<string, string>>();
  private readonly leadershipListeners: LeadershipListener[] = [];

  private constructor(
    readonly logs: LogManager,
    private readonly image: MetadataImage,
    private readonly config: BrokerConfig,
    private readonly clock: Clock,
  ) {}

  static async open(
    image: MetadataImage,
    config: BrokerConfig,
    logger: Logger,
    dirHealth: LogDirHealth[] = [],
    clock: Clock = Date,
  ): Promise<ReplicaManager> {
    const logs = await LogManager.open({
      logDirs: config.logDirs,
      dirHealth,
      defaultConfig: brokerLogDefaults(config),
      logger,
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      cleanerEnable: config.logCleanerEnable,
      cleanerBackoffMs: config.logCleanerBackoffMs,
      // flush.ms is checked at least every second; Kafka's scheduler default (Long.MAX) would never run it
      flushCheckIntervalMs: Math.min(config.logFlushSchedulerIntervalMs, 1000),
    });
    const rm = new ReplicaManager(logs, image, config, clock);
    // Logs of partitions the metadata no longer has: a deletion was committed but the
    // broker stopped before their directories were renamed away. They go before
    // anything is served, so that a topic created again under the name starts empty.
    const stray = logs.logs().filter((l) => !image.topicsByName.get(l.topic)?.partitions[l.partition]);
    if (stray.length > 0) {
      logger.warn(
        { logs: stray.length },
        'deleting logs of partitions the metadata no longer has (a topic deletion the last run did not finish)',
      );
      // nothing has read them in this run, so file.delete.delay.ms need not pass first
      await logs.deleteLogs(
        stray.map((l) => ({ topic: l.topic, partition: l.partition })),
        undefined,
        { removeNow: true },
      );
    }
    const wanted: { topic: TopicState; index: number }[] = [];
    const elsewhere: { topic: string; partition: number }[] = [];
    for (const t of image.topicsByName.values()) {
      for (const p of t.partitions) {
        if (!p) continue;
        if (rm.isReplica(p)) wanted.push({ topic: t, index: p.partition });
        else if (logs.getLog(t.name, p.partition)) elsewhere.push({ topic: t.name, partition: p.partition });
      }
    }
    if (elsewhere.length > 0) {
      // This node left their replica sets (a reassignment) while it was down: the image
      // is caught up (the broker is unfenced), so these copies are strays, deleted as
      // Kafka deletes stray logs. Should the node be named again, it copies them afresh.
      logger.warn(
        { logs: elsewhere.length },
        'deleting logs of partitions whose replica set no longer names this node (moved away while it was down)',
      );
      await logs.deleteLogs(elsewhere, undefined, { removeNow: true });
    }
    await rm.ensurePartitions(wanted, new TimeSlice());
    logs.startBackgroundTasks();
    return rm;
  }

  /** Whether this node is in the partition's replica set: only then does it host the partition. */
  private isReplica(state: PartitionState): boolean {
    return state.replicas.includes(this.config.nodeId);
  }

  private key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  get(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(this.key(topic, partition));
  }

  /**
   * Calls `l` whenever a hosted partition's role or leader epoch may have
   * changed: once it is hosted (after its log is open), after each change
   * of its state in the image (also when only the ISR changed), and with
   * `hosted` false when it stops being hosted here. Partitions hosted before
   * the call are not replayed: read them with `all()`. The group coordinator
   * follows __consumer_offsets leadership with it.
   */
  onLeadershipChange(l: LeadershipListener): void {
    this.leadershipListeners.push(l);
  }

  private leadershipChanged(p: Partition, hosted: boolean): void {
    for (const l of this.leadershipListeners) l(p, hosted);
  }

  /** Whether some of the topic's committed partitions are still getting their logs. */
  isOpening(topicId: string): boolean {
    return this.opening.has(topicId);
  }

  /** The topic's effective configs (overrides, dynamic broker configs, static broker configs, defaults). */
  topicConfig(topic: TopicState): Map<string, string> {
    let c = this.effective.get(topic.topicId);
    if (!c) this.effective.set(topic.topicId, (c = effectiveTopicConfig(topic.configs, this.config, this.image)));
    return c;
  }

  logConfigFor(topic: TopicState): LogConfig {
    return toLogConfig(this.topicConfig(topic));
  }

  /** The accepted CreateTime window (message.timestamp.before/after.max.ms, KIP-937). */
  timestampBounds(topic: TopicState): { beforeMaxMs: number; afterMaxMs: number } {
    const c = this.topicConfig(topic);
    return {
      beforeMaxMs: Number(c.get('message.timestamp.before.max.ms') ?? Number.MAX_SAFE_INTEGER),
      afterMaxMs: Number(c.get('message.timestamp.after.max.ms') ?? Number.MAX_SAFE_INTEGER),
    };
  }

  /** min.insync.replicas of the topic (the broker's unless overridden). */
  minInsyncReplicas(topic: TopicState): number {
    return Number(this.topicConfig(topic).get('min.insync.replicas') ?? this.config.minInsyncReplicas);
  }

  /** The topic's configs, applied to one of its partitions. */
  private configure(p: Partition, cfg: LogConfig): void {
    p.log.updateConfig(cfg);
    p.minInsyncReplicas = this.minInsyncReplicas(p.topic);
  }

  /** max.message.bytes of the topic (message.max.bytes of the broker unless overridden). */
  maxMessageBytes(topic: TopicState): number {
    return Number(this.topicConfig(topic).get('max.message.bytes') ?? this.config.messageMaxBytes);
  }

  /**
   * Opens (or creates) the logs of these partitions, yielding to the event loop
   * as `slice` says. New log directories are made durable with one fsync per
   * log dir, and only then are the partitions served.
   */
  private async ensurePartitions(items: { topic: TopicState; index: number }[], slice: TimeSlice): Promise<void> {
    const created = new Set<string>();
    const ready: Partition[] = [];
    let cfgTopic: TopicState | undefined;
    let cfg: LogConfig | undefined;
    try {
      for (const { topic, index } of items) {
        if (this.partitions.has(this.key(topic.name, index))) continue;
        if (topic !== cfgTopic) {
          cfgTopic = topic;
          cfg = this.logConfigFor(topic);
        }
        let log = this.logs.getLog(topic.name, index);
        if (!log) {
          log = await this.logs.createLog(topic.name, index, cfg!, { syncDir: false });
          created.add(path.dirname(log.dir));
        }
        const p = new Partition(topic, index, log, this.config.nodeId, this.clock);
        this.configure(p, cfg!);
        // leader or follower as the image says; a leader alone in its ISR moves the
        // high watermark to the log end offset (the checkpointed one may lag after an unclean stop)
        p.update(topic.partitions[index]);
        ready.push(p);
        const y = slice.tick();
        if (y) await y;
      }
    } finally {
      // also when a creation failed part-way: the logs made so far are served
      this.logs.syncDirs(created);
      for (const p of ready) {
        this.partitions.set(this.key(p.topic.name, p.index), p);
        let list = this.byTopic.get(p.topic.topicId);
        if (!list) this.byTopic.set(p.topic.topicId, (list = []));
        list.push(p);
      }
      for (const p of ready) this.leadershipChanged(p, true);
    }
  }

  /**
   * Follows committed metadata: new partitions get logs, removed topics lose
   * theirs. Long runs of work yield to the event loop, so other requests are
   * served meanwhile; a removed topic's partitions stop being served at once.
   */
  async onMetadata(batch: MetadataRecord[]): Promise<void> {
    const slice = new TimeSlice();
    // Runs of creations and of removals are each carried out together (one
    // directory fsync and one checkpoint per log dir), in record order.
    let creating: { topic: TopicState; index: number }[] = [];
    let removing: Partition[] = [];
    const create = async () => {
      if (creating.length === 0) return;
      const items = creating;
      creating = [];
      try {
        await this.ensurePartitions(items, slice);
      } finally {
        for (const { topic } of items) this.opening.delete(topic.topicId);
      }
    };
    const remove = async () => {
      if (removing.length === 0) return;
      const parts = removing;
      removing = [];
      await this.logs.deleteLogs(
        parts.map((p) => ({ topic: p.topic.name, partition: p.index })),
        slice,
      );
    };
    for (const rec of batch) {
      if (rec.type === 'Partition' || rec.type === 'PartitionChange') {
        // the image holds the state after the whole batch; a topic removed later in it is skipped
        const t = this.image.topicsById.get(rec.topicId);
        const state = t?.partitions[rec.partition];
        if (!t || !state) continue;
        const hosted = this.get(t.name, rec.partition);
        if (!this.isReplica(state)) {
          // this node left the replica set: the partition is no longer hosted here
          if (!hosted) continue;
          await create();
          this.unhost(hosted);
          removing.push(hosted);
        } else if (hosted) {
          hosted.update(state); // become leader or follower
          this.leadershipChanged(hosted, true);
        } else {
          await remove();
          creating.push({ topic: t, index: rec.partition });
          this.opening.add(t.topicId);
        }
      } else if (rec.type === 'RemoveTopic') {
        await create();
        const parts = this.byTopic.get(rec.topicId) ?? [];
        this.byTopic.delete(rec.topicId);
        this.effective.delete(rec.topicId);
        for (const p of parts) {
          this.partitions.delete(this.key(p.topic.name, p.index));
          p.stop();
          this.leadershipChanged(p, false);
          removing.push(p);
        }
      } else if (rec.type === 'Config' && rec.resourceType === 'topic') {
        // partitions still to be created get the image's configs, this change included
        const t = this.image.topicsByName.get(rec.resourceName);
        if (!t) continue;
        this.effective.delete(t.topicId);
        const cfg = this.logConfigFor(t);
        for (const p of this.byTopic.get(t.topicId) ?? []) this.configure(p, cfg);
      } else if (rec.type === 'Config' && rec.resourceType === 'broker') {
        this.effective.clear();
        for (const p of this.partitions.values()) {
          this.configure(p, this.logConfigFor(p.topic));
          const y = slice.tick();
          if (y) await y;
        }
      }
    }
    await create();
    await remove();
  }

  /** A partition stops being served here (its log is deleted by the caller). */
  private unhost(p: Partition): void {
    this.partitions.delete(this.key(p.topic.name, p.index));
    const list = this.byTopic.get(p.topic.topicId);
    const i = list ? list.indexOf(p) : -1;
    if (i >= 0) list!.splice(i, 1);
    p.stop();
    this.leadershipChanged(p, false);
  }

  /**
   * Register a wake-up for new data on any of `parts` (the high watermark
   * moved; with `onAppend`, for a follower's fetch, also records appended);
   * returns the unregister function.
   */
  watch(parts: Partition[], w: Waiter, onAppend = false): () => void {
    for (const p of parts) p.watch(w, onAppend);
    return () => {
      for (const p of parts) p.unwatch(w);
    };
  }

  all(): IterableIterator<Partition> {
    return this.partitions.values();
  }

  async close(): Promise<void> {
    for (const p of this.partitions.values()) p.wake();
    await this.logs.close();
  }
}

/** Broker-level defaults for logs (the topic config synonyms' broker values). */
function brokerLogDefaults(config: BrokerConfig): LogConfig {
  return toLogConfig(effectiveTopicConfig(new Map(), config));
}

/** Kafka topic config names -> the storage engine's LogConfig. */
export function toLogConfig(c: Map<string, string>): LogConfig {
  const d = defaultLogConfig();
  const num = (k: string, fallback: number) => {
    const v = c.get(k);
    return v === undefined ? fallback : Number(v);
  };
  return {
    ...d,
    segmentBytes: num('segment.bytes', d.segmentBytes),
    segmentMs: num('segment.ms', d.segmentMs),
    segmentIndexBytes: num('segment.index.bytes', d.segmentIndexBytes),
    indexIntervalBytes: num('index.interval.bytes', d.indexIntervalBytes),
    retentionMs: num('retention.ms', d.retentionMs),
    retentionBytes: num('retention.bytes', d.retentionBytes),
    flushMessages: num('flush.messages', d.flushMessages),
    flushMs: num('flush.ms', d.flushMs),
    fileDeleteDelayMs: num('file.delete.delay.ms', d.fileDeleteDelayMs),
    cleanupPolicy: (c.get('cleanup.policy') as LogConfig['cleanupPolicy']) ?? d.cleanupPolicy,
    deleteRetentionMs: num('delete.retention.ms', d.deleteRetentionMs),
    minCleanableDirtyRatio: num('min.cleanable.dirty.ratio', d.minCleanableDirtyRatio),
    minCompactionLagMs: num('min.compaction.lag.ms', d.minCompactionLagMs),
    maxCompactionLagMs: num('max.compaction.lag.ms', d.maxCompactionLagMs),
    messageTimestampType:
      (c.get('message.timestamp.type') as LogConfig['messageTimestampType']) ?? d.messageTimestampType,
  };
}
