/**
 * Client quota enforcement around the handlers (KIP-219), the dispatcher's
 * `RequestQuotas`:
 *
 * - Produce is measured on its request bytes (producer_byte_rate), Fetch on
 *   the record bytes of its response (consumer_byte_rate; fetches from
 *   follower replicas are exempt), every request but the exempt ones on the
 *   time its handler ran on the event loop (request_percentage: percent of
 *   one thread). CreateTopics, CreatePartitions and DeleteTopics count the
 *   partitions they create or delete (controller_mutation_rate, KIP-599).
 * - A client over a quota gets its response at once, with the throttle time
 *   in `throttle_time_ms`, and its connection reads nothing for that long
 *   (Connection.throttle): a client that honours the throttle time backs
 *   off; one that does not is held back anyway.
 * - KIP-599's strict mode (CreateTopics v6+, CreatePartitions v3+,
 *   DeleteTopics v5+): a topic asked for while the quota is already used up
 *   is refused with THROTTLING_QUOTA_EXCEEDED (those after it too, as they
 *   come), the others are done; older versions are done and only throttled.
 * - With no quota in the metadata image, `begin` returns null at once; with
 *   none that applies to the request (its user and client id, its API), after
 *   a cached lookup per quota.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import {
  ApiKey,
  type CreatePartitionsRequest,
  type CreateTopicsRequest,
  type DeleteTopicsRequest,
  type FetchRequest,
} from '../protocol/generated/messages.ts';
import type { MetadataImage } from '../metadata/image.ts';
import {
  CONSUMER_BYTE_RATE,
  CONTROLLER_MUTATION_RATE,
  type ClientQuotaManager,
  PRODUCER_BYTE_RATE,
  REQUEST_PERCENTAGE,
} from '../security/quotas.ts';
import { NO_RESPONSE, type QuotaRequest, type RequestContext, type RequestQuotas } from './dispatcher.ts';

/** Not counted against request_percentage: authentication, ApiVersions and the quorum's and brokers' own APIs (as Kafka exempts them). */
const REQUEST_QUOTA_EXEMPT = new Set<number>([
  ApiKey.ApiVersions,
  ApiKey.SaslHandshake,
  ApiKey.SaslAuthenticate,
  ApiKey.Vote,
  ApiKey.BeginQuorumEpoch,
  ApiKey.EndQuorumEpoch,
  ApiKey.DescribeQuorum,
  ApiKey.FetchSnapshot,
  ApiKey.BrokerRegistration,
  ApiKey.BrokerHeartbeat,
  ApiKey.UnregisterBroker,
  ApiKey.AlterPartition,
  ApiKey.WriteTxnMarkers,
]);

/** Percent of one thread per nanosecond, per second of rate: 100 / 1e9 (Kafka's nanosToPercentage). */
const PERCENT_PER_NANO = 100 / 1e9;

/** A strict KIP-599 request's topics taken out before the handler ran, to be answered THROTTLING_QUOTA_EXCEEDED. */
interface Refused {
  names: (string | null)[];
  topicIds: string[];
}

export class QuotaThrottle implements RequestQuotas {
  constructor(
    private readonly quotas: ClientQuotaManager,
    private readonly image: MetadataImage,
    /** num.partitions, for a CreateTopics that leaves the count to the broker. */
    private readonly defaultPartitions: () => number,
  ) {}

  begin(ctx: RequestContext, req: unknown, frameBytes: number): QuotaRequest | null {
    const quotas = this.quotas;
    if (!quotas.active) return null;
    const key = ctx.apiKey;
    const user = ctx.conn.principal.name;
    const clientId = ctx.clientId ?? '';
    // what applies to this request: nothing, and the request goes on as if there were no quotas
    const bytesKey =
      key === ApiKey.Produce
        ? PRODUCER_BYTE_RATE
        : key === ApiKey.Fetch && fetchReplicaId(req as FetchRequest, ctx.apiVersion) < 0
          ? CONSUMER_BYTE_RATE
          : null;
    const bytes = bytesKey !== null && quotas.quotaFor(bytesKey, user, clientId) !== null;
    const timed = !REQUEST_QUOTA_EXEMPT.has(key) && quotas.quotaFor(REQUEST_PERCENTAGE, user, clientId) !== null;
    let mutationThrottle = 0;
    let refused: Refused | null = null;
    if (key === ApiKey.CreateTopics || key === ApiKey.CreatePartitions || key === ApiKey.DeleteTopics) {
      const r = this.mutations(ctx, req, user, clientId);
      mutationThrottle = r.throttleMs;
      refused = r.refused;
    }
    if (!bytes && !timed && mutationThrottle === 0 && refused === null) return null;
    const t0 = timed ? process.hrtime.bigint() : 0n;
    let nanos = 0;
    return {
      handled: () => {
        if (timed) nanos = Number(process.hrtime.bigint() - t0);
      },
      answered: (body) => {
        let ms = mutationThrottle;
        if (bytes && bytesKey === PRODUCER_BYTE_RATE) {
          ms = Math.max(ms, quotas.record(bytesKey, user, clientId, frameBytes));
        } else if (bytes && bytesKey === CONSUMER_BYTE_RATE && body !== NO_RESPONSE) {
          ms = Math.max(ms, quotas.record(bytesKey, user, clientId, fetchRecordBytes(body)));
        }
        if (timed) ms = Math.max(ms, quotas.record(REQUEST_PERCENTAGE, user, clientId, nanos * PERCENT_PER_NANO));
        if (body !== NO_RESPONSE && refused) addRefusals(key, body, refused, ms);
        if (ms <= 0) return;
        if (body !== NO_RESPONSE) {
          const b = body as { throttleTimeMs?: number };
          b.throttleTimeMs = Math.max(b.throttleTimeMs ?? 0, ms);
        }
        ctx.conn.throttle(ms);
      },
    };
  }

