/**
 * Fetching from the closest replica (KIP-392), the rules the Fetch handler
 * asks for consumer fetches:
 *
 * - Which node may serve a consumer's fetch. Up to Fetch v10 the leader only.
 *   From v11 (the version that carries the consumer's `rack_id`, Kafka's
 *   `client.rack`) any replica this node hosts, leader or follower, as Kafka
 *   does: a follower reads up to its own high watermark (the leader's, as
 *   the follower last learnt it, never above its log end offset); a fetch
 *   offset between that high watermark and its log end offset gets no
 *   records (the consumer fetches again), one past its log end offset
 *   OFFSET_OUT_OF_RANGE, on which Kafka's consumers and librdkafka go back to
 *   the leader instead of resetting. The current leader epoch is checked as
 *   on the leader (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH); a node that no
 *   longer hosts the partition answers NOT_LEADER_OR_FOLLOWER, and the
 *   consumer returns to the leader.
 * - Which replica the leader names as `preferred_read_replica`
 *   (`replica.selector.class`). With no selector, or Kafka's LeaderSelector,
 *   none: consumers read from the leader (Kafka's default). With Kafka's
 *   RackAwareReplicaSelector, for a consumer that names a rack the leader is
 *   not in: the most caught-up in-sync follower in that rack (largest log
 *   end offset, then the most recently caught up) that is live and has the
 *   fetch offset; the leader answers that partition with no records and the
 *   replica's id, at once, and the consumer fetches from it from then on.
 *   A follower that leaves the ISR, or is fenced, is no longer named, so a
 *   consumer that comes back to the leader (after an error from the
 *   follower, or when its client refreshes the choice) stays there.
 *   Unlike Kafka, the follower's log start offset is not checked against the
 *   fetch offset: a consumer sent to a follower that has deleted those
 *   records gets OFFSET_OUT_OF_RANGE there and goes back to the leader.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Broker } from './broker.ts';
import type { Partition } from './partition.ts';

/** Kafka's class names accepted for `replica.selector.class`. */
export const RACK_AWARE_REPLICA_SELECTOR = 'org.apache.kafka.common.replica.RackAwareReplicaSelector';
export const LEADER_SELECTOR = 'org.apache.kafka.common.replica.LeaderSelector';

/** The first Fetch version that carries the consumer's rack (and lets a follower serve it). */
export const FOLLOWER_FETCH_MIN_VERSION = 11;

/**
 * Consumer fetches answered by this broker, by role, for operators and
 * tests (which broker served a consumer's reads).
 */
export interface ReplicaReadStats {
  /** Record bytes sent to consumers from partitions this node leads. */
  leaderBytes: number;
  /** Record bytes sent to consumers from partitions this node follows. */
  followerBytes: number;
  /** Partitions answered with a preferred read replica instead of records. */
  redirects: number;
}

const stats = new WeakMap<Broker, ReplicaReadStats>();

export function replicaReadStats(b: Broker): ReplicaReadStats {
  let s = stats.get(b);
  if (!s) stats.set(b, (s = { leaderBytes: 0, followerBytes: 0, redirects: 0 }));
  return s;
}

/**
 * Whether this node serves a consumer's fetch of `part` at Fetch version
 * `version`: NONE, or the error to answer.
 */
export function checkConsumerFetch(part: Partition, currentLeaderEpoch: number, version: number): number {
  if (version < FOLLOWER_FETCH_MIN_VERSION || part.role === 'leader') return part.checkLeader(currentLeaderEpoch);
  if (part.log.dirHealth.isFailed()) return ErrorCode.KAFKA_STORAGE_ERROR;
  return part.checkLeaderEpoch(currentLeaderEpoch);
}

/**
 * KIP-392's OFFSET_NOT_AVAILABLE: a leader elected with a high watermark
 * below the start of its leader epoch (its log end offset when elected; the
 * followers have not reported since) cannot tell a consumer the latest
 * offset, or look a timestamp up past that high watermark, without risking
 * an offset smaller than one the old leader gave out. ListOffsets answers
 * this retriable error until the high watermark reaches the epoch's start.
 */
export function highWatermarkBehindEpochStart(part: Partition): boolean {
  if (part.role !== 'leader') return false;
  const epochStart = part.log.epochStartOffsets.get(part.leaderEpoch) ?? part.log.logEndOffset;
  return part.highWatermark < epochStart;
}

/** Picks the preferred read replica of a consumer fetch; -1 for the leader itself. */
export type ReplicaSelector = (b: Broker, part: Partition, clientRack: string, fetchOffset: number) => number;

/**
 * Kafka's RackAwareReplicaSelector over this leader's view: no rack, or the
 * leader in the consumer's rack, or no eligible replica there: the leader.
 * Eligible: in the ISR, live, in the consumer's rack, with a log end offset
 * at or past the fetch offset. No allocation: it runs for every partition
 * of every consumer fetch.
 */
export const rackAwareSelector: ReplicaSelector = (b, part, clientRack, fetchOffset) => {
  if (clientRack === '') return -1;
  if (b.image.brokers.get(b.nodeId)?.rack === clientRack) return -1;
  let best = -1;
  let bestEnd = -1;
  let bestCaughtUp = -1;
  const isr = part.isr;
  for (let i = 0; i < isr.length; i++) {
    const id = isr[i];
    if (id === b.nodeId) continue;
    const br = b.image.brokers.get(id);
    if (!br || br.fenced || br.rack !== clientRack) continue;
    const end = part.followerEndOffset(id);
    if (end < fetchOffset) continue;
    const caughtUp = part.followerCaughtUpAt(id) ?? -1;
    if (end > bestEnd || (end === bestEnd && caughtUp > bestCaughtUp)) {
      best = id;
      bestEnd = end;
      bestCaughtUp = caughtUp;
    }
  }
  return best;
};

/** The selector `replica.selector.class` names; undefined for the leader only (unset, or LeaderSelector). */
export function replicaSelector(className: string | null): ReplicaSelector | undefined {
  return className === RACK_AWARE_REPLICA_SELECTOR ? rackAwareSelector : undefined;
}
