/**
 * `samsa transactions list | describe ID`: the transactional ids of the
 * cluster's transaction coordinators (kafka-transactions.sh list and
 * describe).
 *
 *   list      ListTransactions to every broker (each answers for the
 *             __transaction_state partitions it leads): id, producer id, state;
 *   describe  DescribeTransactions to the id's coordinator (FindCoordinator
 *             key type 1): state, producer id and epoch, timeout, start
 *             time, partitions of the open transaction.
 */
import type { Command } from 'commander';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { formatTable } from './format.ts';
import { ErrorCode, KafkaError, errorName } from '../protocol/error-codes.ts';

export function registerTransactionCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const txn = program.command('transactions').description('transactional ids: list, describe');

  clientOptions(txn.command('list').description('transactional ids of every coordinator')).action(
    async (o: ClientFlags) => {
      await withClient(o, async (c) => {
        const md = await c.metadata([]);
        const rows: { transactionalId: string; producerId: number; state: string; coordinator: number }[] = [];
        for (const b of md.brokers) {
          const conn = await c.brokerConnection(b.nodeId);
          const r = await conn.send('ListTransactions', { stateFilters: [], producerIdFilters: [] });
          if (r.errorCode !== ErrorCode.NONE)
            throw new KafkaError(r.errorCode, `broker ${b.nodeId}: ${errorName(r.errorCode)}`);
          for (const t of r.transactionStates)
            rows.push({
              transactionalId: t.transactionalId,
              producerId: Number(t.producerId),
              state: t.transactionState,
              coordinator: b.nodeId,
            });
        }
        rows.sort((a, b) =>
          a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0,
        );
        if (o.json) {
          io.stdout(JSON.stringify(rows) + '\n');
          return;
        }
        io.stdout(
          formatTable(
            ['TRANSACTIONAL-ID', 'COORDINATOR', 'PRODUCER-ID', 'STATE'],
            rows.map((r) => [r.transactionalId, r.coordinator, r.producerId, r.state]),
          ),
        );
      });
    },
  );

  clientOptions(txn.command('describe <transactionalId>').description('state of a transactional id')).action(
    async (id: string, o: ClientFlags) => {
      await withClient(o, async (c) => {
        const coordinator = await c.findCoordinator(id, 1);
        const conn = await c.brokerConnection(coordinator.nodeId);
        const r = await conn.send('DescribeTransactions', { transactionalIds: [id] });
        const t = r.transactionStates[0];
        if (t.errorCode !== ErrorCode.NONE) throw new KafkaError(t.errorCode, `${id}: ${errorName(t.errorCode)}`);
        const v = {
          transactionalId: id,
          coordinator: coordinator.nodeId,
          state: t.transactionState,
          producerId: Number(t.producerId),
          producerEpoch: t.producerEpoch,
          transactionTimeoutMs: t.transactionTimeoutMs,
          transactionStartTimeMs: Number(t.transactionStartTimeMs),
          partitions: t.topics.flatMap((x) => x.partitions.map((p) => `${x.topic}-${p}`)).sort(),
        };
        if (o.json) {
          io.stdout(JSON.stringify(v) + '\n');
          return;
        }
        io.stdout(
          formatTable(
            ['TRANSACTIONAL-ID', 'COORDINATOR', 'PRODUCER-ID', 'EPOCH', 'STATE', 'TIMEOUT-MS', 'START', 'PARTITIONS'],
            [
              [
                v.transactionalId,
                v.coordinator,
                v.producerId,
                v.producerEpoch,
                v.state,
                v.transactionTimeoutMs,
                v.transactionStartTimeMs < 0 ? null : new Date(v.transactionStartTimeMs).toISOString(),
                v.partitions.join(',') || null,
              ],
            ],
          ),
        );
      });
    },
  );
}
