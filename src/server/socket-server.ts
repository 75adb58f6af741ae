/**
 * The TCP listener: accepts connections within the limits, wires each to
 * the dispatcher, and on shutdown stops accepting, lets in-flight requests
 * finish (bounded wait) and closes what remains. Connections accepted
 * between listen() and open() (the broker binds first to learn its port,
 * then finishes starting) are parked unread, so no request is served before
 * the broker is registered and its handlers are in place.
 *
 * Limits on accepting (all four can be changed at runtime, updateLimits()):
 * - `max.connections.per.ip` / `max.connections.per.ip.overrides`: a
 *   connection beyond its address's limit is closed at once.
 * - `connection_creation_rate` quotas of `ip` entities (KIP-612, checked
 *   first, by `admitFromIp`): a connection from an address over its quota is
 *   closed at once (Kafka delays closing it by the throttle time) and does
 *   not count against the listener's rate below.
 * - `max.connection.creation.rate`: connections accepted per second by the
 *   broker, on all its listeners together (the bucket is the registry's,
 *   shared by the listeners), as a token bucket holding at most one second's
 *   worth; a connection beyond it is closed at once (Kafka instead delays
 *   accepting it). As in Kafka, the inter-broker listener of a broker with
 *   more than one listener is exempt (`brokerWideRate: false`).
 * - `max.connections`: when it is reached, the least recently used idle
 *   connection (nothing in flight, no frame arriving) is closed to make room
 *   for the new one, so idle clients cannot lock others out; when every
 *   connection is busy the new one is closed. Lowering the limit closes no
 *   connection that is already open.
 * Warnings about refused or bad connections are rate-limited per client
 * address (log-limiter.ts).
 *
 * A TLS listener (SSL, SASL_SSL: `tls` given) wraps each accepted socket in
 * a server-side TLSSocket once the limits above let it in (a connection in
 * its handshake counts against them); a handshake that fails (plaintext or
 * garbage, an untrusted client certificate) or does not finish within
 * `samsa.ssl.handshake.timeout.ms` closes the connection with a
 * rate-limited warning. With a client certificate the connection's
 * principal is User:<subject DN mapped by ssl.principal.mapping.rules>.
 */
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import type { SecurityProtocol } from '../config/broker-config.ts';
import { certificateSubject } from '../security/principal-mapping.ts';
import { type KafkaPrincipal, userPrincipal } from '../security/principal.ts';
import type { ListenerTls } from '../security/tls.ts';
import { Connection, type FrameHandler, normalizeIp } from './connection.ts';
import { LogLimiter } from './log-limiter.ts';
import { RequestMemory } from './request-memory.ts';

/** The limits on accepting connections that can change at runtime. */
export interface ConnectionLimits {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** Address (or host name, resolved when set) -> its own per-IP limit. */
  maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** Connections accepted per second. */
  maxConnectionCreationRate: number;
}

export interface SocketServerOptions extends Partial<Omit<ConnectionLimits, 'maxConnections'>> {
  host: string;
  port: number;
  maxConnections: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxInFlightPerConnection: number;
  logger: Logger;
  /** queued.max.request.bytes: most bytes held by request frames across connections (-1 or unset: unbounded). */
  queuedMaxRequestBytes?: number;
  /** The request memory to use, shared by the broker's listeners (default: one of this server's own, from the two limits). */
  memory?: RequestMemory;
  /** queued.max.requests: most requests read and not yet answered (request-memory.ts says which count; -1 or unset: unbounded). */
  queuedMaxRequests?: number;
  /** samsa.request.read.timeout.ms: most ms from a frame's first bytes to its last (0 or unset: none). */
  requestReadTimeoutMs?: number;
  /** Rate limit of client-caused warnings (default: one line per message and address per 10 s). */
  logLimiter?: LogLimiter;
  /** Clock of the creation rate (tests). */
  now?: () => number;
  /** The listener's name and security protocol, given to each connection (default PLAINTEXT). */
  listenerName?: string;
  securityProtocol?: SecurityProtocol;
  /** TLS of an SSL or SASL_SSL listener. */
  tls?: ListenerTls;
  /** The connection counts and the creation rate's bucket the limits apply to (default: this listener's own). */
  registry?: ConnectionRegistry;
  /** Whether max.connection.creation.rate applies to this listener (default true; false: the protected inter-broker listener). */
  brokerWideRate?: boolean;
  /** The frame size limit before a client has authenticated (SASL listeners). */
  unauthenticatedMaxFrameBytes?: number;
}

