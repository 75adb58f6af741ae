/**
 * `samsa transactions list | describe ID`: the transactional ids of the
 * cluster's transaction coordinators (kafka-transactions.sh list and
 * describe).
 *
 *   list      ListTransactions to every broker (each answers for the
 *             __transaction_state partitions it leads): id, producer id, state;
 *   describe  DescribeTransactions to the id's coordinator (FindCoordinator
 *             key type 1): state, producer id and epoch, timeout, start
 *             time, partitions of the open transaction;
 *   abort     --topic T --partition P --start-offset O: DescribeProducers to
 *             the partition's leader finds the producer whose open
 *             transaction starts at O; WriteTxnMarkers ABORT (its producer id,
 *             epoch and coordinator epoch) to that leader closes it;
 *   find-hanging  DescribeProducers for every partition: open transactions
 *             whose producer last wrote more than --max-transaction-timeout
 *             minutes ago (default 15, Kafka's transaction.max.timeout.ms)
 *             and that their coordinator does not know as Ongoing with that
 *             partition (no transactional id has the producer id, or its
 *             transaction is not Ongoing, or not over that partition).
 */
import type { Command } from 'commander';
import type { KafkaClient } from '../client/index.ts';
import { type CliIO, type ClientFlags, withClient } from './context.ts';
import { formatTable, parseIntOption } from './format.ts';
import { ErrorCode, KafkaError, errorName } from '../protocol/error-codes.ts';

