/**
 * `samsa acl add | list | remove`: ACLs over the wire (CreateAcls,
 * DescribeAcls, DeleteAcls), with kafka-acls.sh's flags:
 *
 *   --allow-principal / --deny-principal P   (repeatable; User:alice, User:*)
 *   --allow-host / --deny-host H             (repeatable; default *)
 *   --operation OP                           (repeatable; default All)
 *   --topic T, --group G, --transactional-id ID, --delegation-token D
 *                                            (repeatable), --cluster
 *   --resource-pattern-type literal|prefixed (add; list and remove also
 *                                            any|match; default literal)
 *   --producer   Write, Describe and Create on the topics (with
 *                --transactional-id: Write and Describe on it; with
 *                --idempotent: IdempotentWrite on the cluster)
 *   --consumer   Read and Describe on the topics, Read on the groups
 *   --principal P  (list: only that principal's ACLs)
 *   --force        (remove: no confirmation)
 */
import type { Command, OptionValues } from 'commander';
import { errorName, KafkaError } from '../protocol/error-codes.ts';
import {
  type AclBinding,
  type AclFilter,
  AclOperation,
  AclPermission,
  CLUSTER_NAME,
  codeByName,
  describeBinding,
  OPERATION_NAMES,
  PATTERN_TYPE_NAMES,
  PatternType,
  RESOURCE_TYPE_NAMES,
  ResourceType,
} from '../security/acl-types.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { collect, formatTable, UsageError } from './format.ts';

type Flags = ClientFlags & OptionValues;

interface Resource {
  resourceType: number;
  resourceName: string;
}

function resources(o: Flags): Resource[] {
  const out: Resource[] = [];
  for (const t of o.topic ?? []) out.push({ resourceType: ResourceType.TOPIC, resourceName: t });
  for (const g of o.group ?? []) out.push({ resourceType: ResourceType.GROUP, resourceName: g });
  for (const id of o.transactionalId ?? []) out.push({ resourceType: ResourceType.TRANSACTIONAL_ID, resourceName: id });
  for (const d of o.delegationToken ?? []) out.push({ resourceType: ResourceType.DELEGATION_TOKEN, resourceName: d });
  if (o.cluster) out.push({ resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME });
  return out;
}

function patternType(o: Flags, allowed: string[]): number {
  const text = (o.resourcePatternType ?? 'literal') as string;
  const code = codeByName(PATTERN_TYPE_NAMES, text);
  if (code === null || !allowed.includes(PATTERN_TYPE_NAMES[code].toLowerCase()))
    throw new UsageError(`--resource-pattern-type must be one of ${allowed.join(', ')}, not '${text}'`);
  return code;
}

function operations(list: string[] | undefined): number[] {
  return (list ?? []).map((text) => {
    const code = codeByName(OPERATION_NAMES, text);
    if (code === null || code < AclOperation.ALL)
      throw new UsageError(
        `unknown --operation '${text}' (one of ${Object.values(OPERATION_NAMES).slice(2).join(', ')})`,
      );
    return code;
  });
}

function principals(list: string[] | undefined, flag: string): string[] {
  for (const p of list ?? [])
    if (!/^[^:]+:.+$/.test(p)) throw new UsageError(`${flag} '${p}' is not of the form Type:name`);
  return list ?? [];
}

/** The bindings an `add` (or an exact `remove`) names: kafka-acls.sh's rules, --producer and --consumer included. */
function bindingsOf(o: Flags, pattern: number): AclBinding[] {
  const allow = principals(o.allowPrincipal, '--allow-principal');
  const deny = principals(o.denyPrincipal, '--deny-principal');
  if (allow.length === 0 && deny.length === 0)
    throw new UsageError('name at least one --allow-principal or --deny-principal');
  const allowHosts: string[] = o.allowHost ?? ['*'];
  const denyHosts: string[] = o.denyHost ?? ['*'];
  const res = resources(o);
  const ops = operations(o.operation);
  /** Per resource, the operations to grant. */
  const plan: { r: Resource; ops: number[] }[] = [];
  if (o.producer || o.consumer) {
    const topics = res.filter((r) => r.resourceType === ResourceType.TOPIC);
    if (topics.length === 0) throw new UsageError('--producer and --consumer need --topic');
    if (o.producer) {
      for (const r of topics) plan.push({ r, ops: [AclOperation.WRITE, AclOperation.DESCRIBE, AclOperation.CREATE] });
      for (const r of res.filter((x) => x.resourceType === ResourceType.TRANSACTIONAL_ID))
        plan.push({ r, ops: [AclOperation.WRITE, AclOperation.DESCRIBE] });
      if (o.idempotent)
        plan.push({
          r: { resourceType: ResourceType.CLUSTER, resourceName: CLUSTER_NAME },
          ops: [AclOperation.IDEMPOTENT_WRITE],
        });
    }
    if (o.consumer) {
      const groups = res.filter((x) => x.resourceType === ResourceType.GROUP);
      if (groups.length === 0) throw new UsageError('--consumer needs --group');
      for (const r of topics) plan.push({ r, ops: [AclOperation.READ, AclOperation.DESCRIBE] });
      for (const r of groups) plan.push({ r, ops: [AclOperation.READ] });
    }
  } else {
    if (res.length === 0)
      throw new UsageError('name a resource: --topic, --group, --cluster, --transactional-id or --delegation-token');
    for (const r of res) plan.push({ r, ops: ops.length > 0 ? ops : [AclOperation.ALL] });
  }
  const out: AclBinding[] = [];
  for (const { r, ops: rops } of plan) {
    // the cluster has one name: a pattern type other than literal cannot apply to it
    const p = r.resourceType === ResourceType.CLUSTER ? PatternType.LITERAL : pattern;
    for (const operation of rops) {
      for (const principal of allow)
        for (const host of allowHosts)
          out.push({ ...r, patternType: p, principal, host, operation, permission: AclPermission.ALLOW });
      for (const principal of deny)
        for (const host of denyHosts)
          out.push({ ...r, patternType: p, principal, host, operation, permission: AclPermission.DENY });
    }
  }
  return out;
}

