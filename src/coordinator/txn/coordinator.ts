/**
 * The transaction coordinator (KIP-98): one metadata entry per
 * transactional.id, hosted on the broker that leads the id's
 * `__transaction_state` partition. Every state change is written to that
 * partition first (the store) and applied once acknowledged; while a write is
 * in flight the id answers CONCURRENT_TRANSACTIONS, as Kafka's pending
 * transition does. Ending a transaction writes PrepareCommit/PrepareAbort,
 * answers the producer, has the markers written to every partition of the
 * transaction (the marker sender) and then writes CompleteCommit /
 * CompleteAbort. The store, the producer id source, the marker sender and the
 * clock are injected: no I/O here.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { TxnLogRecord, TxnLogValue } from './txn-records.ts';
import { partitionForTxn } from './txn-records.ts';
import {
  isEpochExhausted,
  MAX_EPOCH,
  partitionList,
  type TopicPartition,
  type TxnMetadata,
  type TxnState,
} from './types.ts';

export interface TxnStore {
  /** Appends the record to `__transaction_state-partition`, acknowledged like acks=all; rejects with `errorCode` set. */
  write(partition: number, record: TxnLogRecord): Promise<void>;
  /** The records of one partition, in log order. */
  load(partition: number): Promise<TxnLogRecord[]>;
}

export interface MarkerSender {
  /**
   * Has a COMMIT or ABORT marker written to each partition (by its leader),
   * retrying what can be retried; resolves once each partition has its marker
   * or no longer exists. Rejects only when the attempt is given up (`stillValid` false).
   */
  send(
    m: {
      transactionalId: string;
      producerId: number;
      producerEpoch: number;
      commit: boolean;
      coordinatorEpoch: number;
      partitions: TopicPartition[];
    },
    stillValid: () => boolean,
  ): Promise<void>;
}

export interface TxnCoordinatorConfig {
  /** transaction.max.timeout.ms */
  maxTimeoutMs: number;
  /** transactional.id.expiration.ms */
  idExpirationMs: number;
}

export interface TxnCoordinatorDeps {
  store: TxnStore;
  markers: MarkerSender;
  /** A fresh producer id (from the controller's blocks). */
  allocateProducerId(): Promise<number>;
  now(): number;
  /** Partitions of __transaction_state. */
  partitionCount(): number;
  /** Whether this node leads `partition` of __transaction_state (loading or not). */
  isLeader(partition: number): boolean;
  logger?: {
    info?(o: object, msg: string): void;
    warn(o: object, msg: string): void;
  };
}

interface Hosted {
  partition: number;
  /** The leader epoch of the partition: the coordinator epoch carried by markers. */
  epoch: number;
  loaded: boolean;
  txns: Map<string, TxnMetadata>;
}

export interface InitResult {
  errorCode: number;
  producerId: number;
  producerEpoch: number;
}

/** EndTxn v5's answer: the producer id and epoch of the producer's next transaction (-1 on an error). */
export type EndResult = InitResult;

export interface TxnDescription {
  transactionalId: string;
  state: TxnState;
  producerId: number;
  producerEpoch: number;
  timeoutMs: number;
  startTimestamp: number;
  partitions: TopicPartition[];
}

