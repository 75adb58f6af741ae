/**
 * Fetch: read whole record batches as byte slices from each partition's log
 * (no record decoding, no copy: the slices go to the socket as they are),
 * bounded by `partition_max_bytes` and `max_bytes` (at least one batch, KIP-74),
 * up to the high watermark (read_uncommitted) or last stable offset
 * (read_committed, with the aborted transactions overlapping the records
 * read, from the aborted-transaction indexes). Large reads from segment files are not read at all:
 * they go out by sendfile (FileRegion, server/sendfile.ts). Long polls until
 * `min_bytes` arrive or `max_wait_ms` passes, woken when the high watermark
 * moves. Whether a partition is served (leader, current leader epoch, log
 * dir not failed) is the Partition's rule. Incremental fetch sessions per
 * KIP-227.
 *
 * A fetch from a follower (replica id >= 0: `replica_id` up to v14, the
 * ReplicaState in v15+) reads up to the log end offset, not the high
 * watermark; its fetch offset is reported to the Partition as the
 * follower's (fsynced) log end offset, which moves the high watermark and
 * completes acks=all produces; a last fetched epoch this log does not end
 * where the follower thinks is answered with the diverging epoch (KIP-595),
 * no records, at once. A follower's long poll wakes on appends, and ends as
 * soon as this leader's high watermark is past the one the follower sent
 * (v18, KIP-1166), so that followers learn it without waiting. Errors that
 * name another leader carry it (current_leader, v12+, KIP-951). A follower
 * outside the ISR reads a throttled partition within
 * leader.replication.throttled.rate (replication-quota.ts).
 *
 * Consumers fetching with v11+ may be served by a follower, and the leader
 * may answer a partition with a preferred read replica instead of records
 * (KIP-392): the rules are in server/replica-selector.ts.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Broker } from '../broker.ts';
import { AFTER_WRITE, type Handler, type ResponseBody } from '../dispatcher.ts';
import type { FetchRequest, FetchResponseInput } from '../../protocol/generated/messages.ts';
import type { Partition } from '../partition.ts';
import { type FetchSession, type SessionPartition, partitionKey } from '../fetch-sessions.ts';
import { OffsetOutOfRangeError } from '../../storage/errors.ts';
import type { FileRegion } from '../../storage/file-region.ts';
import type { Pin } from '../../storage/segment.ts';
import { sendfileAvailable } from '../sendfile.ts';
import { checkConsumerFetch, type ReplicaReadStats, replicaReadStats, replicaSelector } from '../replica-selector.ts';
import { leaderQuotaOf, type ReplicationQuota } from '../replication-quota.ts';
import { leaderHint, nodeEndpoints, notHostedError, wantsLeaderHint } from '../leader-hints.ts';
import type { TopicState } from '../../metadata/image.ts';
import { allowed, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

interface Want extends SessionPartition {
  part: Partition | undefined;
  errorCode: number;
  /** A follower's: where its log diverged from this one (answered instead of records). */
  diverging?: { epoch: number; endOffset: number };
  /** A follower's high watermark (v18, KIP-1166; unknown: +Infinity). */
  followerHighWatermark?: number;
}

/** The replica id of a follower's fetch, -1 for a consumer's. */
function fetchReplicaId(req: FetchRequest, v: number): number {
  return v >= 15 ? (req.replicaState?.replicaId ?? -1) : req.replicaId;
}

interface PartitionData {
  partitionIndex: number;
  errorCode: number;
  highWatermark: number;
  lastStableOffset: number;
  logStartOffset: number;
  abortedTransactions: { producerId: number; firstOffset: number }[] | null;
  preferredReadReplica: number;
  records: (Buffer | FileRegion)[] | null;
  divergingEpoch?: { epoch: number; endOffset: number };
  currentLeader?: { leaderId: number; leaderEpoch: number };
}

/** What a consumer fetch needs for KIP-392: the selector (none: the leader serves), the consumer's rack, the counters. */
interface ReplicaReads {
  b: Broker;
  select: ReturnType<typeof replicaSelector>;
  clientRack: string;
  stats: ReplicaReadStats;
}

