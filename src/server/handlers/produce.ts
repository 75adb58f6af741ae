/**
 * Produce: validate each partition's record batches without decoding their
 * records (size, magic, CRC32C, offsets), check idempotent producers'
 * sequences, then hand the bytes to the Partition (partition.ts), which
 * decides whether this node may append (leader, min.insync.replicas for
 * acks=-1), appends them as they came (only base offset, leader epoch and,
 * for LogAppendTime topics, timestamps are patched) and moves the high
 * watermark. Answer per `acks`: 0 never, 1 after the append, -1 (all) when
 * the Partition's delayed operation completes (today: once fsynced, one
 * fsync serving every producer waiting on that log). An acks=0 Produce with
 * any error (refused, unknown topic, not leader, too large, ...) closes the
 * connection instead, as Kafka, so that the client learns of it.
 * A log dir that is full or failed answers KAFKA_STORAGE_ERROR (nothing
 * appended, or, for acks=-1, not known durable); with acks 1 and -1 the
 * connection stays open.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ProtocolError } from '../../protocol/protocol-error.ts';
import {
  BATCH_HEADER_SIZE,
  batch as hdr,
  NO_PRODUCER_ID,
  OFF_BASE_TIMESTAMP,
  OFF_MAX_TIMESTAMP,
} from '../../protocol/records/batch-header.ts';
import { appendDecompressionLimit, splitBatches, validateBatchForAppend } from '../../protocol/records/validate.ts';
import type { Broker } from '../broker.ts';
import { CLOSE_CONNECTION, type Handler, NO_RESPONSE } from '../dispatcher.ts';
import type { ProduceRequest, ProduceResponseInput } from '../../protocol/generated/messages.ts';
import type { Partition } from '../partition.ts';
import { KafkaStorageError } from '../../storage/errors.ts';
import { type TxnOperation, type TxnVerifier, type Verdict, txnOperationForProduce } from '../txn-verification.ts';
import { leaderHint, nodeEndpoints, notHostedError, wantsLeaderHint } from '../leader-hints.ts';
import { allowed, Op, Res } from '../../security/acl-check.ts';

interface PartitionResult {
  index: number;
  errorCode: number;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  errorMessage: string | null;
  recordErrors?: { batchIndex: number; batchIndexErrorMessage: string | null }[];
  currentLeader?: { leaderId: number; leaderEpoch: number };
}

interface TopicResult {
  name: string;
  topicId: string;
  partitionResponses: PartitionResult[];
}

function failed(index: number, errorCode: number, errorMessage: string | null = null): PartitionResult {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage };
}

/** Refused batches are logged at most once per this many ms (with the count refused since). */
const REFUSED_LOG_INTERVAL_MS = 10_000;
let refusedLoggedAt = -Infinity;
let refusedSince = 0;

function logRefused(b: Broker, topic: string, index: number, errorCode: number, message: string): void {
  refusedSince++;
  const now = Date.now();
  if (now - refusedLoggedAt < REFUSED_LOG_INTERVAL_MS) return;
  b.logger.warn({ topic, partition: index, errorCode, refused: refusedSince }, `refused a produced batch: ${message}`);
  refusedLoggedAt = now;
  refusedSince = 0;
}

/** An acks=0 Produce that failed gets no answer: the connection is closed (logged at most once per interval). */
let acks0ClosedLoggedAt = -Infinity;
let acks0ClosedSince = 0;

function closeForAcks0(b: Broker, errors: string): typeof CLOSE_CONNECTION {
  acks0ClosedSince++;
  const now = Date.now();
  if (now - acks0ClosedLoggedAt >= REFUSED_LOG_INTERVAL_MS) {
    b.logger.info(
      { errors, closed: acks0ClosedSince },
      'closing connection: a Produce with acks=0 had errors (it gets no response)',
    );
    acks0ClosedLoggedAt = now;
    acks0ClosedSince = 0;
  }
  return CLOSE_CONNECTION;
}

/** The first partition error of a response, as `topic-partition: code`, or null if none. */
function firstError(responses: TopicResult[]): string | null {
  for (const t of responses)
    for (const p of t.partitionResponses)
      if (p.errorCode !== ErrorCode.NONE) return `${t.name || t.topicId}-${p.index}: error ${p.errorCode}`;
  return null;
}

