/**
 * SASL/OAUTHBEARER, the server side (RFC 7628; Kafka's KIP-255 and KIP-768).
 *
 * The client sends one message, `n,[a=<authzid>],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`.
 * The token is checked by a validator:
 *
 * - `JwtValidator` (what Kafka's OAuthBearerValidatorCallbackHandler does): a
 *   signed JWT, its signature verified against the JWKS of
 *   `sasl.oauthbearer.jwks.endpoint.url` (jwks.ts); `exp` and `iat` required;
 *   `exp`/`nbf` checked with `sasl.oauthbearer.clock.skew.seconds`; `aud`
 *   must contain one of `sasl.oauthbearer.expected.audience` when that is
 *   set, and a token carrying `aud` is refused when it is not (as Kafka's
 *   jose4j consumer does); `iss` must equal
 *   `sasl.oauthbearer.expected.issuer` when that is set; the principal is the
 *   string claim `sasl.oauthbearer.sub.claim.name`, the scope the string or
 *   string list claim `sasl.oauthbearer.scope.claim.name`.
 * - `UnsecuredJwtValidator` (Kafka's default when no server callback handler
 *   is configured, OAuthBearerUnsecuredValidatorCallbackHandler, for testing
 *   only): an unsigned JWT (`alg` none), its options from the JAAS line
 *   (`unsecuredValidatorPrincipalClaimName`, `unsecuredValidatorScopeClaimName`,
 *   `unsecuredValidatorRequiredScope`, `unsecuredValidatorAllowableClockSkewMs`).
 *
 * A token that does not validate is answered as RFC 7628 and Kafka do: a
 * challenge carrying the JSON error (`{"status":"invalid_token"}`); the
 * client then sends a single 0x01 and the exchange fails with
 * SaslAuthenticationError. The reason is in that error's message; the token
 * never is. A valid token authenticates `User:<principal>` until its `exp`
 * (credentialExpiresAt, KIP-368). Extensions are accepted (Kafka's validator
 * accepts every extension) and not used.
 */
import { jwtVerify, errors as joseErrors, type JWTVerifyGetKey, type JWTPayload } from 'jose';
import { userPrincipal } from '../principal.ts';
import {
  SaslAuthenticationError,
  type SaslServerMechanism,
  type SaslServerSession,
  type SaslStep,
} from './mechanism.ts';

export const OAUTHBEARER = 'OAUTHBEARER';

/** What a validator learned from a valid token. */
export interface OAuthBearerToken {
  principalName: string;
  scope: string[];
  /** exp, ms since the epoch. */
  expiresAtMs: number;
  /** iat, ms since the epoch, or null when the token has none. */
  issuedAtMs: number | null;
}

/**
 * A token was refused. `message` says why without repeating the token;
 * `status` and `scope` are what RFC 7628's error carries.
 */
export class TokenValidationError extends Error {
  override name = 'TokenValidationError';
  constructor(
    message: string,
    readonly status: 'invalid_token' | 'insufficient_scope' = 'invalid_token',
    readonly scope: string | null = null,
  ) {
    super(message);
  }
}

export interface TokenValidator {
  /** Resolves with the token's principal and lifetime, rejects with TokenValidationError. */
  validate(token: string): Promise<OAuthBearerToken>;
  close?(): void;
}

// ---------------------------------------------------------------------------
// The client's message (RFC 7628 section 3.1), with Kafka's grammar.

const SEP = '\x01';
const SASLNAME = '(?:[\\x01-\\x2B\\x2D-\\x3C\\x3E-\\x7F]|=2C|=3D)+';
const KEY = '[A-Za-z]+';
const VALUE = '[\\x21-\\x7E \\t\\r\\n]+';
const CLIENT_FIRST = new RegExp(`^n,(?:a=(${SASLNAME}))?,${SEP}((?:${KEY}=${VALUE}${SEP})*)${SEP}$`);
const AUTH = /^(\w+) +([-_.a-zA-Z0-9]+)$/;
const KEY_RE = new RegExp(`^${KEY}$`);
const VALUE_RE = new RegExp(`^${VALUE}$`);

export interface ClientInitialResponse {
  /** The authorization id (`a=`), '' when absent. */
  authorizationId: string;
  token: string;
  extensions: Map<string, string>;
}

