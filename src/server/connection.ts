/**
 * One client connection: frames in, responses out, in order.
 *
 * - Frames are cut by a FrameReader (frame-reader.ts: few copies, Produce
 *   frames in pooled memory), with a size limit (`socket.request.max.bytes`);
 *   a size out of range closes the connection before anything is allocated.
 * - Requests are handed to the dispatcher in arrival order; each may answer
 *   later (a long-polling Fetch, an acks=all Produce), but responses are
 *   written strictly in request order, as Kafka clients expect of pipelining.
 * - File regions in a Fetch response go by sendfile once everything before
 *   them is with the kernel (sendfile.ts); on a TLS socket they are read and
 *   written a piece at a time (the next piece once the previous one is
 *   written), since sendfile would bypass the encryption. When the socket's send buffer is
 *   full, a piece is read and queued like any buffer, and the rest of the
 *   response waits for that piece's write callback (the socket drained).
 * - Backpressure: when the socket's write buffer is full, or too many
 *   requests are in flight, the connection stops reading until it drains.
 * - Request memory: a frame is only allocated once the broker-wide
 *   RequestMemory (request-memory.ts) admits it; until then the connection
 *   stops reading and waits its turn. The room is given back when the
 *   request is answered.
 * - Deadlines: a connection with nothing in flight is closed once idle for
 *   `connections.max.idle.ms`; a frame that started arriving must be
 *   complete within `samsa.request.read.timeout.ms` of its first bytes
 *   (a client that trickles bytes cannot hold its frame's memory forever).
 *   Time the connection spends not reading (its own backpressure) does not
 *   count against the client.
 * - Quota throttling (KIP-219): a client over its quota gets its response at
 *   once with `throttle_time_ms`, and the connection reads nothing more from
 *   it for that long (`throttle`), on top of the backpressure above.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { SecurityProtocol } from '../config/broker-config.ts';
import type { Chunk } from '../protocol/writer.ts';
import { ANONYMOUS, type KafkaPrincipal } from '../security/principal.ts';
import type { PooledBuffer } from '../storage/buffer-pool.ts';
import type { FileRegion } from '../storage/file-region.ts';
import { FrameReader } from './frame-reader.ts';
import type { LogLimiter } from './log-limiter.ts';
import { type MemoryWaiter, RequestMemory } from './request-memory.ts';
import { copyOut, sendInPlace } from './sendfile.ts';
import { readIntoUserBuffers } from './socket-user-buffer.ts';

/**
 * The encoded response (header + body) as slices, with what to do once they
 * are written. A chunk that is not a Buffer is a FileRegion (the only
 * ExternalBytes the broker makes), sent with sendfile.
 */
export type ReplyChunks = Chunk[] & {
  /** Called once, after the last slice has been handed to the kernel or will never be. */
  afterWrite?: () => void;
};

/** What a dispatcher returns for one request frame. */
export type Reply =
  | ReplyChunks
  | null // no response (Produce with acks=0)
  | 'close'; // close the connection (malformed frame, unknown API, failed acks=0 Produce)

/** What a region's piece is when the socket's send buffer is full: queued like any buffer, its write callback says the socket drained. */
const REGION_PIECE_BYTES = 128 * 1024;

export type FrameHandler = (frame: Buffer, conn: Connection) => Reply | Promise<Reply>;

export interface ConnectionOptions {
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxInFlight: number;
  logger: Logger;
  /** The broker's request memory (default: unbounded, for this connection alone). */
  memory?: RequestMemory;
  /** Most ms from a frame's first bytes to its last (0: no deadline). */
  requestReadTimeoutMs?: number;
  /** Rate limit of the warnings a client can cause, shared by the broker's connections. */
  logLimiter?: LogLimiter;
  /** The listener the connection came in on (default PLAINTEXT). */
  listenerName?: string;
  /** Its security protocol (default PLAINTEXT). */
  securityProtocol?: SecurityProtocol;
  /** The frame size limit until authenticated (SASL listeners: sasl.server.max.receive.size); default maxFrameBytes. */
  unauthenticatedMaxFrameBytes?: number;
}