export function produceHandler(b: Broker, verifier?: TxnVerifier): Handler<ProduceRequest, ProduceResponseInput> {
  return async (req, ctx) => {
    const acks: number = req.acks;
    // v0–v2 are advertised for librdkafka only (see handlers/index.ts): they carry the old
    // message formats, so nothing sent with them is appended, whatever its magic.
    if (ctx.apiVersion < 3)
      return acks === 0
        ? closeForAcks0(b, `error ${ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT}`)
        : respond(req, () => failed(-1, ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT));
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      return respond(req, () => failed(-1, ErrorCode.INVALID_REQUIRED_ACKS));
    }
    // ACLs: Write on the transactional id for a transactional producer, Write on each topic
    if (req.transactionalId && !allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, req.transactionalId))
      return acks === 0
        ? closeForAcks0(b, `error ${ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED}`)
        : respond(req, () => failed(-1, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED));
    const verifications =
      verifier?.enabled && req.transactionalId
        ? startVerifications(b, verifier, req, req.transactionalId, txnOperationForProduce(ctx.apiVersion))
        : undefined;
    const durableWaits: Promise<void>[] = [];
    const responses: TopicResult[] = [];
    for (const td of req.topicData) {
      // As in Kafka, only Metadata creates topics automatically; a Produce to an unknown
      // (or just deleted) topic gets UNKNOWN_TOPIC_OR_PARTITION and does not bring it back.
      const topic =
        td.name !== undefined && td.name !== ''
          ? b.image.topicsByName.get(td.name)
          : b.image.topicsById.get(td.topicId);
      const partitionResponses: PartitionResult[] = [];
      const name = td.name || topic?.name;
      if (name && !allowed(ctx, Op.WRITE, Res.TOPIC, name)) {
        for (const pd of td.partitionData)
          partitionResponses.push(failed(pd.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
        responses.push({ name: td.name, topicId: td.topicId, partitionResponses });
        continue;
      }
      for (const pd of td.partitionData) {
        const part = topic ? b.replicas.get(topic.name, pd.index) : undefined;
        if (!part) {
          partitionResponses.push(
            failed(pd.index, topic || td.name ? notHostedError(topic, pd.index) : ErrorCode.UNKNOWN_TOPIC_ID),
          );
          continue;
        }
        let r: { result: PartitionResult; appended: boolean; duplicateEnd?: number };
        // KIP-890: a transaction's first batch on this partition is appended once its coordinator confirms
        const verifying = verifications?.get(pd);
        if (verifying) {
          const { verdict, valid } = await verifying;
          // nothing is awaited from here to the append; a marker written meanwhile ended the transaction verified
          const refusal =
            verdict.errorCode !== ErrorCode.NONE
              ? verdict
              : valid()
                ? null
                : { errorCode: ErrorCode.INVALID_TXN_STATE, message: 'The transaction ended while it was verified' };
          if (refusal !== null) {
            partitionResponses.push(failed(pd.index, refusal.errorCode, refusal.message));
            continue;
          }
        }
        try {
          r = appendToPartition(b, part, pd.index, pd.records, req.transactionalId ?? null, acks);
        } catch (err) {
          // The log dir is full or failed (logged once by the storage engine, not per request).
          if (!(err instanceof KafkaStorageError)) throw err;
          r = { result: storageFailure(pd.index), appended: false };
        }
        if (
          !r.appended &&
          WITH_LOG_START_OFFSET.has(r.result.errorCode) &&
          pd.records !== null &&
          pd.records.length > 0
        ) {
          r.result.logStartOffset = part.log.logStartOffset;
        }
        partitionResponses.push(r.result);
        // a duplicate (an idempotent retry) waits for the original batch's offsets, as Kafka's delayed produce
        const ackEnd = r.appended ? part.log.logEndOffset : r.duplicateEnd;
        if (ackEnd !== undefined && acks === -1) {
          const result = r.result;
          durableWaits.push(
            part.waitForAcks(ackEnd).then((errorCode) => {
              // not acknowledged: e.g. not known durable (fsync failed, or the dir failed meanwhile)
              if (errorCode === ErrorCode.KAFKA_STORAGE_ERROR) Object.assign(result, storageFailure(pd.index));
              else if (errorCode !== ErrorCode.NONE) Object.assign(result, failed(pd.index, errorCode));
            }),
          );
        }
      }
      responses.push({ name: td.name, topicId: td.topicId, partitionResponses });
    }
    if (acks === 0) {
      const error = firstError(responses);
      return error === null ? NO_RESPONSE : closeForAcks0(b, error);
    }
    if (durableWaits.length > 0) await Promise.all(durableWaits);
    return ctx.apiVersion >= 10
      ? withLeaderHints(b, responses, ctx.conn?.listenerName)
      : { responses, throttleTimeMs: 0 };
  };
}

/**
 * KIP-890 (see txn-verification.ts): asks the coordinator, for all the
 * partitions of the request at once, about each transactional batch whose
 * producer has no transaction open on the partition. Batches that are not
 * transactional, or that this node may not append, are left to the checks of
 * appendToPartition.
 */
