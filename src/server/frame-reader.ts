/**
 * Splits a connection's byte stream into request frames (int32 size, then
 * the request), with as few copies and allocations as the sizes allow.
 *
 * Where the bytes land (the kernel reads into the buffer `target()` gives):
 * - A frame that is still arriving and has at least DIRECT_MIN_BYTES to go is
 *   read straight into its own buffer, in place: a Produce request of 1 MB
 *   costs one allocation-free pass of the kernel, not a copy per 64 KiB read.
 * - Everything else is read into the connection's 64 KiB scratch buffer
 *   (every byte left there is consumed or copied out before the read
 *   callback returns), instead of a fresh 64 KiB buffer per read: those cost
 *   an allocation each and, counted as external memory by V8, start full
 *   garbage collections. One scratch shared by all connections is as safe
 *   (nothing refers into it after the read callback: frame-reader.test.ts,
 *   "shared scratch"); it did not cause the static-membership flake blamed on it.
 *
 * A frame's own buffer is a PooledBuffer for Produce requests of
 * POOLED_MIN_BYTES and up (the sink retires it once the request is answered;
 * the tail cache may pin it to keep the records without copying them), and
 * a plain allocation otherwise: other handlers may keep slices of their
 * request (group metadata, assignments), so their memory must never be
 * reused.
 *
 * Data from a socket's 'data' events (sockets this reader cannot read into,
 * see socket-user-buffer.ts) is owned by us and passed on as slices.
 *
 * A size outside [0, maxFrameBytes] is reported before anything is allocated
 * for it (`socket.request.max.bytes`). A size in range is only allocated once
 * the sink admits it (the broker's request memory, request-memory.ts); until
 * then the bytes are carried and nothing more is parsed.
 */
import { type BufferPool, type PooledBuffer, sharedBufferPool } from '../storage/buffer-pool.ts';

/** A frame still arriving with at least this much to go is read into its own buffer directly. */
export const DIRECT_MIN_BYTES = 16 * 1024;
/** Produce frames of this size and up get pooled buffers. */
export const POOLED_MIN_BYTES = 16 * 1024;
const SCRATCH_BYTES = 64 * 1024;
const API_PRODUCE = 0;

export interface FrameSink {
  /** One complete frame; `block` (if any) is the caller's to retire when done with the frame. */
  frame(frame: Buffer, block: PooledBuffer | null): void;
  /** A size prefix out of range: nothing more will be read. */
  oversize(size: number): void;
  /** True while no frame should be handed over (backpressure, or closed). */
  paused(): boolean;
  /**
   * Room for a frame of `size` bytes of API `apiKey` (-1 for a frame shorter
   * than an API key), asked before its buffer is allocated. False: the reader
   * stops until resume(); the sink gives the room back once the frame handed
   * over is done with, or through abandon().
   */
  admit(size: number, apiKey: number): boolean;
  /** An admitted frame will never be handed over (stop() during it). */
  abandon(size: number, apiKey: number): void;
}

interface Partial {
  buf: Buffer;
  filled: number;
  block: PooledBuffer | null;
}

export class FrameReader {
  /** Bytes received but not yet parsed (only while paused, or a size prefix split across reads); owned. */
  private carry: Buffer | null = null;
  /** The frame being received, its size known. */
  private partial: Partial | null = null;
  /** The in-place target last handed out by target(), if any. */
  private direct: Buffer | null = null;
  private stopped = false;
  /** parse() is on the stack (a frame's handler may call resume() back). */
  private parsing = false;
  /** Where small reads land (see the header); allocated on the first read. */
  private scratch: Buffer | null = null;

  constructor(
    /** Frames above it are refused (may change between frames, e.g. once a SASL client has authenticated). */
    public maxFrameBytes: number,
    private readonly sink: FrameSink,
    private readonly pool: BufferPool = sharedBufferPool,
  ) {}

