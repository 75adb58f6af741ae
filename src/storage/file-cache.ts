/**
 * A cap on the log files held open: a least-recently-used set of segments
 * whose `.log` file descriptor is open. Inactive segments beyond the cap have
 * their descriptor closed and reopen it on their next read, so a broker with
 * thousands of partitions and segments stays below the process's
 * file-descriptor limit. Active segments and segments in the middle of an
 * fsync are never closed.
 */

export interface CachedFile {
  /** Closes the descriptor if the file is idle and inactive; returns whether it did. */
  releaseIfIdle(): boolean;
}

export class OpenFileCache {
  private readonly open = new Set<CachedFile>(); // insertion order = recency

  constructor(public capacity: number) {}

  get size(): number {
    return this.open.size;
  }

  /** `f` was just used (and holds an open descriptor). */
  touch(f: CachedFile): void {
    this.open.delete(f);
    this.open.add(f);
    if (this.open.size > this.capacity) this.evict(f);
  }

  forget(f: CachedFile): void {
    this.open.delete(f);
  }

  /** Closes idle files, oldest first, down to the capacity; never `keep`, the file being used right now. */
  private evict(keep: CachedFile): void {
    for (const f of this.open) {
      if (this.open.size <= this.capacity) return;
      if (f !== keep && f.releaseIfIdle()) this.open.delete(f);
    }
  }
}

/** The process-wide cache used by log segments (Kafka has no such setting; it maps files). */
export const segmentFiles = new OpenFileCache(1000);
