/**
 * The transaction coordinator's APIs: InitProducerId with a transactional
 * id, AddPartitionsToTxn (v0-v3 from producers, v4+ batched and verifyOnly
 * from brokers), AddOffsetsToTxn, EndTxn, DescribeTransactions,
 * ListTransactions. Decisions are the coordinator's
 * (src/coordinator/txn/coordinator.ts); this file maps wire versions.
 * PRODUCER_FENCED is answered as INVALID_PRODUCER_EPOCH to versions that
 * predate it, as Kafka does.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { TransactionCoordinator } from '../../coordinator/txn/coordinator.ts';
import { TXN_STATES } from '../../coordinator/txn/types.ts';
import { partitionForGroup } from '../../coordinator/group/offsets-records.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { TxnVerifier } from '../txn-verification.ts';
import { OFFSETS_TOPIC, ensureOffsetsTopic } from '../group-store.ts';
import type {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponseInput,
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponseInput,
  AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInput,
  DescribeTransactionsRequest,
  DescribeTransactionsResponseInput,
  EndTxnRequest,
  EndTxnResponseInput,
  InitProducerIdRequest,
  InitProducerIdResponseInput,
  ListTransactionsRequest,
  ListTransactionsResponseInput,
  TxnOffsetCommitRequest,
  TxnOffsetCommitResponseInput,
} from '../../protocol/generated/messages.ts';
import type { GroupCoordinatorService } from '../../coordinator/group/service.ts';
import type { PartitionExists } from '../../coordinator/group/group-coordinator.ts';
import { allowed, type AuthzContext, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

/** PRODUCER_FENCED (error 90) for versions that know it; INVALID_PRODUCER_EPOCH before `since`. */
function fencedFor(code: number, version: number, since: number): number {
  return code === ErrorCode.PRODUCER_FENCED && version < since ? ErrorCode.INVALID_PRODUCER_EPOCH : code;
}

/**
 * InitProducerId: a transactional id goes to the coordinator; an idempotent
 * producer (no transactional id) to `idempotent`, the producer id handler
 * relayed to the active controller.
 */
export function initProducerIdTxnHandler(
  txn: TransactionCoordinator,
  idempotent: Handler<InitProducerIdRequest, InitProducerIdResponseInput>,
): Handler<InitProducerIdRequest, InitProducerIdResponseInput> {
  return async (req, ctx) => {
    if (req.transactionalId === null || req.transactionalId === undefined) return idempotent(req, ctx);
    const v = ctx.apiVersion;
    const pid = v >= 3 ? Number(req.producerId) : -1;
    const epoch = v >= 3 ? req.producerEpoch : -1;
    const r = await txn.initProducerId(
      req.transactionalId,
      req.transactionTimeoutMs,
      pid === -1 && epoch === -1 ? null : { producerId: pid, producerEpoch: epoch },
    );
    return {
      throttleTimeMs: 0,
      errorCode: fencedFor(r.errorCode, v, 4),
      producerId: r.producerId,
      producerEpoch: r.producerEpoch,
    };
  };
}

type TopicsIn = { name: string; partitions: number[] }[];

/** Per-partition results: UNKNOWN_TOPIC_OR_PARTITION for partitions the cluster lacks, OPERATION_NOT_ATTEMPTED for the rest then. */
function partitionResults(topics: TopicsIn, codeOf: (topic: string, p: number) => number) {
  return topics.map(
    (t): AddPartitionsToTxnResponseAddPartitionsToTxnTopicResultInput => ({
      name: t.name,
      resultsByPartition: t.partitions.map((p) => ({ partitionIndex: p, partitionErrorCode: codeOf(t.name, p) })),
    }),
  );
}

