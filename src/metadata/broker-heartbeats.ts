/**
 * The broker lifecycle of KIP-631 as the active controller decides it: a pure
 * state machine. Events go in (a registration, a heartbeat, an unregistration,
 * a closed heartbeat connection, the clock passing a session deadline); out
 * come the metadata records to commit and the answer to give once they are
 * committed. It reads the metadata image and never changes it: the records
 * change it when committed. Time is read from the injected env
 * (src/util/env.ts); it sets no timers (the controller arms one at
 * `nextDeadline()`).
 *
 * A broker's states, as Kafka's BrokerHeartbeatManager has them:
 *
 * - FENCED: registered (every registration is fenced, with a new broker epoch:
 *   the offset of its RegisterBroker record), or its session ended. A
 *   heartbeat whose metadata offset has reached the broker epoch (it has seen
 *   its own registration, so it knows the metadata up to it) unfences it,
 *   unless it asks to stay fenced.
 * - UNFENCED: live. Its session lasts `broker.session.timeout.ms` from its
 *   last heartbeat; when that passes it is fenced.
 * - CONTROLLED_SHUTDOWN: it asked to shut down while leading partitions that
 *   another in-sync replica can take. Its leaderships move and it leaves
 *   every ISR it is not the last member of; it is told to shut down once it
 *   leads nothing that could move and every other live broker has reported a
 *   metadata offset that includes the moves (so the new leaders know).
 * - SHUTDOWN_NOW: told to shut down, and fenced.
 *
 * Unlike Kafka, the controller also fences a broker the moment the
 * connection that carries its heartbeats closes (`connectionClosed`): a
 * crashed or killed broker process is fenced in well under a second, rather
 * than after broker.session.timeout.ms (9 s by default). A broker alive
 * behind a broken connection reconnects, heartbeats with the same epoch and
 * is unfenced again once caught up.
 *
 * A controller that becomes active starts every registration's session
 * afresh, as Kafka's does; a broker that died with the previous active
 * controller (the same process on a combined node) would then stay live for
 * a whole session, since no connection of its ever reached this controller.
 * So, unlike Kafka, a registration whose id is one of the other quorum voters
 * (node.id is unique in the cluster: the same process) gets a shorter first
 * deadline: if neither a heartbeat of it has reached this controller nor its
 * voter has fetched from this leader within controller.quorum.fetch.timeout.ms
 * of activation, it is fenced (`quorum-silent`). A live voter that can reach
 * the leader fetches within that time of learning of it, or else starts an
 * election of its own, which ends this term; a live broker that is fenced all
 * the same heartbeats and is unfenced once caught up, as after any fence.
 *
 * Fencing is one broker per decision: the partition changes of a fence are
 * computed against the image, which only learns of the fence once it is
 * committed.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { Env } from '../util/env.ts';
import type { MetadataImage, UncleanElectionPolicy } from './image.ts';
import type { MetadataRecord } from './records.ts';

export interface BrokerHeartbeatsOptions {
  /** broker.session.timeout.ms */
  sessionTimeoutMs: number;
  env: Pick<Env, 'now'>;
  /** The cluster id registrations must carry; null while unknown (any is accepted). */
  clusterId?: () => string | null;
  /** unclean.leader.election.enable per topic: fences and unfences may elect outside the ISR where it holds. */
  uncleanLeaderElection?: UncleanElectionPolicy;
  /**
   * The quorum's liveness signal while this controller leads: whether voter
   * `nodeId` has fetched from it in this epoch, null when `nodeId` is not
   * another voter (see MetadataQuorum.voterFetchedThisEpoch). Without it
   * every registration gets a full session on activation.
   */
  voterFetched?: (nodeId: number) => boolean | null;
  /** controller.quorum.fetch.timeout.ms: how long after activation a silent voter's broker stays live. */
  quorumFetchTimeoutMs?: number;
}

/** Why a live broker was fenced by `expire`. */
export type ExpiryReason = 'session' | 'quorum-silent';

export interface Expiry {
  brokerId: number;
  reason: ExpiryReason;
  records: MetadataRecord[];
}