const INT_MAX = 2147483647;

/**
 * The connections counted against max.connections and max.connections.per.ip:
 * shared by the listeners of a broker, so the limits bound the broker (as in
 * Kafka), and the least recently used idle connection of any listener makes
 * room for a new one.
 */
export class ConnectionRegistry {
  readonly open = new Set<Connection>();
  readonly perIp = new Map<string, number>();
  /** Accepted sockets still in their TLS handshake. */
  handshaking = 0;
  /** max.connection.creation.rate's token bucket, for the whole broker. */
  readonly creationRate = new CreationRate();
}

/** A token bucket of connections per second holding at most one second's worth; full when first used. */
export class CreationRate {
  private tokens = -1;
  private at = 0;

  /** One token at `rate` per second, if there is one. */
  take(rate: number, now: number): boolean {
    if (rate >= INT_MAX) return true;
    this.tokens = this.tokens < 0 ? rate : Math.min(rate, this.tokens + ((now - this.at) * rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** The rate was lowered: the bucket holds at most one second's worth of the new rate. */
  clamp(rate: number): void {
    if (this.tokens > rate) this.tokens = rate;
  }
}

export class SocketServer {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  /** TLS sockets in their handshake (they count against the limits). */
  private readonly handshaking = new Set<net.Socket>();
  private readonly registry: ConnectionRegistry;
  private get perIp(): Map<string, number> {
    return this.registry.perIp;
  }
  /** Sockets accepted before open(); null once open. */
  private parked: net.Socket[] | null = [];
  readonly memory: RequestMemory;
  private readonly limiter: LogLimiter;
  private readonly now: () => number;
  private limits: ConnectionLimits;
  /** The overrides with host names resolved to addresses. */
  private overrides: ReadonlyMap<string, number> = new Map();
  private overridesGeneration = 0;
  /** Per-address connection quotas (KIP-612 connection_creation_rate, src/security/quotas.ts): false refuses. */
  admitFromIp: ((ip: string) => boolean) | null = null;

  constructor(
    private readonly opts: SocketServerOptions,
    private readonly handler: FrameHandler,
  ) {
    this.memory = opts.memory ?? new RequestMemory(opts.queuedMaxRequestBytes ?? -1, opts.queuedMaxRequests ?? -1);
    this.limiter = opts.logLimiter ?? new LogLimiter(10_000);
    this.registry = opts.registry ?? new ConnectionRegistry();
    this.now = opts.now ?? Date.now;
    this.limits = {
      maxConnections: opts.maxConnections,
      maxConnectionsPerIp: opts.maxConnectionsPerIp ?? INT_MAX,
      maxConnectionsPerIpOverrides: new Map(),
      maxConnectionCreationRate: opts.maxConnectionCreationRate ?? INT_MAX,
    };
    this.updateLimits({ maxConnectionsPerIpOverrides: opts.maxConnectionsPerIpOverrides ?? new Map() });
    // Paused until a Connection has set up how the socket is read (see frame-reader.ts).
    this.server = net.createServer({ pauseOnConnect: true }, (socket) => {
      if (this.parked) {
        if (this.parked.length >= this.limits.maxConnections) {
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

  /** Applies new connection limits (dynamic broker configs); open connections stay. */
  updateLimits(changes: Partial<ConnectionLimits>): void {
    const next = { ...this.limits, ...changes };
    if (changes.maxConnectionCreationRate !== undefined)
      this.registry.creationRate.clamp(changes.maxConnectionCreationRate);
    this.limits = next;
    if (changes.maxConnectionsPerIpOverrides) this.resolveOverrides(changes.maxConnectionsPerIpOverrides);
  }

  get currentLimits(): Readonly<ConnectionLimits> {
    return this.limits;
  }

  /** The per-IP overrides in force, by address (host names resolved). */
  get resolvedOverrides(): ReadonlyMap<string, number> {
    return this.overrides;
  }

  /** Addresses apply at once; host names once resolved (all their addresses), as Kafka resolves them when the config is set. */
  private resolveOverrides(given: ReadonlyMap<string, number>): void {
    const generation = ++this.overridesGeneration;
    const resolved = new Map<string, number>();
    const names: [string, number][] = [];
    for (const [host, n] of given) {
      if (net.isIP(host)) resolved.set(normalizeIp(host), n);
      else names.push([host, n]);
    }
    this.overrides = new Map(resolved);
    if (names.length === 0) return;
    void Promise.all(
      names.map(([host, n]) =>
        dns.promises.lookup(host, { all: true }).then(
          (addrs) => {
            for (const a of addrs) if (!resolved.has(normalizeIp(a.address))) resolved.set(normalizeIp(a.address), n);
          },
          (err) =>
            this.opts.logger.warn(
              { host, err: (err as Error).message },
              'max.connections.per.ip.overrides: cannot resolve host name; its override is not applied',
            ),
        ),
      ),
    ).then(() => {
      if (generation === this.overridesGeneration) this.overrides = resolved;
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

  private refuse(socket: net.Socket, ip: string, msg: string, extra: object): void {
    const suppressed = this.limiter.take(`${msg}|${ip}`);
    if (suppressed !== null) this.opts.logger.warn({ ip, ...extra, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
    socket.destroy();
  }

  /** One token of the broker's creation rate, if there is one (always, on an exempt listener). */
  private takeCreationToken(): boolean {
    if (this.opts.brokerWideRate === false) return true;
    return this.registry.creationRate.take(this.limits.maxConnectionCreationRate, this.now());
  }

  /** Closes the least recently used idle connection; false when every connection is busy. */
  private evictIdle(): boolean {
    let victim: Connection | undefined;
    for (const c of this.registry.open) if (c.idle && (!victim || c.lastActivity < victim.lastActivity)) victim = c;
    if (!victim) return false;
    const msg = 'closing the least recently used idle connection to make room for a new one (max.connections)';
    const suppressed = this.limiter.take(msg);
    if (suppressed !== null)
      this.opts.logger.info(
        { conn: victim.id, limit: this.limits.maxConnections, ...(suppressed > 0 ? { suppressed } : {}) },
        msg,
      );
    victim.close();
    return true;
  }

  private accept(socket: net.Socket): void {
    const opts = this.opts;
    const limits = this.limits;
    const ip = normalizeIp(socket.remoteAddress);
    const perIpLimit = this.overrides.get(ip) ?? limits.maxConnectionsPerIp;
    const fromIp = this.perIp.get(ip) ?? 0;
    if (fromIp >= perIpLimit) {
      this.refuse(socket, ip, 'refusing connection: max.connections.per.ip reached for this address', {
        limit: perIpLimit,
      });
      return;
    }
    // before the broker's rate: a flooding address uses up its own quota, not everyone's tokens
    if (this.admitFromIp && !this.admitFromIp(ip)) {
      this.refuse(socket, ip, 'refusing connection: connection_creation_rate quota exceeded for this address', {});
      return;
    }
    if (!this.takeCreationToken()) {
      this.refuse(socket, ip, 'refusing connection: max.connection.creation.rate exceeded', {
        rate: limits.maxConnectionCreationRate,
      });
      return;
    }
    if (this.registry.open.size + this.registry.handshaking >= limits.maxConnections && !this.evictIdle()) {
      this.refuse(socket, ip, 'refusing connection: max.connections reached and no connection is idle', {
        limit: limits.maxConnections,
      });
      return;
    }
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1); // not fromIp: an eviction may have closed one from this address
    if (opts.tls) this.handshake(socket, ip, opts.tls);
    else this.serve(socket, null);
  }

  private releaseIp(ip: string): void {
    const n = (this.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, n);
  }

  /** TLS sockets are made by a tls.Server that never listens: accepted sockets are handed to it. */
  private tlsServer: tls.Server | null = null;
  /** Sockets in their TLS handshake, by remote address and port. */
  private readonly pendingTls = new Map<
    string,
    { fail: (why: string, extra: object, secure: tls.TLSSocket) => void; done: (s: tls.TLSSocket) => void }
  >();

  private tlsServerOf(t: ListenerTls): tls.Server {
    if (this.tlsServer) return this.tlsServer;
    // rejectUnauthorized is ours to apply (handshake()), so that a refusal is logged with its reason
    const srv = tls.createServer({
      ...t.options,
      requestCert: t.clientAuth !== 'none',
      rejectUnauthorized: false,
    });
    t.onReload((options) => {
      srv.setSecureContext(options);
      (srv as tls.Server & { requestCert: boolean }).requestCert = t.clientAuth !== 'none'; // read for each new connection
    });
    const key = (s: net.Socket) => `${s.remoteAddress}|${s.remotePort}`;
    srv.on('secureConnection', (s: tls.TLSSocket) => this.pendingTls.get(key(s))?.done(s));
    srv.on('tlsClientError', (err: NodeJS.ErrnoException, s: tls.TLSSocket) => {
      const why = err.code ?? err.message;
      const pending = this.pendingTls.get(key(s));
      if (pending) pending.fail(why, { err: err.message.split('\n')[0] }, s);
      else s.destroy();
    });
    this.tlsServer = srv;
    return srv;
  }

  /** The TLS handshake of an accepted socket, bounded in time; then the connection is served with the client's principal. */
  private handshake(socket: net.Socket, ip: string, t: ListenerTls): void {
    const srv = this.tlsServerOf(t);
    const id = `${socket.remoteAddress}|${socket.remotePort}`;
    let finished = false;
    const finish = () => {
      finished = true;
      clearTimeout(timer);
      this.pendingTls.delete(id);
      if (this.handshaking.delete(socket)) this.registry.handshaking--;
      socket.off('close', onClose);
    };
    // the TLS socket is destroyed, never the TCP socket under it (which the TLS socket owns)
    const fail = (why: string, extra: object, secure: tls.TLSSocket | null) => {
      secure?.destroy();
      if (finished) return;
      finish();
      this.releaseIp(ip);
      const msg = `closing connection: TLS handshake failed on listener ${this.opts.listenerName ?? 'PLAINTEXT'}`;
      const suppressed = this.limiter.take(`${msg}|${why}|${ip}`);
      if (suppressed !== null)
        this.opts.logger.warn({ ip, reason: why, ...extra, ...(suppressed > 0 ? { suppressed } : {}) }, msg);
    };
    const onClose = () => fail('closed by the client during the handshake', {}, null);
    socket.on('close', onClose);
    // before the handshake completes the TCP socket may be destroyed: the TLS socket on it sees it close
    const timer = setTimeout(() => {
      fail(`not complete within samsa.ssl.handshake.timeout.ms (${t.handshakeTimeoutMs} ms)`, {}, null);
      socket.destroy();
    }, t.handshakeTimeoutMs);
    timer.unref();
    this.handshaking.add(socket);
    this.registry.handshaking++;
    this.pendingTls.set(id, {
      fail,
      done: (secure) => {
        if (finished) return;
        let principal: KafkaPrincipal | null = null;
        const cert = secure.getPeerX509Certificate();
        if (cert) {
          // requested or required: a certificate that is presented must be trusted
          if (!secure.authorized) {
            fail('client certificate not trusted', { err: String(secure.authorizationError) }, secure);
            return;
          }
          try {
            const dn = certificateSubject(cert.raw);
            principal = userPrincipal(t.mapper.name(dn));
            this.opts.logger.debug({ ip, dn, principal: `User:${principal.name}` }, 'TLS client authenticated');
          } catch (err) {
            fail('client certificate cannot be mapped to a principal', { err: (err as Error).message }, secure);
            return;
          }
        } else if (t.clientAuth === 'required') {
          fail('no client certificate (ssl.client.auth=required)', {}, secure);
          return;
        }
        finish();
        this.serve(secure, principal);
      },
    });
    srv.emit('connection', socket);
    socket.resume();
  }

  private serve(socket: net.Socket, principal: KafkaPrincipal | null): void {
    const opts = this.opts;
    const conn = new Connection(
      socket,
      this.handler,
      {
        maxFrameBytes: opts.maxFrameBytes,
        idleTimeoutMs: opts.idleTimeoutMs,
        maxInFlight: opts.maxInFlightPerConnection,
        logger: opts.logger,
        memory: this.memory,
        requestReadTimeoutMs: opts.requestReadTimeoutMs ?? 0,
        logLimiter: this.limiter,
        listenerName: opts.listenerName,
        securityProtocol: opts.securityProtocol,
        unauthenticatedMaxFrameBytes: opts.unauthenticatedMaxFrameBytes,
      },
      (c) => {
        if (!this.connections.delete(c)) return;
        this.registry.open.delete(c);
        this.releaseIp(c.ip);
      },
    );
    if (principal) conn.principal = principal;
    this.connections.add(conn);
    this.registry.open.add(conn);
    socket.resume();
  }

  /** The open connections (not those in a TLS handshake). */
  get openConnections(): ReadonlySet<Connection> {
    return this.connections;
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
    for (const socket of this.handshaking) socket.destroy();
    this.tlsServer?.close();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    const settle = Promise.all([...this.connections].map((c) => c.settle()));
    await Promise.race([settle, new Promise((r) => setTimeout(r, graceMs).unref())]);
    for (const c of [...this.connections]) c.close();
    await closed;
  }
}

function ignore(): void {}
