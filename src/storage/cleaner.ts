/**
 * Log compaction (cleanup.policy=compact): keep the latest record per key in
 * the cleanable part of a log (rolled segments below the first uncleanable
 * offset; see "choosing what to clean" below), drop tombstones older than
 * delete.retention.ms, keep offsets unchanged. cleaner-scheduler.ts decides
 * when, and which log.
 *
 * Keys are indexed in uncompressed and compressed batches alike (compressed
 * ones are decoded through the records module), so the offset map holds the
 * true latest offset of every key. A batch that loses records is rewritten:
 * uncompressed ones by splicing the kept record bytes under the original
 * header; compressed ones re-encoded with the same codec. Either way the
 * batch keeps its base offset, lastOffsetDelta (so its offset range, and the
 * producer's last offset, are unchanged), leader epoch, producer id, epoch
 * and base sequence, attributes (timestamp type) and base/max timestamps;
 * each kept record keeps its offsetDelta, timestamp, headers and attributes.
 *
 * A batch left with no records is dropped, except when it carries a producer
 * id and is the last batch of that producer in the cleanable range: then it
 * is kept whole (records included), so rebuilding producer state from the log
 * still finds the producer's last sequence and epoch (Kafka keeps such a
 * batch too, as an empty one). Judging "last" within the cleanable range only
 * is conservative: it may keep a batch a later segment has superseded.
 *
 * Transactions (as Kafka's cleaner): the cleanable range ends at the last
 * stable offset, so every transaction in it is closed by a marker below.
 * The batches of an aborted transaction (the aborted-transaction index
 * names them) are removed, their keys never indexed (under the same
 * last-batch rule as above); a committed transaction's records are compacted
 * as any. A COMMIT or ABORT marker is kept while any batch of its
 * transaction was seen in the pass, and while the marker batch's timestamp
 * is within delete.retention.ms of now (the rule tombstones follow here), and
 * when it is its producer's last batch; otherwise it goes. Removing the
 * aborted records over one pass and the marker in a later one means a
 * replay of the log never finds a transaction without its marker. A dropped
 * ABORT marker's entry leaves its segment's `.txnindex` (rewritten
 * atomically before the segment is swapped): a reader must not take a later
 * transaction of that producer for the aborted one.
 *
 * A compressed batch that does not decode (the produce path does not
 * decompress, so one can be stored with a valid CRC) is kept whole and its
 * keys are not indexed.
 *
 * Each cleaned segment is written whole to `<base>.log.cleaned` and
 * fsynced (a failed write or fsync removes it and fails the pass, the
 * segment untouched), renamed to `<base>.log.swap`, then renamed over
 * `<base>.log`. A crash before the
 * `.swap` rename leaves the old segment (the `.cleaned` file is deleted at
 * open); after it, open completes the swap. Either way nothing is lost.
 *
 * Limits: the cleaner position is kept in memory (a restart cleans
 * everything again); segments are not merged.
 */
import fs from 'node:fs';
import {
  BATCH_HEADER_SIZE,
  COMPRESSION_MASK,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_RECORD_COUNT,
  batch as hdr,
  computeBatchCrc,
} from '../protocol/records/batch-header.ts';
import { TimestampType, encodeBatch, type RecordInput } from '../protocol/records/record-batch.ts';
import type { PartitionLog, StorageLogger } from './partition-log.ts';
import { decodeCompressedRecords, forEachRecord } from './record-keys.ts';
import type { LogSegment } from './segment.ts';
import { fsyncFd, writeFully } from './file-io.ts';