export interface BrokerRegistrationInput {
  brokerId: number;
  clusterId: string;
  incarnationId: string;
  listeners: { name: string; host: string; port: number }[];
  rack: string | null;
}

export interface BrokerHeartbeatInput {
  brokerId: number;
  brokerEpoch: number;
  currentMetadataOffset: number;
  wantFence: boolean;
  wantShutDown: boolean;
}

export interface BrokerHeartbeatAnswer {
  errorCode: number;
  isCaughtUp: boolean;
  isFenced: boolean;
  shouldShutDown: boolean;
}

export interface LifecycleAnswer {
  errorCode: number;
  errorMessage: string | null;
}

/** What the controller commits (`records`, as one batch) and then answers. */
export interface LifecycleDecision<T> {
  records: MetadataRecord[];
  answer: T;
}

/** Soft state of one registration on this controller (not in the log: rebuilt by heartbeats after a failover). */
interface Session {
  brokerEpoch: number;
  /** When the session ends unless a heartbeat extends it. */
  deadline: number;
  /** A heartbeat or registration of this epoch reached this controller (not just a grace period after it became active). */
  heard: boolean;
  /**
   * Set on activation for a registration of another voter that has not
   * fetched from this leader: it is fenced then unless it heard from (or its
   * voter fetched) by that time. Infinity otherwise.
   */
  silentVoterDeadline: number;
  /** The broker's metadata offset in its last heartbeat (-1: none yet). */
  metadataOffset: number;
  /** In controlled shutdown with nothing left to move: the image's offset then, which other brokers must reach. */
  shutdownOffset: number;
}

export class BrokerHeartbeats {
  private readonly sessions = new Map<number, Session>();

  constructor(
    private readonly image: MetadataImage,
    private readonly opts: BrokerHeartbeatsOptions,
  ) {}

  private now(): number {
    return this.opts.env.now();
  }

  /**
   * This controller became active: every registration in the image gets a
   * full session from now (it may not have heard from the broker yet), as
   * Kafka's controller does on activation; one of another voter that has not
   * fetched from this leader yet must show itself within the quorum fetch
   * timeout (see above).
   */
  activate(): void {
    this.sessions.clear();
    const { voterFetched, quorumFetchTimeoutMs } = this.opts;
    for (const b of this.image.brokers.values()) {
      const s = this.sessionOf(b.nodeId, b.brokerEpoch);
      if (voterFetched && quorumFetchTimeoutMs !== undefined && !b.fenced && voterFetched(b.nodeId) === false)
        s.silentVoterDeadline = this.now() + quorumFetchTimeoutMs;
    }
  }

  /** This controller stopped being active: its sessions say nothing about the next term. */
  deactivate(): void {
    this.sessions.clear();
  }

  /** The session of a registration, begun now (with a full timeout) if this controller has none for that epoch. */
  private sessionOf(nodeId: number, brokerEpoch: number): Session {
    let s = this.sessions.get(nodeId);
    if (!s || s.brokerEpoch !== brokerEpoch) {
      s = {
        brokerEpoch,
        deadline: this.now() + this.opts.sessionTimeoutMs,
        heard: false,
        silentVoterDeadline: Number.POSITIVE_INFINITY,
        metadataOffset: -1,
        shutdownOffset: -1,
      };
      this.sessions.set(nodeId, s);
    }
    return s;
  }

  /**
   * A heartbeat of `brokerEpoch` arrived: its session is extended now, before
   * the heartbeat waits its turn behind earlier commits (a slow commit must
   * not let a broker that is heartbeating expire).
   */
  touch(brokerId: number, brokerEpoch: number): void {
    const b = this.image.brokers.get(brokerId);
    if (!b || b.brokerEpoch !== brokerEpoch) return;
    const s = this.sessionOf(brokerId, brokerEpoch);
    s.deadline = this.now() + this.opts.sessionTimeoutMs;
    s.heard = true;
    s.silentVoterDeadline = Number.POSITIVE_INFINITY;
  }