export function fetchHandler(b: Broker): Handler<FetchRequest, FetchResponseInput> {
  const select = replicaSelector(b.config.replicaSelectorClass);
  const stats = replicaReadStats(b);
  return (req, ctx) => {
    const v = ctx.apiVersion;
    const byId = v >= 13;
    const sess =
      v >= 7
        ? b.fetchSessions.resolve(req.sessionId, req.sessionEpoch, Date.now())
        : { session: undefined, full: true };
    if ('errorCode' in sess) {
      return { throttleTimeMs: 0, errorCode: sess.errorCode, sessionId: 0, responses: [] };
    }
    const { session, full } = sess;
    const replicaId = fetchReplicaId(req, v);
    const follower = replicaId >= 0;
    // ACLs: a follower needs ClusterAction on the cluster, a consumer Read on each topic
    const clusterAction = follower && clusterAllowed(ctx, Op.CLUSTER_ACTION);
    const mayRead = (topic: string) => (follower ? clusterAction : allowed(ctx, Op.READ, Res.TOPIC, topic));
    const wants = collectWants(b, req, byId, session, full, replicaId, v, mayRead);
    const reads: ReplicaReads = { b, select, clientRack: v >= 11 ? (req.rackId ?? '') : '', stats };
    const readCommitted = v >= 4 && req.isolationLevel === 1;
    const maxBytes = v >= 3 ? req.maxBytes : 0x7fffffff;
    // leader.replication.throttled.rate (replication-quota.ts)
    const quota = follower ? leaderQuotaOf(b) : null;

    const attempt = (final: boolean) => {
      // Record slices point into pooled buffers or segment files, pinned until the socket has taken them.
      const pins: Pin[] = [];
      const release = () => {
        for (const p of pins) p.unpin();
      };
      const { data, bytes, followerBytes, anyError, throttledBytes } = readAll(
        wants,
        maxBytes,
        readCommitted && !follower,
        pins,
        follower,
        v,
        quota,
        replicaId,
        reads,
      );
      if (!final && bytes < req.minBytes && !anyError) {
        release();
        return undefined;
      }
      quota?.bucket.record(throttledBytes);
      if (!follower) {
        stats.leaderBytes += bytes - followerBytes;
        stats.followerBytes += followerBytes;
      }
      const res = buildResponse(wants, data, session, full, byId);
      if (anyError && v >= 12) addLeaderHints(b, res, v, ctx.conn?.listenerName);
      if (pins.length > 0) res[AFTER_WRITE] = release;
      return res;
    };

    const now = attempt(req.maxWaitMs <= 0);
    if (now) return now;
    // Long poll: wait for the high watermark of any requested partition to move, or the timeout.
    return new Promise((resolve) => {
      const parts = wants.map((w) => w.part).filter((p): p is Partition => p !== undefined);
      let done = false;
      const finish = (final: boolean) => {
        if (done) return;
        const res = attempt(final);
        if (!res) return;
        done = true;
        clearTimeout(timer);
        unwatch();
        resolve(res);
      };
      const unwatch = b.replicas.watch(parts, () => finish(false), follower);
      const timer = setTimeout(() => finish(true), Math.min(req.maxWaitMs, 0x7fffffff));
    });
  };
}

function collectWants(
  b: Broker,
  req: FetchRequest,
  byId: boolean,
  session: FetchSession | undefined,
  full: boolean,
  replicaId: number,
  version: number,
  mayRead: (topic: string) => boolean,
): Want[] {
  const lastFetched = new Map<string, number>();
  const followerHighWatermarks = new Map<string, number>();
  if (session && full) session.partitions.clear();
  if (session && !full) {
    for (const ft of req.forgottenTopicsData ?? []) {
      for (const p of ft.partitions) session.partitions.delete(partitionKey(byId ? ft.topicId : ft.topic, p));
    }
  }
  const requested: SessionPartition[] = [];
  for (const t of req.topics) {
    const topic = byId ? b.image.topicsById.get(t.topicId) : b.image.topicsByName.get(t.topic);
    for (const p of t.partitions) {
      const key = partitionKey(byId ? t.topicId : t.topic, p.partition);
      const prev = session?.partitions.get(key);
      const sp: SessionPartition = {
        topic: topic?.name ?? t.topic,
        topicId: topic?.topicId ?? t.topicId,
        partition: p.partition,
        fetchOffset: Number(p.fetchOffset),
        partitionMaxBytes: p.partitionMaxBytes,
        currentLeaderEpoch: p.currentLeaderEpoch ?? -1,
        logStartOffset: Number(p.logStartOffset),
        lastHighWatermark: prev?.lastHighWatermark ?? -1,
        lastLogStartOffset: prev?.lastLogStartOffset ?? -1,
      };
      if (replicaId >= 0) {
        lastFetched.set(key, p.lastFetchedEpoch ?? -1);
        // absent (before v18) it decodes as its default, Long.MAX_VALUE: never behind
        followerHighWatermarks.set(key, p.highWatermark === undefined ? Infinity : Number(p.highWatermark));
      }
      if (session) session.partitions.set(key, sp);
      else requested.push(sp);
    }
  }
  const list = session ? [...session.partitions.values()] : requested;
  return list.map((sp) => {
    const topic = byId ? b.image.topicsById.get(sp.topicId) : b.image.topicsByName.get(sp.topic);
    const part = topic ? b.replicas.get(topic.name, sp.partition) : undefined;
    let errorCode: number = ErrorCode.NONE;
    const name = topic?.name ?? (byId ? '' : sp.topic);
    if (name !== '' && !mayRead(name)) errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    else if (!topic) errorCode = byId ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    else if (!part) errorCode = notHostedError(topic, sp.partition);
    else if (replicaId < 0) errorCode = checkConsumerFetch(part, sp.currentLeaderEpoch, version);
    else errorCode = part.checkFollowerFetch(replicaId, sp.currentLeaderEpoch);
    let diverging: Want['diverging'];
    let followerHighWatermark: number | undefined;
    if (part && errorCode === ErrorCode.NONE && replicaId >= 0) {
      const key = partitionKey(byId ? sp.topicId : sp.topic, sp.partition);
      const lastFetchedEpoch = lastFetched.get(key) ?? -1;
      followerHighWatermark = followerHighWatermarks.get(key);
      diverging = acceptFollowerFetch(part, replicaId, sp.fetchOffset, lastFetchedEpoch);
    }
    const served = errorCode === ErrorCode.TOPIC_AUTHORIZATION_FAILED ? undefined : part;
    return Object.assign(sp, { part: served, errorCode, diverging, followerHighWatermark }) as Want;
  });
}