export function addPartitionsToTxnHandler(
  b: Broker,
  txn: TransactionCoordinator,
): Handler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponseInput> {
  const exists = (topic: string, p: number) => b.image.topicsByName.get(topic)?.partitions[p] !== undefined;
  const one = async (
    ctx: AuthzContext,
    v: number,
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topics: TopicsIn,
    verifyOnly: boolean,
  ) => {
    // ACLs: Write on the transactional id, Write on each topic
    if (!allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, transactionalId))
      return partitionResults(topics, () => ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const denied = new Set(topics.filter((t) => !allowed(ctx, Op.WRITE, Res.TOPIC, t.name)).map((t) => t.name));
    if (denied.size > 0)
      return partitionResults(topics, (t) =>
        denied.has(t) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED,
      );
    const tps = topics.flatMap((t) => t.partitions.map((partition) => ({ topic: t.name, partition })));
    if (verifyOnly) {
      // KIP-890: v5 tells the producer its transaction can still be aborted
      const notInTxn = v >= 5 ? ErrorCode.TRANSACTION_ABORTABLE : ErrorCode.INVALID_TXN_STATE;
      const codes = txn.verifyPartitions(transactionalId, producerId, producerEpoch, tps, notInTxn);
      let i = 0;
      return partitionResults(topics, () => codes[i++]);
    }
    const unknown = tps.filter((tp) => !exists(tp.topic, tp.partition));
    if (unknown.length > 0) {
      return partitionResults(topics, (t, p) =>
        exists(t, p) ? ErrorCode.OPERATION_NOT_ATTEMPTED : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      );
    }
    // v5 not verifyOnly: a partition leader adding the partition for a client of transactions v2 (KIP-890 part 2)
    const tv = v >= 5 ? 2 : 0;
    const code = fencedFor(await txn.addPartitions(transactionalId, producerId, producerEpoch, tps, tv), v, 2);
    return partitionResults(topics, () => code);
  };
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    if (v <= 3) {
      const topics = req.v3AndBelowTopics.map((t) => ({ name: t.name, partitions: t.partitions }));
      return {
        throttleTimeMs: 0,
        resultsByTopicV3AndBelow: await one(
          ctx,
          v,
          req.v3AndBelowTransactionalId,
          Number(req.v3AndBelowProducerId),
          req.v3AndBelowProducerEpoch,
          topics,
          false,
        ),
      };
    }
    // ACLs: v4+ is sent by brokers (KIP-890 verification): ClusterAction on the cluster
    if (!clusterAllowed(ctx, Op.CLUSTER_ACTION))
      return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resultsByTransaction: [] };
    const results = await Promise.all(
      req.transactions.map(async (t) => ({
        transactionalId: t.transactionalId,
        topicResults: await one(
          ctx,
          v,
          t.transactionalId,
          Number(t.producerId),
          t.producerEpoch,
          t.topics.map((x) => ({ name: x.name, partitions: x.partitions })),
          t.verifyOnly,
        ),
      })),
    );
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: results };
  };
}

/**
 * Transactions v2 (TxnOffsetCommit v5): the group's __consumer_offsets
 * partition is added to the transaction by the group coordinator's broker,
 * through the transaction coordinator, instead of the client's AddOffsetsToTxn.
 */
export function offsetsPartitionAdder(
  b: Broker,
  verifier: TxnVerifier,
): (req: TxnOffsetCommitRequest) => Promise<number> {
  return async (req) => {
    const offsets = b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!offsets) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const partition = partitionForGroup(req.groupId, offsets.partitions.length);
    return verifier.addPartition(
      req.transactionalId,
      Number(req.producerId),
      req.producerEpoch,
      OFFSETS_TOPIC,
      partition,
    );
  };
}

