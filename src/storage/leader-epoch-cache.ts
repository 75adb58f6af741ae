/**
 * The leader-epoch cache: for each leader epoch, the first offset written in
 * it (Kafka's LeaderEpochFileCache), persisted as `leader-epoch-checkpoint`
 * in the partition directory. Answers OffsetForLeaderEpoch (KIP-101/279) and
 * is cut back on truncation and on log start offset moves.
 */
import path from 'node:path';
import { readCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { invariant } from './errors.ts';

export const LEADER_EPOCH_CHECKPOINT = 'leader-epoch-checkpoint';

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  constructor(private readonly dir: string) {}

  /** Load the checkpoint; a missing or malformed file gives an empty cache (recovery re-assigns). */
  load(): void {
    const rows = readCheckpoint(path.join(this.dir, LEADER_EPOCH_CHECKPOINT)) ?? [];
    this.entries = [];
    for (const [e, o] of rows) {
      const epoch = Number(e);
      const startOffset = Number(o);
      if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) {
        this.entries = [];
        return;
      }
      const last = this.entries[this.entries.length - 1];
      if (last && (epoch <= last.epoch || startOffset < last.startOffset)) {
        this.entries = [];
        return;
      }
      this.entries.push({ epoch, startOffset });
    }
  }

  /** Replace the checkpoint (atomically, durably); throws when the write fails. */
  save(): void {
    writeCheckpoint(
      path.join(this.dir, LEADER_EPOCH_CHECKPOINT),
      this.entries.map((e) => [e.epoch, e.startOffset]),
    );
  }

  get all(): readonly EpochEntry[] {
    return this.entries;
  }

  get latestEpoch(): number {
    return this.entries.length ? this.entries[this.entries.length - 1].epoch : -1;
  }

  /** Record that `epoch` starts at `startOffset`; true when the cache changed. */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0) return false;
    const last = this.entries[this.entries.length - 1];
    if (last && epoch <= last.epoch) {
      invariant(epoch === last.epoch, () => `leader epoch ${epoch} is older than the latest epoch ${last.epoch}`);
      return false;
    }
    invariant(
      !last || startOffset >= last.startOffset,
      () => `epoch ${epoch} starts at ${startOffset}, before epoch ${last!.epoch} at ${last!.startOffset}`,
    );
    this.entries.push({ epoch, startOffset });
    return true;
  }

  /** Forget epochs starting at or after `endOffset` (log truncated to it). */
  truncateFromEnd(endOffset: number): boolean {
    const n = this.entries.length;
    while (this.entries.length && this.entries[this.entries.length - 1].startOffset >= endOffset) this.entries.pop();
    return this.entries.length !== n;
  }

  /** The log now starts at `startOffset`: the epoch covering it starts there. */
  truncateFromStart(startOffset: number): boolean {
    let i = 0;
    while (i + 1 < this.entries.length && this.entries[i + 1].startOffset <= startOffset) i++;
    if (i === 0 && (!this.entries.length || this.entries[0].startOffset >= startOffset)) return false;
    this.entries = this.entries.slice(i);
    this.entries[0] = { epoch: this.entries[0].epoch, startOffset };
    return true;
  }

  clear(): void {
    this.entries = [];
  }

  /**
   * OffsetForLeaderEpoch: the end offset of `epoch` (the start of the next
   * higher epoch, or the log end offset for the latest), with the largest
   * epoch <= the requested one; (-1, -1) when the requested epoch is newer
   * than any known.
   */
  endOffsetFor(epoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    if (epoch < 0 || !this.entries.length) return { epoch: -1, endOffset: -1 };
    if (epoch === this.latestEpoch) return { epoch, endOffset: logEndOffset };
    let higher = -1;
    for (let i = 0; i < this.entries.length; i++) {
      if (this.entries[i].epoch > epoch) {
        higher = i;
        break;
      }
    }
    if (higher < 0) return { epoch: -1, endOffset: -1 };
    if (higher === 0) return { epoch, endOffset: this.entries[0].startOffset };
    return { epoch: this.entries[higher - 1].epoch, endOffset: this.entries[higher].startOffset };
  }
}