export function registerTransactionCommands(program: Command, io: CliIO, clientOptions: (c: Command) => Command): void {
  const txn = program.command('transactions').description('transactional ids: list, describe, abort, find-hanging');

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

  clientOptions(
    txn
      .command('abort')
      .description('abort the open transaction that starts at an offset of a partition (WriteTxnMarkers ABORT)')
      .requiredOption('--topic <topic>', 'topic')
      .requiredOption('--partition <n>', 'partition', (v) => parseIntOption(v, '--partition', 0))
      .requiredOption('--start-offset <offset>', 'first offset of the open transaction', (v) =>
        parseIntOption(v, '--start-offset', 0),
      ),
  ).action(async (o: ClientFlags & { topic: string; partition: number; startOffset: number }) => {
    await withClient(o, async (c) => {
      const leader = await partitionLeader(c, o.topic, o.partition);
      const conn = await c.brokerConnection(leader);
      const producers = await describeProducers(c, leader, [{ name: o.topic, partitionIndexes: [o.partition] }]);
      const open = producers.find((p) => p.currentTxnStartOffset === o.startOffset);
      if (!open) throw new Error(`${o.topic}-${o.partition}: no open transaction starts at offset ${o.startOffset}`);
      const r = await conn.send('WriteTxnMarkers', {
        markers: [
          {
            producerId: open.producerId,
            producerEpoch: open.producerEpoch,
            transactionResult: false,
            topics: [{ name: o.topic, partitionIndexes: [o.partition] }],
            coordinatorEpoch: Math.max(open.coordinatorEpoch, 0),
          },
        ],
      });
      const code = r.markers[0]?.topics[0]?.partitions[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      if (code !== ErrorCode.NONE)
        throw new KafkaError(code, `${o.topic}-${o.partition}: WriteTxnMarkers: ${errorName(code)}`);
      const v = {
        topic: o.topic,
        partition: o.partition,
        startOffset: o.startOffset,
        producerId: open.producerId,
        producerEpoch: open.producerEpoch,
        coordinatorEpoch: open.coordinatorEpoch,
        aborted: true,
      };
      if (o.json) io.stdout(JSON.stringify(v) + '\n');
      else
        io.stdout(
          `aborted the transaction of producer ${v.producerId} (epoch ${v.producerEpoch}) on ${v.topic}-${v.partition} from offset ${v.startOffset}\n`,
        );
    });
  });

  clientOptions(
    txn
      .command('find-hanging')
      .description('open transactions older than the limit that their coordinator does not have as ongoing')
      .option('--max-transaction-timeout <minutes>', 'age limit in minutes (transaction.max.timeout.ms)', (v) =>
        parseIntOption(v, '--max-transaction-timeout', 0),
      )
      .option('--topic <topic>', 'only this topic'),
  ).action(async (o: ClientFlags & { maxTransactionTimeout?: number; topic?: string }) => {
    await withClient(o, async (c) => {
      const limitMs = (o.maxTransactionTimeout ?? 15) * 60_000;
      const md = await c.metadata(o.topic ? [o.topic] : null);
      const byLeader = new Map<number, Map<string, number[]>>();
      for (const t of md.topics) {
        if (t.errorCode !== ErrorCode.NONE) throw new KafkaError(t.errorCode, `${t.name}: ${errorName(t.errorCode)}`);
        for (const p of t.partitions) {
          if (p.leader < 0) continue;
          const topics = byLeader.get(p.leader) ?? new Map<string, number[]>();
          byLeader.set(p.leader, topics);
          const parts = topics.get(t.name) ?? [];
          topics.set(t.name, parts);
          parts.push(p.partition);
        }
      }
      const now = Date.now();
      const candidates: (OpenProducer & { topic: string; partition: number })[] = [];
      for (const [leader, topics] of byLeader) {
        const req = [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
        for (const p of await describeProducers(c, leader, req))
          if (p.currentTxnStartOffset >= 0 && now - p.lastTimestamp > limitMs) candidates.push(p);
      }
      const hanging: {
        topic: string;
        partition: number;
        producerId: number;
        producerEpoch: number;
        startOffset: number;
        lastTimestamp: number;
        transactionalId: string | null;
        reason: string;
      }[] = [];
      for (const p of candidates) {
        const ids = await transactionalIdsOf(
          c,
          p.producerId,
          md.brokers.map((b) => b.nodeId),
        );
        let reason: string | undefined = 'unknown to the coordinators';
        let transactionalId: string | null = null;
        for (const id of ids) {
          transactionalId = id;
          const coordinator = await c.findCoordinator(id, 1);
          const d = await (await c.brokerConnection(coordinator.nodeId)).send('DescribeTransactions', {
            transactionalIds: [id],
          });
          const t = d.transactionStates[0];
          if (t.errorCode !== ErrorCode.NONE) reason = `coordinator: ${errorName(t.errorCode)}`;
          else if (t.transactionState !== 'Ongoing') reason = `coordinator state ${t.transactionState}`;
          else if (!t.topics.some((x) => x.topic === p.topic && x.partitions.includes(p.partition)))
            reason = 'partition not in the ongoing transaction';
          else {
            reason = undefined;
            break;
          }
        }
        if (reason)
          hanging.push({
            topic: p.topic,
            partition: p.partition,
            producerId: p.producerId,
            producerEpoch: p.producerEpoch,
            startOffset: p.currentTxnStartOffset,
            lastTimestamp: p.lastTimestamp,
            transactionalId,
            reason,
          });
      }
      if (o.json) {
        io.stdout(JSON.stringify(hanging) + '\n');
        return;
      }
      io.stdout(
        formatTable(
          ['TOPIC', 'PARTITION', 'PRODUCER-ID', 'EPOCH', 'START-OFFSET', 'LAST-WRITE', 'TRANSACTIONAL-ID', 'REASON'],
          hanging.map((h) => [
            h.topic,
            h.partition,
            h.producerId,
            h.producerEpoch,
            h.startOffset,
            new Date(h.lastTimestamp).toISOString(),
            h.transactionalId,
            h.reason,
          ]),
        ),
      );
    });
  });
}

async function partitionLeader(c: KafkaClient, topic: string, partition: number): Promise<number> {
  const md = await c.metadata([topic]);
  const t = md.topics[0];
  if (!t || t.errorCode !== ErrorCode.NONE)
    throw new KafkaError(t?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}: no such topic`);
  const p = t.partitions.find((x) => x.partition === partition);
  if (!p) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}-${partition}: no such partition`);
  if (p.leader < 0) throw new KafkaError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition}: no leader`);
  return p.leader;
}

interface OpenProducer {
  producerId: number;
  producerEpoch: number;
  lastTimestamp: number;
  coordinatorEpoch: number;
  currentTxnStartOffset: number;
}

/** DescribeProducers to one leader: the active producers of its partitions among `topics`. */
async function describeProducers(
  c: KafkaClient,
  leader: number,
  topics: { name: string; partitionIndexes: number[] }[],
): Promise<(OpenProducer & { topic: string; partition: number })[]> {
  const r = await (await c.brokerConnection(leader)).send('DescribeProducers', { topics });
  const out: (OpenProducer & { topic: string; partition: number })[] = [];
  for (const t of r.topics)
    for (const p of t.partitions) {
      if (p.errorCode !== ErrorCode.NONE)
        throw new KafkaError(
          p.errorCode,
          `${t.name}-${p.partitionIndex}: DescribeProducers: ${errorName(p.errorCode)}`,
        );
      for (const a of p.activeProducers)
        out.push({
          topic: t.name,
          partition: p.partitionIndex,
          producerId: Number(a.producerId),
          producerEpoch: a.producerEpoch,
          lastTimestamp: Number(a.lastTimestamp),
          coordinatorEpoch: a.coordinatorEpoch,
          currentTxnStartOffset: Number(a.currentTxnStartOffset),
        });
    }
  return out;
}

/** The transactional ids whose producer id is `producerId` (ListTransactions to every broker). */
async function transactionalIdsOf(c: KafkaClient, producerId: number, brokers: number[]): Promise<string[]> {
  const ids: string[] = [];
  for (const b of brokers) {
    const r = await (await c.brokerConnection(b)).send('ListTransactions', {
      stateFilters: [],
      producerIdFilters: [producerId],
    });
    if (r.errorCode !== ErrorCode.NONE) throw new KafkaError(r.errorCode, `broker ${b}: ${errorName(r.errorCode)}`);
    for (const t of r.transactionStates) ids.push(t.transactionalId);
  }
  return ids;
}