  /** Where the next read should put its bytes. */
  target(): Buffer {
    const p = this.partial;
    if (p && !this.carry && p.buf.length - p.filled >= DIRECT_MIN_BYTES) {
      return (this.direct = p.buf.subarray(p.filled));
    }
    this.direct = null;
    return (this.scratch ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES));
  }

  /** Bytes not yet handed over as frames (for tests and backpressure decisions). */
  get buffered(): number {
    return (this.carry?.length ?? 0) + (this.partial?.filled ?? 0);
  }

  /**
   * `n` bytes arrived at the start of `buf`: a buffer from target(), or
   * (owned = true) a chunk of our own from a 'data' event.
   */
  received(buf: Buffer, n: number, owned = false): void {
    if (this.stopped || n <= 0) return;
    if (buf === this.direct && this.partial) {
      this.direct = null;
      this.partial.filled += n;
      this.completePartial();
      return;
    }
    let data = buf.subarray(0, n);
    const p = this.partial;
    if (p) {
      const k = Math.min(p.buf.length - p.filled, data.length);
      data.copy(p.buf, p.filled, 0, k);
      p.filled += k;
      data = data.subarray(k);
      this.completePartial();
    }
    if (data.length === 0) return;
    if (this.carry) {
      // Rare (a size prefix split across reads, or bytes that came while paused). Parsed as if
      // in the scratch, so frames get their usual buffers (pooled for Produce).
      data = Buffer.concat([this.carry, data]);
      this.carry = null;
      owned = false;
    }
    this.parse(data, owned);
  }

  /** Hand over what was carried while paused (call when the sink unpauses). */
  resume(): void {
    if (this.parsing || this.stopped || !this.carry || this.sink.paused()) return;
    const data = this.carry;
    this.carry = null;
    this.parse(data, false);
  }

  /** A frame has started and is not complete yet (its size prefix, or part of it, has arrived), or bytes wait to be parsed. */
  get frameInProgress(): boolean {
    return this.partial !== null || this.carry !== null;
  }

  /** No more frames: returns the unfinished frame's pooled buffer and its admitted room, if any. */
  stop(): void {
    this.stopped = true;
    this.carry = null;
    this.direct = null;
    this.scratch = null;
    const p = this.partial;
    this.partial = null;
    if (p) {
      p.block?.retire();
      this.sink.abandon(p.buf.length, apiKeyOf(p.buf, p.buf.length));
    }
  }

  private completePartial(): void {
    const p = this.partial!;
    if (p.filled < p.buf.length) return;
    this.partial = null;
    this.sink.frame(p.buf, p.block);
  }

  /** Frames out of `data` (owned: slices of it may be kept) until it runs out or the sink pauses. */
  private parse(data: Buffer, owned: boolean): void {
    this.parsing = true;
    try {
      this.parseFrames(data, owned);
    } finally {
      this.parsing = false;
    }
  }

  private parseFrames(data: Buffer, owned: boolean): void {
    let at = 0;
    const end = data.length;
    while (!this.stopped) {
      const left = end - at;
      if (left === 0) return;
      if (this.sink.paused() || left < 4) break;
      const size = data.readInt32BE(at);
      if (size < 0 || size > this.maxFrameBytes) {
        this.stopped = true;
        this.sink.oversize(size);
        return;
      }
      if (left >= 4 + size) {
        if (!this.sink.admit(size, size >= 2 ? data.readInt16BE(at + 4) : -1)) break;
        const body = data.subarray(at + 4, at + 4 + size);
        at += 4 + size;
        if (owned) {
          this.sink.frame(body, null);
        } else {
          const { buf, block } = this.allocate(size, body);
          body.copy(buf);
          this.sink.frame(buf, block);
        }
        continue;
      }
      if (left < 6) break; // the API key decides where the frame goes
      if (!this.sink.admit(size, data.readInt16BE(at + 4))) break;
      const { buf, block } = this.allocate(size, data.subarray(at + 4));
      const filled = data.copy(buf, 0, at + 4, end);
      this.partial = { buf, filled, block };
      return;
    }
    if (this.stopped) return;
    // Paused, not admitted, or a size prefix not yet complete: keep the rest (copied out of the scratch).
    const rest = data.subarray(at);
    this.carry = owned ? rest : Buffer.from(rest);
  }

  /** A frame buffer of `size` bytes; `head` starts with the frame's first bytes (at least 2: the API key). */
  private allocate(size: number, head: Buffer): { buf: Buffer; block: PooledBuffer | null } {
    if (size >= POOLED_MIN_BYTES && head.readInt16BE(0) === API_PRODUCE) {
      const block = this.pool.acquire(size);
      return { buf: block.buf.subarray(0, size), block };
    }
    return { buf: Buffer.allocUnsafe(size), block: null };
  }
}

/** The API key at the start of a frame of `size` bytes, -1 when it is too short to have one. */
function apiKeyOf(frame: Buffer, size: number): number {
  return size >= 2 ? frame.readInt16BE(0) : -1;
}
