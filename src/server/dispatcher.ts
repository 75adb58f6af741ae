/**
 * Turns one request frame into one reply: reads the header, checks the API
 * and version, decodes the body with the compiled codec, runs the handler and
 * encodes its response with the response header the version calls for.
 *
 * Kafka's behaviour on bad input is kept: an unknown API key, a version the
 * broker does not support (except ApiVersions) or a body that does not decode
 * closes the connection (logged once per connection); ApiVersions with an
 * unsupported version is answered with UNSUPPORTED_VERSION in a v0 response.
 */
import { type Api, apiByKey, apiByName } from '../protocol/apis.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import { peekRequestHeader, readRequestHeader, type RequestHeader, writeResponseHeader } from '../protocol/headers.ts';
import { ProtocolError } from '../protocol/protocol-error.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import {
  ApiKey,
  type ApiMessages,
  type ApiName,
  type ApiVersionsResponseInput,
} from '../protocol/generated/messages.ts';
import type { Connection, Reply, ReplyChunks } from './connection.ts';
import type { Authorizer } from '../security/authorizer.ts';

/** Returned by a handler that must not answer (Produce with acks=0). */
export const NO_RESPONSE = Symbol('no-response');

/**
 * Returned by a handler that must not answer but must tell the client it
 * failed: the connection is closed once the responses before it are written
 * (Produce with acks=0 that had an error, as Kafka).
 */
export const CLOSE_CONNECTION = Symbol('close-connection');

/**
 * A response body may carry, under this key, a function to call once its
 * bytes have been written to the socket (or will never be): Fetch uses it to
 * unpin the pooled buffers its record slices point into.
 */
export const AFTER_WRITE = Symbol('after-write');

export interface RequestContext {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  conn: Connection;
  /** The listener's authorizer (src/security/acl-check.ts asks it); null: ACLs are off. */
  authorizer?: Authorizer | null;
}

/**
 * Client quotas' view of a request (src/security/quota-hook.ts): `begin`
 * is called once the request is decoded and returns null when no quota can
 * apply (the common case, at no cost), else the calls the dispatcher makes
 * around the handler: `handled` right after its synchronous part returned,
 * `answered` with the response body before it is encoded (it may set the
 * body's throttle time and mute the connection).
 */
export interface RequestQuotas {
  begin(ctx: RequestContext, req: unknown, frameBytes: number): QuotaRequest | null;
}

export interface QuotaRequest {
  handled(): void;
  answered(body: object | typeof NO_RESPONSE): void;
}

/** A response body as a handler returns it: the encoder's input, and optionally the after-write hook. */
export type ResponseBody<Res> = Res & { [AFTER_WRITE]?: () => void };

/**
 * Serves one API: takes the decoded request (`XxxRequest`) and returns the
 * response as the encoder takes it (`XxxResponseInput`), NO_RESPONSE or CLOSE_CONNECTION.
 */
export type Handler<Req, Res> = (req: Req, ctx: RequestContext) => HandlerResult<Res> | Promise<HandlerResult<Res>>;

/** What a handler returns: the response, or no response (NO_RESPONSE, CLOSE_CONNECTION). */
export type HandlerResult<Res> = ResponseBody<Res> | typeof NO_RESPONSE | typeof CLOSE_CONNECTION;

/** The handler type of API `K`, from the generated protocol types. */
export type ApiHandler<K extends ApiName> = Handler<ApiMessages[K]['request'], ApiMessages[K]['responseInput']>;

export interface HandlerEntry<K extends ApiName = ApiName> {
  handler: ApiHandler<K>;
  /** Lowest version served (may be above the declaration's, e.g. Produce v3: magic v2 batches only). */
  minVersion?: number;
  /** Highest version served (may be below the declaration's newest). */
  maxVersion?: number;
}

/** A HandlerEntry with its API's types erased, as the dispatcher's table holds it. */
interface StoredEntry {
  handler: Handler<unknown, object>;
  minVersion?: number;
  maxVersion?: number;
}

export class Dispatcher {
  private readonly entries = new Map<number, StoredEntry>();
  private readonly warned = new WeakSet<Connection>();
  /** Client quotas, when the broker enforces them. */
  quotas: RequestQuotas | null = null;
  /** Checks the requests of this listener against the ACLs (`authorizer.class.name`); null: off. */
  authorizer: Authorizer | null = null;
  /** Looks at each frame first (SASL: bare tokens, requests before authentication); a reply it gives is the frame's. */
  gate?: (frame: Buffer, conn: Connection) => Reply | Promise<Reply> | undefined;