/** AddOffsetsToTxn: adds the group's __consumer_offsets partition to the transaction. */
export function addOffsetsToTxnHandler(
  b: Broker,
  txn: TransactionCoordinator,
): Handler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponseInput> {
  return async (req, ctx) => {
    // ACLs: Write on the transactional id, Read on the group
    if (!allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED };
    if (!allowed(ctx, Op.READ, Res.GROUP, req.groupId))
      return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    let offsets = b.image.topicsByName.get(OFFSETS_TOPIC);
    if (!offsets) {
      try {
        offsets = await ensureOffsetsTopic(b);
      } catch {
        return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE };
      }
    }
    const partition = partitionForGroup(req.groupId, offsets.partitions.length);
    const code = await txn.addPartitions(req.transactionalId, Number(req.producerId), req.producerEpoch, [
      { topic: OFFSETS_TOPIC, partition },
    ]);
    return { throttleTimeMs: 0, errorCode: fencedFor(code, ctx.apiVersion, 2) };
  };
}

/** EndTxn: commit or abort; v5 (transactions v2, KIP-890 part 2) bumps the epoch and answers the new one. */
export function endTxnHandler(txn: TransactionCoordinator): Handler<EndTxnRequest, EndTxnResponseInput> {
  return async (req, ctx) => {
    // ACLs: Write on the transactional id
    if (!allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        producerId: -1,
        producerEpoch: -1,
      };
    if (ctx.apiVersion >= 5) {
      const r = await txn.endTxnV2(req.transactionalId, Number(req.producerId), req.producerEpoch, req.committed);
      return { throttleTimeMs: 0, errorCode: r.errorCode, producerId: r.producerId, producerEpoch: r.producerEpoch };
    }
    const code = await txn.endTxn(req.transactionalId, Number(req.producerId), req.producerEpoch, req.committed);
    return {
      throttleTimeMs: 0,
      errorCode: fencedFor(code, ctx.apiVersion, 2),
      producerId: -1,
      producerEpoch: -1,
    };
  };
}

export function describeTransactionsHandler(
  txn: TransactionCoordinator,
): Handler<DescribeTransactionsRequest, DescribeTransactionsResponseInput> {
  return (req, ctx) => ({
    throttleTimeMs: 0,
    transactionStates: req.transactionalIds.map((id) => {
      // ACLs: Describe on the transactional id; only the topics the principal may describe are listed
      if (!allowed(ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, id))
        return {
          errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
          transactionalId: id,
          transactionState: '',
          transactionTimeoutMs: 0,
          transactionStartTimeMs: -1,
          producerId: -1,
          producerEpoch: -1,
          topics: [],
        };
      const d = txn.describe(id);
      const t = d.txn;
      const topics = new Map<string, number[]>();
      for (const tp of t?.partitions ?? []) {
        if (!allowed(ctx, Op.DESCRIBE, Res.TOPIC, tp.topic)) continue;
        let l = topics.get(tp.topic);
        if (!l) topics.set(tp.topic, (l = []));
        l.push(tp.partition);
      }
      return {
        errorCode: d.errorCode,
        transactionalId: id,
        transactionState: t?.state ?? '',
        transactionTimeoutMs: t?.timeoutMs ?? 0,
        transactionStartTimeMs: t?.startTimestamp ?? -1,
        producerId: t?.producerId ?? -1,
        producerEpoch: t?.producerEpoch ?? -1,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      };
    }),
  });
}

/** A Java regular expression as ListTransactions v2 carries it, when JavaScript reads it the same way. */
function idPattern(p: string | null | undefined): RegExp | null | 'invalid' {
  if (p === null || p === undefined || p === '') return null;
  try {
    return new RegExp(`^(?:${p})$`);
  } catch {
    return 'invalid';
  }
}