function startVerifications(
  b: Broker,
  verifier: TxnVerifier,
  req: ProduceRequest,
  transactionalId: string,
  op: TxnOperation,
): Map<object, Promise<{ verdict: Verdict; valid: () => boolean }>> | undefined {
  let pending: Map<object, Promise<{ verdict: Verdict; valid: () => boolean }>> | undefined;
  for (const td of req.topicData) {
    const topic =
      td.name !== undefined && td.name !== '' ? b.image.topicsByName.get(td.name) : b.image.topicsById.get(td.topicId);
    if (!topic) continue;
    for (const pd of td.partitionData) {
      const records = pd.records;
      if (records === null || records.length < BATCH_HEADER_SIZE) continue;
      if (!hdr.isTransactional(records, 0) || hdr.isControl(records, 0)) continue;
      const part = b.replicas.get(topic.name, pd.index);
      const producerId = hdr.producerId(records, 0);
      const epoch = hdr.producerEpoch(records, 0);
      if (part?.role !== 'leader' || producerId === NO_PRODUCER_ID) continue;
      if (!verifier.needsVerification(part, producerId, epoch)) continue;
      pending ??= new Map();
      pending.set(pd, verifier.verify(part, transactionalId, producerId, epoch, op));
    }
  }
  return pending;
}

/**
 * KIP-951 (v10+): partitions refused because this broker does not lead them
 * (see wantsLeaderHint) name the current leader, and the response the
 * addresses of the leaders it names.
 */
function withLeaderHints(b: Broker, responses: TopicResult[], listener: string | undefined): ProduceResponseInput {
  const leaders: number[] = [];
  for (const tr of responses) {
    const topic = tr.name ? b.image.topicsByName.get(tr.name) : b.image.topicsById.get(tr.topicId);
    for (const r of tr.partitionResponses) {
      if (!wantsLeaderHint(r.errorCode)) continue;
      const hint = leaderHint(topic, r.index);
      if (!hint) continue;
      r.currentLeader = hint;
      leaders.push(hint.leaderId);
    }
  }
  return leaders.length > 0
    ? { responses, throttleTimeMs: 0, nodeEndpoints: nodeEndpoints(b, leaders, listener) }
    : { responses, throttleTimeMs: 0 };
}

/**
 * Refusals of a batch by the leader's log (its records, timestamps, producer
 * sequence or epoch): Kafka answers them with the partition's log start
 * offset. Other refusals (unknown partition, not the leader, too large,
 * corrupt, storage failure) carry -1.
 */
const WITH_LOG_START_OFFSET: ReadonlySet<number> = new Set([
  ErrorCode.INVALID_RECORD,
  ErrorCode.INVALID_TIMESTAMP,
  ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  ErrorCode.INVALID_PRODUCER_EPOCH,
  ErrorCode.UNKNOWN_PRODUCER_ID,
  ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  ErrorCode.INVALID_TXN_STATE,
  ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
]);

function storageFailure(index: number): PartitionResult {
  return failed(index, ErrorCode.KAFKA_STORAGE_ERROR, "The partition's log directory is full or has failed");
}

function respond(req: ProduceRequest, each: () => PartitionResult) {
  return {
    responses: req.topicData.map((td) => ({
      name: td.name,
      topicId: td.topicId,
      partitionResponses: td.partitionData.map((pd) => ({ ...each(), index: pd.index })),
    })),
    throttleTimeMs: 0,
  };
}

