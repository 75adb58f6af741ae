/**
 * The leader's side of ISR changes: it asks the active controller, with
 * AlterPartition (key 56), to
 *
 * - shrink a partition's ISR by the followers that have not caught up with
 *   the leader for replica.lag.time.max.ms (checked every half of it, as
 *   Kafka's isr-expiration task), and
 * - expand it by a follower whose fetch reached the high watermark in the
 *   current leader epoch (Partition.onIsrCandidate, at once).
 *
 * The controller decides and commits; the partition follows the committed
 * change through the metadata image like any other (this node never changes
 * an ISR on its own). One request per partition is in flight at a time; an
 * accepted change is not asked again until the image shows its partition
 * epoch. A refused or failed request is asked again at the next check.
 * Connection, clock and timers are injected, as in broker-lifecycle.ts.
 */
import type { ApiMessages } from '../protocol/generated/messages.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { MetadataImage } from '../metadata/image.ts';
import { type Env, systemEnv, type TimerHandle } from '../util/env.ts';
import { LogLimiter } from '../util/log-limiter.ts';
import type { Partition } from './partition.ts';
import type { ReplicaManager } from './replica-manager.ts';

/** A connection to the active controller as ISR changes use it (the client's Connection is one). */
export interface AlterPartitionChannel {
  send<K extends 'AlterPartition'>(api: K, body: ApiMessages[K]['requestInput']): Promise<ApiMessages[K]['response']>;
  close(): void | Promise<void>;
}

export type AlterPartitionConnector = (endpoint: {
  nodeId: number;
  host: string;
  port: number;
}) => Promise<AlterPartitionChannel>;

