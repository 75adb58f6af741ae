/**
 * Log compaction (cleanup.policy=compact): keep the latest record per key in
 * the cleanable part of a log (rolled segments below the high watermark and
 * older than min.compaction.lag.ms), drop tombstones older than
 * delete.retention.ms, keep offsets unchanged.
 *
 * Each cleaned segment is written to `<base>.log.cleaned`, fsynced, renamed
 * to `<base>.log.swap`, then renamed over `<base>.log`. A crash before the
 * `.swap` rename leaves the old segment (the `.cleaned` file is deleted at
 * open); after it, open completes the swap. Either way nothing is lost.
 *
 * Limits: compressed, transactional and control batches are kept whole and
 * their keys are not indexed (an older value of such a key may survive); the
 * cleaner position is kept in memory (a restart cleans everything again).
 */
import fs from 'node:fs';
import {
  BATCH_HEADER_SIZE,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_RECORD_COUNT,
  batch as hdr,
  computeBatchCrc,
} from '../protocol/records/batch-header.ts';
import type { PartitionLog, StorageLogger } from './partition-log.ts';
import { forEachRecord } from './record-keys.ts';
import type { LogSegment } from './segment.ts';

/** Rolled segments the cleaner may rewrite now. */
function cleanableSegments(log: PartitionLog, nowMs: number): LogSegment[] {
  const segs = log.segmentList;
  const out: LogSegment[] = [];
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i];
    if (s.nextOffset > log.highWatermark) break;
    if (s.maxTimestamp >= 0 && nowMs - s.maxTimestamp < log.config.minCompactionLagMs) break;
    out.push(s);
  }
  return out;
}

/** The dirty ratio of the cleanable part reached min.cleanable.dirty.ratio. */
export function needsCleaning(log: PartitionLog, nowMs: number): boolean {
  const segs = cleanableSegments(log, nowMs);
  let total = 0;
  let dirty = 0;
  for (const s of segs) {
    total += s.size;
    if (s.nextOffset > log.cleanerCheckpoint) dirty += s.size;
  }
  return total > 0 && dirty > 0 && dirty / total >= log.config.minCleanableDirtyRatio;
}

function isPlain(b: Buffer, at: number): boolean {
  return hdr.compression(b, at) === 0 && !hdr.isControl(b, at) && !hdr.isTransactional(b, at);
}

/** Compact the log's cleanable segments. Returns the bytes removed. */
export function cleanLog(log: PartitionLog, nowMs: number, logger: StorageLogger): number {
  const segs = cleanableSegments(log, nowMs);
  if (!segs.length) return 0;
  // Pass 1: the latest offset of every key in the cleanable range.
  const latest = new Map<string, number>();
  for (const s of segs) {
    s.scan(0, s.size, true, (b, at, _pos, size) => {
      if (!isPlain(b, at)) return;
      const base = hdr.baseOffset(b, at);
      forEachRecord(b, at, size, (r) => {
        if (r.keyStart >= 0) latest.set(b.toString('latin1', r.keyStart, r.keyStart + r.keyLength), base + r.offsetDelta);
      });
    });
  }
  const tombstoneHorizon = nowMs - log.config.deleteRetentionMs;
  let removed = 0;
  // Pass 2: rewrite each segment, then swap it in.
  for (const s of segs) {
    const parts: Buffer[] = [];
    let outBytes = 0;
    s.scan(0, s.size, true, (b, at, _pos, size) => {
      if (!isPlain(b, at)) {
        parts.push(Buffer.from(b.subarray(at, at + size)));
        outBytes += size;
        return;
      }
      const base = hdr.baseOffset(b, at);
      const dropTombstones = hdr.maxTimestamp(b, at) < tombstoneHorizon;
      const keep: [number, number][] = [];
      let count = 0;
      forEachRecord(b, at, size, (r) => {
        let keepIt = true;
        if (r.keyStart >= 0) {
          const key = b.toString('latin1', r.keyStart, r.keyStart + r.keyLength);
          keepIt = latest.get(key) === base + r.offsetDelta && !(r.valueLength < 0 && dropTombstones);
        }
        if (keepIt) {
          count++;
          const last = keep[keep.length - 1];
          if (last && last[1] === r.start) last[1] = r.end;
          else keep.push([r.start, r.end]);
        }
      });
      if (count === 0) return;
      if (count === hdr.recordCount(b, at)) {
        parts.push(Buffer.from(b.subarray(at, at + size)));
        outBytes += size;
        return;
      }
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
      for (const p of parts) fs.writeSync(fd, p);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const swap = s.file('.log.swap');
    fs.renameSync(cleaned, swap);
    log.swapInCleanedSegment(s.baseOffset, swap);
    removed += s.size - outBytes;
  }
  log.cleanerCheckpoint = segs[segs.length - 1].nextOffset;
  logger.info({ dir: log.dir, segments: segs.length, removedBytes: removed }, 'compacted');
  return removed;
}
