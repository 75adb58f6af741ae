/**
 * The SASL settings of a broker, resolved per listener and mechanism from
 * the broker properties as Kafka resolves them:
 *
 * - `listener.name.<listener>.<mechanism>.<property>` (sasl.jaas.config and
 *   connections.max.reauth.ms), then `<mechanism>.<property>`,
 *   then `listener.name.<listener>.<property>`, then `<property>`;
 *   listener and mechanism names in lower case, as Kafka writes them.
 * - `sasl.enabled.mechanisms` per listener. Its default is Kafka's (GSSAPI),
 *   which Samsa does not support: a SASL listener must name its mechanisms.
 *
 * Building it checks what a start needs (every enabled mechanism known and
 * configured), so a bad configuration stops the broker with one clear line.
 */
import pino, { type Logger } from 'pino';
import { type BrokerConfig, ConfigError } from '../../config/broker-config.ts';
import { BROKER_PROPERTY_BY_NAME } from '../../config/broker-defs.ts';
import { type JaasEntry, JaasError, parseJaasConfig } from './jaas.ts';
import type { SaslServerMechanism } from './mechanism.ts';
import { checkPlainJaas, PLAIN } from './plain.ts';
import type { ClientSecurity } from '../../client/connection.ts';
import { interBrokerSecurity as interBrokerTls } from '../tls.ts';
import type { ScramCredentialStore } from './scram.ts';
import { registeredSaslMechanisms, type SaslMechanismContext, saslMechanismFactory } from './registry.ts';

export interface SaslListener {
  name: string;
  /** sasl.enabled.mechanisms of the listener, in order. */
  mechanisms: string[];
}

export interface SaslServerConfig {
  /** The SASL_PLAINTEXT / SASL_SSL listeners of this node, by name. */
  listeners: Map<string, SaslListener>;
  /** The enabled mechanisms, built once. */
  mechanisms: Map<string, SaslServerMechanism>;
  /** connection.failed.authentication.delay.ms */
  failedAuthenticationDelayMs: number;
  /** sasl.server.max.receive.size: the largest frame before authentication. */
  maxReceiveSize: number;
  /** connections.max.reauth.ms for a listener and mechanism (0: sessions do not expire). */
  reauthMs(listenerName: string, mechanism: string): number;
  ctx: SaslMechanismContext;
}

export const SASL_PROTOCOLS = new Set(['SASL_PLAINTEXT', 'SASL_SSL']);

/** The raw text of property `name` for a listener and mechanism, by Kafka's order of prefixes. */
export function listenerProperty(
  raw: ReadonlyMap<string, string>,
  listenerName: string,
  mechanism: string | null,
  name: string,
): string | undefined {
  const l = `listener.name.${listenerName.toLowerCase()}.`;
  const m = mechanism ? `${mechanism.toLowerCase()}.` : null;
  const keys = m ? [`${l}${m}${name}`, `${m}${name}`, `${l}${name}`, name] : [`${l}${name}`, name];
  for (const k of keys) {
    // keys as written: the listener part in any case
    for (const [rk, v] of raw) if (rk === k || rk.toLowerCase() === k) return v;
  }
  return undefined;
}

function defaultOf(name: string): string {
  return BROKER_PROPERTY_BY_NAME.get(name)?.default ?? '';
}

const list = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

