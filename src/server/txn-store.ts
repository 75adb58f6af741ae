/**
 * The transaction coordinator's persistence and its reach into the cluster
 * on this broker: `__transaction_state` (compacted,
 * `transaction.state.log.num.partitions` partitions, created on first use,
 * an id's records on partition abs(hash(transactionalId)) % n), written as
 * ordinary record batches acknowledged like acks=all and read back when this
 * node becomes leader of a partition (`followTxnLeadership`); and the marker
 * sender, which has WriteTxnMarkers written by each partition's leader.
 */
import { batch, encodeBatch, iterateRecords } from '../protocol/records/index.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import {
  acknowledged,
  cappedReplicationFactor,
  ensureInternalTopic,
  followInternalTopicLeadership,
  internalPartitionForWrite,
  internalWriteFailure,
  readInternalPartition,
} from './internal-topics.ts';
import { decodeTxnRecord, encodeTxnRecord, type TxnLogRecord } from '../coordinator/txn/txn-records.ts';
import { type MarkerSender, TransactionCoordinator, type TxnStore } from '../coordinator/txn/coordinator.ts';
import type { Handler, RequestContext } from './dispatcher.ts';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../protocol/generated/messages.ts';
import type { TopicPartition } from '../coordinator/txn/types.ts';
import type { TopicState } from '../metadata/image.ts';
import type { Broker } from './broker.ts';
import { InterBrokerConnections } from './inter-broker-connections.ts';

export const TXN_TOPIC = '__transaction_state';

/** __transaction_state, created on first use (compacted, as Kafka does); one creation at a time. */
export function ensureTxnTopic(b: Broker): Promise<TopicState> {
  return ensureInternalTopic(b, TXN_TOPIC, async () => {
    const { replicationFactor, minIsr } = txnTopicReplication(b);
    const [r] = await b.controller.createTopics(
      [
        {
          name: TXN_TOPIC,
          numPartitions: b.config.transactionStateLogNumPartitions,
          replicationFactor,
          configs: {
            'cleanup.policy': 'compact',
            'compression.type': 'uncompressed',
            'min.insync.replicas': String(minIsr),
            'segment.bytes': String(100 * 1024 * 1024),
          },
        },
      ],
      false,
    );
    return r;
  });
}

/**
 * transaction.state.log.replication.factor, capped by the number of live
 * brokers (with a warning), and transaction.state.log.min.isr capped by that
 * factor: what __transaction_state is created with.
 */
export function txnTopicReplication(b: Broker): { replicationFactor: number; minIsr: number } {
  const replicationFactor = cappedReplicationFactor(
    b,
    TXN_TOPIC,
    'transaction.state.log.replication.factor',
    b.config.transactionStateLogReplicationFactor,
  );
  return { replicationFactor, minIsr: Math.min(b.config.transactionStateLogMinIsr, replicationFactor) };
}

/**
 * Makes the coordinator host the transactional ids of the __transaction_state
 * partitions this node leads, loaded when it becomes leader, dropped when
 * it stops. Resolves once the partitions led now are loaded.
 */
export async function followTxnLeadership(b: Broker, c: TransactionCoordinator): Promise<void> {
  await followInternalTopicLeadership(b, TXN_TOPIC, c, 'transaction coordinator');
}

export class TxnTopicStore implements TxnStore {
  constructor(private readonly b: Broker) {}

  /**
   * Appends the record to its partition and resolves once every in-sync
   * replica has it and this node fsynced it; rejects with the Kafka error in
   * `errorCode`, or REQUEST_TIMED_OUT when not acknowledged within
   * offsets.commit.timeout.ms (the coordinators' write timeout here).
   */
  async write(partition: number, record: TxnLogRecord): Promise<void> {
    await ensureTxnTopic(this.b);
    const part = internalPartitionForWrite(this.b, TXN_TOPIC, partition, ErrorCode.NOT_LEADER_OR_FOLLOWER);
    const info = part.appendAsLeader(encodeBatch({ records: [{ ...encodeTxnRecord(record), timestamp: Date.now() }] }));
    await acknowledged(part, info.lastOffset + 1, this.b.config.offsetsCommitTimeoutMs);
  }

