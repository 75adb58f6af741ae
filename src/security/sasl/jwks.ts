/**
 * The key set OAUTHBEARER tokens are verified against: a JSON Web Key Set
 * (RFC 7517) read from `sasl.oauthbearer.jwks.endpoint.url` — a `file://`
 * path, or an `https://` (or `http://`, which Kafka also accepts) endpoint of
 * the identity provider.
 *
 * - A `file://` key set is read at startup and must be readable (as in Kafka,
 *   a broker whose key set cannot be read does not start). An HTTP(S) key set
 *   is first read in the background (retried with the backoff below until it
 *   succeeds); a token that arrives before is checked once that read is done,
 *   and refused if it failed.
 * - Then it is read again every `sasl.oauthbearer.jwks.endpoint.refresh.ms`;
 *   a failed read keeps the keys it has and is retried after
 *   `sasl.oauthbearer.jwks.endpoint.retry.backoff.ms`, doubling up to
 *   `sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms`.
 * - A token whose `kid` matches no key triggers one early read (providers
 *   publish a new key before signing with it), at most once per
 *   EXPEDITED_REFRESH_MIN_INTERVAL_MS whatever the tokens say, and the token
 *   is checked again against the result.
 *
 * A body is bounded (MAX_JWKS_BYTES) and an HTTP read by FETCH_TIMEOUT_MS.
 * Nothing here sees a token's signature or payload: key selection uses the
 * protected header only.
 */
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { type Env, type TimerHandle, systemEnv } from '../../util/env.ts';

/** A JWKS larger than this is refused (real ones are a few KiB). */
export const MAX_JWKS_BYTES = 1024 * 1024;
/** How long one HTTP(S) read of the key set may take. */
export const FETCH_TIMEOUT_MS = 10_000;
/** Least time between two reads caused by an unknown `kid`. */
export const EXPEDITED_REFRESH_MIN_INTERVAL_MS = 10_000;

export interface JwksOptions {
  url: string;
  /** sasl.oauthbearer.jwks.endpoint.refresh.ms */
  refreshMs: number;
  /** sasl.oauthbearer.jwks.endpoint.retry.backoff.ms */
  retryBackoffMs: number;
  /** sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms */
  retryBackoffMaxMs: number;
  env?: Env;
  /** Told about failed refreshes (the keys in use stay). */
  onRefreshError?: (message: string) => void;
  fetchTimeoutMs?: number;
}

type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** Checks a JWKS URL as Kafka does (file, http or https); returns the problem or null. */
export function jwksUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'file:' && url.protocol !== 'http:' && url.protocol !== 'https:')
    return `the protocol must be file, http or https, not ${url.protocol.replace(/:$/, '')}`;
  return null;
}

/** Where a URL's credentials would be, masked, for messages. */
function shown(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const u = new URL(url.href);
  u.username = '***';
  u.password = '';
  return u.href;
}

export class JwksKeySet {
  private readonly url: URL;
  private readonly env: Env;
  private keys: ReturnType<typeof createLocalJWKSet> | null = null;
  private timer: TimerHandle | null = null;
  private closed = false;
  private failures = 0;
  private inFlight: Promise<void> | null = null;
  private lastExpeditedAt = Number.NEGATIVE_INFINITY;
  /** Successful loads so far (for tests and logs). */
  loads = 0;

  private constructor(private readonly opts: JwksOptions) {
    const problem = jwksUrlProblem(opts.url);
    if (problem !== null) throw new Error(`sasl.oauthbearer.jwks.endpoint.url: ${problem}`);
    this.url = new URL(opts.url);
    this.env = opts.env ?? systemEnv;
  }

  /** Reads the key set once (throws when it cannot) and schedules the refreshes. */
  static async open(opts: JwksOptions): Promise<JwksKeySet> {
    const set = new JwksKeySet(opts);
    await set.load();
    set.schedule(opts.refreshMs);
    return set;
  }

  /**
   * Without waiting: a file is read now (throws when it cannot be), an HTTP(S)
   * key set is read in the background, retried until it succeeds.
   */
  static start(opts: JwksOptions): JwksKeySet {
    const set = new JwksKeySet(opts);
    if (set.url.protocol === 'file:') {
      set.install(parseJwks(readFileCheckedSync(fileURLToPath(set.url))));
      set.schedule(opts.refreshMs);
    } else set.refresh();
    return set;
  }

