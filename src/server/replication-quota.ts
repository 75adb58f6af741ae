/**
 * Replication throttling, as Kafka's replication quotas (KIP-73) apply it,
 * for reassignments that copy whole logs without starving clients:
 *
 * - The rate: `leader.replication.throttled.rate` (the leader's side: bytes
 *   of follower fetches it answers) and `follower.replication.throttled.rate`
 *   (the follower's side: bytes it fetches), in bytes/s; dynamic broker
 *   configs (this broker's, else the cluster default, else the static
 *   property; Kafka's default Long.MAX is no limit).
 * - Which partitions: those the topic's `leader.replication.throttled.replicas`
 *   / `follower.replication.throttled.replicas` names with this broker
 *   ("partition:brokerId" entries whose broker is this one, or "*").
 * - Only replicas outside the ISR are throttled (as in Kafka: throttling
 *   never holds back an in-sync replica, so it cannot shrink the ISR).
 * - Leader side: a throttled partition of a follower fetch reads at most what
 *   the bucket holds (at least one batch), and nothing while it is empty: the
 *   fetch then long-polls and is answered without its records. Follower
 *   side: a throttled partition is left out of the Fetch while the bucket is
 *   empty; the fetcher waits for it to refill when nothing else is fetched.
 *
 * The bucket (one per side and broker, shared by every throttled partition)
 * refills at the rate and holds at most one second's worth; a read larger
 * than what it holds (one whole batch) leaves it in debt, paid back before
 * the next throttled read. Kafka measures a windowed average instead
 * (replication.quota.window.num × replication.quota.window.size.seconds);
 * over a few seconds both hold the rate.
 */
import type { BrokerConfig } from '../config/broker-config.ts';
import { BROKER_PROPERTY_BY_NAME } from '../config/broker-defs.ts';
import { checkValue } from '../config/config-def.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { Partition } from './partition.ts';

export type QuotaSide = 'leader' | 'follower';

/** Rates at or above this are "no limit" (Kafka's default Long.MAX_VALUE parses to it). */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** A token bucket in bytes: refills at `rate` per second up to one second's worth. */
export class TokenBucket {
  private _rate = Number.POSITIVE_INFINITY;
  private tokens = 0;
  private at = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Sets the rate (bytes/s; Infinity: no limit); a new rate starts with a full bucket. */
  setRate(bytesPerSecond: number): void {
    if (bytesPerSecond === this._rate) return;
    this._rate = bytesPerSecond;
    this.tokens = bytesPerSecond;
    this.at = this.now();
  }

  /** Bytes per second (Infinity: no limit). */
  get rate(): number {
    return this._rate;
  }

  get limited(): boolean {
    return Number.isFinite(this._rate);
  }

  /** Bytes that may be read now (Infinity without a limit; 0 or less: wait). */
  available(): number {
    if (!this.limited) return Number.POSITIVE_INFINITY;
    const t = this.now();
    if (t > this.at) {
      this.tokens = Math.min(this._rate, this.tokens + ((t - this.at) * this._rate) / 1000);
      this.at = t;
    }
    return this.tokens;
  }

  /** Milliseconds until some bytes may be read again (0: now). */
  delayMs(): number {
    const a = this.available();
    return a > 0 ? 0 : Math.ceil(((1 - a) * 1000) / this._rate);
  }

  /** `bytes` were read (may leave the bucket in debt). */
  record(bytes: number): void {
    if (!this.limited || bytes <= 0) return;
    this.available();
    this.tokens -= bytes;
  }
}

const THROTTLE_ALL = 'all';

/** One side's quota on one broker. */
export class ReplicationQuota {
  readonly bucket: TokenBucket;
  private rateAt = Number.NaN;
  /** Parsed `*.replication.throttled.replicas` values: the partitions they throttle on this broker. */
  private readonly parsed = new Map<string, Set<number> | typeof THROTTLE_ALL>();

  constructor(
    readonly side: QuotaSide,
    private readonly config: Pick<BrokerConfig, 'nodeId' | 'raw'>,
    private readonly image: MetadataImage,
    now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(now);
  }

  private get rateName(): string {
    return `${this.side}.replication.throttled.rate`;
  }

  /** The rate in force (bytes/s, Infinity: none), followed from the image's dynamic broker configs. */
  rate(): number {
    if (this.rateAt !== this.image.epoch) {
      this.rateAt = this.image.epoch;
      const name = this.rateName;
      const text =
        this.image.brokerConfigs.get(String(this.config.nodeId))?.get(name) ??
        this.image.brokerConfigs.get('')?.get(name) ??
        this.config.raw.get(name);
      let rate = Number.POSITIVE_INFINITY;
      if (text !== undefined) {
        const r = checkValue(BROKER_PROPERTY_BY_NAME.get(name)!, text);
        if ('value' in r && typeof r.value === 'number' && r.value < UNLIMITED) rate = r.value;
      }
      this.bucket.setRate(rate);
    }
    return this.bucket.rate;
  }

  /**
   * Whether replication of `p` with replica `replicaId` (the follower; on the
   * follower side this broker) is throttled: a rate is set, the topic's list
   * names the partition on this broker, and the replica is not in the ISR.
   */
  throttles(p: Partition, replicaId: number): boolean {
    // the topic's list first: one map lookup for the partitions of topics that throttle nothing
    const value = p.topic.configs.get(`${this.side}.replication.throttled.replicas`);
    if (value === undefined || value === '' || !Number.isFinite(this.rate())) return false;
    let set = this.parsed.get(value);
    if (!set) {
      set = parseThrottledReplicas(value, this.config.nodeId);
      if (this.parsed.size > 1000) this.parsed.clear();
      this.parsed.set(value, set);
    }
    if (set !== THROTTLE_ALL && !set.has(p.index)) return false;
    return !p.isr.includes(replicaId);
  }
}

/** The partitions a `*.replication.throttled.replicas` value throttles on broker `nodeId`. */
export function parseThrottledReplicas(value: string, nodeId: number): Set<number> | typeof THROTTLE_ALL {
  const v = value.trim();
  if (v === '*') return THROTTLE_ALL;
  const out = new Set<number>();
  for (const entry of v.split(',')) {
    const [partition, broker] = entry.trim().split(':');
    if (Number(broker) === nodeId && partition !== undefined && partition !== '') out.add(Number(partition));
  }
  return out;
}

const leaderQuotas = new WeakMap<object, ReplicationQuota>();

/** The leader-side quota of a broker (made on first use). */
export function leaderQuotaOf(b: {
  config: Pick<BrokerConfig, 'nodeId' | 'raw'>;
  image: MetadataImage;
}): ReplicationQuota {
  let q = leaderQuotas.get(b);
  if (!q) leaderQuotas.set(b, (q = new ReplicationQuota('leader', b.config, b.image)));
  return q;
}
