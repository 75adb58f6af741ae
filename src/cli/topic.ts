/**
 * `samsa topic create|list|describe|delete|alter-config`: topic admin over
 * the wire, tables for people and --json for scripts. `describe` shows each
 * partition's leader (none: offline), leader epoch, replicas and ISR, and
 * marks the offline and under-replicated ones.
 */
import type { Command, OptionValues } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { UsageError, collect, formatTable, parseIntOption, parseKeyValue } from './format.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { PartitionInfo, TopicInfo } from '../client/client.ts';

type Flags = ClientFlags & OptionValues;

const SOURCE_NAMES: Record<number, string> = {
  1: 'topic',
  2: 'broker',
  3: 'cluster-default',
  4: 'server.properties',
  5: 'default',
};

function configMap(list: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const [k, v] = parseKeyValue(item, what);
    out[k] = v;
  }
  return out;
}

export function registerTopicCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const topic = program.command('topic').description('create, list, describe, delete topics and change their configs');

  clientOptions(
    topic
      .command('create <name>')
      .description('create a topic')
      .option('--partitions <n>', 'number of partitions (default: the broker num.partitions)')
      .option('--replication-factor <n>', 'replicas per partition (default: the broker default.replication.factor)')
      .option('--config <key=value>', 'a topic config, repeatable', collect)
      .option('--if-not-exists', 'succeed when the topic already exists'),
  ).action(async (name: string, o: Flags) => {
    const numPartitions = o.partitions === undefined ? -1 : parseIntOption(o.partitions, '--partitions', 1);
    const replicationFactor =
      o.replicationFactor === undefined ? -1 : parseIntOption(o.replicationFactor, '--replication-factor', 1);
    const configs = configMap(o.config, '--config');
    await withClient(o, async (c) => {
      const [r] = await c.createTopics([{ name, numPartitions, replicationFactor, configs }]);
      const exists = r.error?.code === ErrorCode.TOPIC_ALREADY_EXISTS;
      if (r.error && !(exists && o.ifNotExists)) throw r.error;
      if (o.json) io.stdout(JSON.stringify({ topic: name, created: !exists }) + '\n');
      else io.stdout(exists ? `topic '${name}' already exists\n` : `created topic '${name}'\n`);
    });
  });

  clientOptions(
    topic
      .command('list')
      .description('list topics')
      .option('--internal', 'include internal topics (__consumer_offsets ...)'),
  ).action(async (o: Flags) => {
    await withClient(o, async (c) => {
      const md = await c.metadata();
      const topics = md.topics.filter((t) => o.internal || !t.isInternal).sort((a, b) => a.name.localeCompare(b.name));
      if (o.json) {
        io.stdout(
          JSON.stringify(
            topics.map((t) => ({
              name: t.name,
              topicId: t.topicId,
              partitions: t.partitions.length,
              internal: t.isInternal,
            })),
          ) + '\n',
        );
      } else {
        io.stdout(
          formatTable(
            ['TOPIC', 'PARTITIONS', 'REPLICATION'],
            topics.map((t) => [t.name, t.partitions.length, t.partitions[0]?.replicas.length ?? 0]),
          ),
        );
      }
    });
  });

  clientOptions(
    topic
      .command('describe <names...>')
      .description('partitions, leaders and configs of topics')
      .option('--all-configs', 'show every config, not only the ones set'),
  ).action(async (names: string[], o: Flags) => {
    await withClient(o, async (c) => {
      const md = await c.metadata(names);
      const results = [];
      for (const name of names) {
        const t = md.topics.find((x) => x.name === name);
        if (!t || t.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)
          throw new UsageError(`topic '${name}' does not exist`);
        const [cfg] = await c.describeConfigs([{ type: 'topic', name }]);
        if (cfg.error) throw cfg.error;
        const configs = cfg.configs.filter((x) => o.allConfigs || x.source === 1);
        results.push({ topic: t, configs });
      }
      if (o.json) {
        io.stdout(
          JSON.stringify(
            results.map(({ topic: t, configs }) => ({
              name: t.name,
              topicId: t.topicId,
              internal: t.isInternal,
              partitions: t.partitions.map((p) => ({
                partition: p.partition,
                leader: p.leader,
                leaderEpoch: p.leaderEpoch,
                replicas: p.replicas,
                isr: p.isr,
                offline: isOffline(p),
                underReplicated: isUnderReplicated(p),
              })),
              configs: Object.fromEntries(configs.map((x) => [x.name, x.value])),
            })),
          ) + '\n',
        );
        return;
      }
      for (const { topic: t, configs } of results) io.stdout(describeText(t, configs));
    });
  });

  clientOptions(
    topic
      .command('delete <names...>')
      .description('delete topics')
      .option('--if-exists', 'succeed when a topic does not exist'),
  ).action(async (names: string[], o: Flags) => {
    await withClient(o, async (c) => {
      const results = await c.deleteTopics(names);
      const deleted = results.filter((r) => !r.error).map((r) => r.name);
      if (o.json) io.stdout(JSON.stringify({ deleted }) + '\n');
      else for (const n of deleted) io.stdout(`deleted topic '${n}'\n`);
      const failed = results.find(
        (r) => r.error && !(o.ifExists && r.error.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
      );
      if (failed) throw failed.error;
    });
  });

  clientOptions(
    topic
      .command('alter-config <name>')
      .description('set or remove topic config overrides')
      .option('--config <key=value>', 'set a config, repeatable', collect)
      .option('--delete-config <key>', 'remove an override (back to the broker default), repeatable', collect),
  ).action(async (name: string, o: Flags) => {
    const set = configMap(o.config, '--config');
    const del: string[] = o.deleteConfig ?? [];
    if (Object.keys(set).length === 0 && del.length === 0)
      throw new UsageError('nothing to change: give --config key=value or --delete-config key');
    await withClient(o, async (c) => {
      const [r] = await c.incrementalAlterConfigs([
        {
          type: 'topic',
          name,
          configs: [
            ...Object.entries(set).map(([k, value]) => ({ name: k, value, op: 'set' as const })),
            ...del.map((k) => ({ name: k, op: 'delete' as const })),
          ],
        },
      ]);
      if (r.error) throw r.error;
      if (o.json) io.stdout(JSON.stringify({ topic: name, set, deleted: del }) + '\n');
      else io.stdout(`updated configs of topic '${name}'\n`);
    });
  });
}