  /** BrokerRegistration: a new registration (and broker epoch), fenced until the broker catches up. */
  register(req: BrokerRegistrationInput): LifecycleDecision<LifecycleAnswer> {
    const refuse = (errorCode: number, errorMessage: string) => ({ records: [], answer: { errorCode, errorMessage } });
    const clusterId = this.opts.clusterId?.() ?? null;
    if (clusterId !== null && req.clusterId !== clusterId)
      return refuse(
        ErrorCode.INCONSISTENT_CLUSTER_ID,
        `Expected cluster ID ${clusterId}, but got cluster ID ${req.clusterId}`,
      );
    const existing = this.image.brokers.get(req.brokerId);
    const records: MetadataRecord[] = [];
    if (existing) {
      const s = this.sessions.get(req.brokerId);
      const alive =
        !existing.fenced &&
        s !== undefined &&
        s.brokerEpoch === existing.brokerEpoch &&
        s.heard &&
        this.now() < s.deadline;
      // Another live process with this node.id (a configuration error): the running one keeps it.
      if (alive && existing.incarnationId !== req.incarnationId)
        return refuse(ErrorCode.DUPLICATE_BROKER_REGISTRATION, 'Another broker is registered with that broker id.');
      // The previous registration, still live in the image (a restart before its session ended, or this
      // controller had not heard from it): its leaderships go before the new, fenced, registration.
      if (!existing.fenced)
        records.push(...this.image.partitionChangesWithout(req.brokerId, 'fence', this.opts.uncleanLeaderElection));
    }
    this.sessions.delete(req.brokerId);
    records.push({
      type: 'RegisterBroker',
      nodeId: req.brokerId,
      incarnationId: req.incarnationId,
      listeners: req.listeners,
      rack: req.rack,
      fenced: true,
    });
    return { records, answer: { errorCode: ErrorCode.NONE, errorMessage: null } };
  }

  /** BrokerHeartbeat: the state transitions above. */
  heartbeat(req: BrokerHeartbeatInput): LifecycleDecision<BrokerHeartbeatAnswer> {
    const b = this.image.brokers.get(req.brokerId);
    if (!b || b.brokerEpoch !== req.brokerEpoch) {
      // Kafka's answer for both: the broker registers again.
      return {
        records: [],
        answer: { errorCode: ErrorCode.STALE_BROKER_EPOCH, isCaughtUp: false, isFenced: true, shouldShutDown: false },
      };
    }
    const s = this.sessionOf(req.brokerId, b.brokerEpoch);
    s.deadline = this.now() + this.opts.sessionTimeoutMs;
    s.heard = true;
    s.silentVoterDeadline = Number.POSITIVE_INFINITY;
    s.metadataOffset = Math.max(s.metadataOffset, req.currentMetadataOffset);
    const isCaughtUp = req.currentMetadataOffset >= b.brokerEpoch;
    const answer = (isFenced: boolean, shouldShutDown: boolean, records: MetadataRecord[] = []) => ({
      records,
      answer: { errorCode: ErrorCode.NONE, isCaughtUp, isFenced, shouldShutDown },
    });

    if (b.fenced) {
      if (req.wantShutDown) return answer(true, true);
      if (!req.wantFence && isCaughtUp) return answer(false, false, this.unfenceRecords(req.brokerId, b.brokerEpoch));
      return answer(true, false);
    }
    if (b.inControlledShutdown) {
      const moves = this.image.partitionChangesWithout(req.brokerId, 'shutdown');
      if (moves.length > 0) {
        s.shutdownOffset = -1;
        return answer(false, false, moves);
      }
      // Nothing left to move: shut down once the other live brokers know the moves.
      if (s.shutdownOffset < 0) s.shutdownOffset = this.image.epoch;
      if (this.lowestActiveOffset(req.brokerId) >= s.shutdownOffset)
        return answer(true, true, this.fenceRecords(req.brokerId, b.brokerEpoch));
      return answer(false, false);
    }
    if (req.wantFence) return answer(true, req.wantShutDown, this.fenceRecords(req.brokerId, b.brokerEpoch));
    if (req.wantShutDown) {
      const moves = this.image.partitionChangesWithout(req.brokerId, 'shutdown');
      if (moves.length === 0) return answer(true, true, this.fenceRecords(req.brokerId, b.brokerEpoch));
      s.shutdownOffset = -1;
      return answer(false, false, [
        {
          type: 'BrokerRegistrationChange',
          nodeId: req.brokerId,
          brokerEpoch: b.brokerEpoch,
          inControlledShutdown: true,
        },
        ...moves,
      ]);
    }
    return answer(false, false);
  }

