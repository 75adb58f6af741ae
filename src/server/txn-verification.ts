/**
 * KIP-890 part 1: a partition leader verifies a transactional produce before
 * appending it. The first transactional batch of a producer (id, epoch) on a
 * partition where it has no open transaction is appended only once the
 * transaction coordinator confirms, with AddPartitionsToTxn `verifyOnly` (v4,
 * or v5 for a client told TRANSACTION_ABORTABLE), that the partition is in
 * the producer's ongoing transaction (transactions v2: the partition is added
 * to it instead, see TxnOperation); a write the
 * coordinator does not know of would otherwise open a transaction that no
 * marker ever closes (a hanging transaction).
 *
 * The coordinator is asked in process when it is this broker, over the
 * network otherwise. Once the batch is appended the partition's producer
 * state has the transaction open, which is the verification's cache: later
 * batches of that transaction on the partition are not verified again, until
 * a marker closes it. A guard taken before asking is dropped when a marker of
 * the producer is written on the partition, so that a verification that
 * raced with the end of the transaction appends nothing.
 */
import type { Connection } from '../client/connection.ts';
import { apiByName } from '../protocol/apis.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { partitionForTxn } from '../coordinator/txn/txn-records.ts';
import type { TransactionCoordinator } from '../coordinator/txn/coordinator.ts';
import type { Broker } from './broker.ts';
import type { Partition } from './partition.ts';
import { InterBrokerConnections } from './inter-broker-connections.ts';
import { TXN_TOPIC } from './txn-store.ts';
import { partitionForGroup } from '../coordinator/group/offsets-records.ts';
import { OFFSETS_TOPIC } from './group-store.ts';
import type { TxnOffsetCommitRequest } from '../protocol/generated/messages.ts';

const ADD_PARTITIONS_TO_TXN = apiByName('AddPartitionsToTxn');
/** The version of AddPartitionsToTxn brokers verify with (v4: batched, `verifyOnly`; not in the transaction is INVALID_TXN_STATE). */
const VERIFY_VERSION = 4;
/** v5: not in the transaction is TRANSACTION_ABORTABLE; not verifyOnly, the partition is added (transactions v2). */
const ABORTABLE_VERSION = 5;

/**
 * What a transactional produce asks of its coordinator, by Produce version
 * (Kafka's TransactionSupportedOperation): v0-v10 verify and are told
 * INVALID_TXN_STATE when the partition is not in the transaction; v11 clients
 * handle TRANSACTION_ABORTABLE (KIP-890) and are told that instead; v12+
 * (transactions v2) have the partition added to the transaction.
 */
export type TxnOperation = 'verify' | 'verify-abortable' | 'add';

export function txnOperationForProduce(version: number): TxnOperation {
  return version >= 12 ? 'add' : version >= 11 ? 'verify-abortable' : 'verify';
}

/** The outcome of a verification: NONE (append), or the produce error code and its message. */
export interface Verdict {
  errorCode: number;
  message: string | null;
}

/** Verifications the coordinator could not answer are logged at most once per this many ms. */
const LOG_INTERVAL_MS = 10_000;

const OK: Verdict = { errorCode: ErrorCode.NONE, message: null };

export class TxnVerifier {
  /**
   * Per partition, per producer id: the guard of its verifications at an
   * epoch, from the first until a marker of the producer is written there.
   */
  private readonly guards = new WeakMap<Partition, Map<number, { epoch: number }>>();
  private readonly conns: InterBrokerConnections;

  constructor(
    private readonly b: Broker,
    /** This broker's transaction coordinator, asked in process when it owns the id. */
    private readonly local: TransactionCoordinator | undefined,
    /** transaction.partition.verification.enable */
    readonly enabled: boolean,
  ) {
    this.conns = new InterBrokerConnections(b, `samsa-txn-verification-${b.nodeId}`);
  }

  /** Whether a transactional batch of (producerId, epoch) needs verifying on `part` (no transaction of it open there). */
  needsVerification(part: Partition, producerId: number, epoch: number): boolean {
    if (!this.enabled) return false;
    const e = part.log.producerState.get(producerId);
    return !(e !== undefined && e.epoch === epoch && e.currentTxnFirstOffset >= 0);
  }

