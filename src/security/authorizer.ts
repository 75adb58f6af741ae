/**
 * The authorizer: Kafka's StandardAuthorizer
 * (`org.apache.kafka.metadata.authorizer.StandardAuthorizer`) as a pure
 * module. The ACLs come from the metadata image (AccessControlEntryRecord);
 * the rules are Kafka's:
 *
 * - a principal in `super.users` may do everything;
 * - the ACLs that apply to a resource are those of its type with its literal
 *   name, the literal wildcard `*`, and every PREFIXED pattern its name
 *   starts with; among those, an ACL counts for a request when its principal
 *   is the request's or `User:*` and its host is the client's address or `*`;
 * - a DENY for the operation (or for All) wins over any ALLOW;
 * - an ALLOW of All allows every operation; an ALLOW of Read, Write, Delete
 *   or Alter also allows Describe, an ALLOW of AlterConfigs also allows
 *   DescribeConfigs (denials imply nothing);
 * - with no matching ALLOW the request is denied, except when no ACL at all
 *   applies to the resource and `allow.everyone.if.no.acl.found` is true.
 *
 * The ACLs are indexed by resource type, literal name and prefix, so one
 * check looks at a few short lists; answers are cached per (principal, host,
 * operation, resource) until the ACLs change, so a produce or fetch costs a
 * map lookup per topic and request (never per record).
 */
import {
  type AclBinding,
  AclOperation,
  AclPermission,
  PatternType,
  type StoredAcl,
  WILDCARD,
  WILDCARD_PRINCIPAL,
} from './acl-types.ts';
import { type KafkaPrincipal, principalString } from './principal.ts';

/** The authorizer class names that turn ACLs on. */
export const STANDARD_AUTHORIZER = 'org.apache.kafka.metadata.authorizer.StandardAuthorizer';
/** ZooKeeper-era Kafka's authorizer: refused at startup (see docs/security.md). */
export const ZK_ACL_AUTHORIZER = 'kafka.security.authorizer.AclAuthorizer';

/** Where the ACLs are: the metadata image. `aclVersion` changes whenever an ACL is added or removed. */
export interface AclSource {
  readonly aclVersion: number;
  readonly acls: ReadonlyMap<string, StoredAcl>;
}

export interface AuthorizerOptions {
  /** Principals (`User:admin`) allowed everything. */
  superUsers: Iterable<string>;
  /** Allow a request on a resource no ACL applies to (Kafka's default: false). */
  allowEveryoneIfNoAclFound: boolean;
}

/** The ACLs of one resource type. */
interface TypeIndex {
  literal: Map<string, StoredAcl[]>;
  prefixed: Map<string, StoredAcl[]>;
  /** The distinct lengths of the PREFIXED patterns, so a lookup tries only those. */
  prefixLengths: number[];
}

/** Most cached answers; the cache starts over when full. */
const MAX_CACHED = 50_000;

/** Whether an ALLOW of `granted` allows `op` (Kafka's implied operations). */
export function allowImplies(granted: number, op: number): boolean {
  if (granted === op || granted === AclOperation.ALL) return true;
  if (op === AclOperation.DESCRIBE)
    return (
      granted === AclOperation.READ ||
      granted === AclOperation.WRITE ||
      granted === AclOperation.DELETE ||
      granted === AclOperation.ALTER
    );
  if (op === AclOperation.DESCRIBE_CONFIGS) return granted === AclOperation.ALTER_CONFIGS;
  return false;
}

export class Authorizer {
  private readonly superUsers: Set<string>;
  private readonly allowEveryone: boolean;
  private index = new Map<number, TypeIndex>();
  private version_ = Number.NaN;
  private readonly cache = new Map<string, boolean>();

  constructor(
    opts: AuthorizerOptions,
    private readonly source: AclSource,
  ) {
    this.superUsers = new Set(opts.superUsers);
    this.allowEveryone = opts.allowEveryoneIfNoAclFound;
  }

  /** Changes whenever the ACLs this authorizer answers from change (callers key their own caches on it). */
  get version(): number {
    this.refresh();
    return this.version_;
  }

  isSuperUser(principal: KafkaPrincipal): boolean {
    return this.superUsers.has(principalString(principal));
  }

