/**
 * TLS for SSL and SASL_SSL listeners (and for a broker's own connections to
 * another broker's TLS listener), configured with Kafka's `ssl.*` properties,
 * each of which a listener may override as `listener.name.<name>.ssl.*`.
 *
 * - Keystore: `ssl.keystore.type` PEM (`ssl.keystore.location`, a file with
 *   the certificate chain and the key, or KIP-651's inline
 *   `ssl.keystore.certificate.chain` + `ssl.keystore.key`) or PKCS12
 *   (`ssl.keystore.location` + `ssl.keystore.password`). JKS cannot be read.
 * - Truststore: PEM (`ssl.truststore.location` or inline
 *   `ssl.truststore.certificates`); unset: Node's bundled CAs.
 * - `ssl.client.auth` none / requested / required; `ssl.enabled.protocols`
 *   (TLSv1.2, TLSv1.3), `ssl.cipher.suites` (IANA or OpenSSL names).
 * - Problems (unreadable file, wrong password, key not matching the
 *   certificate) are one ConfigError naming the listener and property.
 * - Reload: the keystore and truststore files are watched; when one changes
 *   the context is rebuilt and used for new handshakes (a broken file is
 *   logged and the previous context kept).
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { BROKER_PROPERTY_BY_NAME } from '../config/broker-defs.ts';
import { PrincipalMapper } from './principal-mapping.ts';

export type ClientAuth = 'none' | 'requested' | 'required';

/** The ssl.* settings that apply to one listener (or to the broker's client side). */
export interface TlsSettings {
  /** Which listener they are for ('' for the plain ssl.* values), for messages. */
  listener: string;
  keystoreType: string;
  keystoreLocation: string | null;
  keystorePassword: string | null;
  keyPassword: string | null;
  keystoreCertificateChain: string | null;
  keystoreKey: string | null;
  truststoreType: string;
  truststoreLocation: string | null;
  truststorePassword: string | null;
  truststoreCertificates: string | null;
  clientAuth: ClientAuth;
  enabledProtocols: string[];
  cipherSuites: string[];
  endpointIdentificationAlgorithm: string;
  principalMappingRules: string;
  handshakeTimeoutMs: number;
}

/** Thrown for a TLS configuration that cannot be used; the config loader turns it into a ConfigError. */
export class TlsConfigError extends Error {
  override name = 'TlsConfigError';
}

/**
 * The value of `name` (an ssl.* property) for `listener`: its
 * listener.name.<listener>.ssl.* override (listener name in any case), else
 * the plain property, else Kafka's default.
 */
function lookup(raw: ReadonlyMap<string, string>, listener: string | null, name: string): string | null {
  if (listener) {
    const prefixed = `listener.name.${listener.toLowerCase()}.${name}`;
    for (const [k, v] of raw) if (k.toLowerCase() === prefixed) return v;
  }
  const v = raw.get(name);
  if (v !== undefined) return v;
  return BROKER_PROPERTY_BY_NAME.get(name)?.default ?? null;
}

const list = (v: string | null): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** The ssl.* settings of `listener` (null: the plain ssl.* properties) from the raw properties. */
export function tlsSettings(raw: ReadonlyMap<string, string>, listener: string | null): TlsSettings {
  const get = (n: string) => lookup(raw, listener, n);
  const nonEmpty = (n: string) => {
    const v = get(n);
    return v === null || v.trim() === '' ? null : v;
  };
  return {
    listener: listener ?? '',
    keystoreType: (get('ssl.keystore.type') ?? 'JKS').toUpperCase(),
    keystoreLocation: nonEmpty('ssl.keystore.location'),
    keystorePassword: nonEmpty('ssl.keystore.password'),
    keyPassword: nonEmpty('ssl.key.password'),
    keystoreCertificateChain: nonEmpty('ssl.keystore.certificate.chain'),
    keystoreKey: nonEmpty('ssl.keystore.key'),
    truststoreType: (get('ssl.truststore.type') ?? 'JKS').toUpperCase(),
    truststoreLocation: nonEmpty('ssl.truststore.location'),
    truststorePassword: nonEmpty('ssl.truststore.password'),
    truststoreCertificates: nonEmpty('ssl.truststore.certificates'),
    clientAuth: (get('ssl.client.auth') ?? 'none') as ClientAuth,
    enabledProtocols: list(get('ssl.enabled.protocols')),
    cipherSuites: list(get('ssl.cipher.suites')),
    endpointIdentificationAlgorithm: (get('ssl.endpoint.identification.algorithm') ?? '').trim(),
    principalMappingRules: get('ssl.principal.mapping.rules') ?? 'DEFAULT',
    handshakeTimeoutMs: Number(get('samsa.ssl.handshake.timeout.ms') ?? 10000),
  };
}

