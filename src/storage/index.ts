/**
 * src/storage — the partition log storage engine. It owns everything on disk
 * under the broker's log dirs: segments (`.log`, `.index`, `.timeindex`),
 * checkpoints, producer-state snapshots, the leader-epoch cache, recovery
 * after an unclean stop, group-committed fsync, retention and compaction.
 * It knows nothing of the network: the broker appends already-validated v2
 * batches and reads back slices of whole batches. Layout and durability
 * rules: docs/storage.md.
 *
 *   log-manager.ts        all logs of all log dirs, checkpoints, background tasks
 *   partition-log.ts      one partition: offsets, append/read/flush/truncate/retention
 *   segment.ts            one segment file and its indexes; batch scanning, recovery
 *   indexes.ts            sparse offset and time indexes
 *   tail-cache.ts         in-memory tail of the active segment
 *   buffer-pool.ts        reused memory for tail chunks and fetch reads, pinned while in flight
 *   file-region.ts        a range of a segment file handed to the network as is (sendfile)
 *   leader-epoch-cache.ts epoch -> start offset (OffsetForLeaderEpoch)
 *   producer-state.ts     idempotent-producer sequence and epoch checks, snapshots
 *   cleaner.ts            compaction; record-keys.ts walks record keys for it
 *   cleaner-scheduler.ts  the cleaner's timer: the filthiest compacted log every log.cleaner.backoff.ms
 *   checkpoint.ts         Kafka's text checkpoint files
 *   log-config.ts         LogConfig and defaults; errors.ts the typed errors
 */
export { LogManager, type LogManagerOptions } from './log-manager.ts';
export {
  PartitionLog,
  type AppendInfo,
  type ReadResult,
  type PartitionLogOptions,
  type StorageLogger,
} from './partition-log.ts';
export { type LogConfig, defaultLogConfig } from './log-config.ts';
export { OffsetOutOfRangeError, CorruptRecordError, InvariantViolation, KafkaStorageError } from './errors.ts';
export { LogDirHealth, type LogDirState } from './log-dir-health.ts';
export { BufferPool, PooledBuffer, sharedBufferPool } from './buffer-pool.ts';
export { FileRegion } from './file-region.ts';
export { type Pin, FILE_REGION_MIN_BYTES } from './segment.ts';
export { ProducerStateManager, type SequenceVerdict } from './producer-state.ts';
