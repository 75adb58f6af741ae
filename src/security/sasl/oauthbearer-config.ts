/**
 * OAUTHBEARER's broker configuration, as Kafka reads it (KIP-768), per
 * listener: `listener.name.<l>.oauthbearer.<name>`, then
 * `oauthbearer.<name>`, then `listener.name.<l>.<name>`, then `<name>`.
 *
 * - The listener's OAUTHBEARER JAAS entry is required, as in Kafka
 *   (`listener.name.<l>.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ;`).
 * - `listener.name.<l>.oauthbearer.sasl.server.callback.handler.class` set to
 *   Kafka's OAuthBearerValidatorCallbackHandler: signed JWTs verified against
 *   `sasl.oauthbearer.jwks.endpoint.url` (required then).
 * - not set: Kafka's default, the unsecured validator (unsigned JWTs, for
 *   testing only), with its options from that JAAS entry.
 */
import { type ConfigValue, checkValue, parseValue } from '../../config/config-def.ts';
import { BROKER_PROPERTY_BY_NAME, OAUTH_VALIDATOR_CLASSES } from '../../config/broker-defs.ts';
import { ConfigError } from '../../config/broker-config.ts';
import { JwksKeySet, jwksUrlProblem } from './jwks.ts';
import {
  JwtValidator,
  OAUTHBEARER,
  OAuthBearerMechanism,
  type TokenValidator,
  UnsecuredJwtValidator,
  unsecuredValidatorOptions,
} from './oauthbearer.ts';
import { registerSaslMechanism } from './registry.ts';
import { LogLimiter } from '../../util/log-limiter.ts';

const UNSECURED = OAUTH_VALIDATOR_CLASSES[2];
export const OAUTHBEARER_LOGIN_MODULE = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule';

/** What OAUTHBEARER reads of the broker's SASL settings (the SASL registry's mechanism context has this shape). */
export interface OAuthBearerContext {
  jaas(listenerName: string, mechanism: string): { loginModule: string; options: ReadonlyMap<string, string> } | null;
  /** A property as a listener and mechanism see it, by Kafka's order of prefixes; undefined when unset. */
  property(listenerName: string, mechanism: string, name: string): string | undefined;
  logger: { warn(obj: object, msg: string): void };
}

/** Kafka's order of prefixes over a map of set properties (for tools and tests). */
export function rawProperty(raw: ReadonlyMap<string, string>, listenerName: string, name: string): string | undefined {
  const l = `listener.name.${listenerName.toLowerCase()}.`;
  for (const k of [`${l}oauthbearer.${name}`, `oauthbearer.${name}`, `${l}${name}`, name])
    if (raw.has(k)) return raw.get(k);
  return undefined;
}

export type OAuthBearerSettings =
  | {
      kind: 'jwks';
      jwksUrl: string;
      refreshMs: number;
      retryBackoffMs: number;
      retryBackoffMaxMs: number;
      expectedAudience: string[] | null;
      expectedIssuer: string | null;
      clockSkewSeconds: number;
      subClaimName: string;
      scopeClaimName: string;
    }
  | { kind: 'unsecured'; jaasOptions: ReadonlyMap<string, string> };

/**
 * The OAUTHBEARER settings of listener `listenerName`: `property` gives a
 * property as the listener sees it, `jaas` is its OAUTHBEARER JAAS entry.
 * Throws ConfigError.
 */
