/**
 * SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka runs them:
 *
 * - Credentials (salt, StoredKey, ServerKey, iterations) are kept per user
 *   and mechanism in the cluster metadata (UserScramCredentialRecord);
 *   AlterUserScramCredentials gives the salted password, computed by the
 *   client, and the controller derives the keys. Iterations: 4096..16384.
 * - Server exchange: client-first (`n,,n=user,r=nonce[,ext]`), server-first
 *   (`r=nonce+ours,s=salt,i=n`), client-final (`c=biws,r=..,p=proof`),
 *   server-final (`v=signature`). The `tokenauth` extension (delegation
 *   tokens) is refused: Samsa has no delegation tokens. An authorization id
 *   other than the user is refused.
 * - The client side (scramClient) is what Samsa's client and CLI use.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { userPrincipal } from '../principal.ts';
import {
  SaslAuthenticationError,
  type SaslServerMechanism,
  type SaslServerSession,
  type SaslStep,
} from './mechanism.ts';
import { registerSaslMechanism } from './registry.ts';

export type ScramMechanismName = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface ScramMechanismInfo {
  name: ScramMechanismName;
  /** Kafka's ScramMechanism type in AlterUserScramCredentials / DescribeUserScramCredentials. */
  type: number;
  hash: 'sha256' | 'sha512';
  keyBytes: number;
  minIterations: number;
  maxIterations: number;
}

export const SCRAM_MECHANISMS: readonly ScramMechanismInfo[] = [
  { name: 'SCRAM-SHA-256', type: 1, hash: 'sha256', keyBytes: 32, minIterations: 4096, maxIterations: 16384 },
  { name: 'SCRAM-SHA-512', type: 2, hash: 'sha512', keyBytes: 64, minIterations: 4096, maxIterations: 16384 },
];

export function scramByName(name: string): ScramMechanismInfo | undefined {
  return SCRAM_MECHANISMS.find((m) => m.name === name);
}

export function scramByType(type: number): ScramMechanismInfo | undefined {
  return SCRAM_MECHANISMS.find((m) => m.type === type);
}

/** One user's credential for one mechanism, as stored. */
export interface ScramCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  iterations: number;
}

const hmac = (m: ScramMechanismInfo, key: Buffer, data: Buffer | string) =>
  createHmac(m.hash, key).update(data).digest();
const h = (m: ScramMechanismInfo, data: Buffer) => createHash(m.hash).update(data).digest();

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

/** Hi(password, salt, i): PBKDF2 with the mechanism's HMAC (RFC 5802 §2.2). */
export function saltedPassword(m: ScramMechanismInfo, password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, m.keyBytes, m.hash);
}

/** The stored credential from a salted password (what the controller does with an upsertion). */
export function credentialFromSaltedPassword(
  m: ScramMechanismInfo,
  salted: Buffer,
  salt: Buffer,
  iterations: number,
): ScramCredential {
  const clientKey = hmac(m, salted, 'Client Key');
  return { salt, storedKey: h(m, clientKey), serverKey: hmac(m, salted, 'Server Key'), iterations };
}

/** A new credential for a password: random salt, the given iterations. */
export function newCredential(m: ScramMechanismInfo, password: string, iterations = 4096): ScramCredential {
  const salt = randomBytes(32);
  return credentialFromSaltedPassword(m, saltedPassword(m, password, salt, iterations), salt, iterations);
}

/** saslname of RFC 5802: ',' and '=' escaped as =2C and =3D. */
export function encodeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function decodeSaslName(s: string): string {
  if (/=(?!2C|3D)/.test(s)) throw new SaslAuthenticationError('Invalid SCRAM message: bad username encoding');
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** Parses `a=x,b=y` attributes after the given position. */
function attributes(parts: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of parts) {
    if (p.length < 2 || p[1] !== '=') throw new SaslAuthenticationError('Invalid SCRAM message: malformed attribute');
    out.set(p[0], p.slice(2));
  }
  return out;
}

const PRINTABLE_NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export interface ScramCredentialStore {
  /** The credential of `user` for mechanism `m`, or undefined. */
  credential(user: string, m: ScramMechanismInfo): ScramCredential | undefined;
}