  /**
   * Asks the coordinator whether `part` is in the ongoing transaction of
   * (transactionalId, producerId, epoch). NONE means the caller may append,
   * provided `valid()` answers true just before it does: false when a marker
   * of the producer was written on the partition meanwhile. Concurrent
   * verifications of one producer's batches (pipelined requests) share a
   * guard, so that one does not void the other.
   */
  async verify(
    part: Partition,
    transactionalId: string,
    producerId: number,
    epoch: number,
    op: TxnOperation = 'verify',
  ): Promise<{ verdict: Verdict; valid: () => boolean }> {
    let g = this.guards.get(part);
    if (!g) this.guards.set(part, (g = new Map()));
    let guard = g.get(producerId);
    if (guard?.epoch !== epoch) g.set(producerId, (guard = { epoch }));
    const taken = guard;
    const valid = () => this.guards.get(part)?.get(producerId) === taken;
    let code: number;
    try {
      code = await this.ask(transactionalId, producerId, epoch, part.topic.name, part.index, op);
    } catch {
      code = ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    const verdict = verdictFor(code, op);
    if (verdict.errorCode === ErrorCode.NOT_ENOUGH_REPLICAS) this.logUnverified(part, transactionalId, code);
    return { verdict, valid };
  }

  /**
   * Transactions v2: adds (topic, partition) to the producer's transaction
   * (AddPartitionsToTxn v5, not verifyOnly), as a TxnOffsetCommit v5 does for
   * its group's __consumer_offsets partition; answers the coordinator's code.
   */
  async addPartition(
    transactionalId: string,
    producerId: number,
    epoch: number,
    topic: string,
    partition: number,
  ): Promise<number> {
    try {
      return await this.ask(transactionalId, producerId, epoch, topic, partition, 'add');
    } catch {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  private unverifiedLoggedAt = -Infinity;
  private unverifiedSince = 0;

  /** Logged at most once per LOG_INTERVAL_MS, with the count since. */
  private logUnverified(part: Partition, transactionalId: string, errorCode: number): void {
    this.unverifiedSince++;
    const now = Date.now();
    if (now - this.unverifiedLoggedAt < LOG_INTERVAL_MS) return;
    this.b.logger.warn(
      { topic: part.topic.name, partition: part.index, transactionalId, errorCode, refused: this.unverifiedSince },
      'a transactional produce could not be verified with its coordinator (answered NOT_ENOUGH_REPLICAS)',
    );
    this.unverifiedLoggedAt = now;
    this.unverifiedSince = 0;
  }

  /** A COMMIT or ABORT marker of `producerId` was written on (topic, partition): verifications in flight there are void. */
  onMarker(part: Partition, producerId: number): void {
    this.guards.get(part)?.delete(producerId);
  }

  private async ask(
    transactionalId: string,
    producerId: number,
    epoch: number,
    topic: string,
    partition: number,
    op: TxnOperation,
  ): Promise<number> {
    const add = op === 'add';
    const txnTopic = this.b.image.topicsByName.get(TXN_TOPIC);
    if (!txnTopic) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const leader = txnTopic.partitions[partitionForTxn(transactionalId, txnTopic.partitions.length)]?.leader ?? -1;
    if (leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const tp = [{ topic, partition }];
    if (leader === this.b.nodeId) {
      if (!this.local) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      if (add) return this.local.addPartitions(transactionalId, producerId, epoch, tp, 2);
      const notInTxn = op === 'verify' ? ErrorCode.INVALID_TXN_STATE : ErrorCode.TRANSACTION_ABORTABLE;
      return this.local.verifyPartitions(transactionalId, producerId, epoch, tp, notInTxn)[0];
    }
    let conn: Connection;
    try {
      conn = await this.conns.get(leader);
    } catch {
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
    try {
      const res = await conn.sendAt(ADD_PARTITIONS_TO_TXN, op === 'verify' ? VERIFY_VERSION : ABORTABLE_VERSION, {
        transactions: [
          {
            transactionalId,
            producerId,
            producerEpoch: epoch,
            verifyOnly: !add,
            topics: [{ name: topic, partitions: [partition] }],
          },
        ],
      });
      if (res.errorCode !== ErrorCode.NONE) return res.errorCode;
      for (const t of res.resultsByTransaction ?? []) {
        for (const r of t.topicResults) {
          if (r.name !== topic) continue;
          for (const p of r.resultsByPartition) if (p.partitionIndex === partition) return p.partitionErrorCode;
        }
      }
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    } catch {
      this.conns.drop(leader);
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  close(): void {
    this.conns.close();
  }
}

/**
 * The produce answer to the coordinator's, as Kafka's ReplicaManager gives
 * it: not in the transaction is INVALID_TXN_STATE, or TRANSACTION_ABORTABLE
 * for a client that handles it (Produce v11+); a coordinator that cannot
 * answer now is NOT_ENOUGH_REPLICAS, which every client retries without a
 * metadata refresh, but for CONCURRENT_TRANSACTIONS (the transaction is
 * completing), told as it is to a transactions v2 client (`add`), which
 * retries it; a fenced producer is INVALID_PRODUCER_EPOCH.
 */
function verdictFor(code: number, op: TxnOperation): Verdict {
  if (code === ErrorCode.CONCURRENT_TRANSACTIONS && op === 'add')
    return { errorCode: code, message: 'The transaction is being completed: retry' };
  switch (code) {
    case ErrorCode.NONE:
      return OK;
    case ErrorCode.TRANSACTION_ABORTABLE:
      if (op !== 'verify')
        return { errorCode: code, message: 'The partition was not added to the transaction: abort the transaction' };
      return { errorCode: ErrorCode.INVALID_TXN_STATE, message: 'The partition was not added to the transaction' };
    case ErrorCode.INVALID_TXN_STATE:
      return {
        errorCode: ErrorCode.INVALID_TXN_STATE,
        message: 'The partition was not added to the transaction',
      };
    case ErrorCode.PRODUCER_FENCED:
    case ErrorCode.INVALID_PRODUCER_EPOCH:
      return { errorCode: ErrorCode.INVALID_PRODUCER_EPOCH, message: 'The producer epoch is not the current one' };
    case ErrorCode.INVALID_PRODUCER_ID_MAPPING:
      return {
        errorCode: ErrorCode.INVALID_PRODUCER_ID_MAPPING,
        message: 'The producer id is not the one of this transactional id',
      };
    default:
      return {
        errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
        message: `Unable to verify that the partition was added to the transaction (error code ${code})`,
      };
  }
}

/**
 * TxnOffsetCommit v0-v4 (KIP-890 part 1, as Kafka's group coordinator): the
 * group's __consumer_offsets partition is verified with the transaction
 * coordinator (not in the transaction: INVALID_TXN_STATE, TRANSACTION_ABORTABLE
 * on v4) unless the producer's transaction is already open there; a
 * coordinator that cannot answer is COORDINATOR_NOT_AVAILABLE (Kafka's offset
 * commit error for NOT_ENOUGH_REPLICAS). `valid` is checked again just before
 * the offsets are appended (false once a marker of the producer reached the
 * partition meanwhile).
 */
export function offsetsPartitionVerifier(
  b: Broker,
  verifier: TxnVerifier,
): (req: TxnOffsetCommitRequest, version: number) => Promise<{ errorCode: number; valid?: () => boolean }> {
  return async (req, version) => {
    const offsets = b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!offsets) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
    const part = b.replicas.get(OFFSETS_TOPIC, partitionForGroup(req.groupId, offsets.partitions.length));
    const producerId = Number(req.producerId);
    // not led here: the group coordinator's own check answers NOT_COORDINATOR
    if (!part || !verifier.needsVerification(part, producerId, req.producerEpoch)) return { errorCode: ErrorCode.NONE };
    const { verdict, valid } = await verifier.verify(
      part,
      req.transactionalId,
      producerId,
      req.producerEpoch,
      version >= 4 ? 'verify-abortable' : 'verify',
    );
    const errorCode =
      verdict.errorCode === ErrorCode.NOT_ENOUGH_REPLICAS ? ErrorCode.COORDINATOR_NOT_AVAILABLE : verdict.errorCode;
    return { errorCode, valid };
  };
}