function appendToPartition(
  b: Broker,
  part: Partition,
  index: number,
  records: Buffer | null,
  transactionalId: string | null,
  acks: number,
): { result: PartitionResult; appended: boolean; duplicateEnd?: number } {
  // not the leader, a failed log dir, or (acks=-1) fewer in-sync replicas than min.insync.replicas
  const refused = part.checkAppend(acks);
  if (refused === ErrorCode.KAFKA_STORAGE_ERROR) return { result: storageFailure(index), appended: false };
  if (refused !== ErrorCode.NONE) return { result: failed(index, refused), appended: false };
  if (records === null || records.length === 0) {
    return {
      result: failed(index, ErrorCode.INVALID_RECORD, 'Produce request carries no record batch'),
      appended: false,
    };
  }
  const log = part.log;
  const cfg = log.config;
  let positions: { at: number; size: number }[];
  try {
    positions = splitBatches(records);
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { result: failed(index, ErrorCode.CORRUPT_MESSAGE, err.message), appended: false };
  }
  const maxMessageBytes = b.replicas.maxMessageBytes(part.topic);
  const createTime = cfg.messageTimestampType !== 'LogAppendTime';
  const bounds = createTime ? b.replicas.timestampBounds(part.topic) : undefined;
  const now = Date.now();
  for (let i = 0; i < positions.length; i++) {
    const { at, size } = positions[i];
    if (size > maxMessageBytes) {
      return {
        result: failed(
          index,
          ErrorCode.MESSAGE_TOO_LARGE,
          `The batch of ${size} bytes is larger than max.message.bytes (${maxMessageBytes})`,
        ),
        appended: false,
      };
    }
    const problem = validateBatchForAppend(records, at, size, {
      maxDecompressedBytes: appendDecompressionLimit(maxMessageBytes),
      requireKeys: cfg.cleanupPolicy.includes('compact'),
    });
    if (problem) {
      logRefused(b, part.topic.name, index, problem.errorCode, problem.message);
      // As Kafka: record_errors name the record at fault (KIP-467); batch-level problems carry only the message.
      const recordErrors =
        problem.recordIndex === undefined
          ? []
          : [{ batchIndex: problem.recordIndex, batchIndexErrorMessage: problem.message }];
      return { result: { ...failed(index, problem.errorCode, problem.message), recordErrors }, appended: false };
    }
    if (bounds) {
      // KIP-937 at batch level: the newest timestamp may not be too far ahead, the
      // oldest (the base timestamp) not too far behind. Kafka checks each record;
      // the batch's bounds are what can be read without decoding records.
      const maxTs = hdr.maxTimestamp(records, at);
      const baseTs = hdr.baseTimestamp(records, at);
      if (maxTs > now + bounds.afterMaxMs || (baseTs >= 0 && baseTs < now - bounds.beforeMaxMs)) {
        // Exact 64-bit values for the message (the numbers above are rounded beyond 2^53).
        const exact = records.readBigInt64BE(
          at + (maxTs > now + bounds.afterMaxMs ? OFF_MAX_TIMESTAMP : OFF_BASE_TIMESTAMP),
        );
        const cfgText = b.replicas.topicConfig(part.topic);
        const before = cfgText.get('message.timestamp.before.max.ms') ?? String(bounds.beforeMaxMs);
        const after = cfgText.get('message.timestamp.after.max.ms') ?? String(bounds.afterMaxMs);
        const message = `Timestamp ${exact} is out of range (message.timestamp.before.max.ms=${before}, after.max.ms=${after})`;
        return {
          result: {
            ...failed(index, ErrorCode.INVALID_TIMESTAMP, message),
            recordErrors: [{ batchIndex: i, batchIndexErrorMessage: message }],
          },
          appended: false,
        };
      }
    }
    if (hdr.isTransactional(records, at) && transactionalId === null) {
      return {
        result: failed(index, ErrorCode.INVALID_TXN_STATE, 'Transactional batch without a transactional id'),
        appended: false,
      };
    }
  }
  // Idempotent producers (KIP-98): a batch already in the log is answered with its
  // first offset and not appended again; a gap or a stale epoch is refused. Clients
  // send one batch per partition per request; Kafka refuses more for idempotent
  // batches, and so do we.
  const { at: firstAt } = positions[0];
  const producerId = hdr.producerId(records, firstAt);
  if (producerId !== NO_PRODUCER_ID) {
    if (positions.length > 1) {
      return {
        result: failed(
          index,
          ErrorCode.INVALID_RECORD,
          'An idempotent produce request must carry one batch per partition',
        ),
        appended: false,
      };
    }
    const epoch = hdr.producerEpoch(records, firstAt);
    const firstSeq = hdr.baseSequence(records, firstAt);
    const lastSeq = firstSeq + hdr.lastOffsetDelta(records, firstAt);
    const verdict = log.producerState.check(producerId, epoch, firstSeq, lastSeq);
    if (verdict !== 'ok') {
      if (typeof verdict === 'object') {
        return {
          result: {
            index,
            errorCode: ErrorCode.NONE,
            baseOffset: verdict.duplicateOf.firstOffset,
            logAppendTimeMs: -1,
            logStartOffset: log.logStartOffset,
            errorMessage: null,
          },
          appended: false,
          duplicateEnd: verdict.duplicateOf.lastOffset + 1,
        };
      }
      return { result: failed(index, ErrorCode[verdict], null), appended: false };
    }
  }
  const info = part.appendAsLeader(records);
  return {
    result: {
      index,
      errorCode: ErrorCode.NONE,
      baseOffset: info.firstOffset,
      logAppendTimeMs: info.logAppendTime,
      logStartOffset: info.logStartOffset,
      errorMessage: null,
    },
    appended: true,
  };
}
