/**
 * `samsa quota set | list`: client quotas (kafka-configs.sh --entity-type
 * users / clients / ips --alter / --describe).
 *
 *   set   --user U | --user-defaults, and/or --client C | --client-defaults
 *         (kafka-configs.sh's shorthands), or --ip A | --ip-defaults
 *         (connection_creation_rate); --entity-type users|clients|ips with
 *         --entity-name N or --entity-default works too), --add-config
 *         k=v,k=v and/or --delete-config k,k: one AlterClientQuotas;
 *   list  the same entity options select (a name: that entity, the
 *         defaults: the default entity, the type alone: every entity of the
 *         type; entities with more types are left out, as kafka-configs.sh
 *         does); none: every quota of the cluster (DescribeClientQuotas).
 */
import type { Command } from 'commander';
import { ErrorCode, KafkaError, errorName } from '../protocol/error-codes.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { formatTable, UsageError } from './format.ts';

interface EntityFlags {
  user?: string;
  userDefaults?: boolean;
  client?: string;
  clientDefaults?: boolean;
  ip?: string;
  ipDefaults?: boolean;
  entityType?: string[];
  entityName?: string[];
  entityDefault?: boolean;
}

/** user / client-id selection: a name, null for the default entity, undefined when the type is named without either (list: any). */
type Selection = Map<'user' | 'client-id' | 'ip', string | null | undefined>;

function selection(o: EntityFlags): Selection {
  const sel: Selection = new Map();
  const put = (type: 'user' | 'client-id' | 'ip', v: string | null | undefined) => {
    if (sel.has(type)) throw new UsageError(`the ${type} entity is named twice`);
    sel.set(type, v);
  };
  if (o.user !== undefined && o.userDefaults) throw new UsageError('--user and --user-defaults exclude each other');
  if (o.client !== undefined && o.clientDefaults)
    throw new UsageError('--client and --client-defaults exclude each other');
  if (o.user !== undefined) put('user', o.user);
  if (o.userDefaults) put('user', null);
  if (o.client !== undefined) put('client-id', o.client);
  if (o.clientDefaults) put('client-id', null);
  if (o.ip !== undefined && o.ipDefaults) throw new UsageError('--ip and --ip-defaults exclude each other');
  if (o.ip !== undefined) put('ip', o.ip);
  if (o.ipDefaults) put('ip', null);
  const types = o.entityType ?? [];
  const names = o.entityName ?? [];
  if (names.length > types.length) throw new UsageError('--entity-name needs an --entity-type before it');
  types.forEach((t, i) => {
    const type = t === 'users' ? 'user' : t === 'clients' ? 'client-id' : t === 'ips' ? 'ip' : null;
    if (!type) throw new UsageError(`--entity-type must be users, clients or ips, got '${t}'`);
    const name = names[i];
    put(type, name !== undefined ? name : o.entityDefault ? null : undefined);
  });
  return sel;
}

function parseAddConfig(s: string): { key: string; value: number }[] {
  return s
    .split(',')
    .filter((x) => x.trim() !== '')
    .map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`--add-config entry '${kv}' is not of the form key=value`);
      const key = kv.slice(0, eq).trim();
      const text = kv.slice(eq + 1).trim();
      const value = Number(text);
      if (text === '' || !Number.isFinite(value)) throw new UsageError(`${key}: '${text}' is not a number`);
      return { key, value };
    });
}

function entityText(entity: { entityType: string; entityName: string | null }[]): string {
  return entity
    .map((e) => `${e.entityType}=${e.entityName ?? '<default>'}`)
    .sort()
    .reverse()
    .join(', ');
}