/** The filters of `list` and of a `remove` without principals: every ACL of the named resources (or of all). */
function filtersOf(o: Flags, pattern: number): AclFilter[] {
  const res = resources(o);
  const principal: string | null = o.principal ?? null;
  const base = {
    patternType: pattern,
    principal,
    host: null,
    operation: AclOperation.ANY,
    permission: AclPermission.ANY,
  };
  if (res.length === 0) return [{ ...base, resourceType: ResourceType.ANY, resourceName: null }];
  return res.map((r) => ({ ...base, ...r }));
}

function bindingJson(b: AclBinding) {
  return {
    resourceType: RESOURCE_TYPE_NAMES[b.resourceType],
    resourceName: b.resourceName,
    patternType: PATTERN_TYPE_NAMES[b.patternType],
    principal: b.principal,
    host: b.host,
    operation: OPERATION_NAMES[b.operation],
    permission: b.permission === AclPermission.ALLOW ? 'Allow' : 'Deny',
  };
}

function bindingRows(list: AclBinding[]): string[][] {
  return list.map((b) => {
    const j = bindingJson(b);
    return [j.resourceType, j.patternType, j.resourceName, j.principal, j.host, j.operation, j.permission];
  });
}

const HEADERS = ['RESOURCE', 'PATTERN', 'NAME', 'PRINCIPAL', 'HOST', 'OPERATION', 'PERMISSION'];

async function confirm(io: CliIO, question: string): Promise<boolean> {
  io.stdout(`${question} (y/n) `);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (d: Buffer | string) => {
      text += d.toString();
      if (text.includes('\n')) done();
    };
    const done = () => {
      io.stdin.off('data', onData);
      io.stdin.off('end', done);
      resolve(text.trim());
    };
    io.stdin.on('data', onData);
    io.stdin.on('end', done);
  });
  return answer.toLowerCase() === 'y' || answer.toLowerCase() === 'yes';
}

