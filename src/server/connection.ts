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
 *   them is with the kernel (sendfile.ts). When the socket's send buffer is
 *   full, a piece is read and queued like any buffer, and the rest of the
 *   response waits for that piece's write callback (the socket drained).
 * - Backpressure: when the socket's write buffer is full, or too many
 *   requests are in flight, the connection stops reading until it drains.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Chunk } from '../protocol/writer.ts';
import type { PooledBuffer } from '../storage/buffer-pool.ts';
import type { FileRegion } from '../storage/file-region.ts';
import { FrameReader } from './frame-reader.ts';
import { canSendInPlace, copyOut, sendInPlace } from './sendfile.ts';
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
  | 'close'; // close the connection (malformed frame, unknown API)

/** What a region's piece is when the socket's send buffer is full: queued like any buffer, its write callback says the socket drained. */
const REGION_PIECE_BYTES = 128 * 1024;

export interface FrameHandler {
  (frame: Buffer, conn: Connection): Reply | Promise<Reply>;
}

export interface ConnectionOptions {
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxInFlight: number;
  logger: Logger;
}

interface Pending {
  reply: Reply | undefined;
  done: boolean;
  /** The request frame's pooled memory, retired once the request is answered. */
  block: PooledBuffer | null;
}

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

  constructor(
    readonly socket: Socket,
    private readonly handler: FrameHandler,
    private readonly opts: ConnectionOptions,
    private readonly onClose: (c: Connection) => void,
  ) {
    this.id = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    this.reader = new FrameReader(opts.maxFrameBytes, {
      frame: (frame, block) => this.dispatch(frame, block),
      oversize: (size) => {
        this.opts.logger.warn(
          { conn: this.id, size, limit: this.opts.maxFrameBytes },
          'closing connection: request frame size out of range (socket.request.max.bytes)',
        );
        this.close();
      },
      paused: () => this.closed || this.pausedForInFlight || this.writeBlocked,
    });
    this.readsInPlace = readIntoUserBuffers(socket, {
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

  private armIdleTimer(): void {
    if (this.opts.idleTimeoutMs <= 0) return;
    this.idleTimer = setTimeout(() => {
      const idle = Date.now() - this.lastActive;
      if (idle >= this.opts.idleTimeoutMs && this.pending.length === 0) {
        this.opts.logger.info({ conn: this.id, idleMs: idle }, 'closing idle connection (connections.max.idle.ms)');
        this.close();
      } else {
        this.armIdleTimer();
      }
    }, this.opts.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private onRead(buf: Buffer, n: number, owned: boolean): void {
    if (this.closed) return;
    this.lastActive = Date.now();
    this.reader.received(buf, n, owned);
    if (this.pausedForInFlight || this.writeBlocked) this.socket.pause();
  }

  private dispatch(frame: Buffer, block: PooledBuffer | null): void {
    const slot: Pending = { reply: undefined, done: false, block };
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
          if (reply === 'close' && !this.closed) return this.close();
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
      // Only a piece while sendfile can take over again; all of the rest for a socket it cannot write to.
      const pieceBytes = canSendInPlace(this.socket) ? REGION_PIECE_BYTES : region.length;
      const piece = copyOut(region, w.offset, Math.min(pieceBytes, region.length - w.offset));
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
    if (!this.writeBlocked && !this.pausedForInFlight) this.reader.resume();
    if (this.closed) return;
    if (!this.writeBlocked && !this.pausedForInFlight) this.socket.resume();
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