  /** The records of `partition`, in log order, up to the log end offset as it was when the read began. */
  async load(partition: number): Promise<TxnLogRecord[]> {
    const part = this.b.replicas.get(TXN_TOPIC, partition);
    if (!part) return [];
    const out: TxnLogRecord[] = [];
    await readInternalPartition(part, (chunk, at, from) => {
      if (batch.isControl(chunk, at)) return;
      for (const rec of iterateRecords(chunk, at)) {
        if (rec.offset < from) continue;
        const key = rec.key();
        if (key === null) continue;
        const r = decodeTxnRecord(key, rec.value());
        if (r) out.push(r);
      }
    });
    return out;
  }
}

/** Errors of a marker that a later attempt (with the leader looked up again) may overcome. */
const RETRIABLE = new Set<number>([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.UNKNOWN_SERVER_ERROR,
]);

/**
 * Sends WriteTxnMarkers to the leader of each partition of a transaction
 * (this broker included, over its own listener), one request per leader;
 * partitions whose marker failed with a retriable error are retried with
 * their leader looked up again, after `backoffMs`, until written, until
 * their topic is gone, or until `stillValid` says the coordinator no longer
 * owns the transaction. INVALID_PRODUCER_EPOCH / PRODUCER_FENCED /
 * TRANSACTION_COORDINATOR_FENCED (a newer producer or coordinator got there
 * first) end the attempt, as in Kafka.
 */
export class BrokerMarkerSender implements MarkerSender {
  private readonly conns: InterBrokerConnections;
  private closed = false;

  constructor(
    private readonly b: Broker,
    private readonly backoffMs = 100,
  ) {
    this.conns = new InterBrokerConnections(b, `samsa-txn-coordinator-${b.nodeId}`);
  }

  async send(m: Parameters<MarkerSender['send']>[0], stillValid: () => boolean): Promise<void> {
    let left: TopicPartition[] = m.partitions;
    while (left.length > 0) {
      if (this.closed || !stillValid()) throw new Error('the coordinator no longer owns the transaction');
      const byLeader = new Map<number, TopicPartition[]>();
      const retry: TopicPartition[] = [];
      for (const tp of left) {
        const topic = this.b.image.topicsByName.get(tp.topic);
        const state = topic?.partitions[tp.partition];
        if (!state) continue; // deleted: nothing to mark
        if (state.leader < 0) {
          retry.push(tp);
          continue;
        }
        let l = byLeader.get(state.leader);
        if (!l) byLeader.set(state.leader, (l = []));
        l.push(tp);
      }
      const results = await Promise.all(
        [...byLeader].map(async ([leader, tps]) => {
          try {
            return await this.sendTo(leader, m, tps);
          } catch {
            this.conns.drop(leader);
            return { retry: tps, fenced: false };
          }
        }),
      );
      for (const r of results) {
        if (r.fenced) throw new Error('a marker was refused: a newer producer epoch or coordinator exists');
        retry.push(...r.retry);
      }
      left = retry;
      if (left.length > 0) await new Promise((r) => setTimeout(r, this.backoffMs));
    }
  }