export function registerAclCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const acl = program.command('acl').description('add, list and remove ACLs (flags as kafka-acls.sh)');
  const resourceOptions = (c: Command) =>
    c
      .option('--topic <name>', 'a topic (repeatable; * for every topic)', collect)
      .option('--group <name>', 'a consumer group (repeatable)', collect)
      .option('--transactional-id <id>', 'a transactional id (repeatable)', collect)
      .option('--delegation-token <id>', 'a delegation token (repeatable)', collect)
      .option('--cluster', 'the cluster')
      .option('--resource-pattern-type <type>', 'literal or prefixed (list and remove: also any, match)');

  clientOptions(
    resourceOptions(
      acl
        .command('add')
        .description('add ACLs')
        .option('--allow-principal <principal>', 'principal allowed, e.g. User:alice (repeatable)', collect)
        .option('--deny-principal <principal>', 'principal denied (repeatable)', collect)
        .option('--allow-host <host>', 'host the allowed principals connect from (repeatable; default *)', collect)
        .option('--deny-host <host>', 'host the denied principals connect from (repeatable; default *)', collect)
        .option(
          '--operation <op>',
          'Read, Write, Create, Delete, Alter, Describe, ClusterAction, ... (default All)',
          collect,
        )
        .option('--producer', 'the ACLs of a producer of the topics')
        .option('--consumer', 'the ACLs of a consumer of the topics in the groups')
        .option('--idempotent', 'with --producer: IdempotentWrite on the cluster'),
    ),
  ).action(async (o: Flags) => {
    const bindings = bindingsOf(o, patternType(o, ['literal', 'prefixed']));
    await withClient(o, async (c) => {
      const res = await c.request('CreateAcls', {
        creations: bindings.map((b) => ({
          resourceType: b.resourceType,
          resourceName: b.resourceName,
          resourcePatternType: b.patternType,
          principal: b.principal,
          host: b.host,
          operation: b.operation,
          permissionType: b.permission,
        })),
      });
      const failed = res.results.findIndex((r) => r.errorCode !== 0);
      if (failed >= 0) {
        const r = res.results[failed];
        throw new KafkaError(
          r.errorCode,
          `${errorName(r.errorCode)}: ${describeBinding(bindings[failed])}${r.errorMessage ? `: ${r.errorMessage}` : ''}`,
        );
      }
      if (o.json) io.stdout(`${JSON.stringify({ added: bindings.map(bindingJson) })}\n`);
      else io.stdout(`added ${bindings.length} ACL(s)\n${formatTable(HEADERS, bindingRows(bindings))}`);
    });
  });

  clientOptions(
    resourceOptions(
      acl
        .command('list')
        .description('list ACLs (all, or those of the named resources)')
        .option('--principal <principal>', "only this principal's ACLs"),
    ),
  ).action(async (o: Flags) => {
    const pattern =
      o.resourcePatternType === undefined ? PatternType.ANY : patternType(o, ['any', 'match', 'literal', 'prefixed']);
    const filters = filtersOf(o, pattern);
    await withClient(o, async (c) => {
      const found: AclBinding[] = [];
      for (const f of filters) {
        const res = await c.request('DescribeAcls', {
          resourceTypeFilter: f.resourceType,
          resourceNameFilter: f.resourceName,
          patternTypeFilter: f.patternType,
          principalFilter: f.principal,
          hostFilter: f.host,
          operation: f.operation,
          permissionType: f.permission,
        });
        if (res.errorCode !== 0)
          throw new KafkaError(
            res.errorCode,
            `${errorName(res.errorCode)}${res.errorMessage ? `: ${res.errorMessage}` : ''}`,
          );
        for (const r of res.resources)
          for (const a of r.acls)
            found.push({
              resourceType: r.resourceType,
              resourceName: r.resourceName,
              patternType: r.patternType,
              principal: a.principal,
              host: a.host,
              operation: a.operation,
              permission: a.permissionType,
            });
      }
      if (o.json) io.stdout(`${JSON.stringify(found.map(bindingJson))}\n`);
      else io.stdout(found.length === 0 ? 'no ACLs\n' : formatTable(HEADERS, bindingRows(found)));
    });
  });

  clientOptions(
    resourceOptions(
      acl
        .command('remove')
        .description('remove ACLs: those named by principals and operations, or every ACL of the named resources')
        .option('--allow-principal <principal>', 'principal whose Allow ACLs go (repeatable)', collect)
        .option('--deny-principal <principal>', 'principal whose Deny ACLs go (repeatable)', collect)
        .option('--allow-host <host>', 'host of the Allow ACLs (repeatable; default *)', collect)
        .option('--deny-host <host>', 'host of the Deny ACLs (repeatable; default *)', collect)
        .option('--operation <op>', 'operation (repeatable; default All)', collect)
        .option('--producer', 'the ACLs of a producer of the topics')
        .option('--consumer', 'the ACLs of a consumer of the topics in the groups')
        .option('--idempotent', 'with --producer: IdempotentWrite on the cluster')
        .option('--force', 'do not ask for confirmation'),
    ),
  ).action(async (o: Flags) => {
    if (resources(o).length === 0) throw new UsageError('name the resources whose ACLs to remove');
    const exact = o.allowPrincipal !== undefined || o.denyPrincipal !== undefined;
    const pattern = patternType(o, exact ? ['literal', 'prefixed'] : ['any', 'match', 'literal', 'prefixed']);
    const filters: AclFilter[] = exact ? bindingsOf(o, pattern) : filtersOf(o, pattern);
    if (
      !o.force &&
      !(await confirm(io, `Are you sure you want to remove ACLs matching ${filters.length} filter(s)?`))
    ) {
      io.stdout('nothing removed\n');
      return;
    }
    await withClient(o, async (c) => {
      const res = await c.request('DeleteAcls', {
        filters: filters.map((f) => ({
          resourceTypeFilter: f.resourceType,
          resourceNameFilter: f.resourceName,
          patternTypeFilter: f.patternType,
          principalFilter: f.principal,
          hostFilter: f.host,
          operation: f.operation,
          permissionType: f.permission,
        })),
      });
      const removed: AclBinding[] = [];
      for (const r of res.filterResults) {
        if (r.errorCode !== 0)
          throw new KafkaError(r.errorCode, `${errorName(r.errorCode)}${r.errorMessage ? `: ${r.errorMessage}` : ''}`);
        for (const a of r.matchingAcls)
          removed.push({
            resourceType: a.resourceType,
            resourceName: a.resourceName,
            patternType: a.patternType,
            principal: a.principal,
            host: a.host,
            operation: a.operation,
            permission: a.permissionType,
          });
      }
      if (o.json) io.stdout(`${JSON.stringify({ removed: removed.map(bindingJson) })}\n`);
      else
        io.stdout(
          `removed ${removed.length} ACL(s)\n${removed.length > 0 ? formatTable(HEADERS, bindingRows(removed)) : ''}`,
        );
    });
  });
}
