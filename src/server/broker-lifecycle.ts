/**
 * The broker's side of the KIP-631 lifecycle: it registers with the active
 * controller, heartbeats every `broker.heartbeat.interval.ms` with its
 * metadata offset, and on close asks for a controlled shutdown.
 *
 * - One connection to the active controller's CONTROLLER endpoint (the
 *   leader id comes from the metadata quorum, its address from
 *   controller.quorum.voters), kept open between heartbeats: the controller
 *   fences a broker the moment that connection closes, so a crashed broker
 *   is fenced at once. It is only closed when the controller changes (or it
 *   broke).
 * - Registration gives the broker epoch; the broker is fenced until a
 *   heartbeat reports a metadata offset at or past it. While fenced, a
 *   heartbeat goes out as soon as the local image reaches the broker epoch
 *   (`metadataAdvanced`), not at the next interval, so that a starting
 *   broker serves quickly.
 * - A fenced broker keeps its registration and heartbeats with the same
 *   epoch; it is unfenced again once caught up. It registers again only when
 *   the controller no longer knows that registration (STALE_BROKER_EPOCH:
 *   unregistered, or replaced). A new active controller does not call for a
 *   new registration: registrations are in the replicated metadata log, and
 *   a new registration would fence the broker and move its leaderships.
 * - `close()` heartbeats with wantShutDown until the controller answers
 *   shouldShutDown (its leaderships have moved) or `controlledShutdownTimeoutMs`
 *   has passed, then closes the connection (which fences the broker if the
 *   controller had not yet).
 *
 * The clock, timers and the connection are injected (`env`, `connect`), so
 * that a test drives it against a fake controller on simulated time.
 */
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiMessages } from '../protocol/generated/messages.ts';
import { type ClientSecurity, Connection } from '../client/connection.ts';
import { type Env, systemEnv, type TimerHandle } from '../util/env.ts';
import { LogLimiter } from '../util/log-limiter.ts';

type LifecycleApi = 'BrokerRegistration' | 'BrokerHeartbeat';

/** A connection to a controller, as the lifecycle uses it (the client's Connection is one). */
export interface ControllerChannel {
  send<K extends LifecycleApi>(api: K, body: ApiMessages[K]['requestInput']): Promise<ApiMessages[K]['response']>;
  close(): void | Promise<void>;
}

/** Opens a channel to controller `nodeId` at host:port (rejects when it cannot). */
export type ControllerConnector = (endpoint: {
  nodeId: number;
  host: string;
  port: number;
}) => Promise<ControllerChannel>;

export interface BrokerLifecycleOptions {
  nodeId: number;
  /** The cluster id to register with (from meta.properties or the metadata log); null while unknown. */
  clusterId: () => string | null;
  /** This broker's listeners, as clients and other brokers reach it. */
  listeners: { name: string; host: string; port: number; securityProtocol?: number }[];
  /** broker.rack (null when not set). */
  rack: string | null;
  /** broker.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** The active controller's node id from the metadata quorum, -1 while unknown. */
  controllerId: () => number;
  /** A controller's CONTROLLER endpoint, from controller.quorum.voters. */
  controllerEndpoint: (nodeId: number) => { host: string; port: number } | undefined;
  /** The offset of the last metadata record this broker has applied (its image's metadata offset). */
  metadataOffset: () => number;
  connect: ControllerConnector;
  env?: Env;
  /** Most time `close()` spends in controlled shutdown before it closes anyway (default 10000). */
  controlledShutdownTimeoutMs?: number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** The state a lifecycle reports (for `samsa cluster info` and tests). */
export interface BrokerLifecycleState {
  brokerEpoch: number;
  fenced: boolean;
  /** The controller the connection is open to, -1 when none. */
  controllerId: number;
  shuttingDown: boolean;
}

const FIRST_RETRY_MS = 50;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** How often a broker in controlled shutdown asks whether it may stop. */
const SHUTDOWN_POLL_MAX_MS = 250;

/** A connector over the client's Connection (ApiVersions is negotiated first). */
export function clientConnector(opts: {
  clientId: string;
  requestTimeoutMs?: number;
  /** TLS for the connections (an SSL controller listener); read for each connection. */
  security?: () => ClientSecurity | undefined;
}): ControllerConnector {
  return async ({ host, port }) => {
    const c = new Connection({
      host,
      port,
      clientId: opts.clientId,
      requestTimeoutMs: opts.requestTimeoutMs,
      security: opts.security?.(),
    });
    await c.connect();
    return c;
  };
}

/** A random incarnation id in the protocol's uuid form (16 bytes, base64url). */
function incarnationIdFrom(uuid: string): string {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex').toString('base64url');
}

export class BrokerLifecycle {
  readonly incarnationId: string;
  private readonly env: Env;
  private channel: ControllerChannel | null = null;
  private channelController = -1;
  private timer: TimerHandle | null = null;
  private busy = false;
  /** Run again as soon as the request in flight is answered. */
  private again = false;
  private retryMs = FIRST_RETRY_MS;
  private started = false;
  private stopped = false;
  private brokerEpoch = -1;
  private fenced = true;
  /** The broker epoch for which the caught-up heartbeat was already sent early. */
  private caughtUpSentFor = -1;
  private shuttingDown = false;
  private shutdownDone: (() => void) | null = null;
  private readonly unfencedWaiters: (() => void)[] = [];
  private readonly limiter: LogLimiter;

