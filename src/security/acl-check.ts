/**
 * The one-line checks the request handlers make: may the connection's
 * principal, from its address, do this operation on this resource? With no
 * authorizer (`authorizer.class.name` unset) everything is allowed.
 * Which API checks what is the table in acl-table.ts (and docs/security.md).
 */
import { AclOperation, CLUSTER_NAME, ResourceType } from './acl-types.ts';
import type { Authorizer } from './authorizer.ts';
import type { KafkaPrincipal } from './principal.ts';

/** What a check needs of a request's context (RequestContext has it). */
export interface AuthzContext {
  authorizer?: Authorizer | null;
  conn: { principal: KafkaPrincipal; ip: string };
}

export { AclOperation as Op, ResourceType as Res };

/** May the request's principal do `op` on resource (`type`, `name`)? */
export function allowed(ctx: AuthzContext, op: number, type: number, name: string): boolean {
  const a = ctx.authorizer;
  return !a || a.authorize(ctx.conn.principal, ctx.conn.ip, op, type, name);
}

/** May it do `op` on the cluster? */
export function clusterAllowed(ctx: AuthzContext, op: number): boolean {
  return allowed(ctx, op, ResourceType.CLUSTER, CLUSTER_NAME);
}

/** May it do `op` on some resource of `type` (Kafka's authorizeByResourceType)? */
export function allowedOnSomeOf(ctx: AuthzContext, op: number, type: number): boolean {
  const a = ctx.authorizer;
  return !a || a.authorizeByResourceType(ctx.conn.principal, ctx.conn.ip, op, type);
}

/** Whether ACLs are on for the request's listener. */
export function aclsEnabled(ctx: AuthzContext): boolean {
  return !!ctx.authorizer;
}

/** The operations Kafka reports as authorized (KIP-430) per resource type. */
const SUPPORTED_OPS: Record<number, number[]> = {
  [ResourceType.TOPIC]: [
    AclOperation.READ,
    AclOperation.WRITE,
    AclOperation.CREATE,
    AclOperation.DELETE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
  ],
  [ResourceType.GROUP]: [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE],
  [ResourceType.CLUSTER]: [
    AclOperation.CREATE,
    AclOperation.CLUSTER_ACTION,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE,
  ],
};

/** Kafka's "not requested" value of the authorized-operations fields. */
export const AUTHORIZED_OPS_OMITTED = -2147483648;

/**
 * KIP-430's bit field (bit `op` set when allowed) of what the principal may
 * do on the resource; every supported operation without an authorizer.
 */
export function authorizedOperations(ctx: AuthzContext, type: number, name: string): number {
  let bits = 0;
  for (const op of SUPPORTED_OPS[type] ?? []) if (allowed(ctx, op, type, name)) bits |= 1 << op;
  return bits;
}
