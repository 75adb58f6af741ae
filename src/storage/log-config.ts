/**
 * LogConfig: the per-topic storage settings, Kafka topic config names in
 * camelCase (segment.bytes -> segmentBytes ...), with Kafka's defaults.
 */

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete';
export type TimestampType = 'CreateTime' | 'LogAppendTime';

export interface LogConfig {
  /** segment.bytes: roll the active segment before it would exceed this. */
  segmentBytes: number;
  /** segment.ms: roll once the active segment spans this much time. */
  segmentMs: number;
  /** segment.index.bytes: maximum size of a segment's offset / time index. */
  segmentIndexBytes: number;
  /** index.interval.bytes: bytes of log between two offset index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest timestamp is older (-1: keep). */
  retentionMs: number;
  /** retention.bytes: delete oldest segments while the log is larger (-1: no limit). */
  retentionBytes: number;
  /** flush.messages: fsync once this many offsets are unflushed. */
  flushMessages: number;
  /** flush.ms: fsync once the oldest unflushed append is this old. */
  flushMs: number;
  /** file.delete.delay.ms: how long a `.deleted` segment stays before unlink. */
  fileDeleteDelayMs: number;
  cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long tombstones survive compaction. */
  deleteRetentionMs: number;
  /** min.cleanable.dirty.ratio: compact when dirty bytes / total bytes reach this. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: records younger than this are never compacted. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a record older than this is cleaned even below min.cleanable.dirty.ratio (KIP-354). */
  maxCompactionLagMs: number;
  messageTimestampType: TimestampType;
}

/** Kafka's Long.MAX_VALUE defaults ("never") as a JS number. */
export const NEVER = Number.MAX_SAFE_INTEGER;

export function defaultLogConfig(): LogConfig {
  return {
    segmentBytes: 1024 * 1024 * 1024,
    segmentMs: 7 * 24 * 3600 * 1000,
    segmentIndexBytes: 10 * 1024 * 1024,
    indexIntervalBytes: 4096,
    retentionMs: 7 * 24 * 3600 * 1000,
    retentionBytes: -1,
    flushMessages: NEVER,
    flushMs: NEVER,
    fileDeleteDelayMs: 60_000,
    cleanupPolicy: 'delete',
    deleteRetentionMs: 24 * 3600 * 1000,
    minCleanableDirtyRatio: 0.5,
    minCompactionLagMs: 0,
    maxCompactionLagMs: NEVER,
    messageTimestampType: 'CreateTime',
  };
}
