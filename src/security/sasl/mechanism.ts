/**
 * The server side of one SASL mechanism (PLAIN, SCRAM-SHA-256/512,
 * OAUTHBEARER): a session per authentication, fed the client's tokens in
 * order until it is done. The SASL handlers (SaslHandshake,
 * SaslAuthenticate, and the raw token frames after a v0 handshake) drive
 * it; a mechanism does no I/O of its own beyond what it is given
 * (credential lookups, key sets).
 */
import type { KafkaPrincipal } from '../principal.ts';

export type SaslStep =
  | { done: false; response: Buffer }
  | {
      done: true;
      response: Buffer;
      principal: KafkaPrincipal;
      /** When the credential itself expires (an OAuth token's exp), ms since the epoch; bounds the session (KIP-368). */
      credentialExpiresAt?: number;
    };

/**
 * Authentication failed. `message` goes to the client (SaslAuthenticate's
 * error message) and to the log: it never contains a password, token or key.
 */
export class SaslAuthenticationError extends Error {
  override name = 'SaslAuthenticationError';
}

export interface SaslServerSession {
  /** Takes the client's next token; throws SaslAuthenticationError when authentication fails. */
  step(token: Buffer): Promise<SaslStep> | SaslStep;
}

export interface SaslServerMechanism {
  /** The mechanism's name as SaslHandshake carries it (e.g. 'SCRAM-SHA-256'). */
  readonly name: string;
  /** A new session for one authentication on a connection of `listenerName`. */
  start(listenerName: string): SaslServerSession;
  /** Checks and sets up what a listener that enables the mechanism needs, at startup; throws ConfigError. */
  prepare?(listenerName: string): void;
  /** Stops what the mechanism runs in the background (e.g. refreshing a key set). */
  close?(): void;
}
