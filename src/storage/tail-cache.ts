/**
 * The newest bytes of the active segment, kept in memory so a fetch at the
 * tail (the common case: consumers that keep up) is served without a read
 * syscall. Chunks are filled once and never overwritten, so slices handed to
 * a response stay valid after the cache moves on; an append call's batches
 * always land in one chunk, so no batch straddles two.
 *
 * Large appends (ADOPT_MIN_BYTES and up) that lie in a pooled buffer, which is
 * how a Produce request's records arrive (server/frame-reader.ts), and fill
 * at least half of it, are not copied: the cache pins that buffer and keeps
 * the slice as a chunk of its own (so what a tail pins is at most twice what
 * it counts). Other appends larger than a chunk are not cached (and restart the
 * cache after them).
 *
 * Chunks come from a BufferPool and go back to it when the cache moves past
 * them, once no fetch still holds a slice (readers pin the chunks they hand
 * out): a steady producer reuses the same few chunks instead of promoting
 * 256 KiB of fresh memory into V8's old generation every 256 KiB appended.
 */
import { BufferPool, type PooledBuffer, sharedBufferPool } from './buffer-pool.ts';

const CHUNK_BYTES = 256 * 1024;
/** Appends from this size up are adopted (pinned in place) when they lie in a pooled buffer. */
export const ADOPT_MIN_BYTES = 32 * 1024;

export interface TailChunk {
  /** File position of buf[0]. */
  pos: number;
  buf: Buffer;
  len: number;
  block: PooledBuffer;
  /** The chunk is a pinned slice of someone else's buffer (unpinned, not retired, on eviction). */
  adopted: boolean;
}

export class TailCache {
  readonly chunks: TailChunk[] = [];
  private bytes = 0;

  constructor(
    private readonly limit: number,
    private readonly pool: BufferPool = sharedBufferPool,
  ) {}

  /** First cached file position (Infinity when empty). */
  get start(): number {
    return this.chunks.length ? this.chunks[0].pos : Infinity;
  }

  /** Cache `src` written at file position `pos` (must follow the cached bytes). */
  add(src: Buffer, pos: number): void {
    if (this.limit <= 0) return;
    const owner = src.length >= ADOPT_MIN_BYTES ? BufferPool.ownerOf(src) : undefined;
    // Only when the append is most of that buffer: a 16 MB request carrying 16 partitions' batches
    // would otherwise stay pinned by 16 tails that each count 1 MB of it.
    if (owner && src.length * 2 >= owner.buf.length) {
      const last = this.chunks[this.chunks.length - 1];
      if (last && last.pos + last.len !== pos) this.clear();
      owner.pin();
      this.chunks.push({ pos, buf: src, len: src.length, block: owner, adopted: true });
      this.grew(src.length);
      return;
    }
    if (src.length > CHUNK_BYTES) {
      // Large appends are read back by pread at about the cost of copying them here.
      this.clear();
      return;
    }
    let last: TailChunk | undefined = this.chunks[this.chunks.length - 1];
    if (last && last.pos + last.len !== pos) {
      this.clear();
      last = undefined;
    }
    if (last && last.buf.length - last.len >= src.length) {
      src.copy(last.buf, last.len);
      last.len += src.length;
    } else {
      const block = this.pool.acquire(CHUNK_BYTES);
      src.copy(block.buf, 0);
      this.chunks.push({ pos, buf: block.buf, len: src.length, block, adopted: false });
    }
    this.grew(src.length);
  }

  private grew(n: number): void {
    this.bytes += n;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].len >= this.limit) {
      this.bytes -= this.chunks[0].len;
      release(this.chunks.shift()!);
    }
  }

  /** Index of the chunk holding file position `pos`, or -1. */
  find(pos: number): number {
    for (let i = this.chunks.length - 1; i >= 0; i--) {
      const c = this.chunks[i];
      if (pos >= c.pos) return pos < c.pos + c.len ? i : -1;
    }
    return -1;
  }

  clear(): void {
    for (const c of this.chunks) release(c);
    this.chunks.length = 0;
    this.bytes = 0;
  }
}

function release(c: TailChunk): void {
  if (c.adopted) c.block.unpin();
  else c.block.retire();
}
