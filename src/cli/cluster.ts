/**
 * `samsa cluster info`: cluster id, controller, brokers and topic counts.
 */
import type { Command } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { formatTable } from './format.ts';

export function registerClusterCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const cluster = program.command('cluster').description('cluster-wide information');
  clientOptions(cluster.command('info').description('cluster id, controller, brokers, topics')).action(
    async (o: ClientFlags) => {
      await withClient(o, async (c) => {
        const md = await c.metadata();
        const topics = md.topics.filter((t) => !t.isInternal);
        const partitions = topics.reduce((n, t) => n + t.partitions.length, 0);
        if (o.json) {
          io.stdout(
            JSON.stringify({
              clusterId: md.clusterId,
              controllerId: md.controllerId,
              brokers: md.brokers,
              topics: topics.length,
              partitions,
            }) + '\n',
          );
          return;
        }
        io.stdout(
          `Cluster id: ${md.clusterId ?? '-'}\nController: ${md.controllerId}\nTopics: ${topics.length} (${partitions} partitions)\n`,
        );
        io.stdout(
          formatTable(
            ['NODE', 'HOST', 'PORT', 'RACK'],
            md.brokers.map((b) => [b.nodeId, b.host, b.port, b.rack]),
          ),
        );
      });
    },
  );
}
