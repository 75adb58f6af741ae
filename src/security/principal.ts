/**
 * src/security: who a connection is and what it may do — the principal a
 * listener's TLS or SASL exchange establishes, the SASL mechanisms, the
 * authorizer (ACLs), client quotas. Depends on protocol, config and metadata;
 * the server calls into it.
 *
 * This file: Kafka's principal (KafkaPrincipal): a type and a name, written
 * `User:alice`. A connection that has not authenticated (PLAINTEXT, or SSL
 * without a client certificate) is `User:ANONYMOUS`, as in Kafka.
 */

export interface KafkaPrincipal {
  readonly type: string;
  readonly name: string;
}

export const ANONYMOUS: KafkaPrincipal = Object.freeze({ type: 'User', name: 'ANONYMOUS' });

export function userPrincipal(name: string): KafkaPrincipal {
  return { type: 'User', name };
}

/** `User:alice`, the form ACLs and super.users use. */
export function principalString(p: KafkaPrincipal): string {
  return `${p.type}:${p.name}`;
}

/** Parses `Type:name` (the name may contain ':'); null when there is no ':' or either side is empty. */
export function parsePrincipal(text: string): KafkaPrincipal | null {
  const i = text.indexOf(':');
  if (i <= 0 || i === text.length - 1) return null;
  return { type: text.slice(0, i), name: text.slice(i + 1) };
}