export function listTransactionsHandler(
  txn: TransactionCoordinator,
): Handler<ListTransactionsRequest, ListTransactionsResponseInput> {
  return (req, ctx) => {
    const known = new Set<string>(TXN_STATES);
    const unknownStateFilters = req.stateFilters.filter((s) => !known.has(s));
    const states = req.stateFilters.filter((s) => known.has(s));
    const pattern = idPattern(ctx.apiVersion >= 2 ? req.transactionalIdPattern : null);
    if (pattern === 'invalid')
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, unknownStateFilters, transactionStates: [] };
    // only unknown states asked for: nothing matches
    if (req.stateFilters.length > 0 && states.length === 0)
      return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates: [] };
    const r = txn.list(
      states,
      req.producerIdFilters.map(Number),
      ctx.apiVersion >= 1 ? Number(req.durationFilter) : -1,
    );
    return {
      throttleTimeMs: 0,
      errorCode: r.loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE,
      unknownStateFilters,
      transactionStates: r.txns
        .filter((t) => pattern === null || pattern.test(t.transactionalId))
        // ACLs: the transactional ids the principal may describe
        .filter((t) => allowed(ctx, Op.DESCRIBE, Res.TRANSACTIONAL_ID, t.transactionalId))
        .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state })),
    };
  };
}

/**
 * TxnOffsetCommit: offsets committed within a transaction, validated as an
 * offset commit (v3+: member and generation) and held pending by the group
 * coordinator until the transaction's marker reaches the group's
 * __consumer_offsets partition.
 */
export function txnOffsetCommitHandler(
  groups: GroupCoordinatorService,
  partitionExists?: PartitionExists,
  /** Transactions v2: adds the group's __consumer_offsets partition to the transaction (v5+). */
  addOffsetsPartition?: (req: TxnOffsetCommitRequest) => Promise<number>,
  /** KIP-890 part 1: verifies the group's __consumer_offsets partition with the transaction coordinator (v0-v4). */
  verifyOffsetsPartition?: (
    req: TxnOffsetCommitRequest,
    version: number,
  ) => Promise<{ errorCode: number; valid?: () => boolean }>,
): Handler<TxnOffsetCommitRequest, TxnOffsetCommitResponseInput> {
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    // ACLs: Write on the transactional id, Read on the group (else every partition is refused), Read on each topic
    const refuseAll = !allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId)
      ? ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
      : !allowed(ctx, Op.READ, Res.GROUP, req.groupId)
        ? ErrorCode.GROUP_AUTHORIZATION_FAILED
        : null;
    if (refuseAll !== null)
      return {
        throttleTimeMs: 0,
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: refuseAll })),
        })),
      };
    let valid: (() => boolean) | undefined;
    if ((v >= 5 && addOffsetsPartition) || (v < 5 && verifyOffsetsPartition)) {
      let code: number;
      if (v >= 5) code = await addOffsetsPartition!(req);
      else ({ errorCode: code, valid } = await verifyOffsetsPartition!(req, v));
      if (code !== ErrorCode.NONE) {
        return {
          throttleTimeMs: 0,
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: code })),
          })),
        };
      }
    }
    const topicDenied = new Set(req.topics.filter((t) => !allowed(ctx, Op.READ, Res.TOPIC, t.name)).map((t) => t.name));
    const flat = req.topics
      .filter((t) => !topicDenied.has(t.name))
      .flatMap((t) =>
        t.partitions.map((p) => ({
          topic: t.name,
          partition: p.partitionIndex,
          offset: Number(p.committedOffset),
          leaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1,
          metadata: p.committedMetadata ?? null,
        })),
      );
    const r =
      flat.length === 0 && topicDenied.size > 0
        ? { errorCode: ErrorCode.NONE, perPartition: [] as number[] }
        : await groups.txnCommitOffsets(
            {
              apiVersion: 9,
              groupId: req.groupId,
              generationId: v >= 3 ? req.generationId : -1,
              memberId: v >= 3 ? req.memberId : '',
              groupInstanceId: v >= 3 ? (req.groupInstanceId ?? null) : null,
              offsets: flat,
              producerId: Number(req.producerId),
              producerEpoch: req.producerEpoch,
            },
            partitionExists,
            valid,
          );
    let i = 0;
    return {
      throttleTimeMs: 0,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: topicDenied.has(t.name)
            ? ErrorCode.TOPIC_AUTHORIZATION_FAILED
            : fencedFor(r.perPartition[i++] ?? r.errorCode, v, 3),
        })),
      })),
    };
  };
}