/** Parses the client's first message; throws SaslAuthenticationError (never quoting the token) when malformed. */
export function parseClientInitialResponse(bytes: Buffer): ClientInitialResponse {
  const text = bytes.toString('latin1');
  // everything in the grammar is ASCII: a byte above 0x7F cannot match
  const m = CLIENT_FIRST.exec(text);
  if (!m) throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message');
  const props = new Map<string, string>();
  for (const kv of m[2].split(SEP)) {
    if (kv === '') continue;
    const eq = kv.indexOf('=');
    props.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  const auth = props.get('auth');
  if (auth === undefined)
    throw new SaslAuthenticationError("Invalid OAUTHBEARER client first message: 'auth' not specified");
  props.delete('auth');
  for (const [k, v] of props)
    if (!KEY_RE.test(k) || !VALUE_RE.test(v))
      throw new SaslAuthenticationError('Invalid OAUTHBEARER client first message: invalid extension');
  const a = AUTH.exec(auth);
  if (!a) throw new SaslAuthenticationError("Invalid OAUTHBEARER client first message: invalid 'auth' format");
  if (a[1].toLowerCase() !== 'bearer')
    throw new SaslAuthenticationError('Invalid scheme in OAUTHBEARER client first message');
  const authzid = (m[1] ?? '').replace(/=2C/g, ',').replace(/=3D/g, '=');
  return { authorizationId: authzid, token: a[2], extensions: props };
}

/**
 * The client's first message for `token` (for Samsa's own client and CLI):
 * `n,[a=<authzid>],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`. After a
 * non-empty server challenge (the JSON error) a client sends OAUTHBEARER_CLIENT_ABORT.
 */
export function oauthBearerClientMessage(
  token: string,
  opts: { authorizationId?: string; extensions?: ReadonlyMap<string, string> } = {},
): Buffer {
  if (!/^[-_.a-zA-Z0-9]+$/.test(token)) throw new Error('an OAUTHBEARER token is a JWT (letters, digits, - _ .)');
  const authzid = (opts.authorizationId ?? '').replace(/=/g, '=3D').replace(/,/g, '=2C');
  let ext = '';
  for (const [k, v] of opts.extensions ?? []) {
    if (k === 'auth' || !KEY_RE.test(k) || !VALUE_RE.test(v)) throw new Error(`invalid OAUTHBEARER extension ${k}`);
    ext += `${k}=${v}${SEP}`;
  }
  return Buffer.from(
    `n,${authzid === '' ? '' : `a=${authzid}`},${SEP}auth=Bearer ${token}${SEP}${ext}${SEP}`,
    'latin1',
  );
}

/** What a client sends after the server's error challenge (RFC 7628 section 3.2.3). */
export const OAUTHBEARER_CLIENT_ABORT: Buffer = Buffer.from([0x01]);

/** RFC 7628's error: `{"status":"invalid_token"}`, with the scope when it is a scope failure. */
export function jsonErrorResponse(status: string, scope: string | null): string {
  return scope === null ? `{"status":"${status}"}` : `{"status":"${status}", "scope":${JSON.stringify(scope)}}`;
}

// ---------------------------------------------------------------------------
// Claims shared by both validators.

/** The principal claim: a non-blank string (trimmed). */
function principalOf(claims: Record<string, unknown>, name: string): string {
  const v = claims[name];
  if (v === undefined || v === null) throw new TokenValidationError(`required claim missing: ${name}`);
  if (typeof v !== 'string') throw new TokenValidationError(`the ${name} claim is not a string`);
  if (v.trim() === '') throw new TokenValidationError(`the ${name} claim is empty`);
  return v.trim();
}

/** The scope claim: a string (one scope) or a list of strings; absent or of another type = no scope (as Kafka). */
function scopeOf(claims: Record<string, unknown>, name: string): string[] {
  const v = claims[name];
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  const out = new Set<string>();
  for (const s of list) {
    if (typeof s !== 'string') throw new TokenValidationError(`the ${name} claim is not a string or a list of strings`);
    if (s.trim() !== '') out.add(s.trim());
  }
  return [...out];
}

// ---------------------------------------------------------------------------
// Signed JWTs against a JWKS (KIP-768).

export interface JwtValidatorOptions {
  /** The verification key for a token's header (JwksKeySet.resolve). */
  keys: JWTVerifyGetKey;
  /** sasl.oauthbearer.expected.audience; null or empty: none expected (a token with `aud` is refused). */
  expectedAudience: string[] | null;
  /** sasl.oauthbearer.expected.issuer; null: not checked. */
  expectedIssuer: string | null;
  /** sasl.oauthbearer.clock.skew.seconds */
  clockSkewSeconds: number;
  /** sasl.oauthbearer.sub.claim.name */
  subClaimName: string;
  /** sasl.oauthbearer.scope.claim.name */
  scopeClaimName: string;
  now?: () => number;
}

/** What went wrong in jose's terms, in words that never include the token. */
function joseReason(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not valid yet (nbf)';
    if (err.claim === 'aud') return 'the token is not for an expected audience (aud)';
    if (err.claim === 'iss') return 'the token is not from the expected issuer (iss)';
    if (err.reason === 'missing') return `required claim missing: ${err.claim}`;
    return `invalid ${err.claim} claim`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'the signature does not verify';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'no key of the JWKS matches the token (kid, alg)';
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys of the JWKS match the token (kid)';
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported)
    return 'the token is not signed with an algorithm the key set supports';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid)
    return 'the token is not a well-formed signed JWT';
  if (err instanceof joseErrors.JOSEError) return 'the token could not be verified';
  return `the token could not be verified: ${(err as Error)?.message ?? String(err)}`;
}

