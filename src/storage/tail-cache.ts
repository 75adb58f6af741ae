/**
 * The newest bytes of the active segment, kept in memory so a fetch at the
 * tail (the common case: consumers that keep up) is served without a read
 * syscall. Chunks are filled once and never overwritten, so slices handed to
 * a response stay valid after the cache moves on; an append call's batches
 * always land in one chunk, so no batch straddles two. Appends larger than a
 * chunk are not cached (and restart the cache after them).
 *
 * Chunks come from a BufferPool and go back to it when the cache moves past
 * them, once no fetch still holds a slice (readers pin the chunks they hand
 * out): a steady producer reuses the same few chunks instead of promoting
 * 256 KiB of fresh memory into V8's old generation every 256 KiB appended.
 */
import { type BufferPool, type PooledBuffer, sharedBufferPool } from './buffer-pool.ts';

const CHUNK_BYTES = 256 * 1024;

export interface TailChunk {
  /** File position of buf[0]. */
  pos: number;
  buf: Buffer;
  len: number;
  block: PooledBuffer;
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
      this.chunks.push({ pos, buf: block.buf, len: src.length, block });
    }
    this.bytes += src.length;
    while (this.chunks.length > 1 && this.bytes - this.chunks[0].len >= this.limit) {
      this.bytes -= this.chunks[0].len;
      this.chunks.shift()!.block.retire();
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
    for (const c of this.chunks) c.block.retire();
    this.chunks.length = 0;
    this.bytes = 0;
  }
}