/** The server side of SCRAM mechanism `m`, reading credentials from `store`. */
export function scramServerMechanism(
  m: ScramMechanismInfo,
  store: ScramCredentialStore,
  /** The server's part of the nonce (tests give a fixed one). */
  serverNonce: () => string = () => randomBytes(18).toString('base64'),
): SaslServerMechanism {
  return {
    name: m.name,
    start(): SaslServerSession {
      let stage: 'first' | 'final' | 'done' = 'first';
      let user = '';
      let cred: ScramCredential | undefined;
      let gs2Header = '';
      let nonce = '';
      let authBase = '';
      return {
        step(token: Buffer): SaslStep {
          const text = token.toString('utf8');
          if (stage === 'first') {
            stage = 'final';
            // gs2-header: n,[a=authzid], (channel binding not supported: 'n' or 'y')
            const m1 = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(text);
            if (!m1) throw new SaslAuthenticationError('Invalid SCRAM client first message');
            const authzid = m1[2] ? decodeSaslName(m1[2].slice(2)) : '';
            gs2Header = text.slice(0, text.length - m1[3].length);
            const bare = m1[3];
            const parts = bare.split(',');
            if (!parts[0]?.startsWith('n=') || !parts[1]?.startsWith('r='))
              throw new SaslAuthenticationError('Invalid SCRAM client first message');
            user = decodeSaslName(parts[0].slice(2));
            const clientNonce = parts[1].slice(2);
            if (clientNonce === '' || !PRINTABLE_NONCE.test(clientNonce))
              throw new SaslAuthenticationError('Invalid SCRAM client first message: bad nonce');
            const extensions = attributesOrExtensions(parts.slice(2));
            if (extensions.get('tokenauth') === 'true')
              throw new SaslAuthenticationError('Authentication failed: delegation tokens are not supported');
            if (authzid !== '' && authzid !== user)
              throw new SaslAuthenticationError(
                'Authentication failed: Client requested an authorization id that is different from username',
              );
            cred = store.credential(user, m);
            if (!cred) throw new SaslAuthenticationError('Authentication failed: Invalid user credentials');
            nonce = clientNonce + serverNonce();
            const serverFirst = `r=${nonce},s=${cred.salt.toString('base64')},i=${cred.iterations}`;
            authBase = `${bare},${serverFirst}`;
            return { done: false, response: Buffer.from(serverFirst, 'utf8') };
          }
          if (stage !== 'final') throw new SaslAuthenticationError('Invalid SCRAM exchange: unexpected message');
          stage = 'done';
          const parts = text.split(',');
          const attrs = attributes(parts);
          const proof = attrs.get('p');
          const withoutProof = parts.filter((p) => !p.startsWith('p=')).join(',');
          if (attrs.get('c') !== Buffer.from(gs2Header, 'utf8').toString('base64'))
            throw new SaslAuthenticationError('Invalid SCRAM client final message: channel binding differs');
          // as Kafka: the nonce must end with ours (librdkafka sends its own nonce in front of the whole one)
          if (!attrs.get('r')?.endsWith(nonce))
            throw new SaslAuthenticationError('Invalid SCRAM client final message: nonce');
          if (!proof || !parts[parts.length - 1].startsWith('p='))
            throw new SaslAuthenticationError('Invalid SCRAM client final message: no proof');
          const c = cred!;
          const authMessage = `${authBase},${withoutProof}`;
          const clientSignature = hmac(m, c.storedKey, authMessage);
          const given = Buffer.from(proof, 'base64');
          const ok =
            given.length === clientSignature.length && timingSafeEqual(h(m, xor(given, clientSignature)), c.storedKey);
          if (!ok) throw new SaslAuthenticationError('Authentication failed: Invalid user credentials');
          const serverSignature = hmac(m, c.serverKey, authMessage);
          return {
            done: true,
            response: Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'),
            principal: userPrincipal(user),
          };
        },
      };
    },
  };
}

function attributesOrExtensions(parts: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of parts) {
    const i = p.indexOf('=');
    if (i <= 0) throw new SaslAuthenticationError('Invalid SCRAM client first message: malformed extension');
    out.set(p.slice(0, i), p.slice(i + 1));
  }
  return out;
}

/**
 * The client side of one SCRAM exchange: first() gives client-first,
 * final(serverFirst) client-final, verify(serverFinal) checks the server's
 * signature. Throws Error on a bad server message.
 */
export function scramClient(m: ScramMechanismInfo, username: string, password: string, nonce?: string) {
  const clientNonce = nonce ?? randomBytes(24).toString('base64');
  const bare = `n=${encodeSaslName(username)},r=${clientNonce}`;
  let serverSignature: Buffer | null = null;
  return {
    first(): Buffer {
      return Buffer.from(`n,,${bare}`, 'utf8');
    },
    final(serverFirst: Buffer): Buffer {
      const text = serverFirst.toString('utf8');
      const a = new Map(text.split(',').map((p) => [p.slice(0, 1), p.slice(2)] as [string, string]));
      const r = a.get('r') ?? '';
      const salt = Buffer.from(a.get('s') ?? '', 'base64');
      const iterations = Number(a.get('i'));
      if (a.has('e')) throw new Error(`SCRAM server error: ${a.get('e')}`);
      if (!r.startsWith(clientNonce) || r.length <= clientNonce.length) throw new Error('SCRAM: server nonce invalid');
      if (!Number.isInteger(iterations) || iterations < m.minIterations || salt.length === 0)
        throw new Error('SCRAM: server sent bad salt or iterations');
      const salted = saltedPassword(m, password, salt, iterations);
      const clientKey = hmac(m, salted, 'Client Key');
      const storedKey = h(m, clientKey);
      const withoutProof = `c=biws,r=${r}`;
      const authMessage = `${bare},${text},${withoutProof}`;
      const proof = xor(clientKey, hmac(m, storedKey, authMessage));
      serverSignature = hmac(m, hmac(m, salted, 'Server Key'), authMessage);
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
    },
    verify(serverFinal: Buffer): void {
      const text = serverFinal.toString('utf8');
      if (text.startsWith('e=')) throw new Error(`SCRAM server error: ${text.slice(2)}`);
      const v = text.startsWith('v=') ? Buffer.from(text.slice(2), 'base64') : Buffer.alloc(0);
      if (!serverSignature || v.length !== serverSignature.length || !timingSafeEqual(v, serverSignature))
        throw new Error('SCRAM: the server signature is invalid');
    },
  };
}

for (const m of SCRAM_MECHANISMS) registerSaslMechanism(m.name, (ctx) => scramServerMechanism(m, ctx.scramCredentials));