interface Pending {
  reply: Reply | undefined;
  done: boolean;
  /** The request frame's pooled memory, retired once the request is answered. */
  block: PooledBuffer | null;
  /** What the frame took from the request memory. */
  bytes: number;
  apiKey: number;
}

/** Orders connections by last activity (LRU eviction); cheaper and finer than a clock. */
let activityTick = 0;

export class Connection {
  readonly id: string;
  private readonly reader: FrameReader;
  /** The socket reads into buffers the FrameReader chooses (else Node's 'data' events). */
  readonly readsInPlace: boolean;
  private pending: Pending[] = [];
  private closed = false;
  private pausedForWrite = false;
  private pausedForInFlight = false;
  private idleTimer: NodeJS.Timeout | undefined;
  lastActive = Date.now();
  /** activityTick at the last read or write: larger is more recent. */
  lastActivity = ++activityTick;
  /** The client's address (IPv4-mapped IPv6 addresses as plain IPv4). */
  readonly ip: string;
  /** The listener the connection came in on. */
  readonly listenerName: string;
  readonly securityProtocol: SecurityProtocol;
  /** Who the client is: ANONYMOUS until TLS (client certificate) or SASL establishes a principal. */
  principal: KafkaPrincipal = ANONYMOUS;
  private readonly memory: RequestMemory;
  /** Waiting for room in the request memory: not reading. */
  private waitingForMemory = false;
  private readonly memoryWaiter: MemoryWaiter = {
    retry: () => {
      if (this.closed) return true;
      this.waitingForMemory = false;
      this.maybeResume();
      return !this.waitingForMemory;
    },
  };
  /** Muted for a quota (KIP-219) until this time (ms, Date.now clock); 0: not muted. */
  private mutedUntil = 0;
  private muteTimer: NodeJS.Timeout | undefined;
  /** When the frame now arriving started (0: none is). */
  private frameStartedAt = 0;
  private frameTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly handler: FrameHandler,
    private readonly opts: ConnectionOptions,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.id = `${socket.remoteAddress}:${socket.remotePort}`;
    this.ip = normalizeIp(socket.remoteAddress);
    this.listenerName = opts.listenerName ?? 'PLAINTEXT';
    this.securityProtocol = opts.securityProtocol ?? 'PLAINTEXT';
    this.memory = opts.memory ?? new RequestMemory(-1, -1);
    socket.setNoDelay(true);
    const frameLimit = Math.min(opts.maxFrameBytes, opts.unauthenticatedMaxFrameBytes ?? opts.maxFrameBytes);
    this.reader = new FrameReader(frameLimit, {
      frame: (frame, block) => this.dispatch(frame, block),
      oversize: (size) => {
        // a TLS record header (handshake 0x16, version 0x03xx) read as a frame size: a TLS client on a plaintext listener
        const tlsHello = size >>> 16 === 0x1603 && !(socket as { encrypted?: boolean }).encrypted;
        const preAuth = this.reader.maxFrameBytes < this.opts.maxFrameBytes;
        this.warn(
          tlsHello
            ? `closing connection: TLS handshake received on ${this.securityProtocol} listener ${this.listenerName}`
            : preAuth
              ? 'closing connection: frame before authentication larger than sasl.server.max.receive.size'
              : 'closing connection: request frame size out of range (socket.request.max.bytes)',
          { size, limit: this.reader.maxFrameBytes },
        );
        this.close();
      },
      paused: () => this.closed || this.pausedForInFlight || this.writeBlocked || this.mutedUntil !== 0,
      admit: (size, apiKey) => {
        if (this.memory.tryAdmit(size, apiKey)) return true;
        this.waitingForMemory = true;
        this.memory.wait(this.memoryWaiter);
        return false;
      },
      abandon: (size, apiKey) => this.memory.release(size, apiKey),
    });
    // a TLS socket's handle reads ciphertext: its plaintext comes as 'data' events
    this.readsInPlace =
      !(socket as { encrypted?: boolean }).encrypted &&
      readIntoUserBuffers(socket, {
        next: () => this.reader.target(),
        read: (n, buf) => this.onRead(buf, n, false),
      });
    if (!this.readsInPlace) socket.on('data', (d: Buffer) => this.onRead(d, d.length, true));
    socket.on('drain', () => {
      this.pausedForWrite = false;
      this.maybeResume();
    });
    socket.on('error', (err) => this.opts.logger.debug({ conn: this.id, err: err.message }, 'socket error'));
    socket.on('close', () => this.teardown());
    this.armIdleTimer();
  }

  /** Fires when the connection will have been idle for the period since its last activity (a busy one is looked at again a period later). */
  private armIdleTimer(delayMs = this.opts.idleTimeoutMs): void {
    if (this.opts.idleTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActive;
      if (this.pending.length > 0) {
        this.armIdleTimer();
      } else if (idle >= this.opts.idleTimeoutMs) {
        this.info('closing idle connection (connections.max.idle.ms)', { idleMs: idle });
        this.close();
      } else {
        this.armIdleTimer(this.opts.idleTimeoutMs - idle);
      }
    }, delayMs);
    this.idleTimer.unref();
  }

  /** Fires at the deadline of the frame now arriving; looks again if that frame was done with meanwhile. */
  private armFrameTimer(delayMs: number): void {
    this.frameTimer = setTimeout(() => {
      this.frameTimer = undefined;
      if (this.closed || this.frameStartedAt === 0) return;
      const limit = this.opts.requestReadTimeoutMs!;
      if (!this.reader.frameInProgress) {
        this.frameStartedAt = 0;
        return;
      }
      if (this.notReading) {
        // our own backpressure: the client's clock restarts
        this.frameStartedAt = Date.now();
        this.armFrameTimer(limit);
        return;
      }
      const took = Date.now() - this.frameStartedAt;
      if (took >= limit) {
        this.warn('closing connection: request frame not complete in time (samsa.request.read.timeout.ms)', {
          ms: took,
          buffered: this.reader.buffered,
        });
        this.close();
      } else {
        this.armFrameTimer(limit - took);
      }
    }, delayMs);
    this.frameTimer.unref();
  }

  private onRead(buf: Buffer, n: number, owned: boolean): void {
    if (this.closed) return;
    this.lastActive = Date.now();
    this.lastActivity = ++activityTick;
    this.reader.received(buf, n, owned);
    if (this.closed) return;
    // dispatch() clears frameStartedAt for every frame completed, so one in progress now started in this read
    if (this.frameStartedAt === 0 && this.reader.frameInProgress && (this.opts.requestReadTimeoutMs ?? 0) > 0) {
      this.frameStartedAt = this.lastActive;
      if (!this.frameTimer) this.armFrameTimer(this.opts.requestReadTimeoutMs!);
    }
    if (this.notReading) this.socket.pause();
  }

  /** Not reading for a reason of ours: too many requests in flight, writes blocked, or no room in the request memory. */
  private get notReading(): boolean {
    return this.pausedForInFlight || this.writeBlocked || this.waitingForMemory || this.mutedUntil !== 0;
  }

  /** Reads nothing more from the client for `ms` (a quota's throttle time; a longer one already set stands). */
  throttle(ms: number): void {
    if (this.closed || ms <= 0) return;
    const until = Date.now() + ms;
    if (until <= this.mutedUntil) return;
    this.mutedUntil = until;
    if (this.muteTimer) clearTimeout(this.muteTimer);
    this.muteTimer = setTimeout(() => {
      this.muteTimer = undefined;
      this.mutedUntil = 0;
      this.maybeResume();
    }, ms);
    this.muteTimer.unref();
    this.socket.pause();
  }

  /** Nothing in flight, no frame arriving and nothing being written: the connection may be closed to make room for another. */
  get idle(): boolean {
    return this.pending.length === 0 && this.writing === null && !this.reader.frameInProgress;
  }

  /** The client authenticated (SASL) as `principal`: frames up to socket.request.max.bytes from now on. */
  authenticated(principal: KafkaPrincipal): void {
    this.principal = principal;
    this.reader.maxFrameBytes = this.opts.maxFrameBytes;
  }

  /** A warning a client can cause: rate-limited per message and client address. */
  warn(msg: string, extra: object = {}): void {
    const suppressed = this.opts.logLimiter ? this.opts.logLimiter.take(`${msg}|${this.ip}`) : 0;
    if (suppressed === null) return;
    this.opts.logger.warn({ conn: this.id, ...extra, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }

  /** As warn(), at info level. */
  private info(msg: string, extra: object = {}): void {
    const suppressed = this.opts.logLimiter ? this.opts.logLimiter.take(`${msg}|${this.ip}`) : 0;
    if (suppressed === null) return;
    this.opts.logger.info({ conn: this.id, ...extra, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
  }

  private dispatch(frame: Buffer, block: PooledBuffer | null): void {
    this.frameStartedAt = 0;
    const slot: Pending = {
      reply: undefined,
      done: false,
      block,
      bytes: frame.length,
      apiKey: frame.length >= 2 ? frame.readInt16BE(0) : -1,
    };
    this.pending.push(slot);
    if (this.pending.length >= this.opts.maxInFlight) this.pausedForInFlight = true;
    let result: Reply | Promise<Reply>;
    try {
      result = this.handler(frame, this);
    } catch (err) {
      this.opts.logger.error({ conn: this.id, err }, 'request handler failed; closing connection');
      result = 'close';
    }
    if (result instanceof Promise) {
      result.then(
        (r) => this.complete(slot, r),
        (err) => {
          this.opts.logger.error({ conn: this.id, err }, 'request handler failed; closing connection');
          this.complete(slot, 'close');
        },
      );
    } else {
      this.complete(slot, result);
    }
  }

  private complete(slot: Pending, reply: Reply): void {
    slot.reply = reply;
    slot.done = true;
    slot.block?.retire();
    slot.block = null;
    this.memory.release(slot.bytes, slot.apiKey);
    this.flushReplies();
  }

  /** The socket is corked until the end of the current tick, so replies completed together leave in one writev. */
  private corked = false;
  private readonly uncork = (): void => {
    if (!this.corked) return;
    this.corked = false;
    if (!this.closed) this.socket.uncork();
  };

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(this.uncork);
  }

  /** The head reply, handed over up to chunk `next` (`offset` bytes into it), while a region waits for the socket to drain. */
  private writing: { reply: ReplyChunks; next: number; offset: number } | null = null;
  /** A piece of a region is queued; the rest waits for that write's callback (the socket has drained). */
  private waitingForDrain = false;

  private flushReplies(): void {
    while (!this.waitingForDrain) {
      if (!this.writing) {
        if (this.pending.length === 0 || !this.pending[0].done) break;
        const reply = this.pending[0].reply as Reply;
        if (this.closed || reply === null || reply === 'close') {
          this.pending.shift();
          if (reply === 'close' && !this.closed) {
            this.close();
            return;
          }
          if (reply && reply !== 'close') reply.afterWrite?.(); // closed: it will never be written
          continue;
        }
        let size = 0;
        for (const c of reply) size += c.length;
        const prefix = Buffer.allocUnsafe(4);
        prefix.writeInt32BE(size, 0);
        this.cork();
        this.socket.write(prefix);
        this.writing = { reply, next: 0, offset: 0 };
      }
      if (!this.handOver(this.writing!)) break;
      this.writing = null;
      this.pending.shift();
    }
    this.lastActive = Date.now();
    this.lastActivity = ++activityTick;
    this.maybeResume();
  }

  /** Hands the rest of a reply to the socket; false when a region has to wait for the socket to drain first. */
  private handOver(w: { reply: ReplyChunks; next: number; offset: number }): boolean {
    const chunks = w.reply;
    const last = chunks.length - 1;
    const after = chunks.afterWrite;
    // A reply always has its header chunk, so the last write carries the callback.
    for (; w.next <= last; w.next++) {
      const c = chunks[w.next];
      const cb = w.next === last && after ? () => after() : undefined;
      if (Buffer.isBuffer(c)) {
        if (!this.socket.write(c, cb)) this.pausedForWrite = true;
      } else if (!this.sendRegion(c as FileRegion, w, cb)) {
        return false;
      }
    }
    return true;
  }

  /**
   * A file region goes by sendfile as far as the socket takes it. When its
   * send buffer is full, the next piece is read and queued like any buffer,
   * and the rest waits for that write's callback, which comes once the socket
   * has drained enough: then sendfile again. True once the whole region was
   * handed over; `cb` when it has left.
   */
  private sendRegion(region: FileRegion, w: { offset: number }, cb: (() => void) | undefined): boolean {
    try {
      this.uncork(); // every byte before the region must reach the kernel first
      w.offset += sendInPlace(this.socket, region, w.offset);
      if (w.offset === region.length) {
        w.offset = 0;
        this.cork();
        cb?.(); // sent in place, so every byte before it was already with the kernel too
        return true;
      }
      // A piece at a time: on a socket sendfile cannot write to (TLS) each piece is read, encrypted and written
      // before the next is read, so a big region never sits whole in memory.
      const piece = copyOut(region, w.offset, Math.min(REGION_PIECE_BYTES, region.length - w.offset));
      w.offset += piece.bytes.length;
      if (w.offset === region.length) {
        w.offset = 0;
        const written = () => {
          piece.release();
          cb?.();
        };
        if (!this.socket.write(piece.bytes, written)) this.pausedForWrite = true;
        return true;
      }
      this.waitingForDrain = true;
      this.socket.write(piece.bytes, (err) => {
        piece.release();
        this.waitingForDrain = false;
        if (err || this.closed) this.abandonWriting();
        else this.flushReplies();
      });
      return false;
    } catch (err) {
      // The file no longer holds the bytes (cannot happen below the high watermark): the frame cannot be completed.
      this.opts.logger.error({ conn: this.id, err }, 'fetch response could not be sent; closing connection');
      this.abandonWriting();
      this.close();
      return false;
    }
  }

  /** The head reply will not be finished (connection gone): release what it holds, once. */
  private abandonWriting(): void {
    const w = this.writing;
    if (!w) return;
    this.writing = null;
    this.pending.shift();
    w.reply.afterWrite?.();
  }

  private get writeBlocked(): boolean {
    return this.pausedForWrite || this.waitingForDrain;
  }

  private maybeResume(): void {
    if (this.closed) return;
    if (this.pausedForInFlight && this.pending.length < this.opts.maxInFlight) this.pausedForInFlight = false;
    if (!this.notReading) this.reader.resume();
    if (this.closed) return;
    if (!this.notReading) this.socket.resume();
    else this.socket.pause();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.teardown();
  }

  private tornDown = false;

  private teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.frameTimer) clearTimeout(this.frameTimer);
    if (this.muteTimer) clearTimeout(this.muteTimer);
    this.memory.cancel(this.memoryWaiter);
    // Answers that will never be written release what they hold now; the rest when they complete.
    for (const p of this.pending) {
      if (this.writing && p.reply === this.writing.reply) continue; // its queued piece's callback releases it
      if (p.done && p.reply && p.reply !== 'close') p.reply.afterWrite?.();
      if (p.done) p.reply = null;
    }
    this.reader.stop();
    this.onClose(this);
  }

  /** Resolves when every accepted request has been answered (for clean shutdown). */
  async settle(): Promise<void> {
    while (this.pending.length > 0 && !this.closed) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** The address as one key per client: IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4. */
export function normalizeIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
