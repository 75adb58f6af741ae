/**
 * What an ACL check costs on the produce/fetch path: the authorizer's answer
 * for a topic with many ACLs in place (literal per topic, prefixed, wildcard),
 * first uncached (the index walk), then as a Produce or Fetch asks it again
 * on the same connection (acl-check.ts: a per-connection map lookup).
 * Prints ns per check.
 *
 *   node --import tsx bench/acl-authorize.bench.ts [topics with an ACL each, default 10000] [prefixed ACLs, default 100]
 */
import { allowed } from '../src/security/acl-check.ts';
import { type AclBinding, AclOperation, AclPermission, PatternType, ResourceType } from '../src/security/acl-types.ts';
import { Authorizer } from '../src/security/authorizer.ts';
import { userPrincipal } from '../src/security/principal.ts';

const topics = Number(process.argv[2] ?? 10_000);
const prefixes = Number(process.argv[3] ?? 100);

const bindings: AclBinding[] = [];
const acl = (name: string, patternType: number, principal: string, permission: number = AclPermission.ALLOW) =>
  bindings.push({
    resourceType: ResourceType.TOPIC,
    resourceName: name,
    patternType,
    principal,
    host: '*',
    operation: AclOperation.WRITE,
    permission,
  });
for (let i = 0; i < topics; i++) acl(`topic-${i}`, PatternType.LITERAL, `User:u${i % 100}`);
for (let i = 0; i < prefixes; i++) acl(`topic-${i}`, PatternType.PREFIXED, `User:p${i}`);
acl('*', PatternType.LITERAL, 'User:ops', AclPermission.DENY);

const source = { aclVersion: 1, acls: new Map(bindings.map((b, i) => [String(i), { ...b, id: String(i) }])) };
const authorizer = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: false }, source);
const principal = userPrincipal('u7');

function time(label: string, n: number, fn: (i: number) => boolean): void {
  let yes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (fn(i)) yes++;
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(6)} ns/check  (${yes}/${n} allowed)`);
}

console.log(`${bindings.length} ACLs (${topics} literal, ${prefixes} prefixed, 1 wildcard deny)`);
time('index build (first check)', 1, () =>
  authorizer.authorize(principal, '10.0.0.1', AclOperation.WRITE, ResourceType.TOPIC, 'topic-7'),
);
const n = 200_000;
const fresh = new Authorizer({ superUsers: [], allowEveryoneIfNoAclFound: false }, source);
fresh.authorize(principal, 'h', AclOperation.WRITE, ResourceType.TOPIC, 'warm-up');
time('authorizer.authorize, each topic once (index walk + cache fill)', topics, (i) =>
  fresh.authorize(principal, '10.0.0.1', AclOperation.WRITE, ResourceType.TOPIC, `topic-${i}`),
);
time('authorizer.authorize, the same 100 topics again (its cache)', n, (i) =>
  fresh.authorize(principal, '10.0.0.1', AclOperation.WRITE, ResourceType.TOPIC, `topic-${i % 100}`),
);
const ctx = { authorizer: fresh, conn: { principal, ip: '10.0.0.1' } };
const names = Array.from({ length: 100 }, (_, i) => `topic-${i}`);
time('acl-check allowed(), same connection, 100 topics (per request)', n, (i) =>
  allowed(ctx, AclOperation.WRITE, ResourceType.TOPIC, names[i % 100]),
);