export interface IsrChangesOptions {
  localId: number;
  /** This broker's registration epoch (-1 while unknown: nothing is asked then). */
  brokerEpoch: () => number;
  /** The active controller's id from the metadata quorum, -1 while unknown. */
  controllerId: () => number;
  /** A controller's CONTROLLER endpoint. */
  controllerEndpoint: (nodeId: number) => { host: string; port: number } | undefined;
  connect: AlterPartitionConnector;
  /** The image, for the new ISR members' broker epochs (AlterPartition v3). */
  image: MetadataImage;
  /** replica.lag.time.max.ms */
  replicaLagTimeMaxMs: number;
  env?: Env;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export class IsrChanges {
  private readonly env: Env;
  private readonly limiter: LogLimiter;
  private channel: AlterPartitionChannel | null = null;
  private channelController = -1;
  private readonly inFlight = new Set<Partition>();
  /** Accepted changes the image has not shown yet: the partition epoch they made. */
  private readonly awaiting = new Map<Partition, number>();
  private timer: TimerHandle | null = null;
  private replicas: ReplicaManager | null = null;
  private closed = false;

  constructor(private readonly opts: IsrChangesOptions) {
    this.env = opts.env ?? systemEnv;
    this.limiter = new LogLimiter(10_000, 1000, () => this.env.now());
  }

  /** Watches the partitions of `replicas`: expansions as followers catch up, shrinks on a timer. */
  start(replicas: ReplicaManager): void {
    this.replicas = replicas;
    const hook = (p: Partition) => {
      p.onIsrCandidate = (q) => this.maybeExpand(q);
    };
    for (const p of replicas.all()) hook(p);
    replicas.onLeadershipChange((p, hosted) => {
      if (hosted) hook(p);
      else p.onIsrCandidate = undefined;
      this.awaiting.delete(p);
    });
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.env.setTimer(Math.max(1, this.opts.replicaLagTimeMaxMs / 2), () => {
      this.checkShrinks();
      this.arm();
    });
  }

  /** The isr-expiration check: every led partition with lagging followers asks to drop them. */
  checkShrinks(): void {
    if (!this.replicas) return;
    for (const p of this.replicas.all()) {
      if (p.role !== 'leader') continue;
      const lagging = p.laggingReplicas(this.opts.replicaLagTimeMaxMs);
      if (lagging.length > 0) {
        const newIsr = p.isr.filter((id) => !lagging.includes(id));
        this.opts.logger?.info(
          { topic: p.topic.name, partition: p.index, isr: p.isr, lagging, maxLagMs: this.opts.replicaLagTimeMaxMs },
          'shrinking the ISR',
        );
        void this.propose(p, newIsr);
      } else {
        // an expansion refused or lost earlier is asked again here
        const joining = this.eligible(p.caughtUpReplicas());
        if (joining.length > 0) void this.propose(p, [...p.isr, ...joining]);
      }
    }
  }

  private maybeExpand(p: Partition): void {
    if (this.inFlight.has(p) || this.pendingInImage(p)) return;
    const joining = this.eligible(p.caughtUpReplicas());
    if (joining.length === 0) return;
    this.opts.logger?.info({ topic: p.topic.name, partition: p.index, isr: p.isr, joining }, 'expanding the ISR');
    void this.propose(p, [...p.isr, ...joining]);
  }

  /**
   * The replicas the controller would accept into an ISR, as far as this
   * node's image tells (Kafka's isReplicaIsrEligible): registered, not
   * fenced, not in controlled shutdown.
   */
  private eligible(ids: number[]): number[] {
    return ids.filter((id) => {
      const b = this.opts.image.brokers.get(id);
      return b !== undefined && !b.fenced && !b.inControlledShutdown;
    });
  }

  private pendingInImage(p: Partition): boolean {
    const want = this.awaiting.get(p);
    if (want === undefined) return false;
    if (p.partitionEpoch >= want) {
      this.awaiting.delete(p);
      return false;
    }
    return true;
  }

  /** Asks the controller for `newIsr`; resolves when answered (or failed). */
  async propose(p: Partition, newIsr: number[]): Promise<number> {
    if (this.closed || p.role !== 'leader' || this.inFlight.has(p) || this.pendingInImage(p)) return -1;
    const brokerEpoch = this.opts.brokerEpoch();
    if (brokerEpoch < 0) return -1;
    this.inFlight.add(p);
    p.isrChangeProposed(newIsr);
    try {
      const ch = await this.ensureChannel();
      const res = await ch.send('AlterPartition', {
        brokerId: this.opts.localId,
        brokerEpoch,
        topics: [
          {
            topicId: p.topic.topicId,
            partitions: [
              {
                partitionIndex: p.index,
                leaderEpoch: p.leaderEpoch,
                newIsr,
                newIsrWithEpochs: newIsr.map((id) => ({
                  brokerId: id,
                  brokerEpoch: this.opts.image.brokers.get(id)?.brokerEpoch ?? -1,
                })),
                leaderRecoveryState: 0,
                partitionEpoch: p.partitionEpoch,
              },
            ],
          },
        ],
      });
      if (res.errorCode !== ErrorCode.NONE) {
        if (res.errorCode === ErrorCode.NOT_CONTROLLER) this.dropChannel();
        this.warn(`top|${res.errorCode}`, { errorCode: res.errorCode }, 'the controller refused AlterPartition');
        return res.errorCode;
      }
      const pd = res.topics[0]?.partitions[0];
      if (!pd) return ErrorCode.UNKNOWN_SERVER_ERROR;
      // the controller's ISR counts in the high watermark until the image here shows it
      p.isrChangeAnswered(pd);
      if (pd.errorCode === ErrorCode.NONE) {
        this.awaiting.set(p, pd.partitionEpoch);
      } else if (pd.errorCode === ErrorCode.INELIGIBLE_REPLICA || pd.errorCode === ErrorCode.FENCED_LEADER_EPOCH) {
        // the image here is behind the controller's (a member fenced, a new leader): it catches up
        this.opts.logger?.info(
          { topic: p.topic.name, partition: p.index, errorCode: pd.errorCode, newIsr },
          'ISR change not accepted',
        );
      } else {
        this.warn(
          `${p.topic.name}-${p.index}|${pd.errorCode}`,
          { topic: p.topic.name, partition: p.index, errorCode: pd.errorCode, newIsr },
          'the controller refused an ISR change',
        );
      }
      return pd.errorCode;
    } catch (err) {
      this.dropChannel();
      this.warn('connection', { err: (err as Error).message }, 'AlterPartition failed');
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    } finally {
      this.inFlight.delete(p);
    }
  }

  private async ensureChannel(): Promise<AlterPartitionChannel> {
    const id = this.opts.controllerId();
    if (this.channel && this.channelController === id) return this.channel;
    this.dropChannel();
    const ep = id >= 0 ? this.opts.controllerEndpoint(id) : undefined;
    if (!ep) throw new Error(`no active controller known (${id})`);
    const ch = await this.opts.connect({ nodeId: id, host: ep.host, port: ep.port });
    this.channel = ch;
    this.channelController = id;
    return ch;
  }

  private dropChannel(): void {
    const ch = this.channel;
    this.channel = null;
    this.channelController = -1;
    if (ch) void Promise.resolve(ch.close()).catch(() => {});
  }

  private warn(key: string, obj: object, msg: string): void {
    const suppressed = this.limiter.take(key);
    if (suppressed === null) return;
    this.opts.logger?.warn(suppressed > 0 ? { ...obj, suppressed } : obj, msg);
  }

  close(): void {
    this.closed = true;
    this.timer?.cancel();
    this.timer = null;
    this.dropChannel();
  }
}