  /**
   * Records the partitions a CreateTopics, CreatePartitions or DeleteTopics
   * will create or delete. In strict versions a topic that comes while the
   * quota is used up is taken out of the request (answered
   * THROTTLING_QUOTA_EXCEEDED); returns the throttle time.
   */
  private mutations(
    ctx: RequestContext,
    req: unknown,
    user: string,
    clientId: string,
  ): { throttleMs: number; refused: Refused | null } {
    const quotas = this.quotas;
    if (!quotas.quotaFor(CONTROLLER_MUTATION_RATE, user, clientId)) return { throttleMs: 0, refused: null };
    const v = ctx.apiVersion;
    const strict =
      (ctx.apiKey === ApiKey.CreateTopics && v >= 6) ||
      (ctx.apiKey === ApiKey.CreatePartitions && v >= 3) ||
      (ctx.apiKey === ApiKey.DeleteTopics && v >= 5);
    const refused: Refused = { names: [], topicIds: [] };
    let throttle = 0;
    const take = (count: number): boolean => {
      if (strict) {
        const over = quotas.throttleMs(CONTROLLER_MUTATION_RATE, user, clientId);
        if (over > 0) {
          throttle = Math.max(throttle, over);
          return false;
        }
      }
      if (count > 0) throttle = Math.max(throttle, quotas.record(CONTROLLER_MUTATION_RATE, user, clientId, count));
      return true;
    };
    if (ctx.apiKey === ApiKey.CreateTopics) {
      const r = req as CreateTopicsRequest;
      if (r.validateOnly) return { throttleMs: 0, refused: null };
      r.topics = r.topics.filter((t) => {
        const n = t.numPartitions > 0 ? t.numPartitions : t.assignments.length || this.defaultPartitions();
        if (take(n)) return true;
        refused.names.push(t.name);
        return false;
      });
    } else if (ctx.apiKey === ApiKey.CreatePartitions) {
      const r = req as CreatePartitionsRequest;
      if (r.validateOnly) return { throttleMs: 0, refused: null };
      r.topics = r.topics.filter((t) => {
        const now = this.image.topicsByName.get(t.name)?.partitions.length ?? 0;
        if (take(Math.max(0, t.count - now))) return true;
        refused.names.push(t.name);
        return false;
      });
    } else {
      const r = req as DeleteTopicsRequest;
      const count = (t: { name: string | null; topicId?: string }) =>
        (t.name !== null ? this.image.topicsByName.get(t.name) : this.image.topicsById.get(t.topicId ?? ''))?.partitions
          .length ?? 0;
      if (v >= 6) {
        r.topics = r.topics.filter((t) => {
          if (take(count(t))) return true;
          if (t.name !== null) refused.names.push(t.name);
          else refused.topicIds.push(t.topicId);
          return false;
        });
      } else {
        r.topicNames = r.topicNames.filter((name) => {
          if (take(count({ name }))) return true;
          refused.names.push(name);
          return false;
        });
      }
    }
    return {
      throttleMs: throttle,
      refused: refused.names.length + refused.topicIds.length > 0 ? refused : null,
    };
  }
}

function fetchReplicaId(req: FetchRequest, version: number): number {
  return version >= 15 ? (req.replicaState?.replicaId ?? -1) : req.replicaId;
}

/** The record bytes of a Fetch response (what dominates its size). */
function fetchRecordBytes(body: object): number {
  let n = 0;
  const responses = (body as { responses?: { partitions: { records?: unknown }[] }[] }).responses ?? [];
  for (const t of responses) {
    for (const p of t.partitions) {
      const r = p.records as Buffer | readonly { length: number }[] | null | undefined;
      if (!r) continue;
      if (Buffer.isBuffer(r)) n += r.length;
      else for (const c of r) n += c.length;
    }
  }
  return n;
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/** Adds THROTTLING_QUOTA_EXCEEDED results for the topics taken out of a strict request. */
function addRefusals(key: number, body: object, refused: Refused, throttleMs: number): void {
  const errorMessage = `The controller mutation quota is exceeded; retry after ${throttleMs} ms`;
  const errorCode = ErrorCode.THROTTLING_QUOTA_EXCEEDED;
  if (key === ApiKey.CreateTopics) {
    const b = body as { topics: object[] };
    for (const name of refused.names) b.topics.push({ name, errorCode, errorMessage });
  } else if (key === ApiKey.CreatePartitions) {
    const b = body as { results: object[] };
    for (const name of refused.names) b.results.push({ name, errorCode, errorMessage });
  } else {
    const b = body as { responses: object[] };
    for (const name of refused.names) b.responses.push({ name, topicId: ZERO_UUID, errorCode, errorMessage });
    for (const topicId of refused.topicIds) b.responses.push({ name: null, topicId, errorCode, errorMessage });
  }
}
