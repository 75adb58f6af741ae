/**
 * Kafka's ACL model as data: the wire codes of resource types, pattern
 * types, operations and permissions (org.apache.kafka.common.acl /
 * resource), an ACL binding, a binding filter (CreateAcls, DescribeAcls,
 * DeleteAcls) and the rules that check them.
 */
import { parsePrincipal } from './principal.ts';

export const ResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;
export type ResourceType = (typeof ResourceType)[keyof typeof ResourceType];

export const PatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;
export type PatternType = (typeof PatternType)[keyof typeof PatternType];

export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;
export type AclOperation = (typeof AclOperation)[keyof typeof AclOperation];

export const AclPermission = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;
export type AclPermission = (typeof AclPermission)[keyof typeof AclPermission];

/** The one name of the Cluster resource. */
export const CLUSTER_NAME = 'kafka-cluster';
/** The resource name, principal and host that match any. */
export const WILDCARD = '*';
export const WILDCARD_PRINCIPAL = 'User:*';

/** Names as Kafka writes them (kafka-acls.sh output, docs): `Topic`, `IdempotentWrite`, `Prefixed`... */
export const RESOURCE_TYPE_NAMES: Record<number, string> = {
  0: 'Unknown',
  1: 'Any',
  2: 'Topic',
  3: 'Group',
  4: 'Cluster',
  5: 'TransactionalId',
  6: 'DelegationToken',
  7: 'User',
};
export const PATTERN_TYPE_NAMES: Record<number, string> = {
  0: 'Unknown',
  1: 'Any',
  2: 'Match',
  3: 'Literal',
  4: 'Prefixed',
};
export const OPERATION_NAMES: Record<number, string> = {
  0: 'Unknown',
  1: 'Any',
  2: 'All',
  3: 'Read',
  4: 'Write',
  5: 'Create',
  6: 'Delete',
  7: 'Alter',
  8: 'Describe',
  9: 'ClusterAction',
  10: 'DescribeConfigs',
  11: 'AlterConfigs',
  12: 'IdempotentWrite',
  13: 'CreateTokens',
  14: 'DescribeTokens',
};
export const PERMISSION_NAMES: Record<number, string> = { 0: 'Unknown', 1: 'Any', 2: 'Deny', 3: 'Allow' };

/** A code from its name, case- and underscore-insensitive (`idempotent-write`, `IDEMPOTENT_WRITE`, `IdempotentWrite`). */
export function codeByName(names: Record<number, string>, text: string): number | null {
  const key = text.replace(/[-_\s]/g, '').toLowerCase();
  for (const [code, name] of Object.entries(names)) if (name.toLowerCase() === key) return Number(code);
  return null;
}

/** One ACL: who (principal, host) may or may not (permission) do what (operation) on which resources. */
export interface AclBinding {
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

/** A binding as stored in the metadata log: with the id its AccessControlEntryRecord gave it. */
export interface StoredAcl extends AclBinding {
  id: string;
}

/** A filter over bindings: null strings and the ANY codes match anything (DescribeAcls, DeleteAcls). */
export interface AclFilter {
  resourceType: number;
  resourceName: string | null;
  patternType: number;
  principal: string | null;
  host: string | null;
  operation: number;
  permission: number;
}

/** Why `b` cannot be stored (the message of the INVALID_REQUEST answer), or null. */
export function validateBinding(b: AclBinding): string | null {
  if (b.resourceType < ResourceType.TOPIC || b.resourceType > ResourceType.USER)
    return `Invalid resourceType ${b.resourceType}`;
  if (b.patternType !== PatternType.LITERAL && b.patternType !== PatternType.PREFIXED)
    return `Invalid patternType ${b.patternType}`;
  if (b.operation < AclOperation.ALL || b.operation > AclOperation.DESCRIBE_TOKENS)
    return `Invalid operation ${b.operation}`;
  if (b.permission !== AclPermission.ALLOW && b.permission !== AclPermission.DENY)
    return `Invalid permissionType ${b.permission}`;
  if (b.resourceName.length === 0) return 'Resource name should not be empty';
  if (b.resourceType === ResourceType.CLUSTER && b.resourceName !== CLUSTER_NAME)
    return `The only valid name for the CLUSTER resource is ${CLUSTER_NAME}`;
  if (parsePrincipal(b.principal) === null) return `Could not parse principal from \`${b.principal}\``;
  if (b.host.length === 0) return 'Invalid host: it should not be empty (use * for any host)';
  return null;
}

/** Why `f` is not a valid filter (INVALID_REQUEST), or null. */
export function validateFilter(f: AclFilter): string | null {
  if (f.resourceType === ResourceType.UNKNOWN) return 'Invalid resourceTypeFilter UNKNOWN';
  if (f.patternType === PatternType.UNKNOWN) return 'Invalid patternTypeFilter UNKNOWN';
  if (f.operation === AclOperation.UNKNOWN) return 'Invalid operation filter UNKNOWN';
  if (f.permission === AclPermission.UNKNOWN) return 'Invalid permissionType filter UNKNOWN';
  if (!(f.resourceType in RESOURCE_TYPE_NAMES)) return `Invalid resourceTypeFilter ${f.resourceType}`;
  if (!(f.patternType in PATTERN_TYPE_NAMES)) return `Invalid patternTypeFilter ${f.patternType}`;
  if (!(f.operation in OPERATION_NAMES)) return `Invalid operation filter ${f.operation}`;
  if (!(f.permission in PERMISSION_NAMES)) return `Invalid permissionType filter ${f.permission}`;
  return null;
}

/**
 * Whether filter `f` matches binding `b`, as Kafka's AclBindingFilter: a
 * pattern type ANY matches any pattern with that name; MATCH matches every
 * pattern that applies to the named resource (the literal name, the literal
 * wildcard, prefixes of it).
 */
export function filterMatches(f: AclFilter, b: AclBinding): boolean {
  if (f.resourceType !== ResourceType.ANY && f.resourceType !== b.resourceType) return false;
  if (f.principal !== null && f.principal !== b.principal) return false;
  if (f.host !== null && f.host !== b.host) return false;
  if (f.operation !== AclOperation.ANY && f.operation !== b.operation) return false;
  if (f.permission !== AclPermission.ANY && f.permission !== b.permission) return false;
  switch (f.patternType) {
    case PatternType.ANY:
      return f.resourceName === null || f.resourceName === b.resourceName;
    case PatternType.MATCH:
      if (f.resourceName === null) return true;
      if (b.patternType === PatternType.LITERAL)
        return b.resourceName === f.resourceName || b.resourceName === WILDCARD;
      return b.patternType === PatternType.PREFIXED && f.resourceName.startsWith(b.resourceName);
    default:
      return f.patternType === b.patternType && (f.resourceName === null || f.resourceName === b.resourceName);
  }
}

/** The binding as kafka-acls.sh prints it. */
export function describeBinding(b: AclBinding): string {
  return `(principal=${b.principal}, host=${b.host}, operation=${OPERATION_NAMES[b.operation]}, permissionType=${PERMISSION_NAMES[b.permission]}) on ${RESOURCE_TYPE_NAMES[b.resourceType]}:${PATTERN_TYPE_NAMES[b.patternType]}:${b.resourceName}`;
}