/** Kafka's coordinator answer for a failed write to __transaction_state. */
export function txnWriteError(err: unknown): number {
  const code = (err as { errorCode?: number } | undefined)?.errorCode;
  switch (code) {
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

function copyPartitions(m: Map<string, Set<number>>): Map<string, Set<number>> {
  return new Map([...m].map(([t, ps]) => [t, new Set(ps)]));
}

function toValue(m: TxnMetadata): TxnLogValue {
  return {
    producerId: m.producerId,
    prevProducerId: m.prevProducerId,
    nextProducerId: m.nextProducerId ?? -1,
    producerEpoch: m.producerEpoch,
    timeoutMs: m.timeoutMs,
    state: m.state,
    partitions: m.partitions,
    lastUpdateTimestamp: m.lastUpdateTimestamp,
    startTimestamp: m.startTimestamp,
    clientTransactionVersion: m.clientTransactionVersion,
  };
}

/**
 * The EndTxn v5 that ended a transaction of version 2, from what the log
 * holds (Kafka's retry rules): a prepared or completed transaction was ended
 * at the epoch before its bumped one, or, completed on a new producer id at
 * epoch 0, at the previous id's exhausted epoch. A transaction fenced by
 * InitProducerId or a timeout was bumped twice, so the epoch found here was
 * never any producer's.
 */
function endedByOf(v: TxnLogValue): TxnMetadata['endedBy'] {
  if (v.clientTransactionVersion < 2) return undefined;
  switch (v.state) {
    case 'CompleteCommit':
    case 'CompleteAbort':
      if (v.producerEpoch === 0 && v.prevProducerId !== -1)
        return { producerId: v.prevProducerId, producerEpoch: MAX_EPOCH - 1 };
      break;
    case 'PrepareCommit':
    case 'PrepareAbort':
      break;
    default:
      return undefined;
  }
  return v.producerEpoch > 0 ? { producerId: v.producerId, producerEpoch: v.producerEpoch - 1 } : undefined;
}

type Lookup = { errorCode: number; host?: Hosted; txn?: TxnMetadata };

export class TransactionCoordinator {
  private readonly hosted = new Map<number, Hosted>();
  private closed = false;

  constructor(
    private readonly config: TxnCoordinatorConfig,
    private readonly d: TxnCoordinatorDeps,
  ) {}

  partitionFor(transactionalId: string): number {
    return partitionForTxn(transactionalId, this.d.partitionCount());
  }

  // ---- hosting -------------------------------------------------------------------------------------

  /**
   * This node became leader of `partition` in `epoch`: its transactions are
   * loaded from the log (COORDINATOR_LOAD_IN_PROGRESS until then), and those
   * found in PrepareCommit / PrepareAbort have their markers sent again and
   * are completed. The same or an older epoch changes nothing.
   */
  async onElection(partition: number, epoch: number): Promise<void> {
    if (this.closed) return;
    const cur = this.hosted.get(partition);
    if (cur && cur.epoch >= epoch) return;
    const h: Hosted = { partition, epoch, loaded: false, txns: new Map() };
    this.hosted.set(partition, h);
    let records: TxnLogRecord[];
    try {
      records = await this.d.store.load(partition);
    } catch (err) {
      if (this.hosted.get(partition) === h) this.hosted.delete(partition);
      this.d.logger?.warn({ err, partition }, `could not load __transaction_state-${partition}`);
      return;
    }
    if (this.hosted.get(partition) !== h || this.closed) return;
    for (const r of records) {
      if (r.value === null) {
        h.txns.delete(r.transactionalId);
        continue;
      }
      const prev = h.txns.get(r.transactionalId);
      h.txns.set(r.transactionalId, {
        transactionalId: r.transactionalId,
        ...r.value,
        partitions: copyPartitions(r.value.partitions),
        lastProducerEpoch: prev && prev.producerId === r.value.producerId ? prev.producerEpoch : -1,
        pending: null,
        endedBy: endedByOf(r.value),
        nextProducerId: r.value.nextProducerId === -1 ? undefined : r.value.nextProducerId,
      });
    }
    h.loaded = true;
    if (h.txns.size > 0)
      this.d.logger?.info?.({ partition, epoch, transactions: h.txns.size }, `loaded __transaction_state-${partition}`);
    for (const t of h.txns.values()) {
      if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') void this.completeTransaction(h, t);
    }
  }

  /** This node no longer leads `partition`: its transactions answer NOT_COORDINATOR. */
  onResignation(partition: number): void {
    this.hosted.delete(partition);
  }

  close(): void {
    this.closed = true;
    this.hosted.clear();
  }

  private lookup(transactionalId: string): Lookup {
    const p = this.partitionFor(transactionalId);
    const h = this.hosted.get(p);
    if (!h) {
      return {
        errorCode: this.d.isLeader(p) ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NOT_COORDINATOR,
      };
    }
    if (!h.loaded) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS };
    return { errorCode: ErrorCode.NONE, host: h, txn: h.txns.get(transactionalId) };
  }

  /** NONE when this node coordinates `transactionalId`, else NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS. */
  coordinatorError(transactionalId: string): number {
    return this.lookup(transactionalId).errorCode;
  }

  /**
   * Writes `next` (a copy of `t` in its next state), then applies it. Resolves
   * NONE, or the error the client gets: the id answers
   * CONCURRENT_TRANSACTIONS while the write is in flight.
   */
  private async transition(h: Hosted, t: TxnMetadata, next: TxnMetadata): Promise<number> {
    t.pending = next.state;
    try {
      await this.d.store.write(h.partition, { transactionalId: t.transactionalId, value: toValue(next) });
    } catch (err) {
      t.pending = null;
      const code = txnWriteError(err);
      this.d.logger?.warn(
        { err, transactionalId: t.transactionalId, state: next.state },
        'could not write a transaction state change to __transaction_state',
      );
      return code;
    } finally {
      if (this.hosted.get(h.partition) !== h) t.pending = null;
    }
    // the partition moved (or was reloaded) while the write was acknowledged: its new leader reads it from the log
    if (this.hosted.get(h.partition) !== h) return ErrorCode.NOT_COORDINATOR;
    Object.assign(t, next, { pending: null });
    return ErrorCode.NONE;
  }

  private nextOf(t: TxnMetadata, change: Partial<TxnMetadata>): TxnMetadata {
    return {
      ...t,
      partitions: copyPartitions(t.partitions),
      lastUpdateTimestamp: this.d.now(),
      pending: null,
      endedBy: undefined,
      nextProducerId: undefined,
      ...change,
    };
  }

  // ---- InitProducerId ------------------------------------------------------------------------------

  /**
   * InitProducerId with a transactional id: a new id gets a producer id at
   * epoch 0; a known one has its epoch bumped (fencing the older producer),
   * or a new producer id once the epoch is exhausted. An open transaction
   * is aborted first (with a bumped epoch) and the producer told
   * CONCURRENT_TRANSACTIONS to retry. `expected` (v3+, KIP-360) is the
   * producer's current id and epoch when it asks to bump its own epoch.
   */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
    expected: { producerId: number; producerEpoch: number } | null,
  ): Promise<InitResult> {
    const fail = (errorCode: number): InitResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    if (timeoutMs <= 0 || timeoutMs > this.config.maxTimeoutMs) return fail(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    let l = this.lookup(transactionalId);
    if (l.errorCode !== ErrorCode.NONE) return fail(l.errorCode);
    if (!l.txn) {
      const producerId = await this.allocate();
      if (typeof producerId !== 'number') return fail(producerId.errorCode);
      l = this.lookup(transactionalId);
      if (l.errorCode !== ErrorCode.NONE) return fail(l.errorCode);
      if (!l.txn) {
        const now = this.d.now();
        const created: TxnMetadata = {
          transactionalId,
          producerId,
          prevProducerId: -1,
          producerEpoch: -1,
          lastProducerEpoch: -1,
          timeoutMs,
          state: 'Empty',
          partitions: new Map(),
          startTimestamp: -1,
          lastUpdateTimestamp: now,
          pending: null,
          clientTransactionVersion: 0,
        };
        l.host!.txns.set(transactionalId, created);
        l.txn = created;
      }
    }
    const h = l.host!;
    const t = l.txn!;
    if (t.pending) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    if (expected && !this.validExpected(t, expected)) return fail(ErrorCode.PRODUCER_FENCED);
    switch (t.state) {
      case 'PrepareCommit':
      case 'PrepareAbort':
      case 'PrepareEpochFence':
      case 'Dead':
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      case 'Ongoing': {
        // the older producer left a transaction open: fence it and abort that transaction
        const code = await this.abort(h, t, true);
        return fail(code === ErrorCode.NONE ? ErrorCode.CONCURRENT_TRANSACTIONS : code);
      }
      default:
        break;
    }
    let next: TxnMetadata;
    if (isEpochExhausted(t.producerEpoch)) {
      const producerId = await this.allocate();
      if (typeof producerId !== 'number') return fail(producerId.errorCode);
      if (t.pending || this.hosted.get(h.partition) !== h) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      next = this.nextOf(t, {
        prevProducerId: t.producerId,
        producerId,
        producerEpoch: 0,
        lastProducerEpoch: -1,
      });
    } else if (expected && expected.producerEpoch !== -1 && t.producerEpoch !== -1) {
      if (expected.producerEpoch === t.producerEpoch) {
        next = this.nextOf(t, { producerEpoch: t.producerEpoch + 1, lastProducerEpoch: t.producerEpoch });
      } else if (expected.producerEpoch === t.lastProducerEpoch) {
        // a retry of a bump whose answer was lost: the same epoch again
        next = this.nextOf(t, {});
      } else {
        return fail(ErrorCode.PRODUCER_FENCED);
      }
    } else {
      next = this.nextOf(t, { producerEpoch: t.producerEpoch + 1, lastProducerEpoch: t.producerEpoch });
    }
    Object.assign(next, { state: 'Empty', timeoutMs, partitions: new Map(), startTimestamp: -1 });
    const code = await this.transition(h, t, next);
    if (code !== ErrorCode.NONE) return fail(code);
    return { errorCode: ErrorCode.NONE, producerId: t.producerId, producerEpoch: t.producerEpoch };
  }

  /** A fresh producer id, or the error the producer gets when none could be had (COORDINATOR_NOT_AVAILABLE unless told). */
  private async allocate(): Promise<number | { errorCode: number }> {
    try {
      return await this.d.allocateProducerId();
    } catch (err) {
      const code = (err as { errorCode?: number }).errorCode;
      this.d.logger?.warn({ err }, 'transaction coordinator: no producer id could be allocated');
      return { errorCode: code ?? ErrorCode.COORDINATOR_NOT_AVAILABLE };
    }
  }

  /** KIP-360: the producer id and epoch a producer says it has are this id's (or, after a rotation, the previous one's). */
  private validExpected(t: TxnMetadata, e: { producerId: number; producerEpoch: number }): boolean {
    if (e.producerId === -1 && e.producerEpoch === -1) return true;
    return (
      t.producerEpoch === -1 ||
      e.producerId === t.producerId ||
      (e.producerId === t.prevProducerId && isEpochExhausted(e.producerEpoch))
    );
  }

  // ---- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------------------

  private checkProducer(l: Lookup, producerId: number, producerEpoch: number): number {
    if (l.errorCode !== ErrorCode.NONE) return l.errorCode;
    const t = l.txn;
    // the new producer id of an exhausted epoch's transaction, before that transaction completes
    if (t?.nextProducerId !== undefined && t.nextProducerId === producerId && producerEpoch === 0)
      return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (t.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (t.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    if (t.state === 'PrepareCommit' || t.state === 'PrepareAbort') return ErrorCode.CONCURRENT_TRANSACTIONS;
    return ErrorCode.NONE;
  }

  /**
   * Adds partitions to the producer's transaction (starting it if none is
   * open); resolves NONE or the one error that applies to every partition.
   * `clientTransactionVersion` is 2 when a partition leader adds them for a
   * client of transactions v2 (AddPartitionsToTxn v5, not verifyOnly).
   */
  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: TopicPartition[],
    clientTransactionVersion = 0,
  ): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const l = this.lookup(transactionalId);
    const refused = this.checkProducer(l, producerId, producerEpoch);
    if (refused !== ErrorCode.NONE) return refused;
    const t = l.txn!;
    if (t.state === 'Ongoing' && partitions.every((p) => t.partitions.get(p.topic)?.has(p.partition))) {
      return ErrorCode.NONE;
    }
    const now = this.d.now();
    const next = this.nextOf(t, {
      state: 'Ongoing',
      startTimestamp: t.state === 'Ongoing' ? t.startTimestamp : now,
      clientTransactionVersion,
    });
    for (const p of partitions) {
      let s = next.partitions.get(p.topic);
      if (!s) next.partitions.set(p.topic, (s = new Set()));
      s.add(p.partition);
    }
    return this.transition(l.host!, t, next);
  }

  /**
   * AddPartitionsToTxn v4+ verifyOnly (KIP-890): whether each partition is
   * in the producer's ongoing transaction; `notInTxn` is the error of one
   * that is not.
   */
  verifyPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: TopicPartition[],
    notInTxn: number,
  ): number[] {
    const l = this.lookup(transactionalId);
    const refused = this.checkProducer(l, producerId, producerEpoch);
    if (refused !== ErrorCode.NONE) return partitions.map(() => refused);
    const t = l.txn!;
    return partitions.map((p) =>
      t.state === 'Ongoing' && t.partitions.get(p.topic)?.has(p.partition) ? ErrorCode.NONE : notInTxn,
    );
  }

  // ---- EndTxn -------------------------------------------------------------------------------------

  /** EndTxn: commit or abort the producer's transaction (NONE once PrepareCommit / PrepareAbort is written). */
  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const l = this.lookup(transactionalId);
    if (l.errorCode !== ErrorCode.NONE) return l.errorCode;
    const t = l.txn;
    if (!t || t.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (t.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (t.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    switch (t.state) {
      case 'Ongoing':
        return commit ? this.commit(l.host!, t) : this.abort(l.host!, t, false, 0);
      case 'CompleteCommit':
        return commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE;
      case 'CompleteAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE;
      case 'PrepareCommit':
        return commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE;
      case 'PrepareAbort':
        return commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS;
      default:
        return ErrorCode.INVALID_TXN_STATE;
    }
  }

  /**
   * EndTxn v5 (transactions v2, KIP-890 part 2): the transaction's end bumps
   * the producer epoch, PrepareCommit / PrepareAbort is written with the new
   * epoch (so the markers carry it and fence any write of the old one) and
   * the producer gets the new id and epoch back. The retry of an EndTxn whose
   * answer was lost (the producer id and epoch that ended the transaction)
   * gets CONCURRENT_TRANSACTIONS while the transaction is still
   * PrepareCommit / PrepareAbort and the same answer once it is complete. An abort with no
   * transaction open also ends with a bump, as Kafka does for these clients.
   * At an exhausted epoch the markers carry the last epoch and the producer
   * gets a new producer id at epoch 0, which the completion moves to.
   */
  async endTxnV2(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    commit: boolean,
  ): Promise<EndResult> {
    const fail = (errorCode: number): EndResult => ({ errorCode, producerId: -1, producerEpoch: -1 });
    if (transactionalId === '') return fail(ErrorCode.INVALID_REQUEST);
    const l = this.lookup(transactionalId);
    if (l.errorCode !== ErrorCode.NONE) return fail(l.errorCode);
    const t = l.txn;
    const retry = t?.endedBy?.producerId === producerId && t.endedBy.producerEpoch === producerEpoch;
    if (!t || (t.producerId !== producerId && !retry)) return fail(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (t.producerEpoch !== producerEpoch && !retry) return fail(ErrorCode.PRODUCER_FENCED);
    if (t.pending) return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
    const ended = (errorCode: number): EndResult => {
      if (errorCode !== ErrorCode.NONE) return fail(errorCode);
      // the producer's next transaction: on the new id once the exhausted epoch's transaction completes
      if (t.nextProducerId !== undefined) return { errorCode, producerId: t.nextProducerId, producerEpoch: 0 };
      return { errorCode, producerId: t.producerId, producerEpoch: t.producerEpoch };
    };
    if (retry) {
      // as Kafka: the retry of the same outcome waits until the markers complete it, then gets the answer
      switch (t.state) {
        case 'PrepareCommit':
          return fail(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
        case 'PrepareAbort':
          return fail(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
        case 'CompleteCommit':
          return ended(commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE);
        case 'CompleteAbort':
          return ended(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE);
        default:
          return fail(ErrorCode.INVALID_TXN_STATE);
      }
    }
    switch (t.state) {
      case 'Ongoing':
        break;
      case 'Empty':
      case 'CompleteCommit':
      case 'CompleteAbort':
        if (commit) return fail(ErrorCode.INVALID_TXN_STATE);
        break;
      case 'PrepareCommit':
      case 'PrepareAbort':
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      default:
        return fail(ErrorCode.INVALID_TXN_STATE);
    }
    let nextProducerId: number | undefined;
    if (isEpochExhausted(t.producerEpoch)) {
      const allocated = await this.allocate();
      if (typeof allocated !== 'number') return fail(allocated.errorCode);
      if (t.pending || t.producerEpoch !== producerEpoch || this.lookup(transactionalId).txn !== t)
        return fail(ErrorCode.CONCURRENT_TRANSACTIONS);
      nextProducerId = allocated;
    }
    const h = l.host!;
    const next = this.nextOf(t, {
      state: commit ? 'PrepareCommit' : 'PrepareAbort',
      producerEpoch: t.producerEpoch + 1,
      lastProducerEpoch: t.producerEpoch,
      endedBy: { producerId, producerEpoch },
      nextProducerId,
      clientTransactionVersion: 2,
    });
    const code = await this.transition(h, t, next);
    if (code === ErrorCode.NONE) void this.completeTransaction(h, t);
    return ended(code);
  }

  /** EndTxn v0-v4 (transactions v1): writes PrepareCommit, then completes it. */
  private async commit(h: Hosted, t: TxnMetadata): Promise<number> {
    const code = await this.transition(h, t, this.nextOf(t, { state: 'PrepareCommit', clientTransactionVersion: 0 }));
    if (code === ErrorCode.NONE) void this.completeTransaction(h, t);
    return code;
  }

  /**
   * Writes PrepareAbort, then completes it. `fence` (InitProducerId, a
   * timeout): the epoch is bumped so that the producer that left the
   * transaction open is fenced, twice for a transaction of version 2 (as
   * Kafka's epoch fence followed by its TV2 bump) so that the producer's
   * retried EndTxn v5 never matches. Else (EndTxn v0-v4) the transaction
   * becomes version `clientTransactionVersion`.
   */
  private async abort(h: Hosted, t: TxnMetadata, fence: boolean, clientTransactionVersion?: number): Promise<number> {
    let bump = fence && !isEpochExhausted(t.producerEpoch) ? 1 : 0;
    if (bump && t.clientTransactionVersion >= 2) bump = Math.min(2, MAX_EPOCH - t.producerEpoch);
    const next = this.nextOf(t, {
      state: 'PrepareAbort',
      ...(bump > 0 ? { producerEpoch: t.producerEpoch + bump, lastProducerEpoch: t.producerEpoch } : {}),
      ...(clientTransactionVersion !== undefined ? { clientTransactionVersion } : {}),
    });
    const code = await this.transition(h, t, next);
    if (code === ErrorCode.NONE) void this.completeTransaction(h, t);
    return code;
  }

  /** Markers to every partition of `t` (in PrepareCommit / PrepareAbort), then CompleteCommit / CompleteAbort. */
  private async completeTransaction(h: Hosted, t: TxnMetadata): Promise<void> {
    const commit = t.state === 'PrepareCommit';
    const valid = () => !this.closed && this.hosted.get(h.partition) === h;
    try {
      await this.d.markers.send(
        {
          transactionalId: t.transactionalId,
          producerId: t.producerId,
          producerEpoch: t.producerEpoch,
          commit,
          coordinatorEpoch: h.epoch,
          partitions: partitionList(t.partitions),
        },
        valid,
      );
    } catch (err) {
      if (valid())
        this.d.logger?.warn({ err, transactionalId: t.transactionalId }, 'transaction markers were not written');
      return;
    }
    if (!valid()) return;
    const next = this.nextOf(t, {
      state: commit ? 'CompleteCommit' : 'CompleteAbort',
      partitions: new Map(),
      endedBy: t.endedBy,
      ...(t.nextProducerId !== undefined
        ? { prevProducerId: t.producerId, producerId: t.nextProducerId, producerEpoch: 0, lastProducerEpoch: -1 }
        : {}),
    });
    // a failed write of the completion leaves the transaction prepared: retried until written or no longer led here
    for (;;) {
      const code = await this.transition(h, t, next);
      if (code === ErrorCode.NONE || !valid()) return;
      await new Promise((r) => setTimeout(r, 500));
      if (!valid()) return;
    }
  }

  // ---- timeouts and expiry -------------------------------------------------------------------------

  /**
   * Aborts every ongoing transaction open longer than its timeout, bumping
   * the producer's epoch so that the producer that left it is fenced
   * (Kafka's abortTimedOutTransactions). Returns how many it started to abort.
   */
  abortTimedOut(): number {
    const now = this.d.now();
    let n = 0;
    for (const h of this.hosted.values()) {
      if (!h.loaded) continue;
      for (const t of h.txns.values()) {
        if (t.state !== 'Ongoing' || t.pending || t.startTimestamp + t.timeoutMs > now) continue;
        n++;
        this.d.logger?.info?.(
          { transactionalId: t.transactionalId, producerId: t.producerId, timeoutMs: t.timeoutMs },
          'aborting a transaction that exceeded its timeout',
        );
        void this.abort(h, t, true);
      }
    }
    return n;
  }

  /** Removes ids idle (with no transaction open) longer than transactional.id.expiration.ms: a tombstone each. */
  async expireIds(): Promise<number> {
    const now = this.d.now();
    let n = 0;
    for (const h of this.hosted.values()) {
      if (!h.loaded) continue;
      for (const t of [...h.txns.values()]) {
        const idle = t.state === 'Empty' || t.state === 'CompleteCommit' || t.state === 'CompleteAbort';
        if (!idle || t.pending || t.lastUpdateTimestamp + this.config.idExpirationMs > now) continue;
        t.pending = 'Dead';
        try {
          await this.d.store.write(h.partition, { transactionalId: t.transactionalId, value: null });
          if (this.hosted.get(h.partition) === h && h.txns.get(t.transactionalId) === t) {
            h.txns.delete(t.transactionalId);
            n++;
          }
        } catch (err) {
          this.d.logger?.warn({ err, transactionalId: t.transactionalId }, 'could not expire a transactional id');
        } finally {
          t.pending = null;
        }
      }
    }
    return n;
  }

  // ---- DescribeTransactions / ListTransactions -----------------------------------------------------

  describe(transactionalId: string): { errorCode: number; txn?: TxnDescription } {
    const l = this.lookup(transactionalId);
    if (l.errorCode !== ErrorCode.NONE) return { errorCode: l.errorCode };
    if (!l.txn) return { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND };
    return { errorCode: ErrorCode.NONE, txn: describeOf(l.txn) };
  }

  /** The transactions of the loaded partitions, filtered as ListTransactions asks (empty filters: all). */
  list(states: string[], producerIds: number[], durationFilterMs = -1): { loading: boolean; txns: TxnDescription[] } {
    const now = this.d.now();
    let loading = false;
    const out: TxnDescription[] = [];
    for (const h of this.hosted.values()) {
      if (!h.loaded) {
        loading = true;
        continue;
      }
      for (const t of h.txns.values()) {
        if (states.length > 0 && !states.includes(t.state)) continue;
        if (producerIds.length > 0 && !producerIds.includes(t.producerId)) continue;
        // as Kafka: running longer than the filter (measured from the transaction's start timestamp)
        if (durationFilterMs >= 0 && now - t.startTimestamp <= durationFilterMs) continue;
        out.push(describeOf(t));
      }
    }
    return { loading, txns: out };
  }
}

function describeOf(t: TxnMetadata): TxnDescription {
  return {
    transactionalId: t.transactionalId,
    state: t.state,
    producerId: t.producerId,
    producerEpoch: t.producerEpoch,
    timeoutMs: t.timeoutMs,
    startTimestamp: t.startTimestamp,
    partitions: partitionList(t.partitions),
  };
}