/** IANA names of common cipher suites -> OpenSSL's (TLS 1.3 suites have the same name in both). */
const IANA_TO_OPENSSL: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
};

const TLS13_SUITES = new Set(['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']);

/** What the context is built from, and the files it was read from (watched for reload). */
export interface BuiltContext {
  options: tls.SecureContextOptions;
  context: tls.SecureContext;
  files: string[];
}

function where(s: TlsSettings, prop: string): string {
  return s.listener ? `listener ${s.listener} (${prop} or listener.name.${s.listener.toLowerCase()}.${prop})` : prop;
}

function readFile(s: TlsSettings, prop: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new TlsConfigError(
      `${where(s, prop)}: cannot read '${file}': ${e.code === 'ENOENT' ? 'no such file' : e.message}`,
    );
  }
}

/** PEM blocks of the given kinds in `text`, joined. */
function pemBlocks(text: string, kinds: RegExp): string {
  const out: string[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g))
    if (kinds.test(m[1])) out.push(m[0]);
  return out.join('\n');
}

/**
 * The secure-context options of these settings: `needKeystore` for a server
 * (a TLS listener must have a certificate); a client side (a broker
 * connecting to another) uses the keystore only when one is set.
 */
export function buildContext(s: TlsSettings, needKeystore: boolean): BuiltContext {
  const options: tls.SecureContextOptions = {};
  const files: string[] = [];
  const hasKeystore = s.keystoreLocation !== null || s.keystoreCertificateChain !== null;
  if (needKeystore && !hasKeystore)
    throw new TlsConfigError(
      `${where(s, 'ssl.keystore.location')}: a TLS listener needs a certificate and key (ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)`,
    );
  if (hasKeystore) {
    if (s.keystoreCertificateChain !== null) {
      if (s.keystoreType !== 'PEM')
        throw new TlsConfigError(`${where(s, 'ssl.keystore.type')}: inline certificates need ssl.keystore.type=PEM`);
      if (s.keystoreKey === null)
        throw new TlsConfigError(
          `${where(s, 'ssl.keystore.key')}: ssl.keystore.certificate.chain is set, the private key is missing`,
        );
      options.cert = s.keystoreCertificateChain;
      options.key = s.keystoreKey;
      if (s.keyPassword !== null) options.passphrase = s.keyPassword;
    } else if (s.keystoreType === 'PEM') {
      const file = s.keystoreLocation!;
      const text = readFile(s, 'ssl.keystore.location', file).toString('utf8');
      const cert = pemBlocks(text, /CERTIFICATE$/);
      const key = pemBlocks(text, /PRIVATE KEY$/);
      if (cert === '' || key === '')
        throw new TlsConfigError(
          `${where(s, 'ssl.keystore.location')}: '${file}' must hold the certificate chain and the private key in PEM (found ${cert === '' ? 'no certificate' : 'no private key'})`,
        );
      options.cert = cert;
      options.key = key;
      const pass = s.keyPassword ?? s.keystorePassword;
      if (pass !== null) options.passphrase = pass;
      files.push(file);
    } else if (s.keystoreType === 'PKCS12') {
      const file = s.keystoreLocation!;
      options.pfx = readFile(s, 'ssl.keystore.location', file);
      if (s.keystorePassword !== null) options.passphrase = s.keystorePassword;
      files.push(file);
    } else {
      throw new TlsConfigError(
        `${where(s, 'ssl.keystore.type')}: keystore type ${s.keystoreType} cannot be read; use PEM or PKCS12 (e.g. keytool -importkeystore -deststoretype PKCS12)`,
      );
    }
  }
  if (s.truststoreCertificates !== null) {
    options.ca = s.truststoreCertificates;
  } else if (s.truststoreLocation !== null) {
    if (s.truststoreType !== 'PEM')
      throw new TlsConfigError(
        `${where(s, 'ssl.truststore.type')}: truststore type ${s.truststoreType} cannot be read; use PEM (the CA certificates, e.g. openssl pkcs12 -in trust.p12 -nokeys)`,
      );
    const text = readFile(s, 'ssl.truststore.location', s.truststoreLocation).toString('utf8');
    const ca = pemBlocks(text, /CERTIFICATE$/);
    if (ca === '')
      throw new TlsConfigError(
        `${where(s, 'ssl.truststore.location')}: '${s.truststoreLocation}' holds no PEM certificate`,
      );
    options.ca = ca;
    files.push(s.truststoreLocation);
  }
  const versions = s.enabledProtocols.filter((p) => p === 'TLSv1.2' || p === 'TLSv1.3');
  if (versions.length === 0)
    throw new TlsConfigError(`${where(s, 'ssl.enabled.protocols')}: none of TLSv1.2, TLSv1.3 is enabled`);
  options.minVersion = versions.includes('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3';
  options.maxVersion = versions.includes('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2';
  if (s.cipherSuites.length > 0) {
    const v13 = s.cipherSuites.filter((c) => TLS13_SUITES.has(c));
    const v12 = s.cipherSuites.filter((c) => !TLS13_SUITES.has(c)).map((c) => IANA_TO_OPENSSL[c] ?? c);
    // Node's `ciphers` takes both: TLS 1.3 suite names and OpenSSL cipher-list names
    options.ciphers = [...v13, ...v12].join(':');
    if (v12.length === 0 && options.minVersion === 'TLSv1.2') options.minVersion = 'TLSv1.3';
    if (v13.length === 0 && options.maxVersion === 'TLSv1.3') options.maxVersion = 'TLSv1.2';
  }
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(options);
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    const hint = /mismatch/i.test(msg)
      ? 'the private key does not belong to the certificate'
      : /bad decrypt|mac verify|password|decrypt/i.test(msg)
        ? 'wrong password (ssl.keystore.password / ssl.key.password), or the file is damaged'
        : /cipher/i.test(msg)
          ? 'ssl.cipher.suites names no cipher suite the TLS library knows'
          : msg;
    throw new TlsConfigError(`${where(s, 'ssl.keystore.location')}: the TLS configuration cannot be used: ${hint}`);
  }
  return { options, context, files };
}

/** The server side of one TLS listener: its current context, client-auth mode and principal mapping; reloads on file change. */
export class ListenerTls {
  private built: BuiltContext;
  private current: TlsSettings;
  private principalMapper: PrincipalMapper;
  private watchers: fs.FSWatcher[] = [];
  private watching = false;
  private reloadTimer: NodeJS.Timeout | undefined;
  /** Times the context was rebuilt after a file or a setting changed. */
  reloads = 0;

  constructor(
    settings: TlsSettings,
    private readonly logger?: Logger,
  ) {
    this.built = buildContext(settings, true);
    this.current = settings;
    this.principalMapper = PrincipalMapper.fromRules(settings.principalMappingRules);
  }

  get settings(): TlsSettings {
    return this.current;
  }

  get clientAuth(): ClientAuth {
    return this.current.clientAuth;
  }

  get mapper(): PrincipalMapper {
    return this.principalMapper;
  }

  get handshakeTimeoutMs(): number {
    return this.current.handshakeTimeoutMs;
  }

  /**
   * New settings (a dynamic config change): used for new handshakes once
   * they make a working context; otherwise the current ones stay and the
   * reason is logged. False when nothing changed or they cannot be used.
   */
  update(settings: TlsSettings): boolean {
    if (JSON.stringify(settings) === JSON.stringify(this.current)) return false;
    let built: BuiltContext;
    let mapper: PrincipalMapper;
    try {
      built = buildContext(settings, true);
      mapper = PrincipalMapper.fromRules(settings.principalMappingRules);
    } catch (err) {
      this.logger?.warn(
        { listener: settings.listener, err: (err as Error).message },
        'new TLS settings cannot be used; keeping the previous ones',
      );
      return false;
    }
    this.current = settings;
    this.built = built;
    this.principalMapper = mapper;
    this.reloads++;
    if (this.watching) {
      this.closeWatchers();
      this.watch();
    }
    for (const fn of this.reloadListeners) fn(this.built.options);
    this.logger?.info({ listener: settings.listener }, 'TLS settings changed');
    return true;
  }

  get context(): tls.SecureContext {
    return this.built.context;
  }

  /** The options of the current context (tls.createServer / setSecureContext). */
  get options(): tls.SecureContextOptions {
    return this.built.options;
  }

  private readonly reloadListeners: ((options: tls.SecureContextOptions) => void)[] = [];

  /** Calls `fn` with the new options after each reload. */
  onReload(fn: (options: tls.SecureContextOptions) => void): void {
    this.reloadListeners.push(fn);
  }

  /** Rebuilds the context from the files; keeps the current one (and says why) when they cannot be used. */
  reload(): boolean {
    try {
      this.built = buildContext(this.current, true);
      this.reloads++;
      for (const fn of this.reloadListeners) fn(this.built.options);
      this.logger?.info({ listener: this.settings.listener }, 'TLS certificates reloaded');
      return true;
    } catch (err) {
      this.logger?.warn(
        { listener: this.settings.listener, err: (err as Error).message },
        'TLS certificates changed but cannot be used; keeping the previous ones',
      );
      return false;
    }
  }

  /** Watches the keystore and truststore files (their directories, so a file replaced by rename is seen too). */
  watch(): void {
    this.watching = true;
    const dirs = new Map<string, Set<string>>();
    for (const f of this.built.files) {
      const abs = path.resolve(f);
      const dir = path.dirname(abs);
      if (!dirs.has(dir)) dirs.set(dir, new Set());
      dirs.get(dir)!.add(path.basename(abs));
    }
    for (const [dir, names] of dirs) {
      try {
        const w = fs.watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(String(name))) return;
          // a writer may take several events to replace a file: rebuild once they stop
          clearTimeout(this.reloadTimer);
          this.reloadTimer = setTimeout(() => this.reload(), 200);
          this.reloadTimer.unref();
        });
        w.on('error', () => {});
        this.watchers.push(w);
      } catch (err) {
        this.logger?.warn(
          { dir, err: (err as Error).message },
          'cannot watch TLS files; certificates are not reloaded',
        );
      }
    }
  }

  private closeWatchers(): void {
    clearTimeout(this.reloadTimer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  close(): void {
    this.watching = false;
    this.closeWatchers();
  }
}

/**
 * Options for a broker's TLS connections to another broker's listener
 * (replication, transaction markers, forwarding), from the ssl.* settings of
 * that listener: its truststore checks the server, its keystore (if any) is
 * the client certificate, and ssl.endpoint.identification.algorithm=https
 * checks the host name.
 */
export function clientTlsOptions(s: TlsSettings): tls.ConnectionOptions {
  const { options } = buildContext(s, false);
  const out: tls.ConnectionOptions = { ...options };
  if (s.endpointIdentificationAlgorithm.toLowerCase() !== 'https') out.checkServerIdentity = () => undefined;
  return out;
}

/**
 * How this broker secures its connections to other brokers: TLS with the
 * ssl.* settings of the inter-broker listener when it is SSL or SASL_SSL,
 * else nothing (plaintext). Read again for each connection, so reloaded
 * certificates are used.
 */
export function interBrokerSecurity(config: {
  interBrokerListenerName?: string | null;
  listenerTls?: ReadonlyMap<string, TlsSettings>;
}): { tls?: tls.ConnectionOptions } | undefined {
  const name = config.interBrokerListenerName;
  const settings = name ? config.listenerTls?.get(name) : undefined;
  return settings ? { tls: clientTlsOptions(settings) } : undefined;
}

/** The listener brokers reach each other on (undefined: the first each registered). */
export function interBrokerListener(config: { interBrokerListenerName?: string | null }): string | undefined {
  return config.interBrokerListenerName ?? undefined;
}

/** How this node secures its connections to the controller quorum's voters: TLS when the controller listener is SSL. */
export function controllerSecurity(config: {
  controllerTls?: TlsSettings | null;
}): { tls?: tls.ConnectionOptions } | undefined {
  return config.controllerTls ? { tls: clientTlsOptions(config.controllerTls) } : undefined;
}