// ---- choosing what to clean --------------------------------------------------
//
// As Kafka's LogCleanerManager chooses (grabFilthiestCompactedLog,
// cleanableOffsets, maxCompactionDelay, calculateCleanableBytes; KIP-58 for
// min.compaction.lag.ms, KIP-354 for max.compaction.lag.ms):
// - the first dirty offset is the cleaner checkpoint (the end of the last
//   clean), or the log start offset when the checkpoint lies outside the log;
// - the first uncleanable offset is the least of the last stable offset
//   (at most the high watermark), the active segment's base offset (the active segment is never
//   cleaned) and, when min.compaction.lag.ms > 0, the base offset of the first
//   dirty rolled segment whose largest timestamp is within that lag of now;
//   it is then moved down to the base of the segment holding it, so the
//   cleanable range is whole segments;
// - cleanable bytes are those of the segments from the first dirty offset to
//   the first uncleanable one, clean bytes those below the first dirty
//   offset; the cleanable ratio is cleanable / (clean + cleanable);
// - the compaction delay is how far the earliest first-batch timestamp of the
//   dirty rolled segments lies beyond now - max.compaction.lag.ms;
// - a log is cleaned when its ratio exceeds min.cleanable.dirty.ratio, or
//   when its compaction delay is positive and it has cleanable bytes; of those,
//   the log with the highest ratio goes first.

/** The cleaner's view of one compacted log at one instant. */
export interface LogToClean {
  log: PartitionLog;
  /** Offsets below this were cleaned by an earlier pass. */
  firstDirtyOffset: number;
  /** Base offset of the first segment that may not be cleaned now; the cleaner rewrites the segments below it. */
  firstUncleanableOffset: number;
  /** Bytes of the segments below firstDirtyOffset. */
  cleanBytes: number;
  /** Bytes of the segments in [firstDirtyOffset, firstUncleanableOffset). */
  cleanableBytes: number;
  /** cleanableBytes / (cleanBytes + cleanableBytes); 0 for an empty log. */
  cleanableRatio: number;
  /** How long ago max.compaction.lag.ms expired for the oldest dirty record (0: not expired). */
  compactionDelayMs: number;
}

/** Index of the segment holding `offset`: the last one whose base offset is <= offset (0 when none is). */
function segmentIndexFor(segs: readonly LogSegment[], offset: number): number {
  let i = 0;
  while (i + 1 < segs.length && segs[i + 1].baseOffset <= offset) i++;
  return i;
}

/** Bytes of the segments holding offsets in [from, to). */
function bytesBetween(segs: readonly LogSegment[], from: number, to: number): number {
  if (from >= to) return 0;
  let n = 0;
  for (let i = segmentIndexFor(segs, from); i < segs.length && segs[i].baseOffset < to; i++) n += segs[i].size;
  return n;
}

/** Where cleaning would start and stop for this log now (whole segments). */
export function cleanableOffsets(
  log: PartitionLog,
  nowMs: number,
): { firstDirtyOffset: number; firstUncleanableOffset: number } {
  const segs = log.segmentList;
  const activeIdx = segs.length - 1;
  let firstDirty = log.cleanerCheckpoint;
  if (firstDirty < log.logStartOffset || firstDirty > log.logEndOffset) firstDirty = log.logStartOffset;
  let uncleanable = Math.min(log.lastStableOffset, segs[activeIdx].baseOffset);
  const minLag = Math.max(log.config.minCompactionLagMs, 0);
  if (minLag > 0) {
    for (let i = segmentIndexFor(segs, firstDirty); i < activeIdx; i++) {
      if (segs[i].maxTimestamp > nowMs - minLag) {
        uncleanable = Math.min(uncleanable, segs[i].baseOffset);
        break;
      }
    }
  }
  uncleanable = Math.max(firstDirty, uncleanable);
  // Down to the base of the segment holding it.
  return { firstDirtyOffset: firstDirty, firstUncleanableOffset: segs[segmentIndexFor(segs, uncleanable)].baseOffset };
}

/** How far past max.compaction.lag.ms the oldest dirty rolled segment is (0: not past). */
export function maxCompactionDelay(log: PartitionLog, firstDirtyOffset: number, nowMs: number): number {
  const segs = log.segmentList;
  let earliest = Infinity;
  for (let i = segmentIndexFor(segs, firstDirtyOffset); i < segs.length - 1; i++) {
    const t = segs[i].firstBatchTimestamp;
    if (t > 0 && t < earliest) earliest = t;
  }
  const cleanUntil = nowMs - Math.max(log.config.maxCompactionLagMs, 0);
  return earliest < cleanUntil ? cleanUntil - earliest : 0;
}

