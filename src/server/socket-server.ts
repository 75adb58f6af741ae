/**
 * The TCP listener: accepts connections up to `max.connections`, wires each
 * to the dispatcher, and on shutdown stops accepting, lets in-flight requests
 * finish (bounded wait) and closes what remains. Connections accepted
 * between listen() and open() (the broker binds first to learn its port,
 * then finishes starting) are parked unread, so no request is served before
 * the broker is registered and its handlers are in place.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { Connection, type FrameHandler } from './connection.ts';

export interface SocketServerOptions {
  host: string;
  port: number;
  maxConnections: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxInFlightPerConnection: number;
  logger: Logger;
}

export class SocketServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private rejectedLogged = false;
  /** Sockets accepted before open(); null once open. */
  private parked: net.Socket[] | null = [];

  constructor(
    private readonly opts: SocketServerOptions,
    private readonly handler: FrameHandler,
  ) {
    // Paused until a Connection has set up how the socket is read (see frame-reader.ts).
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => {
      if (this.parked) {
        if (this.parked.length >= opts.maxConnections) {
          socket.destroy();
          return;
        }
        socket.on('error', ignore); // a peer that resets while parked
        this.parked.push(socket);
        return;
      }
      this.accept(socket);
    });
  }

  /** Serve from now on, starting with the connections parked since listen(). */
  open(): void {
    const parked = this.parked ?? [];
    this.parked = null;
    for (const socket of parked) {
      socket.off('error', ignore);
      if (socket.destroyed) continue;
      this.accept(socket);
    }
  }

  private accept(socket: net.Socket): void {
    const opts = this.opts;
    if (this.connections.size >= opts.maxConnections) {
      if (!this.rejectedLogged) {
        opts.logger.warn({ limit: opts.maxConnections }, 'refusing connection: max.connections reached');
        this.rejectedLogged = true;
      }
      socket.destroy();
      return;
    }
    this.rejectedLogged = false;
    const conn = new Connection(
      socket,
      this.handler,
      {
        maxFrameBytes: opts.maxFrameBytes,
        idleTimeoutMs: opts.idleTimeoutMs,
        maxInFlight: opts.maxInFlightPerConnection,
        logger: opts.logger,
      },
      (c) => this.connections.delete(c),
    );
    this.connections.add(conn);
    socket.resume();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address() as net.AddressInfo;
        resolve({ host: addr.address, port: addr.port });
      });
    });
  }

  /** Stop accepting; wait up to `graceMs` for in-flight requests; close the rest. */
  async close(graceMs = 3000): Promise<void> {
    for (const socket of this.parked ?? []) socket.destroy();
    this.parked = [];
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    const settle = Promise.all([...this.connections].map((c) => c.settle()));
    await Promise.race([settle, new Promise((r) => setTimeout(r, graceMs).unref())]);
    for (const c of [...this.connections]) c.close();
    await closed;
  }
}

function ignore(): void {}