/**
 * The leader's side of a served follower fetch (checkFollowerFetch passed):
 * the diverging epoch to answer (KIP-595), or, when the fetch may go on, the
 * follower's fetch offset recorded as its log end offset (it has everything
 * below it, fsynced), which may move the high watermark.
 */
export function acceptFollowerFetch(
  part: Partition,
  replicaId: number,
  fetchOffset: number,
  lastFetchedEpoch: number,
): { epoch: number; endOffset: number } | undefined {
  const diverging = part.divergingEpoch(lastFetchedEpoch, fetchOffset);
  if (!diverging && fetchOffset >= part.log.logStartOffset && fetchOffset <= part.log.logEndOffset)
    part.updateFollowerEndOffset(replicaId, fetchOffset);
  return diverging;
}

function readAll(
  wants: Want[],
  maxBytes: number,
  readCommitted: boolean,
  pins: Pin[],
  follower: boolean,
  version: number,
  quota: ReplicationQuota | null,
  replicaId: number,
  reads: ReplicaReads,
) {
  const data: PartitionData[] = [];
  let bytes = 0;
  let throttledBytes = 0;
  /** Of `bytes`, what a consumer read from partitions this node follows. */
  let followerBytes = 0;
  let anyError = false;
  for (const w of wants) {
    const pd: PartitionData = {
      partitionIndex: w.partition,
      errorCode: w.errorCode,
      highWatermark: -1,
      lastStableOffset: -1,
      logStartOffset: -1,
      abortedTransactions: readCommitted ? [] : null,
      preferredReadReplica: -1,
      records: [], // errors carry an empty record set, not null: clients (librdkafka) expect a size
    };
    data.push(pd);
    if (w.errorCode !== ErrorCode.NONE || !w.part) {
      pd.abortedTransactions = []; // as Kafka answers a partition it does not read
      anyError = true;
      if (w.part && version >= 12) pd.currentLeader = w.part.currentLeaderFor(w.errorCode);
      continue;
    }
    const log = w.part.log;
    pd.highWatermark = w.part.highWatermark;
    pd.lastStableOffset = w.part.lastStableOffset;
    pd.logStartOffset = log.logStartOffset;
    if (w.diverging) {
      pd.divergingEpoch = w.diverging; // no records: the follower truncates first
      anyError = true; // answered at once
      continue;
    }
    if (!follower && reads.select && w.part.role === 'leader') {
      const preferred = reads.select(reads.b, w.part, reads.clientRack, w.fetchOffset);
      if (preferred >= 0) {
        pd.preferredReadReplica = preferred; // no records: the consumer fetches from that replica
        reads.stats.redirects++;
        anyError = true; // answered at once, as Kafka does
        continue;
      }
    }
    // KIP-1166: a follower behind this leader's high watermark is told at once, not after its long poll
    if (follower && w.followerHighWatermark !== undefined && w.followerHighWatermark < pd.highWatermark)
      anyError = true;
    let limit = Math.min(w.partitionMaxBytes, maxBytes - bytes);
    // followers read everything appended; consumers what is committed
    const maxOffset = follower ? log.logEndOffset : readCommitted ? pd.lastStableOffset : pd.highWatermark;
    if (w.fetchOffset === maxOffset && w.fetchOffset >= pd.logStartOffset) {
      pd.records = []; // caught up: nothing to read, nothing out of range
      continue;
    }
    let throttled = false;
    if (quota?.throttles(w.part, replicaId)) {
      throttled = true;
      const room = quota.bucket.available();
      if (room <= 0) continue; // the throttle's rate is used up: no records for now
      limit = Math.min(limit, Math.floor(room));
    }
    if (limit <= 0 && bytes > 0 && w.fetchOffset >= pd.logStartOffset && w.fetchOffset <= maxOffset) {
      continue; // the response is full (max_bytes): watermarks only, as Kafka answers; no read
    }
    try {
      const r = log.read(w.fetchOffset, Math.max(0, limit), {
        maxOffset,
        minOneBatch: bytes === 0,
        pins,
        regions: sendfileAvailable, // large reads from segment files stay there: sendfile
      });
      pd.records = r.region ? [r.region] : r.batches;
      bytes += r.bytes;
      // the consumer drops the records of the aborted transactions overlapping what it reads
      if (readCommitted && r.bytes > 0) {
        const aborted = log.abortedTransactions(w.fetchOffset, maxOffset);
        if (aborted.length > 0)
          pd.abortedTransactions = aborted.map((t) => ({ producerId: t.producerId, firstOffset: t.firstOffset }));
      }
      if (throttled) throttledBytes += r.bytes;
      if (!follower && w.part.role !== 'leader') followerBytes += r.bytes;
    } catch (err) {
      if (!(err instanceof OffsetOutOfRangeError)) throw err;
      pd.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      // Kafka gives no watermarks with this error: the consumer resets by ListOffsets.
      pd.highWatermark = pd.lastStableOffset = pd.logStartOffset = -1;
      anyError = true;
    }
  }
  return { data, bytes, followerBytes, anyError, throttledBytes };
}