  /** Whether `principal`, connected from `host`, may do `op` on the resource (`type`, `name`). */
  authorize(principal: KafkaPrincipal, host: string, op: number, type: number, name: string): boolean {
    this.refresh();
    const who = principalString(principal);
    if (this.superUsers.has(who)) return true;
    const key = `${who}\u0000${host}\u0000${op}\u0000${type}\u0000${name}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const answer = this.decide(who, host, op, type, name);
    if (this.cache.size >= MAX_CACHED) this.cache.clear();
    this.cache.set(key, answer);
    return answer;
  }

  /**
   * Whether `principal` may do `op` on at least one resource of `type`
   * (Kafka's authorizeByResourceType, used for InitProducerId without a
   * transactional id: IdempotentWrite on the cluster or Write on any topic):
   * an ALLOW of the operation (or All) on some pattern that no DENY covers.
   */
  authorizeByResourceType(principal: KafkaPrincipal, host: string, op: number, type: number): boolean {
    this.refresh();
    const who = principalString(principal);
    if (this.superUsers.has(who)) return true;
    const idx = this.index.get(type);
    if (!idx) return this.allowEveryone;
    const applies = (a: StoredAcl) =>
      (a.principal === who || a.principal === WILDCARD_PRINCIPAL) &&
      (a.host === WILDCARD || a.host === host) &&
      (a.operation === op || a.operation === AclOperation.ALL);
    const denyLiteral = new Set<string>();
    const denyPrefix: string[] = [];
    const allowLiteral: string[] = [];
    const allowPrefix: string[] = [];
    for (const [map, literal] of [
      [idx.literal, true],
      [idx.prefixed, false],
    ] as const) {
      for (const list of map.values()) {
        for (const a of list) {
          if (!applies(a)) continue;
          const deny = a.permission === AclPermission.DENY;
          if (literal) deny ? denyLiteral.add(a.resourceName) : allowLiteral.push(a.resourceName);
          else (deny ? denyPrefix : allowPrefix).push(a.resourceName);
        }
      }
    }
    if (denyLiteral.has(WILDCARD)) return false;
    const deniedByPrefix = (name: string) => denyPrefix.some((p) => name.startsWith(p));
    for (const n of allowLiteral) if (n === WILDCARD || (!denyLiteral.has(n) && !deniedByPrefix(n))) return true;
    for (const n of allowPrefix) if (!deniedByPrefix(n)) return true;
    return false;
  }

  private decide(who: string, host: string, op: number, type: number, name: string): boolean {
    const idx = this.index.get(type);
    if (!idx) return this.allowEveryone;
    let found = false;
    let allowed = false;
    const check = (list: StoredAcl[] | undefined): boolean => {
      if (!list) return false;
      for (const a of list) {
        found = true;
        if (a.principal !== who && a.principal !== WILDCARD_PRINCIPAL) continue;
        if (a.host !== WILDCARD && a.host !== host) continue;
        if (a.permission === AclPermission.DENY) {
          if (a.operation === op || a.operation === AclOperation.ALL) return true;
        } else if (allowImplies(a.operation, op)) {
          allowed = true;
        }
      }
      return false;
    };
    if (check(idx.literal.get(name))) return false;
    if (name !== WILDCARD && check(idx.literal.get(WILDCARD))) return false;
    for (const len of idx.prefixLengths) {
      if (len > name.length) break;
      if (check(idx.prefixed.get(name.slice(0, len)))) return false;
    }
    if (allowed) return true;
    return !found && this.allowEveryone;
  }

  /** Rebuilds the index when the ACLs changed. */
  private refresh(): void {
    if (this.source.aclVersion === this.version_) return;
    this.version_ = this.source.aclVersion;
    this.cache.clear();
    const index = new Map<number, TypeIndex>();
    for (const a of this.source.acls.values()) {
      let idx = index.get(a.resourceType);
      if (!idx) {
        idx = { literal: new Map(), prefixed: new Map(), prefixLengths: [] };
        index.set(a.resourceType, idx);
      }
      const map = a.patternType === PatternType.PREFIXED ? idx.prefixed : idx.literal;
      const list = map.get(a.resourceName);
      if (list) list.push(a);
      else map.set(a.resourceName, [a]);
    }
    for (const idx of index.values())
      idx.prefixLengths = [...new Set([...idx.prefixed.keys()].map((k) => k.length))].sort((x, y) => x - y);
    this.index = index;
  }
}

/** A fixed set of ACLs as an AclSource (tests, tools). */
export function staticAcls(bindings: AclBinding[]): AclSource {
  return {
    aclVersion: 0,
    acls: new Map(bindings.map((b, i) => [String(i), { ...b, id: String(i) }])),
  };
}
