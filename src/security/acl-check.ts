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

/**
 * A connection's answers, by operation and resource type, then name: what a
 * Produce or Fetch asks again and again, looked up without building a key.
 * Dropped when the ACLs or the connection's principal (re-authentication) change.
 */
interface ConnAnswers {
  version: number;
  principal: KafkaPrincipal;
  byKind: Map<number, Map<string, boolean>>;
}
const answers = new WeakMap<object, ConnAnswers>();
/** Most names remembered per connection and kind; the map starts over when full. */
const MAX_PER_KIND = 1000;

/** May the request's principal do `op` on resource (`type`, `name`)? */
export function allowed(ctx: AuthzContext, op: number, type: number, name: string): boolean {
  const a = ctx.authorizer;
  if (!a) return true;
  const conn = ctx.conn;
  const version = a.version;
  let mine = answers.get(conn);
  if (!mine || mine.version !== version || mine.principal !== conn.principal) {
    mine = { version, principal: conn.principal, byKind: new Map() };
    answers.set(conn, mine);
  }
  const kind = op * 16 + type;
  let byName = mine.byKind.get(kind);
  if (!byName) mine.byKind.set(kind, (byName = new Map()));
  const known = byName.get(name);
  if (known !== undefined) return known;
  const answer = a.authorize(conn.principal, conn.ip, op, type, name);
  if (byName.size >= MAX_PER_KIND) byName.clear();
  byName.set(name, answer);
  return answer;
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

/** ApiVersions: answered on the CONTROLLER listener to anyone (it says nothing of the cluster). */
const API_VERSIONS = 18;

/**
 * The CONTROLLER listener's check (Raft between voters, broker registration
 * and heartbeats, AlterPartition, admin requests relayed by brokers): only
 * nodes talk there, so every request but ApiVersions needs ClusterAction on
 * the cluster, as Kafka's controllers require of the brokers' principal. A
 * refused request closes the connection (with a rate-limited log line), since
 * these APIs have no answer that a refused node would act on.
 */
export function controllerListenerGate(
  authorizer: Authorizer,
): (frame: Buffer, conn: AuthzContext['conn'] & { warn(msg: string, extra?: object): void }) => 'close' | undefined {
  return (frame, conn) => {
    if (frame.length < 2 || frame.readInt16BE(0) === API_VERSIONS) return undefined;
    if (authorizer.authorize(conn.principal, conn.ip, AclOperation.CLUSTER_ACTION, ResourceType.CLUSTER, CLUSTER_NAME))
      return undefined;
    conn.warn('closing connection: the principal may not use the CONTROLLER listener (ClusterAction on the cluster)', {
      principal: `${conn.principal.type}:${conn.principal.name}`,
      apiKey: frame.readInt16BE(0),
    });
    return 'close';
  };
}
