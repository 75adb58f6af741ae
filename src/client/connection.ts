/**
 * One TCP connection to one broker: length-prefixed frames, correlation ids,
 * any number of requests in flight (pipelined, answered in order by the
 * broker), per-request timeouts, and the ApiVersions handshake that fixes the
 * version used for each API: min(our highest, the broker's highest).
 */
import net from 'node:net';
import tls from 'node:tls';
import { apiByName, apiByKey, type Api } from '../protocol/apis.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import { writeRequestHeader, readResponseHeader } from '../protocol/headers.ts';
import { ErrorCode, KafkaError } from '../protocol/error-codes.ts';
import { ApiKey, type ApiMessages, type ApiName } from '../protocol/generated/messages.ts';
import { saslAuthenticate } from './sasl.ts';

export interface ConnectionOptions {
  host: string;
  port: number;
  clientId?: string;
  /** Rejects a request not answered within this time (default 30000). */
  requestTimeoutMs?: number;
  /** Gives up connecting after this time (default 10000). */
  connectTimeoutMs?: number;
  /** Largest response frame accepted (default 256 MiB). */
  maxResponseBytes?: number;
  /** TLS and SASL for this connection (default: plaintext, no authentication). */
  security?: ClientSecurity;
}

/**
 * How a client connection secures and authenticates itself, as Kafka clients
 * are configured (security.protocol, ssl.*, sasl.*): TLS when `tls` is set,
 * a SASL exchange after connecting when `sasl` is set.
 */
export interface ClientSecurity {
  /** TLS options (CA, client certificate and key, servername); absent: plaintext. */
  tls?: import('node:tls').ConnectionOptions;
  /** SASL mechanism and credentials (PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 use username and password; OAUTHBEARER a token). */
  sasl?: { mechanism: string; username?: string; password?: string; token?: string };
}

/** A failure of the connection itself (refused, closed, timed out), not a Kafka error code. */
export class ConnectionError extends Error {
  override name = 'ConnectionError';
}

interface Pending {
  api: Api;
  version: number;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** The version range one side supports for one API. */
export interface VersionRange {
  min: number;
  max: number;
}

/**
 * Versions this client does not speak although they are declared: they name
 * topics by id (KIP-516 / KIP-848) and the client addresses topics by name.
 */
const CLIENT_MAX_VERSION: ReadonlyMap<number, number> = new Map([
  [0, 12], // Produce v13
  [8, 9], // OffsetCommit v10
  [9, 9], // OffsetFetch v10
]);

/**
 * Picks the version to use for each API both sides know: the highest both
 * support, or none when the ranges do not overlap.
 */
export function negotiateVersions(broker: ReadonlyMap<number, VersionRange>): Map<number, number> {
  const out = new Map<number, number>();
  for (const [key, b] of broker) {
    const api = apiByKey(key);
    if (!api) continue;
    const v = Math.min(api.maxVersion, CLIENT_MAX_VERSION.get(key) ?? api.maxVersion, b.max);
    if (v >= Math.max(api.minVersion, b.min)) out.set(key, v);
  }
  return out;
}

export class Connection {
  readonly host: string;
  readonly port: number;
  private socket: net.Socket | undefined;
  private nextCorrelationId = 1;
  private readonly pending = new Map<number, Pending>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedError: Error | undefined;
  /** Negotiated version per API key (after connect()). */
  versions = new Map<number, number>();
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly security: ClientSecurity | undefined;
  /** TLS options of the socket (security.tls), or undefined for plaintext. */
  private readonly tlsOptions: tls.ConnectionOptions | undefined;

  constructor(opts: ConnectionOptions) {
    this.security = opts.security;
    this.tlsOptions = opts.security?.tls;
    this.host = opts.host;
    this.port = opts.port;
    this.clientId = opts.clientId ?? 'samsa-client';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 256 * 1024 * 1024;
  }

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  get isOpen(): boolean {
    return this.socket !== undefined && this.closedError === undefined;
  }