/** No leader: the partition can be neither read nor written (as Kafka's kafka-topics --unavailable-partitions). */
export function isOffline(p: PartitionInfo): boolean {
  return p.leader < 0;
}

/** Led, with fewer in-sync replicas than replicas (as Kafka's kafka-topics --under-replicated-partitions). */
export function isUnderReplicated(p: PartitionInfo): boolean {
  return p.leader >= 0 && p.isr.length < p.replicas.length;
}

function describeText(t: TopicInfo, configs: { name: string; value: string | null; source: number }[]): string {
  let s = `Topic: ${t.name}  TopicId: ${t.topicId}  Partitions: ${t.partitions.length}${t.isInternal ? '  (internal)' : ''}\n`;
  s += formatTable(
    ['PARTITION', 'LEADER', 'EPOCH', 'REPLICAS', 'ISR', 'STATE'],
    t.partitions.map((p) => [
      p.partition,
      p.leader < 0 ? 'none' : String(p.leader),
      p.leaderEpoch,
      p.replicas.join(','),
      p.isr.join(','),
      isOffline(p) ? 'offline' : isUnderReplicated(p) ? 'under-replicated' : null,
    ]),
  );
  if (configs.length > 0) {
    s += formatTable(
      ['CONFIG', 'VALUE', 'SOURCE'],
      configs.map((c) => [c.name, c.value, SOURCE_NAMES[c.source] ?? String(c.source)]),
    );
  }
  return s;
}
