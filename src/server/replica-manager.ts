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
import type { Logger } from 'pino';
import { LogManager } from '../storage/log-manager.ts';
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
  /** Effective topic configs by topic id, recomputed when configs change. */
  private readonly effective = new Map<string, Map<string, string>>();
  private readonly waiters = new Map<Partition, Set<Waiter>>();

  private constructor(
    readonly logs: LogManager,
    private readonly image: MetadataImage,
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {}

  static async open(image: MetadataImage, config: BrokerConfig, logger: Logger): Promise<ReplicaManager> {
    const logs = await LogManager.open({
      logDirs: config.logDirs,
      defaultConfig: brokerLogDefaults(config),
      logger,
      retentionCheckIntervalMs: config.logRetentionCheckIntervalMs,
      cleanerEnable: config.logCleanerEnable,
      cleanerBackoffMs: config.logCleanerBackoffMs,
      // flush.ms is checked at least every second; Kafka's scheduler default (Long.MAX) would never run it
      flushCheckIntervalMs: Math.min(config.logFlushSchedulerIntervalMs, 1000),
    });
    const rm = new ReplicaManager(logs, image, config, logger);
    for (const t of image.topicsByName.values()) {
      for (const p of t.partitions) if (p) await rm.ensurePartition(t, p.partition);
    }
    logs.startBackgroundTasks();
    return rm;
  }

  private key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  get(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(this.key(topic, partition));
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

  private async ensurePartition(topic: TopicState, index: number): Promise<void> {
    const k = this.key(topic.name, index);
    if (this.partitions.has(k)) return;
    const cfg = this.logConfigFor(topic);
    const log = this.logs.getLog(topic.name, index) ?? (await this.logs.createLog(topic.name, index, cfg));
    log.updateConfig(cfg);
    // Leader with itself as the only in-sync replica: everything in the local log
    // is replicated to the whole ISR, so the high watermark is the log end offset
    // (the checkpointed one may lag after an unclean stop).
    const state = topic.partitions[index];
    if (state.leader === this.config.nodeId && state.isr.length === 1 && state.isr[0] === this.config.nodeId) {
      log.setHighWatermark(log.logEndOffset);
    }
    this.partitions.set(k, { topic, index, log });
  }

  /** Follows committed metadata: new partitions get logs, removed topics lose theirs. */
  async onMetadata(batch: MetadataRecord[]): Promise<void> {
    for (const rec of batch) {
      if (rec.type === 'Partition') {
        const t = this.image.topicsById.get(rec.topicId);
        if (t) await this.ensurePartition(t, rec.partition);
      } else if (rec.type === 'RemoveTopic') {
        for (const [k, p] of this.partitions) {
          if (p.topic.topicId !== rec.topicId) continue;
          this.partitions.delete(k);
          this.effective.delete(rec.topicId);
          this.wake(p);
          this.waiters.delete(p);
          await this.logs.deleteLog(p.topic.name, p.index);
        }
      } else if (rec.type === 'Config' && rec.resourceType === 'topic') {
        const t = this.image.topicsByName.get(rec.resourceName);
        if (!t) continue;
        this.effective.delete(t.topicId);
        const cfg = this.logConfigFor(t);
        for (const p of t.partitions) if (p) this.get(t.name, p.partition)?.log.updateConfig(cfg);
      } else if (rec.type === 'Config' && rec.resourceType === 'broker') {
        this.effective.clear();
        for (const p of this.partitions.values()) p.log.updateConfig(this.logConfigFor(p.topic));
      }
    }
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
