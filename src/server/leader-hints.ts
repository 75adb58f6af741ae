/**
 * KIP-951 leader hints: when a Produce (v10+) or Fetch (v12+/v16+) partition
 * is answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, the response
 * names the partition's current leader and epoch as this broker's metadata
 * image has them, and the address of each leader it names (NodeEndpoints),
 * so a client moves to the new leader without a Metadata round trip first.
 * Only error answers are touched: the hot path pays nothing.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { TopicState } from '../metadata/image.ts';
import { type Broker, brokerAddress } from './broker.ts';

export interface LeaderIdAndEpoch {
  leaderId: number;
  leaderEpoch: number;
}

export interface NodeEndpoint {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** Whether a partition answered `errorCode` carries a leader hint (KIP-951). */
export function wantsLeaderHint(errorCode: number): boolean {
  return errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || errorCode === ErrorCode.FENCED_LEADER_EPOCH;
}

/** The leader and leader epoch of `topic`'s partition `partition` in the image (leader -1 when it has none). */
export function leaderHint(topic: TopicState | undefined, partition: number): LeaderIdAndEpoch | undefined {
  const p = topic?.partitions[partition];
  return p ? { leaderId: p.leader, leaderEpoch: p.leaderEpoch } : undefined;
}

/**
 * The endpoints of the live brokers among `ids`, in the shape both Produce
 * and Fetch carry, at their addresses on `listener` (the request's); ids of
 * brokers that are unknown, fenced, -1 or without that listener are left out.
 */
export function nodeEndpoints(b: Broker, ids: Iterable<number>, listener?: string): NodeEndpoint[] {
  const out: NodeEndpoint[] = [];
  const seen = new Set<number>();
  for (const id of ids) {
    if (id < 0 || seen.has(id)) continue;
    seen.add(id);
    const br = b.image.brokers.get(id);
    if (!br || !b.image.isLive(id)) continue;
    const l = brokerAddress(b, br, listener);
    if (l) out.push({ nodeId: id, host: l.host, port: l.port, rack: br.rack });
  }
  return out;
}

/**
 * The error a request for a partition that is not hosted on this broker
 * gets, as Kafka answers it: NOT_LEADER_OR_FOLLOWER when the image has the
 * partition (it lives on other brokers), else UNKNOWN_TOPIC_OR_PARTITION.
 */
export function notHostedError(topic: TopicState | undefined, partition: number): number {
  return topic?.partitions[partition] ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
}