/** The cleaner's figures for `log` now. */
export function logToClean(log: PartitionLog, nowMs: number): LogToClean {
  const segs = log.segmentList;
  const { firstDirtyOffset, firstUncleanableOffset } = cleanableOffsets(log, nowMs);
  const cleanBytes = bytesBetween(segs, -1, firstDirtyOffset);
  const cleanableBytes = bytesBetween(segs, Math.min(firstDirtyOffset, firstUncleanableOffset), firstUncleanableOffset);
  const total = cleanBytes + cleanableBytes;
  return {
    log,
    firstDirtyOffset,
    firstUncleanableOffset,
    cleanBytes,
    cleanableBytes,
    cleanableRatio: total > 0 ? cleanableBytes / total : 0,
    compactionDelayMs: maxCompactionDelay(log, firstDirtyOffset, nowMs),
  };
}

function isCompacted(log: PartitionLog): boolean {
  return log.config.cleanupPolicy.includes('compact');
}

function qualifies(c: LogToClean): boolean {
  return (c.compactionDelayMs > 0 && c.cleanableBytes > 0) || c.cleanableRatio > c.log.config.minCleanableDirtyRatio;
}

/** Whether the cleaner would clean this log now (a compacted log whose dirty ratio or max.compaction.lag.ms says so). */
export function needsCleaning(log: PartitionLog, nowMs: number): boolean {
  return isCompacted(log) && qualifies(logToClean(log, nowMs));
}

/** The compacted log to clean next, or null: of those that qualify, the highest cleanable ratio. */
export function grabFilthiestLog(
  logs: Iterable<PartitionLog>,
  nowMs: number,
  skip: (log: PartitionLog) => boolean = () => false,
): LogToClean | null {
  let best: LogToClean | null = null;
  for (const log of logs) {
    if (!isCompacted(log) || skip(log)) continue;
    const c = logToClean(log, nowMs);
    if (c.cleanBytes + c.cleanableBytes === 0 || !qualifies(c)) continue;
    if (!best || c.cleanableRatio > best.cleanableRatio) best = c;
  }
  return best;
}

/**
 * Rolled segments the cleaner rewrites now: every segment below the first
 * uncleanable offset, or, when the dirty ones among them exceed
 * `maxDirtyBytes`, only up to the dirty segment that reaches it (at least one
 * dirty segment). The next clean goes on from there, as a Kafka clean stops
 * where its offset map (log.cleaner.dedupe.buffer.size) is full.
 */
function cleanableSegments(log: PartitionLog, nowMs: number, maxDirtyBytes = Infinity): LogSegment[] {
  const { firstDirtyOffset, firstUncleanableOffset } = cleanableOffsets(log, nowMs);
  const segs = log.segmentList;
  const out: LogSegment[] = [];
  let dirty = 0;
  for (let i = 0; i < segs.length - 1 && segs[i].baseOffset < firstUncleanableOffset; i++) {
    if (segs[i].nextOffset > firstDirtyOffset) {
      if (dirty > 0 && dirty + segs[i].size > maxDirtyBytes) break;
      dirty += segs[i].size;
    }
    out.push(segs[i]);
  }
  return out;
}

/** Test hooks: called after each durable step; throwing simulates a crash there. */
export interface CleanerHooks {
  /** `<base>.log.cleaned` written and fsynced. */
  afterCleaned?(segmentBase: number): void;
  /** `.cleaned` renamed to `<base>.log.swap`, not yet swapped in. */
  afterSwapFile?(segmentBase: number): void;
  /** The segment at `segmentBase` swapped in. */
  afterSwapIn?(segmentBase: number): void;
}

/** The aborted transactions overlapping `segs`, per producer: whether a batch of `pid` at `offset` is in one. */
function abortedBatches(log: PartitionLog, segs: readonly LogSegment[]): (pid: number, offset: number) => boolean {
  const byProducer = new Map<number, { first: number; last: number }[]>();
  for (const t of log.abortedTransactions(segs[0].baseOffset, segs[segs.length - 1].nextOffset)) {
    let l = byProducer.get(t.producerId);
    if (!l) byProducer.set(t.producerId, (l = []));
    l.push({ first: t.firstOffset, last: t.lastOffset });
  }
  return (pid, offset) => {
    const l = byProducer.get(pid);
    if (!l) return false;
    for (const r of l) if (offset >= r.first && offset < r.last) return true;
    return false;
  };
}

