/**
 * Client security settings as Kafka's tools read them (`--command-config
 * FILE`: security.protocol, ssl.*, sasl.*) turned into the ClientSecurity a
 * client Connection takes.
 *
 * TLS (security.protocol SSL or SASL_SSL):
 * - the broker's certificate is checked against `ssl.truststore.location`
 *   (PEM) or `ssl.truststore.certificates` (inline PEM), or librdkafka's
 *   `ssl.ca.location`; none: Node's bundled CAs;
 * - a client certificate (mutual TLS) from `ssl.keystore.location` (PEM or
 *   PKCS12, `ssl.keystore.type`, `ssl.keystore.password`, `ssl.key.password`),
 *   inline `ssl.keystore.certificate.chain` + `ssl.keystore.key`, or
 *   librdkafka's `ssl.certificate.location` + `ssl.key.location`
 *   (+ `ssl.key.password`);
 * - `ssl.endpoint.identification.algorithm` https (default) checks the
 *   broker's host name against its certificate; empty does not.
 *
 * SASL (security.protocol SASL_PLAINTEXT or SASL_SSL): `sasl.mechanism`
 * (librdkafka: `sasl.mechanisms`) PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the
 * credentials from `sasl.jaas.config` (`... required username="..."
 * password="...";`) or librdkafka's `sasl.username` / `sasl.password`.
 *
 * Problems are thrown as errors naming the property, never its secret.
 */
import fs from 'node:fs';
import type tls from 'node:tls';
import type { ClientSecurity } from '../client/connection.ts';
import { ConfigError } from '../config/broker-config.ts';
import { parseProperties } from '../config/properties.ts';
import { JaasError, parseJaasConfig } from './sasl/jaas.ts';
import { type TlsSettings, TlsConfigError, clientTlsOptions } from './tls.ts';

export type ClientProperties = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

const PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];

function asMap(props: ClientProperties): ReadonlyMap<string, string> {
  return props instanceof Map ? props : new Map(Object.entries(props));
}

/** The TLS options of these client properties, or undefined when security.protocol does not use TLS. */
export function clientTlsFromProperties(props: ClientProperties): tls.ConnectionOptions | undefined {
  const p = asMap(props);
  const get = (k: string) => {
    const v = p.get(k)?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const protocol = (get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!PROTOCOLS.includes(protocol))
    throw new TlsConfigError(`security.protocol: '${protocol}' is not one of ${PROTOCOLS.join(', ')}`);
  if (protocol !== 'SSL' && protocol !== 'SASL_SSL') return undefined;

  const keystoreLocation = get('ssl.keystore.location');
  const certificateLocation = get('ssl.certificate.location');
  let keystoreType = (
    get('ssl.keystore.type') ?? (keystoreLocation?.match(/\.(p12|pfx)$/i) ? 'PKCS12' : 'PEM')
  ).toUpperCase();
  let chain = get('ssl.keystore.certificate.chain');
  let key = get('ssl.keystore.key');
  if (certificateLocation !== null) {
    // librdkafka's names: a certificate file and a key file
    const keyLocation = get('ssl.key.location');
    if (keyLocation === null) throw new TlsConfigError('ssl.certificate.location is set, ssl.key.location is missing');
    const read = (prop: string, file: string) => {
      try {
        return fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new TlsConfigError(`${prop}: cannot read '${file}': ${(err as Error).message}`);
      }
    };
    chain = read('ssl.certificate.location', certificateLocation);
    key = read('ssl.key.location', keyLocation);
    keystoreType = 'PEM';
  }
  const caLocation = get('ssl.truststore.location') ?? get('ssl.ca.location');
  const settings: TlsSettings = {
    listener: '',
    keystoreType,
    keystoreLocation: chain === null ? keystoreLocation : null,
    keystorePassword: get('ssl.keystore.password'),
    keyPassword: get('ssl.key.password'),
    keystoreCertificateChain: chain,
    keystoreKey: key,
    truststoreType: (get('ssl.truststore.type') ?? 'PEM').toUpperCase(),
    truststoreLocation: caLocation,
    truststorePassword: get('ssl.truststore.password'),
    truststoreCertificates: get('ssl.truststore.certificates'),
    clientAuth: 'none',
    enabledProtocols: (get('ssl.enabled.protocols') ?? 'TLSv1.2,TLSv1.3').split(',').map((s) => s.trim()),
    cipherSuites: (get('ssl.cipher.suites') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    endpointIdentificationAlgorithm: p.get('ssl.endpoint.identification.algorithm')?.trim() ?? 'https',
    principalMappingRules: 'DEFAULT',
    handshakeTimeoutMs: 0,
  };
  return clientTlsOptions(settings);
}

const CLIENT_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Reads a client properties file (--command-config) into a map. */
export function readClientProperties(file: string): Map<string, string> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read client config file '${file}': ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    return new Map(parseProperties(text).map((e) => [e.key, e.value]));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
}

/** The SASL half of the client's security, or undefined when security.protocol has no SASL. */
export function saslFromProperties(props: ClientProperties): ClientSecurity['sasl'] {
  const p = asMap(props);
  const protocol = (p.get('security.protocol')?.trim() || 'PLAINTEXT').toUpperCase();
  if (!protocol.startsWith('SASL_')) return undefined;
  const mechanism = p.get('sasl.mechanism') ?? p.get('sasl.mechanisms') ?? 'GSSAPI';
  if (!CLIENT_MECHANISMS.includes(mechanism))
    throw new ConfigError(
      `sasl.mechanism ${mechanism}${p.has('sasl.mechanism') || p.has('sasl.mechanisms') ? '' : " (Kafka's default)"} is not supported by Samsa's client; use one of ${CLIENT_MECHANISMS.join(', ')}`,
    );
  let username = p.get('sasl.username');
  let password = p.get('sasl.password');
  const jaas = p.get('sasl.jaas.config');
  if (jaas !== undefined) {
    try {
      const entry = parseJaasConfig(jaas);
      username = entry.options.get('username') ?? username;
      password = entry.options.get('password') ?? password;
    } catch (err) {
      if (err instanceof JaasError) throw new ConfigError(`'sasl.jaas.config' is not valid: ${err.message}`);
      throw err;
    }
  }
  if (username === undefined || password === undefined)
    throw new ConfigError(
      `security.protocol ${protocol} with ${mechanism} needs a username and password: sasl.jaas.config=... required username="..." password="..."; (or sasl.username / sasl.password)`,
    );
  return { mechanism, username, password };
}

/** ClientSecurity from client properties: TLS for SSL / SASL_SSL, SASL for SASL_PLAINTEXT / SASL_SSL. */
export function clientSecurityFromProperties(props: ClientProperties): ClientSecurity {
  const tlsOptions = clientTlsFromProperties(props);
  const sasl = saslFromProperties(props);
  return { ...(tlsOptions ? { tls: tlsOptions } : {}), ...(sasl ? { sasl } : {}) };
}