  register<K extends ApiName>(apiName: K, entry: HandlerEntry<K>): void {
    // Erased for storage: handle() passes it only what the decoder of this very API returns.
    this.entries.set(apiByName(apiName).key, entry as unknown as StoredEntry);
  }

  /** The versions advertised in ApiVersions: declared ∩ served. */
  supportedApis(): { apiKey: number; minVersion: number; maxVersion: number }[] {
    const out: { apiKey: number; minVersion: number; maxVersion: number }[] = [];
    for (const [key, e] of [...this.entries].sort((a, b) => a[0] - b[0])) {
      const api = apiByKey(key)!;
      out.push({
        apiKey: key,
        minVersion: Math.max(api.minVersion, e.minVersion ?? 0),
        maxVersion: Math.min(api.maxVersion, e.maxVersion ?? api.maxVersion),
      });
    }
    return out;
  }

  private versionRange(api: Api): [number, number] | undefined {
    const e = this.entries.get(api.key);
    if (!e) return undefined;
    return [Math.max(api.minVersion, e.minVersion ?? 0), Math.min(api.maxVersion, e.maxVersion ?? api.maxVersion)];
  }

  private refuse(conn: Connection, msg: string, extra: object): 'close' {
    if (!this.warned.has(conn)) {
      this.warned.add(conn);
      conn.warn(msg, extra); // rate-limited per client address
    }
    return 'close';
  }

  handle(frame: Buffer, conn: Connection): Reply | Promise<Reply> {
    const gated = this.gate?.(frame, conn);
    if (gated !== undefined) return gated;
    let peek: ReturnType<typeof peekRequestHeader>;
    try {
      peek = peekRequestHeader(frame);
    } catch (err) {
      return this.refuse(conn, 'closing connection: malformed request header', { err: (err as Error).message });
    }
    const api = apiByKey(peek.apiKey);
    const range = api && this.versionRange(api);
    if (!api || !range) {
      return this.refuse(conn, 'closing connection: unknown or unsupported API key', { apiKey: peek.apiKey });
    }
    const version = peek.apiVersion;
    if (version < range[0] || version > range[1]) {
      if (api.key === ApiKey.ApiVersions) return this.unsupportedApiVersions(peek.correlationId);
      return this.refuse(conn, 'closing connection: unsupported API version', {
        api: api.name,
        version,
        supported: range,
      });
    }
    let req: unknown;
    let header: RequestHeader;
    try {
      const r = new Reader(frame);
      header = readRequestHeader(r, api.requestIsFlexible(version));
      req = api.requestDecoder(version)(r);
    } catch (err) {
      if (err instanceof ProtocolError) {
        return this.refuse(conn, 'closing connection: malformed request', { api: api.name, version, err: err.message });
      }
      throw err;
    }
    const ctx: RequestContext = {
      apiKey: api.key,
      apiVersion: version,
      correlationId: header.correlationId,
      clientId: header.clientId,
      conn,
      authorizer: this.authorizer,
    };
    const q = this.quotas?.begin(ctx, req, frame.length) ?? null;
    const res = this.entries.get(api.key)!.handler(req, ctx);
    if (q) {
      q.handled();
      if (res instanceof Promise)
        return res.then((body) => {
          q.answered(body === CLOSE_CONNECTION ? NO_RESPONSE : body);
          return this.encode(api, version, header.correlationId, body);
        });
      q.answered(res === CLOSE_CONNECTION ? NO_RESPONSE : res);
    }
    if (res instanceof Promise) return res.then((body) => this.encode(api, version, header.correlationId, body));
    return this.encode(api, version, header.correlationId, res);
  }

  private encode(api: Api, version: number, correlationId: number, body: HandlerResult<object>): Reply {
    if (body === NO_RESPONSE) return null;
    if (body === CLOSE_CONNECTION) return 'close';
    const w = new Writer(512);
    writeResponseHeader(w, correlationId, api.responseHeaderVersion(version));
    api.responseEncoder(version)(w, body);
    const chunks: ReplyChunks = w.chunks();
    const after = body[AFTER_WRITE];
    if (after) chunks.afterWrite = after;
    return chunks;
  }

  private unsupportedApiVersions(correlationId: number): Reply {
    const api = apiByKey(ApiKey.ApiVersions)!;
    const body: ApiVersionsResponseInput = { errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: this.supportedApis() };
    return this.encode(api, 0, correlationId, body);
  }
}