export class JwtValidator implements TokenValidator {
  private readonly now: () => number;
  constructor(private readonly opts: JwtValidatorOptions) {
    this.now = opts.now ?? Date.now;
  }

  async validate(token: string): Promise<OAuthBearerToken> {
    const audience = this.opts.expectedAudience?.length ? this.opts.expectedAudience : undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.opts.keys, {
        audience,
        issuer: this.opts.expectedIssuer ?? undefined,
        clockTolerance: this.opts.clockSkewSeconds,
        requiredClaims: ['exp', 'iat'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      throw new TokenValidationError(`Could not validate the access token: ${joseReason(err)}`);
    }
    if ((payload.exp as number) < (payload.iat as number))
      throw new TokenValidationError(
        'Could not validate the access token: its expiration time (exp) is before its issued-at time (iat)',
      );
    if (audience === undefined && payload.aud !== undefined)
      throw new TokenValidationError(
        'Could not validate the access token: it names an audience (aud) but sasl.oauthbearer.expected.audience is not set',
      );
    const claims = payload as Record<string, unknown>;
    const principalName = principalOf(claims, this.opts.subClaimName);
    const scope = scopeOf(claims, this.opts.scopeClaimName);
    return {
      principalName,
      scope,
      expiresAtMs: Math.round((payload.exp as number) * 1000),
      issuedAtMs: Math.round((payload.iat as number) * 1000),
    };
  }
}

// ---------------------------------------------------------------------------
// Unsecured JWTs (Kafka's OAuthBearerUnsecuredValidatorCallbackHandler; for testing only).

export interface UnsecuredJwtValidatorOptions {
  /** unsecuredValidatorPrincipalClaimName, default sub */
  principalClaimName?: string;
  /** unsecuredValidatorScopeClaimName, default scope */
  scopeClaimName?: string;
  /** unsecuredValidatorRequiredScope (space-separated in the JAAS option) */
  requiredScope?: string[];
  /** unsecuredValidatorAllowableClockSkewMs, default 0 */
  allowableClockSkewMs?: number;
  now?: () => number;
}

/** The JAAS options of Kafka's unsecured validator, checked; throws Error with the problem. */
export function unsecuredValidatorOptions(jaas: ReadonlyMap<string, string>): UnsecuredJwtValidatorOptions {
  const opt = (k: string) => {
    const v = jaas.get(k)?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const skew = opt('unsecuredValidatorAllowableClockSkewMs');
  if (skew !== undefined && (!/^\d+$/.test(skew) || Number(skew) > 2 ** 31 - 1))
    throw new Error(`unsecuredValidatorAllowableClockSkewMs must be a non-negative int, not ${skew}`);
  const required = opt('unsecuredValidatorRequiredScope');
  return {
    principalClaimName: opt('unsecuredValidatorPrincipalClaimName') ?? 'sub',
    scopeClaimName: opt('unsecuredValidatorScopeClaimName') ?? 'scope',
    requiredScope: required === undefined ? [] : required.split(/ +/).filter((s) => s !== ''),
    allowableClockSkewMs: skew === undefined ? 0 : Number(skew),
  };
}

function decodeJsonObject(part: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_\-+/]*={0,2}$/.test(part)) throw new TokenValidationError('malformed Base64 URL encoded value');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new TokenValidationError('malformed JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenValidationError('malformed JSON');
  return v as Record<string, unknown>;
}

function numberClaim(claims: Record<string, unknown>, name: string): number | null {
  const v = claims[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number') throw new TokenValidationError(`the '${name}' claim is not a number`);
  return v;
}

export class UnsecuredJwtValidator implements TokenValidator {
  private readonly principalClaimName: string;
  private readonly scopeClaimName: string;
  private readonly requiredScope: string[];
  private readonly skewMs: number;
  private readonly now: () => number;

  constructor(opts: UnsecuredJwtValidatorOptions = {}) {
    this.principalClaimName = opts.principalClaimName ?? 'sub';
    this.scopeClaimName = opts.scopeClaimName ?? 'scope';
    this.requiredScope = opts.requiredScope ?? [];
    this.skewMs = opts.allowableClockSkewMs ?? 0;
    this.now = opts.now ?? Date.now;
  }

  async validate(token: string): Promise<OAuthBearerToken> {
    if (token.includes('..')) throw new TokenValidationError("malformed compact serialization contains '..'");
    const parts = token.split('.');
    if (parts.length !== 3)
      throw new TokenValidationError(
        'unsecured JWS compact serializations must have 3 dot-separated Base64URL-encoded values',
      );
    const header = decodeJsonObject(parts[0]);
    const claims = decodeJsonObject(parts[1]);
    if (header.alg !== 'none') throw new TokenValidationError("unsecured JWS must have 'none' for an algorithm");
    if (parts[2] !== '') throw new TokenValidationError('unsecured JWS must not contain a digital signature');
    const scope = scopeOf(claims, this.scopeClaimName);
    const exp = numberClaim(claims, 'exp');
    if (exp === null) throw new TokenValidationError('no expiration time in JWT');
    const principalName = principalOf(claims, this.principalClaimName);
    const iat = numberClaim(claims, 'iat');
    const now = this.now();
    if (iat !== null && 1000 * iat > now + this.skewMs)
      throw new TokenValidationError('the Issued At time is after the current time plus the allowable clock skew');
    if (now - this.skewMs >= 1000 * exp)
      throw new TokenValidationError(
        'the current time minus the allowable clock skew is on or after the Expiration Time',
      );
    if (iat !== null && exp <= iat)
      throw new TokenValidationError('the Expiration Time is not after the Issued At time');
    for (const s of this.requiredScope)
      if (!scope.includes(s))
        throw new TokenValidationError(
          `the token's scope is missing a required scope (${s})`,
          'insufficient_scope',
          `[${this.requiredScope.join(', ')}]`,
        );
    return {
      principalName,
      scope,
      expiresAtMs: Math.round(exp * 1000),
      issuedAtMs: iat === null ? null : Math.round(iat * 1000),
    };
  }
}

// ---------------------------------------------------------------------------
// The mechanism.

class OAuthBearerSession implements SaslServerSession {
  /** The JSON error sent as a challenge, and why; the client's 0x01 that follows ends the exchange. */
  private failed: { status: string; reason: string } | null = null;

  constructor(private readonly validator: TokenValidator) {}

  async step(bytes: Buffer): Promise<SaslStep> {
    if (bytes.length === 1 && bytes[0] === 0x01 && this.failed !== null)
      throw new SaslAuthenticationError(`Authentication failed (${this.failed.status}): ${this.failed.reason}`);
    this.failed = null;
    const first = parseClientInitialResponse(bytes);
    let token: OAuthBearerToken;
    try {
      token = await this.validator.validate(first.token);
    } catch (err) {
      if (!(err instanceof TokenValidationError)) throw err;
      this.failed = { status: err.status, reason: err.message };
      return { done: false, response: Buffer.from(jsonErrorResponse(err.status, err.scope), 'utf8') };
    }
    if (first.authorizationId !== '' && first.authorizationId !== token.principalName)
      throw new SaslAuthenticationError(
        `Authentication failed: Client requested an authorization id (${first.authorizationId}) that is different from the token's principal name (${token.principalName})`,
      );
    return {
      done: true,
      response: Buffer.alloc(0),
      principal: userPrincipal(token.principalName),
      credentialExpiresAt: token.expiresAtMs,
    };
  }
}

/**
 * OAUTHBEARER with a validator per listener (each listener may have its own
 * `listener.name.<l>.oauthbearer.*` settings): `validators` holds them,
 * `make` (when given) makes a listener's on first use; otherwise a listener
 * without one of its own uses `fallback`.
 */
export class OAuthBearerMechanism implements SaslServerMechanism {
  readonly name = OAUTHBEARER;
  constructor(
    private readonly validators: ReadonlyMap<string, TokenValidator>,
    private readonly fallback: TokenValidator | null = null,
    private readonly make: ((listenerName: string) => TokenValidator) | null = null,
  ) {}

  start(listenerName: string): SaslServerSession {
    const v = this.validators.get(listenerName) ?? this.make?.(listenerName) ?? this.fallback;
    if (!v) throw new Error(`OAUTHBEARER is not configured on listener ${listenerName}`);
    return new OAuthBearerSession(v);
  }

  close(): void {
    for (const v of new Set([...this.validators.values(), ...(this.fallback ? [this.fallback] : [])])) v.close?.();
  }
}
