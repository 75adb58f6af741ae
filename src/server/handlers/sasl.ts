/**
 * The SASL exchange on SASL_PLAINTEXT / SASL_SSL listeners, as Kafka's
 * SaslServerAuthenticator runs it:
 *
 * - Before authentication a connection may send only ApiVersions,
 *   SaslHandshake and SaslAuthenticate; anything else closes it (logged,
 *   rate-limited), as does a frame above sasl.server.max.receive.size.
 * - SaslHandshake (v0/v1) picks an enabled mechanism; an unknown one is
 *   answered with UNSUPPORTED_SASL_MECHANISM and the enabled list, then the
 *   connection is closed. After a v0 handshake the client's tokens come as
 *   bare size-prefixed frames (no request header) and are answered the same
 *   way (kafka-python 2.0.2 does this); after v1, in SaslAuthenticate.
 * - Out of order (SaslAuthenticate before a handshake, a second handshake
 *   during an exchange): ILLEGAL_SASL_STATE, then the connection is closed.
 *   SaslHandshake or SaslAuthenticate on an authenticated connection that
 *   may not re-authenticate, or on a PLAINTEXT listener: ILLEGAL_SASL_STATE.
 * - A failed authentication is answered after
 *   connection.failed.authentication.delay.ms with
 *   SASL_AUTHENTICATION_FAILED and a message that names no secret, and the
 *   connection is closed (after a v0 handshake: closed without an answer).
 * - Re-authentication (KIP-368): with connections.max.reauth.ms (or an
 *   expiring credential) the session has a lifetime, given to SaslAuthenticate
 *   v1+ clients as session_lifetime_ms. Such a client re-authenticates with a
 *   new SaslHandshake + SaslAuthenticate, same mechanism and principal, while
 *   its other requests keep going. On an expired session any request but
 *   those of a re-authentication closes the connection.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import {
  ApiKey,
  type SaslAuthenticateRequest,
  type SaslAuthenticateResponseInput,
  type SaslHandshakeRequest,
  type SaslHandshakeResponseInput,
} from '../../protocol/generated/messages.ts';
import { type KafkaPrincipal, principalString } from '../../security/principal.ts';
import type { SaslServerConfig } from '../../security/sasl/config.ts';
import { SaslAuthenticationError, type SaslServerSession, type SaslStep } from '../../security/sasl/mechanism.ts';
import type { Connection, Reply, ReplyChunks } from '../connection.ts';
import { AFTER_WRITE, type Dispatcher, type Handler, type ResponseBody } from '../dispatcher.ts';

interface Pending {
  mechanism: string;
  session: SaslServerSession;
  /** A v0 handshake: the tokens come as bare frames. */
  raw: boolean;
  /** A step is being taken: a token before its answer is out of order. */
  busy: boolean;
}

interface Established {
  principal: KafkaPrincipal;
  mechanism: string;
  /** ms since the epoch; 0: the session does not expire. */
  expiresAt: number;
  /** The SaslAuthenticate version the client used (0: it cannot re-authenticate). */
  authenticateVersion: number;
}

interface SaslState {
  pending: Pending | null;
  established: Established | null;
  failed: boolean;
}

const SASL_KEYS = new Set<number>([ApiKey.ApiVersions, ApiKey.SaslHandshake, ApiKey.SaslAuthenticate]);
const EMPTY = Buffer.alloc(0);

export class SaslServer {
  private readonly states = new WeakMap<Connection, SaslState>();