  private async sendTo(
    leader: number,
    m: Parameters<MarkerSender['send']>[0],
    tps: TopicPartition[],
  ): Promise<{ retry: TopicPartition[]; fenced: boolean }> {
    const conn = await this.conns.get(leader);
    const topics = new Map<string, number[]>();
    for (const tp of tps) {
      let l = topics.get(tp.topic);
      if (!l) topics.set(tp.topic, (l = []));
      l.push(tp.partition);
    }
    const res = await conn.send('WriteTxnMarkers', {
      markers: [
        {
          producerId: m.producerId,
          producerEpoch: m.producerEpoch,
          transactionResult: m.commit,
          coordinatorEpoch: m.coordinatorEpoch,
          transactionVersion: 0,
          topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        },
      ],
    });
    const retry: TopicPartition[] = [];
    let fenced = false;
    const answered = new Set<string>();
    for (const mk of res.markers) {
      for (const t of mk.topics) {
        for (const p of t.partitions) {
          answered.add(`${t.name}\0${p.partitionIndex}`);
          if (p.errorCode === ErrorCode.NONE) continue;
          if (
            p.errorCode === ErrorCode.INVALID_PRODUCER_EPOCH ||
            p.errorCode === ErrorCode.PRODUCER_FENCED ||
            p.errorCode === ErrorCode.TRANSACTION_COORDINATOR_FENCED
          ) {
            fenced = true;
          } else if (RETRIABLE.has(p.errorCode)) {
            retry.push({ topic: t.name, partition: p.partitionIndex });
          } else {
            this.b.logger.warn(
              { topic: t.name, partition: p.partitionIndex, errorCode: p.errorCode, producerId: m.producerId },
              'a transaction marker was refused; not retried',
            );
          }
        }
      }
    }
    for (const tp of tps) if (!answered.has(`${tp.topic}\0${tp.partition}`)) retry.push(tp);
    return { retry, fenced };
  }

  close(): void {
    this.closed = true;
    this.conns.close();
  }
}

/** A request context for the producer id requests the coordinator makes itself (InitProducerId v4 without a transactional id). */
const ALLOCATION_CONTEXT = {
  apiKey: 22,
  apiVersion: 4,
  correlationId: 0,
  clientId: null,
  conn: undefined,
} as unknown as RequestContext;

/**
 * The transaction coordinator of this broker: its store and marker sender,
 * producer ids taken from `producerIds` (the idempotent InitProducerId
 * handler, relayed to the active controller), and the periodic abort of
 * timed-out transactions (transaction.abort.timed.out.transaction.cleanup.interval.ms)
 * and expiry of idle ids (transaction.remove.expired.transaction.cleanup.interval.ms).
 */
export function startTxnCoordinator(
  b: Broker,
  producerIds: Handler<InitProducerIdRequest, InitProducerIdResponseInput>,
): { coordinator: TransactionCoordinator; close(): void } {
  const markers = new BrokerMarkerSender(b);
  const txnTopic = () => b.image.topicsByName.get(TXN_TOPIC);
  const coordinator = new TransactionCoordinator(
    { maxTimeoutMs: b.config.transactionMaxTimeoutMs, idExpirationMs: b.config.transactionalIdExpirationMs },
    {
      store: new TxnTopicStore(b),
      markers,
      async allocateProducerId() {
        const r = (await producerIds(
          { transactionalId: null, transactionTimeoutMs: 0, producerId: -1, producerEpoch: -1 },
          ALLOCATION_CONTEXT,
        )) as InitProducerIdResponseInput;
        if (r.errorCode !== ErrorCode.NONE)
          throw internalWriteFailure(`no producer id could be allocated (error code ${r.errorCode})`, r.errorCode);
        return Number(r.producerId);
      },
      now: () => Date.now(),
      partitionCount: () => txnTopic()?.partitions.length ?? b.config.transactionStateLogNumPartitions,
      isLeader: (p) => txnTopic()?.partitions[p]?.leader === b.nodeId,
      logger: b.logger,
    },
  );
  const interval = (name: string, dflt: number) => {
    const v = Number(b.config.raw.get(name) ?? dflt);
    return Number.isFinite(v) && v > 0 ? v : dflt;
  };
  const abortTimer = setInterval(
    () => coordinator.abortTimedOut(),
    interval('transaction.abort.timed.out.transaction.cleanup.interval.ms', 10_000),
  );
  const expireTimer = setInterval(
    () => void coordinator.expireIds(),
    interval('transaction.remove.expired.transaction.cleanup.interval.ms', 3_600_000),
  );
  abortTimer.unref();
  expireTimer.unref();
  return {
    coordinator,
    close() {
      clearInterval(abortTimer);
      clearInterval(expireTimer);
      coordinator.close();
      markers.close();
    },
  };
}
