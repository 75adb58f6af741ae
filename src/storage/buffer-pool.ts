/**
 * Reusable memory for the bytes a fetch hands to the network: the tail
 * cache's chunks and the buffers a pread fills. Fresh buffers cost the broker
 * twice: the kernel faults in and zeroes new pages on the first write, and
 * buffers that live past a young-generation GC are promoted, where every
 * ~64 MB of them starts a full mark-compact (V8's external memory limit) that
 * stalls the event loop for milliseconds.
 *
 * A PooledBuffer is pinned by each reader that hands a slice of it to the
 * network, and retired by its owner (the tail cache evicting a chunk, or the
 * reader that filled it). It goes back to its pool once it is retired and no
 * pin remains. Whoever pins must unpin exactly once, after the bytes have left
 * (the socket write's callback); a buffer that is never unpinned is simply
 * left to the garbage collector.
 *
 * Request frames of Produce are read into pooled buffers too (see
 * server/frame-reader.ts). A slice of any pooled buffer can be traced back to
 * its PooledBuffer (`BufferPool.ownerOf`), so the tail cache can keep a large
 * appended batch by pinning the frame it arrived in instead of copying it.
 */
import { invariant } from './errors.ts';

/** Every PooledBuffer by the memory it wraps, for ownerOf. */
const owners = new WeakMap<ArrayBufferLike, PooledBuffer>();

export class PooledBuffer {
  /** Pins held across all pooled buffers of the process (a leak shows here). */
  static outstandingPins = 0;
  private pins = 0;
  private retired = false;

  constructor(
    readonly buf: Buffer,
    private readonly pool: BufferPool | null,
  ) {
    owners.set(buf.buffer, this);
  }

  /** Still with its owner (not retired), so a pin now keeps its bytes as they are. */
  get inService(): boolean {
    return !this.retired;
  }

  pin(): void {
    invariant(!this.retired || this.pins > 0, 'pin of a buffer already returned to its pool');
    this.pins++;
    PooledBuffer.outstandingPins++;
  }

  unpin(): void {
    invariant(this.pins > 0, 'unpin of a buffer that is not pinned');
    PooledBuffer.outstandingPins--;
    if (--this.pins === 0 && this.retired) this.pool?.recycle(this);
  }

  /** The owner is done with it; it is reused once the last pin is gone. */
  retire(): void {
    invariant(!this.retired, 'buffer retired twice');
    this.retired = true;
    if (this.pins === 0) this.pool?.recycle(this);
  }

  /** Back in service from the pool. */
  reset(): this {
    this.retired = false;
    this.pins = 0;
    return this;
  }
}

/** Size classes: powers of two from MIN_CLASS to MAX_CLASS; larger buffers are not pooled. */
const MIN_CLASS = 64 * 1024;
const MAX_CLASS = 16 * 1024 * 1024;

export class BufferPool {
  private readonly free = new Map<number, PooledBuffer[]>();
  private idleBytes = 0;

  /** @param maxIdleBytes memory kept for reuse; buffers returned beyond it are dropped. */
  constructor(readonly maxIdleBytes: number) {}

  /** The size of buffer acquire(n) hands out (its capacity). */
  static capacityFor(n: number): number {
    if (n <= MIN_CLASS) return MIN_CLASS;
    if (n > MAX_CLASS) return n;
    return 2 ** Math.ceil(Math.log2(n));
  }

  /** A buffer of at least n bytes, owned by the caller (retire it when done). */
  acquire(n: number): PooledBuffer {
    const cap = BufferPool.capacityFor(n);
    if (cap > MAX_CLASS) return new PooledBuffer(Buffer.allocUnsafeSlow(cap), null);
    const list = this.free.get(cap);
    const reused = list?.pop();
    if (reused) {
      this.idleBytes -= cap;
      return reused.reset();
    }
    return new PooledBuffer(Buffer.allocUnsafeSlow(cap), this);
  }

  /** Called by PooledBuffer once retired and unpinned. */
  recycle(b: PooledBuffer): void {
    const cap = b.buf.length;
    if (this.idleBytes + cap > this.maxIdleBytes) return;
    let list = this.free.get(cap);
    if (!list) this.free.set(cap, (list = []));
    list.push(b);
    this.idleBytes += cap;
  }

  /**
   * The pooled buffer a slice lies in, if it lies in one that is in service
   * (its bytes will not change while pinned). Pooled buffers own their
   * memory (allocUnsafeSlow), so the ArrayBuffer identifies them.
   */
  static ownerOf(slice: Buffer): PooledBuffer | undefined {
    const owner = owners.get(slice.buffer);
    return owner?.inService ? owner : undefined;
  }

  get idle(): number {
    return this.idleBytes;
  }
}

/**
 * The process's pool. Idle memory is bounded (64 MiB); in use it is bounded
 * by what the logs' tail caches hold and by the fetches in flight.
 */
export const sharedBufferPool = new BufferPool(64 * 1024 * 1024);