  constructor(
    readonly config: SaslServerConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether connections of this listener must authenticate. */
  isSaslListener(listenerName: string): boolean {
    return this.config.listeners.has(listenerName);
  }

  private state(conn: Connection): SaslState {
    let s = this.states.get(conn);
    if (!s) {
      s = { pending: null, established: null, failed: false };
      this.states.set(conn, s);
    }
    return s;
  }

  /**
   * Runs before the dispatcher reads a frame of a SASL listener's
   * connection: a reply (the frame was a bare token, or must close the
   * connection), or undefined to dispatch it as a request.
   */
  gate(frame: Buffer, conn: Connection): Reply | Promise<Reply> | undefined {
    if (!this.isSaslListener(conn.listenerName)) return undefined;
    const st = this.state(conn);
    if (st.failed) return 'close';
    if (st.pending?.raw) return this.rawToken(frame, conn, st, st.pending);
    const apiKey = frame.length >= 2 ? frame.readInt16BE(0) : -1;
    const est = st.established;
    if (est) {
      // as Kafka: on an expired session only a re-authentication goes on
      const reauthenticating =
        apiKey === ApiKey.SaslHandshake || (apiKey === ApiKey.SaslAuthenticate && st.pending !== null);
      if (est.expiresAt > 0 && this.now() >= est.expiresAt && !reauthenticating) {
        conn.warn('closing connection: SASL session expired without re-authentication (connections.max.reauth.ms)', {
          principal: principalString(est.principal),
        });
        return 'close';
      }
      return undefined;
    }
    if (SASL_KEYS.has(apiKey)) return undefined;
    conn.warn('closing connection: request before SASL authentication', { apiKey });
    return 'close';
  }

  handshakeHandler(): Handler<SaslHandshakeRequest, SaslHandshakeResponseInput> {
    return (req, ctx) => {
      const conn = ctx.conn;
      const listener = this.config.listeners.get(conn.listenerName);
      if (!listener) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: [] };
      const st = this.state(conn);
      const enabled = listener.mechanisms;
      if (st.pending) {
        conn.warn('closing connection: SaslHandshake during a SASL exchange');
        return closing({ errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: enabled }, conn);
      }
      const est = st.established;
      if (est) {
        // re-authentication (KIP-368): only for a session that expires, by a client that learnt its lifetime
        if (est.expiresAt === 0 || est.authenticateVersion < 1 || ctx.apiVersion < 1)
          return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms: enabled };
        if (req.mechanism !== est.mechanism) {
          conn.warn('closing connection: re-authentication with another SASL mechanism', {
            mechanism: est.mechanism,
            requested: req.mechanism.slice(0, 64),
          });
          return closing({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: [est.mechanism] }, conn);
        }
      }
      const mech = enabled.includes(req.mechanism) ? this.config.mechanisms.get(req.mechanism) : undefined;
      if (!mech) {
        conn.warn('closing connection: SASL mechanism not enabled', {
          requested: req.mechanism.slice(0, 64),
          enabled,
        });
        return closing({ errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms: enabled }, conn);
      }
      st.pending = {
        mechanism: mech.name,
        session: mech.start(conn.listenerName),
        raw: ctx.apiVersion === 0,
        busy: false,
      };
      return { errorCode: ErrorCode.NONE, mechanisms: enabled };
    };
  }

  authenticateHandler(): Handler<SaslAuthenticateRequest, SaslAuthenticateResponseInput> {
    return async (req, ctx) => {
      const conn = ctx.conn;
      const illegal = (msg: string): SaslAuthenticateResponseInput => ({
        errorCode: ErrorCode.ILLEGAL_SASL_STATE,
        errorMessage: msg,
        authBytes: EMPTY,
        sessionLifetimeMs: 0,
      });
      if (!this.isSaslListener(conn.listenerName))
        return illegal(`SaslAuthenticate request on listener ${conn.listenerName}, which does not use SASL`);
      const st = this.state(conn);
      const p = st.pending;
      if (!p) {
        if (st.established) return illegal('SaslAuthenticate request received after successful authentication');
        conn.warn('closing connection: SaslAuthenticate before SaslHandshake');
        return closing(illegal('SaslAuthenticate request received before SaslHandshake'), conn);
      }
      if (p.busy) {
        conn.warn('closing connection: SaslAuthenticate before the previous one was answered');
        return closing(illegal('SaslAuthenticate request received before the previous one was answered'), conn);
      }
      const step = await this.step(conn, st, p, req.authBytes, ctx.apiVersion);
      if ('failure' in step) {
        return closing(
          { errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED, errorMessage: step.failure, authBytes: EMPTY },
          conn,
        );
      }
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        authBytes: step.response,
        sessionLifetimeMs: ctx.apiVersion >= 1 ? step.lifetimeMs : 0,
      };
    };
  }

  /** A bare token after a v0 handshake: answered with a bare frame, or the connection is closed. */
  private async rawToken(frame: Buffer, conn: Connection, st: SaslState, p: Pending): Promise<Reply> {
    if (p.busy) {
      conn.warn('closing connection: SASL token before the previous one was answered');
      return 'close';
    }
    // the frame's memory is reused once answered: the mechanism gets its own copy
    const step = await this.step(conn, st, p, Buffer.from(frame), 0);
    if ('failure' in step) return 'close';
    const reply: ReplyChunks = [step.response];
    return reply;
  }

  /** One token through the mechanism; on success the connection is authenticated, on failure (after the delay) marked failed. */
  private async step(
    conn: Connection,
    st: SaslState,
    p: Pending,
    token: Buffer,
    version: number,
  ): Promise<{ response: Buffer; lifetimeMs: number } | { failure: string }> {
    p.busy = true;
    let result: SaslStep;
    try {
      result = await p.session.step(token);
    } catch (err) {
      let message: string;
      if (err instanceof SaslAuthenticationError) {
        message = err.message;
      } else {
        conn.warn('SASL mechanism failed unexpectedly', { mechanism: p.mechanism, err: (err as Error).message });
        message = `Authentication failed during authentication due to an unexpected error with SASL mechanism ${p.mechanism}`;
      }
      return this.fail(conn, st, p, message);
    } finally {
      p.busy = false;
    }
    if (!result.done) return { response: result.response, lifetimeMs: 0 };
    const prev = st.established;
    if (prev && principalString(prev.principal) !== principalString(result.principal)) {
      return this.fail(
        conn,
        st,
        p,
        `Cannot change principals during re-authentication from ${principalString(prev.principal)}: ${principalString(result.principal)}`,
      );
    }
    const now = this.now();
    let lifetimeMs = this.config.reauthMs(conn.listenerName, p.mechanism);
    if (result.credentialExpiresAt !== undefined) {
      const left = result.credentialExpiresAt - now;
      if (left <= 0) return this.fail(conn, st, p, 'Authentication failed: the credential has expired');
      lifetimeMs = lifetimeMs > 0 ? Math.min(lifetimeMs, left) : left;
    }
    st.pending = null;
    st.established = {
      principal: result.principal,
      mechanism: p.mechanism,
      expiresAt: lifetimeMs > 0 ? now + lifetimeMs : 0,
      authenticateVersion: version,
    };
    conn.authenticated(result.principal);
    return { response: result.response, lifetimeMs };
  }

  private async fail(conn: Connection, st: SaslState, p: Pending, message: string): Promise<{ failure: string }> {
    st.pending = null;
    st.failed = true;
    // the message is the mechanism's: it names no password, token or key
    conn.warn('SASL authentication failed', { mechanism: p.mechanism, reason: message });
    const delay = this.config.failedAuthenticationDelayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    return { failure: message };
  }
}

/** A response after which the connection is closed. */
function closing<T extends object>(body: T, conn: Connection): ResponseBody<T> {
  return Object.assign(body, { [AFTER_WRITE]: () => conn.close() });
}

/** Registers SaslHandshake and SaslAuthenticate and puts the gate in front of the dispatcher. */
export function registerSaslHandlers(d: Dispatcher, sasl: SaslServer): void {
  d.register('SaslHandshake', { handler: sasl.handshakeHandler() });
  d.register('SaslAuthenticate', { handler: sasl.authenticateHandler() });
  // PLAINTEXT-only brokers keep their request path as it was
  if (sasl.config.listeners.size > 0) d.gate = (frame, conn) => sasl.gate(frame, conn);
}
