/**
 * OAUTHBEARER's broker configuration, as Kafka reads it (KIP-768): per
 * listener, `listener.name.<l>.oauthbearer.<name>` wins over
 * `listener.name.<l>.<name>`, which wins over `<name>`.
 *
 * - `listener.name.<l>.oauthbearer.sasl.server.callback.handler.class` set to
 *   Kafka's OAuthBearerValidatorCallbackHandler: signed JWTs verified against
 *   `sasl.oauthbearer.jwks.endpoint.url` (required then).
 * - not set: Kafka's default, the unsecured validator (unsigned JWTs, for
 *   testing only), with its options from the listener's OAUTHBEARER JAAS line.
 */
import { type ConfigValue, checkValue, parseValue } from '../../config/config-def.ts';
import { BROKER_PROPERTY_BY_NAME, OAUTH_VALIDATOR_CLASSES } from '../../config/broker-defs.ts';
import { ConfigError } from '../../config/broker-config.ts';
import { JwksKeySet, jwksUrlProblem } from './jwks.ts';
import { JwtValidator, type TokenValidator, UnsecuredJwtValidator, unsecuredValidatorOptions } from './oauthbearer.ts';

const UNSECURED = OAUTH_VALIDATOR_CLASSES[2];

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
 * The OAUTHBEARER settings of listener `listenerName` from the set properties
 * (`raw`) and the options of its OAUTHBEARER JAAS line. Throws ConfigError.
 */
export function oauthBearerSettings(
  raw: ReadonlyMap<string, string>,
  listenerName: string,
  jaasOptions: ReadonlyMap<string, string>,
): OAuthBearerSettings {
  const l = listenerName.toLowerCase();
  const keyOf = (name: string): string | null => {
    for (const k of [`listener.name.${l}.oauthbearer.${name}`, `listener.name.${l}.${name}`, name])
      if (raw.has(k)) return k;
    return null;
  };
  const value = (name: string): ConfigValue | null => {
    const def = BROKER_PROPERTY_BY_NAME.get(name);
    if (!def) throw new Error(`no property ${name}`);
    const k = keyOf(name);
    if (k === null) return def.default === null ? null : parseValue(def.kind, def.default);
    const r = checkValue(def, raw.get(k)!);
    if ('problem' in r) throw new ConfigError(`invalid value for property '${k}': ${r.problem}`);
    return r.value;
  };

  const handlerKey = `listener.name.${l}.oauthbearer.sasl.server.callback.handler.class`;
  const handler = raw.get(handlerKey)?.trim() ?? '';
  if (handler !== '' && !OAUTH_VALIDATOR_CLASSES.includes(handler))
    throw new ConfigError(
      `property '${handlerKey}' cannot be honoured: Samsa runs no Java classes; for OAUTHBEARER it knows ${OAUTH_VALIDATOR_CLASSES.join(', ')}`,
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
    throw new ConfigError(`property '${keyOf('sasl.oauthbearer.jwks.endpoint.url')}' is invalid: ${problem}`);
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
 * The validator for settings: reads the JWKS once (a failure is a ConfigError,
 * as Kafka does not start without its key set). `onRefreshError` hears of
 * later failed refreshes.
 */
export async function openValidator(
  s: OAuthBearerSettings,
  onRefreshError?: (message: string) => void,
): Promise<TokenValidator> {
  if (s.kind === 'unsecured') return new UnsecuredJwtValidator(unsecuredValidatorOptions(s.jaasOptions));
  let keys: JwksKeySet;
  try {
    keys = await JwksKeySet.open({
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