export function oauthBearerSettings(
  property: (name: string) => string | undefined,
  listenerName: string,
  jaas: { loginModule: string; options: ReadonlyMap<string, string> } | null,
): OAuthBearerSettings {
  const l = listenerName.toLowerCase();
  const where = (name: string) => `${name} (listener ${listenerName})`;
  const value = (name: string): ConfigValue | null => {
    const def = BROKER_PROPERTY_BY_NAME.get(name);
    if (!def) throw new Error(`no property ${name}`);
    const text = property(name);
    if (text === undefined) return def.default === null ? null : parseValue(def.kind, def.default);
    const r = checkValue(def, text);
    if ('problem' in r) throw new ConfigError(`invalid value for property ${where(name)}: ${r.problem}`);
    return r.value;
  };

  if (jaas === null)
    throw new ConfigError(
      `OAUTHBEARER is enabled on listener ${listenerName}, but it has no JAAS configuration: set listener.name.${l}.oauthbearer.sasl.jaas.config=${OAUTHBEARER_LOGIN_MODULE} required ;`,
    );
  if (jaas.loginModule !== OAUTHBEARER_LOGIN_MODULE)
    throw new ConfigError(
      `the JAAS configuration of OAUTHBEARER on listener ${listenerName} names ${jaas.loginModule}, expected ${OAUTHBEARER_LOGIN_MODULE}`,
    );
  const jaasOptions = jaas.options;
  const handler = property('sasl.server.callback.handler.class')?.trim() ?? '';
  if (handler !== '' && !OAUTH_VALIDATOR_CLASSES.includes(handler))
    throw new ConfigError(
      `property ${where('sasl.server.callback.handler.class')} cannot be honoured: Samsa runs no Java classes; for OAUTHBEARER it knows ${OAUTH_VALIDATOR_CLASSES.join(', ')}`,
    );
  if (handler === '' || handler === UNSECURED) {
    try {
      unsecuredValidatorOptions(jaasOptions);
    } catch (err) {
      throw new ConfigError(
        `the OAUTHBEARER JAAS configuration of listener ${listenerName}: ${(err as Error).message}`,
      );
    }
    return { kind: 'unsecured', jaasOptions };
  }

  const url = value('sasl.oauthbearer.jwks.endpoint.url') as string | null;
  if (url === null || url.trim() === '')
    throw new ConfigError(
      `listener ${listenerName}: ${handler} needs sasl.oauthbearer.jwks.endpoint.url (or listener.name.${l}.oauthbearer.sasl.oauthbearer.jwks.endpoint.url)`,
    );
  const problem = jwksUrlProblem(url.trim());
  if (problem !== null)
    throw new ConfigError(`invalid value for property ${where('sasl.oauthbearer.jwks.endpoint.url')}: ${problem}`);
  const audience = value('sasl.oauthbearer.expected.audience') as string[] | null;
  const issuer = value('sasl.oauthbearer.expected.issuer') as string | null;
  return {
    kind: 'jwks',
    jwksUrl: url.trim(),
    refreshMs: value('sasl.oauthbearer.jwks.endpoint.refresh.ms') as number,
    retryBackoffMs: value('sasl.oauthbearer.jwks.endpoint.retry.backoff.ms') as number,
    retryBackoffMaxMs: value('sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms') as number,
    expectedAudience: audience === null || audience.length === 0 ? null : audience,
    expectedIssuer: issuer === null || issuer === '' ? null : issuer,
    clockSkewSeconds: value('sasl.oauthbearer.clock.skew.seconds') as number,
    subClaimName: (value('sasl.oauthbearer.sub.claim.name') as string).trim() || 'sub',
    scopeClaimName: (value('sasl.oauthbearer.scope.claim.name') as string).trim() || 'scope',
  };
}

/**
 * The validator for settings. A file:// key set is read now (a failure is a
 * ConfigError: Kafka does not start without its key set); an http(s):// one
 * in the background. `onRefreshError` hears of failed reads.
 */
export function createValidator(s: OAuthBearerSettings, onRefreshError?: (message: string) => void): TokenValidator {
  if (s.kind === 'unsecured') return new UnsecuredJwtValidator(unsecuredValidatorOptions(s.jaasOptions));
  let keys: JwksKeySet;
  try {
    keys = JwksKeySet.start({
      url: s.jwksUrl,
      refreshMs: s.refreshMs,
      retryBackoffMs: s.retryBackoffMs,
      retryBackoffMaxMs: s.retryBackoffMaxMs,
      onRefreshError,
    });
  } catch (err) {
    throw new ConfigError(`sasl.oauthbearer.jwks.endpoint.url: cannot read the JWKS: ${(err as Error).message}`);
  }
  const v = new JwtValidator({
    keys: keys.resolve,
    expectedAudience: s.expectedAudience,
    expectedIssuer: s.expectedIssuer,
    clockSkewSeconds: s.clockSkewSeconds,
    subClaimName: s.subClaimName,
    scopeClaimName: s.scopeClaimName,
  });
  return { validate: (t) => v.validate(t), close: () => keys.close() };
}

/**
 * The OAUTHBEARER mechanism of a broker: one validator per listener, made
 * when `prepare` is called for it (at startup, so that a bad configuration
 * stops the broker) or at its first authentication.
 */
export function oauthBearerMechanism(ctx: OAuthBearerContext): OAuthBearerMechanism & {
  prepare(listenerName: string): void;
} {
  const validators = new Map<string, TokenValidator>();
  const refreshLog = new LogLimiter(10_000);
  const prepare = (listenerName: string): TokenValidator => {
    let v = validators.get(listenerName);
    if (!v) {
      const settings = oauthBearerSettings(
        (name) => ctx.property(listenerName, OAUTHBEARER, name),
        listenerName,
        ctx.jaas(listenerName, OAUTHBEARER),
      );
      v = createValidator(settings, (message) => {
        // a retry backoff of 0 ms would otherwise log a line per attempt
        const suppressed = refreshLog.take(listenerName);
        if (suppressed !== null) ctx.logger.warn({ listener: listenerName, suppressed }, `OAUTHBEARER: ${message}`);
      });
      if (settings.kind === 'jwks' && settings.expectedAudience === null)
        ctx.logger.warn(
          { listener: listenerName },
          'OAUTHBEARER: sasl.oauthbearer.expected.audience is not set: tokens without an aud claim are accepted (and tokens with one refused); set it to the audience your identity provider puts in tokens for the brokers',
        );
      if (settings.kind === 'unsecured')
        ctx.logger.warn(
          { listener: listenerName },
          'OAUTHBEARER accepts unsecured (unsigned) JWTs on this listener, as Kafka does when no sasl.server.callback.handler.class is set: for testing only',
        );
      validators.set(listenerName, v);
    }
    return v;
  };
  const mech = new OAuthBearerMechanism(validators, null, prepare);
  return Object.assign(mech, { prepare: (l: string) => void prepare(l) });
}

registerSaslMechanism(OAUTHBEARER, oauthBearerMechanism);
