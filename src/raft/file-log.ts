/**
 * The Raft log on disk: `RaftLog<Buffer>` over the metadata log's
 * PartitionLog (`__cluster_metadata-0`, src/metadata/metadata-log.ts, whose
 * durability rules apply: writes through the write seam, a failed write or
 * fsync fails its operation and the log dir).
 *
 * - A chunk is raw v2 record-batch bytes, as Fetch carries them: the leader
 *   serves what the log holds, with no per-record decoding; a follower checks
 *   every batch (bounds, magic, CRC, offsets contiguous from its log end,
 *   epochs never going down) before it appends them with their own offsets
 *   and partition leader epochs.
 * - A new leader's first entry is a control batch (attributes' control bit;
 *   key: Kafka's control record key, type LEADER_CHANGE; value: a small JSON
 *   `{leaderId, voters}` in place of Kafka's LeaderChangeMessage schema),
 *   which the metadata log's readers skip.
 * - Epochs: the PartitionLog's leader-epoch cache gives the first offset of
 *   each epoch; below the log start, the snapshot's epoch stands for
 *   everything it holds.
 * - Snapshots are the metadata log's `<end offset>-<epoch>.checkpoint` files:
 *   served by byte range, installed whole (atomically) by a follower, which
 *   then starts its log over, empty, at the snapshot's end.
 * - Durability: writes are in the page cache at once; `flush()` fsyncs up to
 *   the end and `durableEndOffset` (the PartitionLog's recovery point) says
 *   how far the disk has it.
 */
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, batch as hdr, isBatchCrcValid } from '../protocol/records/batch-header.ts';
import { encodeBatch } from '../protocol/records/record-batch.ts';
import {
  FileMetadataLog,
  type MetadataBatch,
  type MetadataLogOptions,
  type MetadataSnapshot,
} from '../metadata/metadata-log.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import type { NodeId, OffsetAndEpoch, RaftBatchInfo, RaftLog } from './types.ts';

/** Kafka's ControlRecordType for a leader change (the control record key's `type`). */
export const CONTROL_TYPE_LEADER_CHANGE = 2;

/** Chunks from the network are refused beyond this many bytes per batch (the metadata log's batches are small). */
const MAX_BATCH_BYTES = 64 * 1024 * 1024;

/** A chunk that is not a run of whole, valid batches continuing the log. */
export class InvalidChunkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidChunkError';
  }
}

/**
 * Checks that `chunk` is whole v2 batches (bounds, magic, CRC), with
 * contiguous offsets and epochs that never go down, and returns their
 * offsets and epochs; throws InvalidChunkError otherwise. Allocates nothing
 * from a length it has not checked against the chunk.
 */
export function checkChunk(chunk: Buffer): RaftBatchInfo[] {
  const out: RaftBatchInfo[] = [];
  for (let at = 0; at < chunk.length; ) {
    if (chunk.length - at < BATCH_HEADER_SIZE)
      throw new InvalidChunkError(`${chunk.length - at} trailing bytes are not a record batch`);
    const size = LOG_OVERHEAD + hdr.batchLength(chunk, at);
    if (size < BATCH_HEADER_SIZE || size > chunk.length - at || size > MAX_BATCH_BYTES)
      throw new InvalidChunkError(`the batch at byte ${at} claims ${size} bytes`);
    if (hdr.magic(chunk, at) !== 2)
      throw new InvalidChunkError(`the batch at byte ${at} has magic ${hdr.magic(chunk, at)}`);
    if (!isBatchCrcValid(chunk, at, size)) throw new InvalidChunkError(`the batch at byte ${at} fails its CRC`);
    const baseOffset = hdr.baseOffset(chunk, at);
    const delta = hdr.lastOffsetDelta(chunk, at);
    const epoch = hdr.partitionLeaderEpoch(chunk, at);
    if (baseOffset < 0 || delta < 0 || epoch < 0)
      throw new InvalidChunkError(`the batch at byte ${at} has offset ${baseOffset}+${delta}, epoch ${epoch}`);
    const prev = out[out.length - 1];
    if (prev && baseOffset !== prev.lastOffset + 1)
      throw new InvalidChunkError(`the batch at offset ${baseOffset} does not follow offset ${prev.lastOffset}`);
    if (prev && epoch < prev.epoch)
      throw new InvalidChunkError(`the batch at offset ${baseOffset} has epoch ${epoch}, below ${prev.epoch}`);
    out.push({ baseOffset, lastOffset: baseOffset + delta, epoch });
    at += size;
  }
  return out;
}

/** The control batch a new leader writes first in its epoch. */
export function encodeLeaderChange(leaderId: NodeId, voters: readonly NodeId[], timestamp: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0); // control record key version
  key.writeInt16BE(CONTROL_TYPE_LEADER_CHANGE, 2);
  return encodeBatch({
    isControl: true,
    baseTimestamp: timestamp,
    records: [{ key, value: JSON.stringify({ leaderId, voters: [...voters] }) }],
  });
}

export interface FileRaftLogOptions extends Omit<MetadataLogOptions, 'commitByQuorum'> {}

export class FileRaftLog implements RaftLog<Buffer> {
  private constructor(
    /** The metadata log underneath (its PartitionLog, snapshots, committed offset). */
    readonly meta: FileMetadataLog,
    private readonly now: () => number,
  ) {}

  /** Opens the metadata log in log dir `dir` for Raft: only the snapshot is known committed until the quorum says more. */
  static async open(dir: string, opts: FileRaftLogOptions = {}): Promise<FileRaftLog> {
    const meta = await FileMetadataLog.open(dir, { ...opts, commitByQuorum: true });
    return new FileRaftLog(meta, opts.now ?? Date.now);
  }