  /** The resolver jose's jwtVerify takes: the one key matching the header's kid and alg. */
  readonly resolve: KeyResolver = async (header, token) => {
    if (this.keys === null) await this.inFlight?.catch(() => {});
    try {
      return await this.current()(header, token);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ERR_JWKS_NO_MATCHING_KEY') throw err;
      if (!(await this.expeditedRefresh())) throw err;
      return this.current()(header, token);
    }
  };

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
  }

  private current(): ReturnType<typeof createLocalJWKSet> {
    if (this.keys === null) throw new Error('the JWKS has not been read yet');
    return this.keys;
  }

  /** One early read for an unknown kid, unless one happened recently; whether it ran and succeeded. */
  private async expeditedRefresh(): Promise<boolean> {
    if (this.inFlight) {
      await this.inFlight.catch(() => {});
      return true;
    }
    const now = this.env.now();
    if (now - this.lastExpeditedAt < EXPEDITED_REFRESH_MIN_INTERVAL_MS) return false;
    this.lastExpeditedAt = now;
    try {
      await this.load();
      return true;
    } catch (err) {
      this.opts.onRefreshError?.(`reading the JWKS ${shown(this.url)} failed: ${(err as Error).message}`);
      return false;
    }
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = this.env.setTimer(delayMs, () => {
      this.timer = null;
      this.refresh();
    });
  }

  /** A read now; then the next one after refresh.ms, or after the backoff when it failed. */
  private refresh(): void {
    this.load().then(
      () => {
        this.failures = 0;
        this.schedule(this.opts.refreshMs);
      },
      (err: Error) => {
        if (this.closed) return;
        const backoff = Math.min(
          this.opts.retryBackoffMs * 2 ** Math.min(this.failures, 30),
          this.opts.retryBackoffMaxMs,
        );
        this.failures++;
        const keeping = this.keys === null ? 'no keys yet' : 'keeping the keys read before';
        this.opts.onRefreshError?.(
          `reading the JWKS ${shown(this.url)} failed (${keeping}; retrying in ${backoff} ms): ${err.message}`,
        );
        this.schedule(backoff);
      },
    );
  }

  /** Reads and installs the key set; one read at a time. */
  private load(): Promise<void> {
    if (!this.inFlight) {
      this.inFlight = this.read()
        .then((jwks) => this.install(jwks))
        .finally(() => {
          this.inFlight = null;
        });
    }
    return this.inFlight;
  }

  private install(jwks: JSONWebKeySet): void {
    this.keys = createLocalJWKSet(jwks);
    this.loads++;
  }

  private async read(): Promise<JSONWebKeySet> {
    return parseJwks(this.url.protocol === 'file:' ? await this.readFile() : await this.fetch());
  }

  private async readFile(): Promise<string> {
    const path = fileURLToPath(this.url);
    const st = await stat(path);
    if (!st.isFile()) throw new Error(`${path} is not a file`);
    if (st.size > MAX_JWKS_BYTES) throw new Error(`${path} is larger than ${MAX_JWKS_BYTES} bytes`);
    const buf = await readFile(path);
    if (buf.length > MAX_JWKS_BYTES) throw new Error(`${path} is larger than ${MAX_JWKS_BYTES} bytes`);
    return buf.toString('utf8');
  }

  private async fetch(): Promise<string> {
    const res = await fetch(this.url, {
      signal: AbortSignal.timeout(this.opts.fetchTimeoutMs ?? FETCH_TIMEOUT_MS),
      headers: { accept: 'application/json' },
      redirect: 'follow',
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP status ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > MAX_JWKS_BYTES) {
      await res.body?.cancel();
      throw new Error(`the response is larger than ${MAX_JWKS_BYTES} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.length;
        if (size > MAX_JWKS_BYTES) {
          await reader.cancel();
          throw new Error(`the response is larger than ${MAX_JWKS_BYTES} bytes`);
        }
        chunks.push(value);
      }
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function parseJwks(text: string): JSONWebKeySet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the key set is not JSON');
  }
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (typeof json !== 'object' || json === null || !Array.isArray(keys))
    throw new Error('the key set is not a JWKS (an object with a "keys" array)');
  if (keys.length === 0) throw new Error('the key set has no keys');
  return json as JSONWebKeySet;
}

function readFileCheckedSync(path: string): string {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path} is not a file`);
  if (st.size > MAX_JWKS_BYTES) throw new Error(`${path} is larger than ${MAX_JWKS_BYTES} bytes`);
  const buf = readFileSync(path);
  if (buf.length > MAX_JWKS_BYTES) throw new Error(`${path} is larger than ${MAX_JWKS_BYTES} bytes`);
  return buf.toString('utf8');
}
