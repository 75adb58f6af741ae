/**
 * Kafka client properties (a `--command-config` file, as Kafka's tools take
 * it) -> ClientSecurity for src/client:
 *
 * - `security.protocol`: PLAINTEXT (default), SASL_PLAINTEXT, SSL, SASL_SSL.
 * - SASL: `sasl.mechanism` (Java; librdkafka: `sasl.mechanisms`), PLAIN,
 *   SCRAM-SHA-256 or SCRAM-SHA-512; the credentials from `sasl.jaas.config`
 *   (`... required username="..." password="...";`) or `sasl.username` /
 *   `sasl.password` (librdkafka's names).
 *
 * Errors are ConfigErrors naming the property, never its secret.
 */
import fs from 'node:fs';
import type { ClientSecurity } from '../client/connection.ts';
import { ConfigError } from '../config/broker-config.ts';
import { parseProperties } from '../config/properties.ts';
import { JaasError, parseJaasConfig } from './sasl/jaas.ts';

const PROTOCOLS = ['PLAINTEXT', 'SASL_PLAINTEXT', 'SSL', 'SASL_SSL'];
const CLIENT_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** Reads a client properties file into a map. */
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

/** The SASL half of the client's security, or undefined when the protocol has no SASL. */
export function saslFromProperties(props: ReadonlyMap<string, string>): ClientSecurity['sasl'] {
  const protocol = (props.get('security.protocol') ?? 'PLAINTEXT').toUpperCase();
  if (!PROTOCOLS.includes(protocol))
    throw new ConfigError(
      `invalid value '${protocol}' for 'security.protocol': expected one of ${PROTOCOLS.join(', ')}`,
    );
  if (!protocol.startsWith('SASL_')) return undefined;
  const mechanism = props.get('sasl.mechanism') ?? props.get('sasl.mechanisms') ?? 'GSSAPI';
  if (!CLIENT_MECHANISMS.includes(mechanism))
    throw new ConfigError(
      `sasl.mechanism ${mechanism}${props.has('sasl.mechanism') || props.has('sasl.mechanisms') ? '' : " (Kafka's default)"} is not supported by Samsa's client; use one of ${CLIENT_MECHANISMS.join(', ')}`,
    );
  let username = props.get('sasl.username');
  let password = props.get('sasl.password');
  const jaas = props.get('sasl.jaas.config');
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

/** ClientSecurity from client properties (the SASL part; TLS options are the TLS layer's). */
export function clientSecurityFromProperties(props: ReadonlyMap<string, string>): ClientSecurity | undefined {
  const sasl = saslFromProperties(props);
  return sasl ? { sasl } : undefined;
}
