/** The transaction coordinator's states and metadata (Kafka's TransactionState / TransactionMetadata). */

/** In the order of their status byte in TransactionLogValue. */
export const TXN_STATES = [
  'Empty',
  'Ongoing',
  'PrepareCommit',
  'PrepareAbort',
  'CompleteCommit',
  'CompleteAbort',
  'Dead',
  'PrepareEpochFence',
] as const;

export type TxnState = (typeof TXN_STATES)[number];

/** One transactional id's metadata as the coordinator holds it. */
export interface TxnMetadata {
  readonly transactionalId: string;
  producerId: number;
  prevProducerId: number;
  producerEpoch: number;
  /** The epoch before the last bump, -1 when none: a retried InitProducerId with it gets the current one. */
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TxnState;
  partitions: Map<string, Set<number>>;
  startTimestamp: number;
  lastUpdateTimestamp: number;
  /** The state a write in flight moves to: other requests get CONCURRENT_TRANSACTIONS meanwhile. */
  pending: TxnState | null;
  /**
   * The transaction version of the client that last started or ended a
   * transaction of this id (TransactionLogValue's ClientTransactionVersion):
   * 2 for transactions v2 (EndTxn v5, partitions added by the leaders), 0
   * otherwise. A fenced transaction of version 2 is aborted with its epoch
   * bumped twice, as Kafka does, so that no producer's retry matches it.
   */
  clientTransactionVersion: number;
  /**
   * The producer id and epoch of the EndTxn v5 that ended the last
   * transaction, so that its retry is answered. Not written as such: a
   * coordinator loading the log derives it from a prepared or completed
   * transaction of version 2 (the epoch before the bump, or the previous
   * producer id at the exhausted epoch), as Kafka's retry rules do.
   */
  endedBy?: { producerId: number; producerEpoch: number };
  /**
   * EndTxn v5 at an exhausted epoch: the producer id the transaction's
   * completion moves to (at epoch 0); written as NextProducerId.
   */
  nextProducerId?: number;
}

/** The largest producer epoch; at it the producer id is replaced by a new one. */
export const MAX_EPOCH = 32767;

export function isEpochExhausted(epoch: number): boolean {
  return epoch >= MAX_EPOCH - 1;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

export function partitionList(m: Map<string, Set<number>>): TopicPartition[] {
  const out: TopicPartition[] = [];
  for (const [topic, ps] of m) for (const partition of ps) out.push({ topic, partition });
  return out;
}
