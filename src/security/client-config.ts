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
 * Problems are thrown as errors naming the property.
 */
import fs from 'node:fs';
import type tls from 'node:tls';
import type { ClientSecurity } from '../client/connection.ts';
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

/** The TLS half of ClientSecurity from client properties (the SASL half is added by the SASL settings). */
export function clientSecurityFromProperties(props: ClientProperties): ClientSecurity {
  const tlsOptions = clientTlsFromProperties(props);
  return tlsOptions ? { tls: tlsOptions } : {};
}
