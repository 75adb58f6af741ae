/**
 * SASL/PLAIN (RFC 4616), server side: one token `authzid NUL username NUL
 * password`, checked against the `user_<name>="<password>"` options of the
 * listener's PlainLoginModule JAAS entry, as Kafka's default PLAIN callback
 * handler does. Passwords are compared in constant time (over their SHA-256
 * digests, so the length does not show either) and never logged or echoed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { userPrincipal } from '../principal.ts';
import { plainUsers } from './jaas.ts';
import {
  type SaslServerMechanism,
  type SaslServerSession,
  type SaslStep,
  SaslAuthenticationError,
} from './mechanism.ts';
import { registerSaslMechanism, type SaslMechanismContext } from './registry.ts';

export const PLAIN = 'PLAIN';
const PLAIN_LOGIN_MODULE = 'org.apache.kafka.common.security.plain.PlainLoginModule';

const digest = (s: Buffer | string) => createHash('sha256').update(s).digest();

/** Whether `given` equals `expected`, in time independent of where they differ and of their lengths. */
export function safeEqual(given: Buffer, expected: string | undefined): boolean {
  const same = timingSafeEqual(digest(given), digest(expected ?? ''));
  return same && expected !== undefined;
}

/** Splits a PLAIN token into its three parts; throws SaslAuthenticationError when it is not one. */
export function parsePlainToken(token: Buffer): { authzid: string; username: string; password: Buffer } {
  const a = token.indexOf(0);
  const b = a < 0 ? -1 : token.indexOf(0, a + 1);
  if (a < 0 || b < 0 || token.indexOf(0, b + 1) >= 0)
    throw new SaslAuthenticationError('Invalid SASL/PLAIN response: expected 3 tokens');
  const username = token.subarray(a + 1, b).toString('utf8');
  if (username === '') throw new SaslAuthenticationError('Authentication failed: username not specified');
  const password = token.subarray(b + 1);
  if (password.length === 0) throw new SaslAuthenticationError('Authentication failed: password not specified');
  return { authzid: token.subarray(0, a).toString('utf8'), username, password };
}

export function plainMechanism(ctx: SaslMechanismContext): SaslServerMechanism {
  const usersByListener = new Map<string, Map<string, string>>();
  const users = (listenerName: string): Map<string, string> => {
    let u = usersByListener.get(listenerName);
    if (!u) {
      const entry = ctx.jaas(listenerName, PLAIN);
      u = entry && entry.loginModule === PLAIN_LOGIN_MODULE ? plainUsers(entry) : new Map();
      usersByListener.set(listenerName, u);
    }
    return u;
  };
  return {
    name: PLAIN,
    start(listenerName: string): SaslServerSession {
      let done = false;
      return {
        step(token: Buffer): SaslStep {
          if (done) throw new SaslAuthenticationError('Authentication failed: PLAIN takes a single token');
          done = true;
          const { authzid, username, password } = parsePlainToken(token);
          if (!safeEqual(password, users(listenerName).get(username)))
            throw new SaslAuthenticationError('Authentication failed: Invalid username or password');
          if (authzid !== '' && authzid !== username)
            throw new SaslAuthenticationError(
              'Authentication failed: Client requested an authorization id that is different from username',
            );
          return { done: true, response: Buffer.alloc(0), principal: userPrincipal(username) };
        },
      };
    },
  };
}

/** The JAAS entry of a listener's PLAIN users, or the reason it is unusable (checked at startup). */
export function checkPlainJaas(ctx: SaslMechanismContext, listenerName: string): string | null {
  const entry = ctx.jaas(listenerName, PLAIN);
  if (!entry)
    return `PLAIN is enabled on listener ${listenerName}, but no JAAS configuration gives it users: set listener.name.${listenerName.toLowerCase()}.plain.sasl.jaas.config=${PLAIN_LOGIN_MODULE} required user_<name>="<password>" ...;`;
  if (entry.loginModule !== PLAIN_LOGIN_MODULE)
    return `the JAAS configuration of PLAIN on listener ${listenerName} names ${entry.loginModule}, expected ${PLAIN_LOGIN_MODULE}`;
  return null;
}

registerSaslMechanism(PLAIN, plainMechanism);