  /** Opens the socket and negotiates API versions. */
  async connect(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const tlsOptions = this.tlsOptions;
      // TLS: the name checked against the certificate is the host, unless the options give one (an IP is not sent as SNI)
      const socket = tlsOptions
        ? tls.connect({
            ...tlsOptions,
            host: this.host,
            port: this.port,
            servername: tlsOptions.servername ?? (net.isIP(this.host) ? undefined : this.host),
          })
        : net.connect({ host: this.host, port: this.port });
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`connection to ${this.address} timed out after ${this.connectTimeoutMs} ms`));
      }, this.connectTimeoutMs);
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        this.socket = socket;
        socket.on('data', (d: Buffer) => this.onData(d));
        socket.on('error', (e) => this.fail(new ConnectionError(`connection to ${this.address} failed: ${e.message}`)));
        socket.on('close', () => this.fail(new ConnectionError(`connection to ${this.address} closed by the broker`)));
        resolve();
      });
      const onError = (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.message;
        reject(new ConnectionError(`cannot connect to ${this.address}: ${why}`));
      };
      socket.once('error', onError);
    });
    await this.negotiate();
    if (this.security?.sasl) await this.authenticate(this.security.sasl);
  }

  /** The SASL exchange (client/sasl.ts); a failure closes the connection. */
  private async authenticate(sasl: NonNullable<ClientSecurity['sasl']>): Promise<void> {
    try {
      const lifetimeMs = await saslAuthenticate(this, sasl);
      // KIP-368: log in again on this connection before the broker's session ends (as the Java client, at 85-95%)
      this.reauthAt = lifetimeMs > 0 ? Date.now() + Math.floor(lifetimeMs * (0.85 + Math.random() * 0.1)) : 0;
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** When the SASL session should be renewed (ms since the epoch; 0: never). */
  private reauthAt = 0;
  /** A re-authentication under way: other requests wait for it. */
  private reauthing: Promise<void> | null = null;
  private drainWaiters: (() => void)[] = [];

  /** Re-authenticates once every request in flight is answered (none is sent meanwhile). */
  private async reauthenticate(sasl: NonNullable<ClientSecurity['sasl']>): Promise<void> {
    try {
      while (this.pending.size > 0 && !this.closedError) await new Promise<void>((r) => this.drainWaiters.push(r));
      if (this.closedError) throw this.closedError;
      await this.authenticate(sasl);
    } finally {
      this.reauthing = null;
    }
  }

  private async negotiate(): Promise<void> {
    const api = apiByName('ApiVersions');
    let version = api.maxVersion;
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await this.sendAt(api, version, { clientSoftwareName: 'samsa', clientSoftwareVersion: '0.1.0' });
      if (res.errorCode === ErrorCode.UNSUPPORTED_VERSION) {
        // The broker answers in v0 and lists the ApiVersions range it does speak.
        const own = res.apiKeys.find((k) => k.apiKey === api.key);
        version = own ? Math.min(own.maxVersion, api.maxVersion) : 0;
        continue;
      }
      if (res.errorCode !== ErrorCode.NONE)
        throw new KafkaError(res.errorCode, `ApiVersions failed: ${new KafkaError(res.errorCode).errorName}`);
      const ranges = new Map<number, VersionRange>();
      for (const k of res.apiKeys) ranges.set(k.apiKey, { min: k.minVersion, max: k.maxVersion });
      this.versions = negotiateVersions(ranges);
      return;
    }
    throw new ConnectionError(`${this.address}: could not agree on an ApiVersions version`);
  }

  /** The negotiated version of an API; throws when the broker does not support it. */
  versionOf(apiName: ApiName): number {
    const api = apiByName(apiName);
    const v = this.versions.get(api.key);
    if (v === undefined)
      throw new KafkaError(ErrorCode.UNSUPPORTED_VERSION, `broker ${this.address} does not support ${apiName}`);
    return v;
  }

  /** Whether this client and the broker share a version of the API. */
  supports(apiName: ApiName): boolean {
    return this.versions.has(apiByName(apiName).key);
  }

  /** Sends a request at the negotiated version; resolves to the decoded response body. */
  send<K extends ApiName>(
    apiName: K,
    body: ApiMessages[K]['requestInput'],
    opts: { noResponse?: boolean } = {},
  ): Promise<ApiMessages[K]['response']> {
    return this.sendAt(apiByName(apiName), this.versionOf(apiName), body, opts);
  }

  /**
   * Sends a request at an explicit version. `noResponse` (Produce with acks=0) resolves once written.
   * `sasl`: a request of the SASL exchange itself (not held back by a re-authentication).
   */
  sendAt<K extends ApiName>(
    api: Api<K>,
    version: number,
    body: ApiMessages[K]['requestInput'],
    opts: { noResponse?: boolean; sasl?: boolean } = {},
  ): Promise<ApiMessages[K]['response']> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (!opts.sasl && this.security?.sasl) {
      if (this.reauthAt > 0 && Date.now() >= this.reauthAt && !this.reauthing) {
        this.reauthAt = 0;
        this.reauthing = this.reauthenticate(this.security.sasl);
      }
      if (this.reauthing) return this.reauthing.then(() => this.sendAt(api, version, body, opts));
    }
    if (!this.socket) return Promise.reject(new ConnectionError(`not connected to ${this.address}`));
    const correlationId = this.nextCorrelationId;
    this.nextCorrelationId = (this.nextCorrelationId + 1) | 0 || 1;
    const w = new Writer(256);
    w.int32(0); // frame length, patched below
    writeRequestHeader(
      w,
      { apiKey: api.key, apiVersion: version, correlationId, clientId: this.clientId },
      api.requestIsFlexible(version),
    );
    api.requestEncoder(version)(w, body);
    const frame = w.toBuffer();
    frame.writeInt32BE(frame.length - 4, 0);
    const socket = this.socket;
    if (opts.noResponse) {
      // Nothing comes back: resolves to undefined once written (callers of noResponse ignore the value).
      return new Promise((resolve, reject) =>
        socket.write(frame, (err) => (err ? reject(new ConnectionError(err.message)) : resolve(undefined as never))),
      );
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new ConnectionError(`${api.name} request to ${this.address} timed out after ${this.requestTimeoutMs} ms`),
        );
      }, this.requestTimeoutMs);
      this.pending.set(correlationId, { api, version, resolve, reject, timer });
      socket.write(frame);
    });
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.buffered += d.length;
    while (this.buffered >= 4) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
      const size = this.chunks[0].readInt32BE(0);
      if (size < 4 || size > this.maxResponseBytes) {
        this.fail(new ConnectionError(`${this.address} sent a response frame of ${size} bytes`));
        this.socket?.destroy();
        return;
      }
      // Join the pieces only once the whole frame is here (no re-copying per packet).
      if (this.buffered < 4 + size) return;
      const head = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
      const frame = head.subarray(4, 4 + size);
      const rest = head.subarray(4 + size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.onFrame(frame);
    }
  }

  private onFrame(frame: Buffer): void {
    const correlationId = frame.readInt32BE(0);
    const p = this.pending.get(correlationId);
    if (!p) return; // timed out earlier; drop the late answer
    this.pending.delete(correlationId);
    clearTimeout(p.timer);
    if (this.pending.size === 0 && this.drainWaiters.length > 0) for (const w of this.drainWaiters.splice(0)) w();
    try {
      const r = new Reader(frame);
      readResponseHeader(r, p.api.responseHeaderVersion(p.version));
      // An ApiVersions error answer is always in v0, whatever version was asked.
      const decodeVersion =
        p.api.key === ApiKey.ApiVersions && frame.length >= 6 && frame.readInt16BE(4) === ErrorCode.UNSUPPORTED_VERSION
          ? 0
          : p.version;
      p.resolve(p.api.responseDecoder(decodeVersion)(r));
    } catch (err) {
      p.reject(
        new ConnectionError(
          `${this.address}: cannot decode ${p.api.name} v${p.version} response: ${(err as Error).message}`,
        ),
      );
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const w of this.drainWaiters.splice(0)) w();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /** Closes the socket; requests still in flight are rejected. */
  async close(): Promise<void> {
    const s = this.socket;
    this.fail(new ConnectionError(`connection to ${this.address} closed`));
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    });
  }
}