  constructor(private readonly opts: BrokerLifecycleOptions) {
    this.env = opts.env ?? systemEnv;
    this.incarnationId = incarnationIdFrom(this.env.uuid());
    this.limiter = new LogLimiter(10_000, 100, () => this.env.now());
  }

  get state(): BrokerLifecycleState {
    return {
      brokerEpoch: this.brokerEpoch,
      fenced: this.fenced,
      controllerId: this.channel ? this.channelController : -1,
      shuttingDown: this.shuttingDown,
    };
  }

  /** Starts registering (at once) and heartbeating. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.runSoon(0);
  }

  /** Resolves once the controller has unfenced this broker (at once if it is), or once closed. */
  whenUnfenced(): Promise<void> {
    if (!this.fenced) return Promise.resolve();
    return new Promise((resolve) => this.unfencedWaiters.push(resolve));
  }

  /**
   * The local image moved (call after each applied batch): a fenced broker
   * that has now caught up with its registration heartbeats at once.
   */
  metadataAdvanced(): void {
    if (!this.started || this.stopped || this.shuttingDown || !this.fenced || this.brokerEpoch < 0) return;
    if (this.caughtUpSentFor === this.brokerEpoch || this.opts.metadataOffset() < this.brokerEpoch) return;
    this.caughtUpSentFor = this.brokerEpoch;
    this.runSoon(0);
  }

  /**
   * The quorum reported a leader change: a connection to another controller
   * is closed (a request waiting on it is abandoned) and the next request
   * goes to the new one at once. While an election runs (no leader known)
   * the connection stays: closing it would have a controller that is still
   * active fence this broker.
   */
  controllerChanged(): void {
    if (!this.started || this.stopped) return;
    const leader = this.opts.controllerId();
    if (leader < 0 || (this.channel && leader === this.channelController)) return;
    this.dropChannel();
    this.runSoon(0);
  }

  /**
   * Controlled shutdown, then stop: heartbeats with wantShutDown until the
   * controller says the broker may stop or the time is up; the connection
   * to the controller is closed last.
   */
  async close(): Promise<void> {
    if (this.stopped) return;
    if (this.started && this.brokerEpoch >= 0) {
      const timeoutMs = this.opts.controlledShutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
      this.shuttingDown = true;
      await new Promise<void>((resolve) => {
        const deadline = this.env.setTimer(timeoutMs, () => {
          this.warn('shutdown', { timeoutMs }, 'controlled shutdown not granted in time; stopping anyway');
          finish();
        });
        const finish = () => {
          deadline.cancel();
          this.shutdownDone = null;
          resolve();
        };
        this.shutdownDone = finish;
        this.runSoon(0);
      });
    }
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    const ch = this.channel;
    this.channel = null;
    this.channelController = -1;
    this.releaseUnfencedWaiters();
    await ch?.close();
  }

  private runSoon(delayMs: number): void {
    if (this.stopped) return;
    if (this.busy) {
      if (delayMs === 0) this.again = true;
      return;
    }
    this.timer?.cancel();
    this.timer = this.env.setTimer(delayMs, () => {
      this.timer = null;
      this.run();
    });
  }

  private run(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    this.again = false;
    void this.communicate().then((next) => {
      this.busy = false;
      if (this.stopped) return;
      this.runSoon(this.again ? 0 : next);
    });
  }

  /** Sends one registration or heartbeat; returns the delay until the next. */
  private async communicate(): Promise<number> {
    let ch: ControllerChannel | null;
    try {
      ch = await this.controllerChannel();
    } catch (err) {
      this.warn('connect', { err: (err as Error).message }, 'cannot reach the active controller');
      return this.backoff();
    }
    if (!ch) return this.backoff(); // no controller known yet: retried, and at once when the quorum reports one
    try {
      return this.brokerEpoch < 0 ? await this.register(ch) : await this.heartbeat(ch);
    } catch (err) {
      // The connection broke or the request timed out: a new connection next time.
      if (this.channel === ch) this.dropChannel();
      this.warn('request', { err: (err as Error).message }, 'broker lifecycle request failed');
      return this.backoff();
    }
  }

  private backoff(): number {
    const ms = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, this.opts.heartbeatIntervalMs);
    return this.shuttingDown ? Math.min(ms, this.shutdownPollMs()) : ms;
  }

  private shutdownPollMs(): number {
    return Math.min(this.opts.heartbeatIntervalMs, SHUTDOWN_POLL_MAX_MS);
  }