/**
 * KIP-951: partitions refused because this broker does not lead them (see
 * wantsLeaderHint) name the current leader (v12+; the local partition's view when it is
 * hosted here, else the image's), and v16+ responses carry the addresses of
 * the leaders named.
 */
function addLeaderHints(
  b: Broker,
  res: ResponseBody<FetchResponseInput>,
  version: number,
  listener: string | undefined,
): void {
  const leaders: number[] = [];
  for (const t of res.responses) {
    let topic: TopicState | undefined;
    for (const pd of t.partitions as PartitionData[]) {
      if (!wantsLeaderHint(pd.errorCode)) continue;
      if (!pd.currentLeader) {
        topic ??= version >= 13 ? b.image.topicsById.get(t.topicId ?? '') : b.image.topicsByName.get(t.topic ?? '');
        pd.currentLeader = leaderHint(topic, pd.partitionIndex);
      }
      if (pd.currentLeader) leaders.push(pd.currentLeader.leaderId);
    }
  }
  if (version >= 16 && leaders.length > 0) res.nodeEndpoints = nodeEndpoints(b, leaders, listener);
}

function buildResponse(
  wants: Want[],
  data: PartitionData[],
  session: FetchSession | undefined,
  full: boolean,
  byId: boolean,
): ResponseBody<FetchResponseInput> {
  const topics = new Map<string, { topic: string; topicId: string; partitions: PartitionData[] }>();
  for (let i = 0; i < wants.length; i++) {
    const w = wants[i];
    const pd = data[i];
    if (session && !full) {
      // Incremental: only partitions with news.
      const news =
        (pd.records !== null && pd.records.length > 0) ||
        pd.errorCode !== ErrorCode.NONE ||
        pd.preferredReadReplica >= 0 ||
        pd.highWatermark !== w.lastHighWatermark ||
        pd.logStartOffset !== w.lastLogStartOffset;
      if (!news) continue;
    }
    w.lastHighWatermark = pd.highWatermark;
    w.lastLogStartOffset = pd.logStartOffset;
    const key = byId ? w.topicId : w.topic;
    let t = topics.get(key);
    if (!t) topics.set(key, (t = { topic: w.topic, topicId: w.topicId, partitions: [] }));
    t.partitions.push(pd);
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: session?.id ?? 0,
    responses: [...topics.values()],
  };
}
