/**
 * The replicas this broker hosts: one PartitionLog per partition in the
 * metadata image, created and deleted as metadata records commit, plus the
 * wake-ups that long-polling fetches wait on.
 *
 * A partition keeps Kafka's replication vocabulary even on one node: it has a
 * leader, a leader epoch and in-sync replicas from the image; the log keeps
 * log end offset and high watermark apart. With a single in-sync replica the
 * high watermark follows the log end offset on append.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { LogManager } from '../storage/log-manager.ts';
import type { LogDirHealth } from '../storage/log-dir-health.ts';
import { TimeSlice } from '../storage/time-slice.ts';
import type { PartitionLog } from '../storage/partition-log.ts';
import { type LogConfig, defaultLogConfig } from '../storage/log-config.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import type { BrokerConfig } from '../config/broker-config.ts';
import { effectiveTopicConfig } from './topic-configs.ts';

export interface Partition {
  topic: TopicState;
  index: number;
  log: PartitionLog;
}

type Waiter = () => void;

export class ReplicaManager {
  private readonly partitions = new Map<string, Partition>();
  /** The hosted partitions of each topic, by topic id. */
  private readonly byTopic = new Map<string, Partition[]>();
  /** Topics (by id) some of whose committed partitions have no log yet: being created. */
  private readonly opening = new Set<string>();
  /** Effective topic configs by topic id, recomputed when configs change. */
  private readonly effective = new Map<string, Map<string, string>>();
  private readonly waiters = new Map<Partition, Set<Waiter>>();

  private constructor(
    readonly logs: LogManager,
    private readonly image: MetadataImage,
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {}

  static async open(image: MetadataImage, config: BrokerConfig, logger: Logger, dirHealth: LogDirHealth[] = []): Promise<ReplicaManager> {
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
    const rm = new ReplicaManager(logs, image, config, logger);
    // Logs of partitions the metadata no longer has: a deletion was committed but the
    // broker stopped before their directories were renamed away. They go before
    // anything is served, so that a topic created again under the name starts empty.
    const stray = logs.logs().filter((l) => !image.topicsByName.get(l.topic)?.partitions[l.partition]);
    if (stray.length > 0) {
      logger.warn({ logs: stray.length }, 'deleting logs of partitions the metadata no longer has (a topic deletion the last run did not finish)');
      // nothing has read them in this run, so file.delete.delay.ms need not pass first
      await logs.deleteLogs(stray.map((l) => ({ topic: l.topic, partition: l.partition })), undefined, { removeNow: true });
    }
    const wanted: { topic: TopicState; index: number }[] = [];
    for (const t of image.topicsByName.values()) for (const p of t.partitions) if (p) wanted.push({ topic: t, index: p.partition });
    await rm.ensurePartitions(wanted, new TimeSlice());
    logs.startBackgroundTasks();
    return rm;
  }

  private key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  get(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(this.key(topic, partition));
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
        log.updateConfig(cfg!);
        // Leader with itself as the only in-sync replica: everything in the local log
        // is replicated to the whole ISR, so the high watermark is the log end offset
        // (the checkpointed one may lag after an unclean stop).
        const state = topic.partitions[index];
        if (state.leader === this.config.nodeId && state.isr.length === 1 && state.isr[0] === this.config.nodeId) {
          log.setHighWatermark(log.logEndOffset);
        }
        ready.push({ topic, index, log });
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
      if (rec.type === 'Partition') {
        await remove();
        const t = this.image.topicsById.get(rec.topicId);
        if (t) {
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
          this.wake(p);
          this.waiters.delete(p);
          removing.push(p);
        }
      } else if (rec.type === 'Config' && rec.resourceType === 'topic') {
        // partitions still to be created get the image's configs, this change included
        const t = this.image.topicsByName.get(rec.resourceName);
        if (!t) continue;
        this.effective.delete(t.topicId);
        const cfg = this.logConfigFor(t);
        for (const p of this.byTopic.get(t.topicId) ?? []) p.log.updateConfig(cfg);
      } else if (rec.type === 'Config' && rec.resourceType === 'broker') {
        this.effective.clear();
        for (const p of this.partitions.values()) {
          p.log.updateConfig(this.logConfigFor(p.topic));
          const y = slice.tick();
          if (y) await y;
        }
      }
    }
    await create();
    await remove();
  }

  /** Register a wake-up for new data on any of `parts`; returns the unregister function. */
  watch(parts: Partition[], w: Waiter): () => void {
    for (const p of parts) {
      let s = this.waiters.get(p);
      if (!s) this.waiters.set(p, (s = new Set()));
      s.add(w);
    }
    return () => {
      for (const p of parts) this.waiters.get(p)?.delete(w);
    };
  }

  /** New data is readable on `p` (high watermark moved). */
  wake(p: Partition): void {
    const s = this.waiters.get(p);
    if (!s || s.size === 0) return;
    for (const w of [...s]) w();
  }

  all(): IterableIterator<Partition> {
    return this.partitions.values();
  }

  async close(): Promise<void> {
    for (const s of this.waiters.values()) for (const w of [...s]) w();
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
    messageTimestampType: (c.get('message.timestamp.type') as LogConfig['messageTimestampType']) ?? d.messageTimestampType,
  };
}