  /** The open channel to the active controller, opened if need be; null while no controller is known. */
  private async controllerChannel(): Promise<ControllerChannel | null> {
    const leader = this.opts.controllerId();
    // No leader known (an election): the controller we have stays, until a new one is named or it fails.
    if (this.channel && (this.channelController === leader || leader < 0)) return this.channel;
    this.dropChannel();
    if (leader < 0) return null;
    const ep = this.opts.controllerEndpoint(leader);
    if (!ep) throw new Error(`controller ${leader} is not in controller.quorum.voters`);
    const ch = await this.opts.connect({ nodeId: leader, host: ep.host, port: ep.port });
    if (this.stopped || this.opts.controllerId() !== leader) {
      await ch.close();
      return null;
    }
    this.channel = ch;
    this.channelController = leader;
    return ch;
  }

  private dropChannel(): void {
    const ch = this.channel;
    this.channel = null;
    this.channelController = -1;
    if (ch) void Promise.resolve(ch.close()).catch(() => undefined);
  }

  private async register(ch: ControllerChannel): Promise<number> {
    const clusterId = this.opts.clusterId();
    if (clusterId === null) return this.backoff(); // adopted from the metadata log shortly
    const res = await ch.send('BrokerRegistration', {
      brokerId: this.opts.nodeId,
      clusterId,
      incarnationId: this.incarnationId,
      listeners: this.opts.listeners.map((l) => ({
        name: l.name,
        host: l.host,
        port: l.port,
        securityProtocol: l.securityProtocol ?? 0,
      })),
      features: [],
      rack: this.opts.rack,
    });
    if (res.errorCode !== ErrorCode.NONE) return this.refused('BrokerRegistration', res.errorCode);
    this.retryMs = FIRST_RETRY_MS;
    this.brokerEpoch = Number(res.brokerEpoch);
    this.fenced = true;
    this.opts.logger?.info({ brokerEpoch: this.brokerEpoch, controller: this.channelController }, 'registered');
    return 0; // heartbeat at once: it may already have caught up
  }

  private async heartbeat(ch: ControllerChannel): Promise<number> {
    const brokerEpoch = this.brokerEpoch;
    const offset = this.opts.metadataOffset();
    const res = await ch.send('BrokerHeartbeat', {
      brokerId: this.opts.nodeId,
      brokerEpoch,
      currentMetadataOffset: offset,
      wantFence: false,
      wantShutDown: this.shuttingDown,
    });
    if (res.errorCode === ErrorCode.STALE_BROKER_EPOCH) {
      // The controller no longer has this registration (unregistered or replaced): register again.
      this.brokerEpoch = -1;
      this.fenced = true;
      this.caughtUpSentFor = -1;
      if (this.shuttingDown) {
        this.shutdownDone?.(); // no registration: nothing to hand over
        return this.opts.heartbeatIntervalMs;
      }
      this.opts.logger?.warn({ brokerEpoch }, 'the controller does not know this registration; registering again');
      return 0;
    }
    if (res.errorCode !== ErrorCode.NONE) return this.refused('BrokerHeartbeat', res.errorCode);
    this.retryMs = FIRST_RETRY_MS;
    const wasFenced = this.fenced;
    this.fenced = res.isFenced;
    if (wasFenced && !this.fenced) {
      this.opts.logger?.info({ brokerEpoch }, 'unfenced by the controller');
      this.releaseUnfencedWaiters();
    } else if (!wasFenced && this.fenced && !this.shuttingDown) {
      this.opts.logger?.warn({ brokerEpoch }, 'fenced by the controller');
      this.caughtUpSentFor = -1;
    }
    if (this.shuttingDown) {
      if (res.shouldShutDown) {
        this.shutdownDone?.();
        return this.opts.heartbeatIntervalMs;
      }
      return this.shutdownPollMs();
    }
    // Fenced and caught up per the image since the request went out: ask again at once.
    if (this.fenced && this.opts.metadataOffset() >= brokerEpoch && offset < brokerEpoch) return 0;
    return this.opts.heartbeatIntervalMs;
  }

  /** A refusal: NOT_CONTROLLER drops the connection (the quorum names the new one); the rest are retried. */
  private refused(api: LifecycleApi, errorCode: number): number {
    if (errorCode === ErrorCode.NOT_CONTROLLER) this.dropChannel();
    this.warn(`${api}|${errorCode}`, { api, errorCode }, 'the controller refused a broker lifecycle request');
    if (errorCode === ErrorCode.NOT_CONTROLLER) return this.backoff();
    return this.shuttingDown ? this.shutdownPollMs() : this.opts.heartbeatIntervalMs;
  }

  private releaseUnfencedWaiters(): void {
    for (const w of this.unfencedWaiters.splice(0)) w();
  }

  /** A warning at most once per 10 s per kind (with the count held back). */
  private warn(key: string, obj: object, msg: string): void {
    const suppressed = this.limiter.take(key);
    if (suppressed !== null) this.opts.logger?.warn({ ...obj, suppressed }, msg);
  }
}