export function saslServerConfig(
  config: BrokerConfig,
  logger: Logger,
  scramCredentials: ScramCredentialStore = { credential: () => undefined },
): SaslServerConfig {
  const raw = config.raw;
  const jaasCache = new Map<string, JaasEntry | null>();
  const ctx: SaslMechanismContext = {
    property: (l, m, name) => listenerProperty(raw, l, m, name),
    jaas(listenerName, mechanism) {
      const key = `${listenerName}|${mechanism}`;
      if (jaasCache.has(key)) return jaasCache.get(key)!;
      const text = listenerProperty(raw, listenerName, mechanism, 'sasl.jaas.config');
      let entry: JaasEntry | null = null;
      if (text !== undefined && text.trim() !== '') {
        try {
          entry = parseJaasConfig(text);
        } catch (err) {
          if (err instanceof JaasError)
            throw new ConfigError(
              `the sasl.jaas.config of ${mechanism} on listener ${listenerName} is not valid: ${err.message}`,
            );
          throw err;
        }
      }
      jaasCache.set(key, entry);
      return entry;
    },
    scramCredentials,
    logger,
  };
  if (config.controllerListener && SASL_PROTOCOLS.has(config.controllerListener.securityProtocol))
    throw new ConfigError(
      `the controller listener ${config.controllerListener.name} is ${config.controllerListener.securityProtocol}, but Samsa serves SASL on client listeners only; map it to PLAINTEXT`,
    );
  const all = config.listeners;
  const listeners = new Map<string, SaslListener>();
  const mechanisms = new Map<string, SaslServerMechanism>();
  for (const l of all) {
    if (!SASL_PROTOCOLS.has(l.securityProtocol) || listeners.has(l.name)) continue;
    const text = listenerProperty(raw, l.name, null, 'sasl.enabled.mechanisms') ?? defaultOf('sasl.enabled.mechanisms');
    const names = list(text);
    if (names.length === 0)
      throw new ConfigError(`listener ${l.name} is ${l.securityProtocol}, but its sasl.enabled.mechanisms is empty`);
    for (const name of names) {
      if (name === 'GSSAPI')
        throw new ConfigError(
          `listener ${l.name} is ${l.securityProtocol} with mechanism GSSAPI${text === defaultOf('sasl.enabled.mechanisms') ? " (Kafka's default of sasl.enabled.mechanisms)" : ''}, but Samsa does not support GSSAPI (Kerberos); ` +
            `set sasl.enabled.mechanisms (or listener.name.${l.name.toLowerCase()}.sasl.enabled.mechanisms) to some of ${registeredSaslMechanisms().join(', ')}`,
        );
      const factory = saslMechanismFactory(name);
      if (!factory)
        throw new ConfigError(
          `listener ${l.name} enables SASL mechanism ${name}, which Samsa does not support; supported: ${registeredSaslMechanisms().join(', ')}`,
        );
      if (name === PLAIN) {
        const why = checkPlainJaas(ctx, l.name);
        if (why) throw new ConfigError(why);
      }
      if (!mechanisms.has(name)) mechanisms.set(name, factory(ctx));
      mechanisms.get(name)!.prepare?.(l.name);
    }
    listeners.set(l.name, { name: l.name, mechanisms: names });
  }
  // as Kafka: the inter-broker login must be possible (a single node too: its transaction markers go to itself)
  const problem = interBrokerProblem(config);
  if (problem) throw new ConfigError(problem);
  const num = (name: string, text: string | undefined): number => {
    const v = Number(text ?? defaultOf(name));
    if (!Number.isInteger(v) || v < 0) throw new ConfigError(`invalid value '${text}' for property '${name}'`);
    return v;
  };
  return {
    listeners,
    mechanisms,
    failedAuthenticationDelayMs: num(
      'connection.failed.authentication.delay.ms',
      raw.get('connection.failed.authentication.delay.ms'),
    ),
    maxReceiveSize: num('sasl.server.max.receive.size', raw.get('sasl.server.max.receive.size')),
    reauthMs: (l, m) => num('connections.max.reauth.ms', listenerProperty(raw, l, m, 'connections.max.reauth.ms')),
    ctx,
  };
}

/** Throws the ConfigError saslServerConfig would, before anything starts (samsa start). */
export function checkSaslConfig(config: BrokerConfig): void {
  for (const m of saslServerConfig(config, pino({ level: 'silent' })).mechanisms.values()) m.close?.();
}

/**
 * How this broker connects to the other brokers (replication, the
 * transaction coordinator's markers and verification): TLS when the
 * inter-broker listener is SSL / SASL_SSL (security/tls.ts), and when it is a
 * SASL one, sasl.mechanism.inter.broker.protocol with the username and
 * password of the listener's JAAS entry for that mechanism, as Kafka takes
 * them. Undefined on a PLAINTEXT inter-broker listener. Read again for each
 * connection.
 */
export function interBrokerSecurity(config: BrokerConfig): ClientSecurity | undefined {
  const tlsPart = interBrokerTls(config);
  const r = interBroker(config);
  const sasl = 'security' in r ? r.security?.sasl : undefined;
  if (!tlsPart && !sasl) return undefined;
  return { ...(tlsPart ?? {}), ...(sasl ? { sasl } : {}) };
}

/** Why the brokers of this node's cluster could not authenticate to each other, or null. */
export function interBrokerProblem(config: BrokerConfig): string | null {
  const r = interBroker(config);
  return 'problem' in r ? r.problem : null;
}

function interBroker(config: BrokerConfig): { security?: ClientSecurity } | { problem: string } {
  const l = config.listeners.find((x) => x.name === config.interBrokerListenerName) ?? config.listeners[0];
  if (!l || !SASL_PROTOCOLS.has(l.securityProtocol)) return {};
  const raw = config.raw;
  const mechanism =
    raw.get('sasl.mechanism.inter.broker.protocol') ?? defaultOf('sasl.mechanism.inter.broker.protocol');
  const enabled = list(listenerProperty(raw, l.name, null, 'sasl.enabled.mechanisms') ?? '');
  if (!['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].includes(mechanism) || !enabled.includes(mechanism))
    return {
      problem: `the brokers reach each other on listener ${l.name} (${l.securityProtocol}), so sasl.mechanism.inter.broker.protocol must be one of its sasl.enabled.mechanisms that Samsa's client speaks (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), not ${mechanism}`,
    };
  const text = listenerProperty(raw, l.name, mechanism, 'sasl.jaas.config');
  let options: Map<string, string> | undefined;
  try {
    options = text ? parseJaasConfig(text).options : undefined;
  } catch {
    options = undefined;
  }
  const username = options?.get('username');
  const password = options?.get('password');
  if (username === undefined || password === undefined)
    return {
      problem: `the brokers reach each other on listener ${l.name} with ${mechanism}: its JAAS entry (listener.name.${l.name.toLowerCase()}.${mechanism.toLowerCase()}.sasl.jaas.config) needs username="..." password="..." for that`,
    };
  return { security: { sasl: { mechanism, username, password } } };
}