  /** UnregisterBroker: the registration goes, after the broker leaves every ISR and leadership. */
  unregister(brokerId: number): LifecycleDecision<LifecycleAnswer> {
    const b = this.image.brokers.get(brokerId);
    if (!b)
      return {
        records: [],
        answer: {
          errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
          errorMessage: `Broker ID ${brokerId} is not currently registered`,
        },
      };
    this.sessions.delete(brokerId);
    return {
      records: [
        ...this.image.partitionChangesWithout(brokerId, 'fence', this.opts.uncleanLeaderElection),
        { type: 'UnregisterBroker', nodeId: brokerId, brokerEpoch: b.brokerEpoch },
      ],
      answer: { errorCode: ErrorCode.NONE, errorMessage: null },
    };
  }

  /**
   * The connection that carried the heartbeats of registration `brokerEpoch`
   * closed: the broker is fenced at once when that registration is live.
   */
  connectionClosed(brokerId: number, brokerEpoch: number): MetadataRecord[] {
    const b = this.image.brokers.get(brokerId);
    if (!b || b.brokerEpoch !== brokerEpoch || b.fenced) return [];
    return this.fenceRecords(brokerId, brokerEpoch);
  }

  /**
   * The fencing of one live broker whose session has ended by now, or whose
   * voter stayed silent since activation (see above), or null when none.
   * Call again after committing until it returns null.
   */
  expire(): Expiry | null {
    const now = this.now();
    for (const b of this.image.brokers.values()) {
      if (b.fenced) continue;
      const s = this.sessionOf(b.nodeId, b.brokerEpoch);
      let reason: ExpiryReason | null = null;
      if (s.deadline <= now) reason = 'session';
      else if (s.silentVoterDeadline <= now) {
        // its voter may have fetched since (the signal is read, not pushed)
        if (this.opts.voterFetched?.(b.nodeId) === false) reason = 'quorum-silent';
        else s.silentVoterDeadline = Number.POSITIVE_INFINITY;
      }
      if (reason !== null) return { brokerId: b.nodeId, reason, records: this.fenceRecords(b.nodeId, b.brokerEpoch) };
    }
    return null;
  }

  /** `expire`'s records only ([] when none is due). */
  expireOne(): MetadataRecord[] {
    return this.expire()?.records ?? [];
  }

  /** When the earliest session (or silent-voter deadline) of a live broker ends, or null when no broker is live. */
  nextDeadline(): number | null {
    let first: number | null = null;
    for (const b of this.image.brokers.values()) {
      if (b.fenced) continue;
      const s = this.sessionOf(b.nodeId, b.brokerEpoch);
      const d = Math.min(s.deadline, s.silentVoterDeadline);
      if (first === null || d < first) first = d;
    }
    return first;
  }

  /** The lowest metadata offset reported by the live brokers other than `except` that are not shutting down. */
  private lowestActiveOffset(except: number): number {
    let low = Number.POSITIVE_INFINITY;
    for (const b of this.image.brokers.values()) {
      if (b.nodeId === except || b.fenced || b.inControlledShutdown) continue;
      low = Math.min(low, this.sessionOf(b.nodeId, b.brokerEpoch).metadataOffset);
    }
    return low;
  }

  private fenceRecords(nodeId: number, brokerEpoch: number): MetadataRecord[] {
    return [
      ...this.image.partitionChangesWithout(nodeId, 'fence', this.opts.uncleanLeaderElection),
      { type: 'FenceBroker', nodeId, brokerEpoch },
    ];
  }

  private unfenceRecords(nodeId: number, brokerEpoch: number): MetadataRecord[] {
    return [
      { type: 'UnfenceBroker', nodeId, brokerEpoch },
      ...this.image.partitionChangesElectingLeaderless(nodeId, this.opts.uncleanLeaderElection),
    ];
  }
}