/**
 * Compact the log's cleanable segments (at most `maxDirtyBytes` of dirty
 * ones, see cleanableSegments). Returns the bytes removed.
 * `hooks` is for crash-injection tests only. Nothing is cleaned while the
 * log dir is full or failed; a write that fails marks the dir (LogDirHealth)
 * and throws KafkaStorageError.
 */
export function cleanLog(
  log: PartitionLog,
  nowMs: number,
  logger: StorageLogger,
  hooks: CleanerHooks = {},
  maxDirtyBytes = Infinity,
): number {
  if (log.dirHealth.state !== 'online') return 0;
  const segs = cleanableSegments(log, nowMs, maxDirtyBytes);
  if (!segs.length) return 0;
  // Pass 1: the latest offset of every key in the cleanable range, and the
  // base offset of each producer's last batch there.
  const latest = new Map<string, number>();
  const lastOfProducer = new Map<number, number>();
  const isAborted = abortedBatches(log, segs);
  let undecodable = 0;
  for (const s of segs) {
    s.scan(0, s.size, true, (b, at, _pos, size) => {
      const base = hdr.baseOffset(b, at);
      const pid = hdr.producerId(b, at);
      if (pid >= 0) lastOfProducer.set(pid, base);
      if (hdr.isControl(b, at) || (hdr.isTransactional(b, at) && isAborted(pid, base))) return;
      if (hdr.compression(b, at) !== 0) {
        const recs = decodeCompressedRecords(b, at, size);
        if (recs === null) {
          undecodable++;
          return;
        }
        for (const r of recs) if (r.key !== null) latest.set(r.key, base + r.offsetDelta);
        return;
      }
      forEachRecord(b, at, size, (r) => {
        if (r.keyStart >= 0)
          latest.set(b.toString('latin1', r.keyStart, r.keyStart + r.keyLength), base + r.offsetDelta);
      });
    });
  }
  if (undecodable > 0)
    logger.warn({ dir: log.dir, batches: undecodable }, 'compressed batches that do not decode are kept whole');
  const tombstoneHorizon = nowMs - log.config.deleteRetentionMs;
  /** Whether a record at `offset` with this key stays. */
  const retained = (key: string | null, offset: number, tombstone: boolean, dropTombstones: boolean): boolean =>
    key === null || (latest.get(key) === offset && !(tombstone && dropTombstones));
  let removed = 0;
  /** Producers with a transactional batch seen since their last marker in this pass. */
  const txnSeen = new Set<number>();
  // Pass 2: rewrite each segment, then swap it in.
  for (const s of segs) {
    const parts: Buffer[] = [];
    let outBytes = 0;
    const droppedMarkers = new Set<number>();
    const keepWhole = (b: Buffer, at: number, size: number): void => {
      parts.push(Buffer.from(b.subarray(at, at + size)));
      outBytes += size;
    };
    s.scan(0, s.size, true, (b, at, _pos, size) => {
      const base = hdr.baseOffset(b, at);
      const dropTombstones = hdr.maxTimestamp(b, at) < tombstoneHorizon;
      const pid = hdr.producerId(b, at);
      const emptyPolicy = (): void => {
        // Nothing retained: keep the producer's last batch whole, drop any other.
        if (pid >= 0 && lastOfProducer.get(pid) === base) keepWhole(b, at, size);
      };
      if (hdr.isControl(b, at)) {
        const hadBatches = txnSeen.delete(pid);
        if (hadBatches || !dropTombstones || pid < 0 || lastOfProducer.get(pid) === base) keepWhole(b, at, size);
        else droppedMarkers.add(base);
        return;
      }
      if (hdr.isTransactional(b, at)) {
        txnSeen.add(pid);
        if (isAborted(pid, base)) return emptyPolicy();
      }
      if (hdr.compression(b, at) !== 0) {
        // Decoded again rather than held from pass 1: memory stays one batch.
        const recs = decodeCompressedRecords(b, at, size);
        if (!recs) return keepWhole(b, at, size);
        const kept: RecordInput[] = [];
        for (const r of recs)
          if (retained(r.key, base + r.offsetDelta, r.isTombstone, dropTombstones)) kept.push(r.input);
        if (kept.length === 0) return emptyPolicy();
        if (kept.length === hdr.recordCount(b, at)) return keepWhole(b, at, size);
        const attrs = hdr.attributes(b, at);
        const nb = encodeBatch({
          baseOffset: base,
          partitionLeaderEpoch: hdr.partitionLeaderEpoch(b, at),
          compression: attrs & COMPRESSION_MASK,
          // Every other attribute bit as it was (timestamp type included).
          attributes: attrs & ~COMPRESSION_MASK,
          timestampType: hdr.isLogAppendTime(b, at) ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
          producerId: pid,
          producerEpoch: hdr.producerEpoch(b, at),
          baseSequence: hdr.baseSequence(b, at),
          baseTimestamp: hdr.baseTimestamp(b, at),
          maxTimestamp: hdr.maxTimestamp(b, at),
          lastOffsetDelta: hdr.lastOffsetDelta(b, at),
          records: kept,
        });
        parts.push(nb);
        outBytes += nb.length;
        return;
      }
      const keep: [number, number][] = [];
      let count = 0;
      forEachRecord(b, at, size, (r) => {
        const key = r.keyStart >= 0 ? b.toString('latin1', r.keyStart, r.keyStart + r.keyLength) : null;
        if (retained(key, base + r.offsetDelta, r.valueLength < 0, dropTombstones)) {
          count++;
          const last = keep[keep.length - 1];
          if (last && last[1] === r.start) last[1] = r.end;
          else keep.push([r.start, r.end]);
        }
      });
      if (count === 0) return emptyPolicy();
      if (count === hdr.recordCount(b, at)) return keepWhole(b, at, size);
      // Same base offset, last offset delta and timestamps; fewer records.
      let len = BATCH_HEADER_SIZE;
      for (const [a, z] of keep) len += z - a;
      const nb = Buffer.allocUnsafe(len);
      b.copy(nb, 0, at, at + BATCH_HEADER_SIZE);
      let w = BATCH_HEADER_SIZE;
      for (const [a, z] of keep) w += b.copy(nb, w, a, z);
      nb.writeInt32BE(len - 12, OFF_BATCH_LENGTH);
      nb.writeInt32BE(count, OFF_RECORD_COUNT);
      nb.writeUInt32BE(computeBatchCrc(nb, 0, len), OFF_CRC);
      parts.push(nb);
      outBytes += len;
    });
    if (outBytes === s.size) continue;
    const cleaned = s.file('.log.cleaned');
    const fd = fs.openSync(cleaned, 'w');
    try {
      let pos = 0;
      for (const p of parts) {
        writeFully(fd, p, 0, p.length, pos);
        pos += p.length;
      }
      fsyncFd(fd);
    } catch (err) {
      // Nothing was swapped: the segment stays as it was; the partial file goes.
      fs.closeSync(fd);
      fs.rmSync(cleaned, { force: true });
      throw log.dirHealth.writeFailed(err, `compaction of ${log.topic}-${log.partition}`);
    }
    fs.closeSync(fd);
    hooks.afterCleaned?.(s.baseOffset);
    // No batch of a dropped marker's transaction is left: its index entry goes first (a crash
    // before the swap leaves a marker without an entry, which hides nothing).
    if (droppedMarkers.size > 0) {
      try {
        s.txnIndex.removeMarkers(droppedMarkers);
      } catch (err) {
        fs.rmSync(cleaned, { force: true });
        throw log.dirHealth.writeFailed(err, `compaction of ${log.topic}-${log.partition}`);
      }
    }
    const swap = s.file('.log.swap');
    fs.renameSync(cleaned, swap);
    hooks.afterSwapFile?.(s.baseOffset);
    log.swapInCleanedSegment(s.baseOffset, swap);
    hooks.afterSwapIn?.(s.baseOffset);
    removed += s.size - outBytes;
  }
  log.cleanerCheckpoint = segs[segs.length - 1].nextOffset;
  logger.info({ dir: log.dir, segments: segs.length, removedBytes: removed }, 'compacted');
  return removed;
}