function entityOptions(c: Command): Command {
  return c
    .option('--user <name>', 'the user (principal name)')
    .option('--user-defaults', 'the default user entity')
    .option('--client <id>', 'the client id')
    .option('--client-defaults', 'the default client-id entity')
    .option('--ip <address>', 'a client address (connection_creation_rate only)')
    .option('--ip-defaults', 'the default ip entity')
    .option('--entity-type <type>', 'users, clients or ips (kafka-configs.sh form; repeatable)', collectOpt)
    .option('--entity-name <name>', 'name of the entity of the --entity-type before it', collectOpt)
    .option('--entity-default', 'the default entity of the --entity-type given');
}

function collectOpt(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function registerQuotaCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const quota = program.command('quota').description('client quotas by user and client id: set, list');

  clientOptions(
    entityOptions(
      quota
        .command('set')
        .description('set or remove quotas of one entity (kafka-configs.sh --alter)')
        .option(
          '--add-config <k=v,...>',
          'quotas to set: producer_byte_rate, consumer_byte_rate, request_percentage, controller_mutation_rate (users, clients); connection_creation_rate (ips)',
        )
        .option('--delete-config <k,...>', 'quotas to remove'),
    ),
  ).action(async (o: ClientFlags & EntityFlags & { addConfig?: string; deleteConfig?: string }) => {
    const sel = selection(o);
    if (sel.size === 0) throw new UsageError('name a user and/or a client, or an ip (or their defaults)');
    for (const [type, v] of sel) if (v === undefined) throw new UsageError(`name the ${type} or give its default`);
    const ops = [
      ...parseAddConfig(o.addConfig ?? '').map((x) => ({ ...x, remove: false })),
      ...(o.deleteConfig ?? '')
        .split(',')
        .map((k) => k.trim())
        .filter((k) => k !== '')
        .map((key) => ({ key, value: 0, remove: true })),
    ];
    if (ops.length === 0) throw new UsageError('nothing to do: give --add-config and/or --delete-config');
    const entity = [...sel].map(([entityType, entityName]) => ({ entityType, entityName: entityName ?? null }));
    await withClient(o, async (c) => {
      const conn = await c.anyConnection();
      const r = await conn.send('AlterClientQuotas', { entries: [{ entity, ops }], validateOnly: false });
      const e = r.entries[0];
      if (!e) throw new Error('the broker answered no entry');
      if (e.errorCode !== ErrorCode.NONE)
        throw new KafkaError(e.errorCode, `${errorName(e.errorCode)}: ${e.errorMessage ?? ''}`.trim());
      if (o.json) io.stdout(JSON.stringify({ entity: entityText(entity), ops }) + '\n');
      else io.stdout(`Completed updating quotas of ${entityText(entity)}.\n`);
    });
  });

  clientOptions(entityOptions(quota.command('list').description('show quotas (kafka-configs.sh --describe)'))).action(
    async (o: ClientFlags & EntityFlags) => {
      const sel = selection(o);
      const components = [...sel].map(([entityType, v]) => ({
        entityType,
        matchType: v === undefined ? 2 : v === null ? 1 : 0,
        match: v ?? null,
      }));
      await withClient(o, async (c) => {
        const conn = await c.anyConnection();
        const r = await conn.send('DescribeClientQuotas', { components, strict: components.length > 0 });
        if (r.errorCode !== ErrorCode.NONE)
          throw new KafkaError(r.errorCode, `${errorName(r.errorCode)}: ${r.errorMessage ?? ''}`.trim());
        const entries = (r.entries ?? [])
          .map((e) => ({
            entity: entityText(e.entity),
            values: Object.fromEntries(e.values.map((v) => [v.key, v.value]).sort()),
          }))
          .sort((a, b) => (a.entity < b.entity ? -1 : a.entity > b.entity ? 1 : 0));
        if (o.json) {
          io.stdout(JSON.stringify(entries) + '\n');
          return;
        }
        io.stdout(
          formatTable(
            ['ENTITY', 'QUOTA', 'VALUE'],
            entries.flatMap((e) => Object.entries(e.values).map(([k, v]) => [e.entity, k, String(v)])),
          ),
        );
      });
    },
  );
}