  get partitionDir(): string {
    return this.meta.partitionDir;
  }

  get startOffset(): number {
    return this.meta.log.logStartOffset;
  }

  get endOffset(): number {
    return this.meta.log.logEndOffset;
  }

  get durableEndOffset(): number {
    return Math.min(this.meta.log.recoveryPoint, this.meta.log.logEndOffset);
  }

  /** Offsets below this are committed and may be read back as metadata batches. */
  get committedOffset(): number {
    return this.meta.committedOffset;
  }

  lastEpoch(): number {
    let last = -1;
    for (const e of this.meta.log.epochStartOffsets.keys()) if (e > last) last = e;
    if (last >= 0) return last;
    return this.meta.latestSnapshot?.epoch ?? 0;
  }

  endOffsetForEpoch(epoch: number): OffsetAndEpoch {
    if (epoch < 0) return { offset: -1, epoch: -1 };
    const last = this.lastEpoch();
    if (epoch >= last) return { offset: this.endOffset, epoch: last };
    const snap = this.meta.latestSnapshot;
    let floor = snap && snap.epoch <= epoch ? snap.epoch : -1;
    for (const [e, start] of this.meta.log.epochStartOffsets) {
      if (e > epoch) return floor < 0 ? { offset: -1, epoch: -1 } : { offset: start, epoch: floor };
      floor = e;
    }
    return { offset: -1, epoch: -1 };
  }

  read(fromOffset: number, maxBytes: number): Buffer | null {
    if (fromOffset >= this.endOffset) return null;
    const r = this.meta.log.read(fromOffset, Math.max(1, maxBytes), { minOneBatch: true });
    if (r.batches.length === 0) return null;
    return r.batches.length === 1 ? r.batches[0] : Buffer.concat(r.batches);
  }

  describe(chunk: Buffer): RaftBatchInfo[] {
    return checkChunk(chunk);
  }

  appendAsLeader(records: readonly Uint8Array[], epoch: number): RaftBatchInfo {
    if (records.length === 0) throw new Error('raft: an empty batch');
    const buf = encodeBatch({ baseTimestamp: this.now(), records: records.map((value) => ({ value })) });
    const info = this.meta.appendBatches(buf, epoch);
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, epoch };
  }

  appendAsFollower(chunk: Buffer): void {
    const infos = checkChunk(chunk);
    if (infos.length === 0) return;
    if (infos[0].baseOffset !== this.endOffset)
      throw new InvalidChunkError(
        `the chunk starts at offset ${infos[0].baseOffset}, the log ends at ${this.endOffset}`,
      );
    const last = this.lastEpoch();
    if (infos[0].epoch < last)
      throw new InvalidChunkError(`the chunk's epoch ${infos[0].epoch} is below the log's last epoch ${last}`);
    // One append per run of batches of one epoch: the epoch cache learns where each epoch starts.
    let runStart = 0;
    let byte = 0;
    let runByte = 0;
    for (let i = 0; i < infos.length; i++) {
      const size = LOG_OVERHEAD + hdr.batchLength(chunk, byte);
      byte += size;
      if (i + 1 === infos.length || infos[i + 1].epoch !== infos[runStart].epoch) {
        this.meta.appendBatches(chunk.subarray(runByte, byte), infos[runStart].epoch);
        runStart = i + 1;
        runByte = byte;
      }
    }
  }

  appendLeaderChange(epoch: number, leaderId: NodeId, voters: readonly NodeId[]): RaftBatchInfo {
    const info = this.meta.appendBatches(encodeLeaderChange(leaderId, voters, this.now()), epoch);
    return { baseOffset: info.firstOffset, lastOffset: info.lastOffset, epoch };
  }

  truncateTo(offset: number): void {
    this.meta.truncateTo(offset);
  }

  latestSnapshot(): OffsetAndEpoch | null {
    const s = this.meta.latestSnapshot;
    return s && { offset: s.endOffset, epoch: s.epoch };
  }

  readSnapshot(id: OffsetAndEpoch, position: number, maxBytes: number): { bytes: Uint8Array; size: number } | null {
    return this.meta.readSnapshot(id.offset, id.epoch, position, maxBytes);
  }

  installSnapshot(id: OffsetAndEpoch, bytes: Uint8Array): void {
    this.meta.installSnapshot(id.offset, id.epoch, bytes);
  }

  // ---- what the node needs besides the core's seam ----------------------------

  /** fsyncs everything appended so far (shared with concurrent callers); rejects when the fsync fails. */
  flush(): Promise<void> {
    return this.meta.log.flush();
  }

  /** The quorum committed the offsets below `offset`. */
  markCommitted(offset: number): void {
    if (offset > this.meta.committedOffset) this.meta.markCommitted(offset);
  }

  /** Committed metadata batches (control batches left out) from the one holding `from`, below `end`. */
  readCommitted(from: number, end: number): MetadataBatch[] {
    return this.meta.readBatches(from, end);
  }

  /** The newest snapshot with its records, or null. */
  snapshot(): MetadataSnapshot | null {
    return this.meta.snapshotData;
  }

  get bytesSinceSnapshot(): number {
    return this.meta.bytesSinceSnapshot;
  }

  writeSnapshot(endOffset: number, records: MetadataRecord[]): Promise<void> {
    return this.meta.writeSnapshot(endOffset, records);
  }

  close(): Promise<void> {
    return this.meta.close();
  }
}
