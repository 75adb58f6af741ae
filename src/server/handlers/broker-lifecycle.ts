/**
 * BrokerRegistration (62), BrokerHeartbeat (63) and UnregisterBroker (64) on
 * the controller listener: the requests go to the controller, which decides
 * (src/metadata/broker-heartbeats.ts), commits and answers.
 *
 * The handlers also note which connection carries each broker's heartbeats.
 * When it closes, the controller is told at once and fences the broker: a
 * crashed broker process is fenced in well under a second instead of after
 * broker.session.timeout.ms, which is how Samsa differs from Kafka here.
 */
import type { EventEmitter } from 'node:events';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Controller } from '../../metadata/controller.ts';
import { MetadataStorageError } from '../../metadata/metadata-log.ts';
import { NotControllerError } from '../../metadata/quorum.ts';
import type { Dispatcher, Handler, RequestContext } from '../dispatcher.ts';
import type {
  BrokerHeartbeatRequest,
  BrokerHeartbeatResponseInput,
  BrokerRegistrationRequest,
  BrokerRegistrationResponseInput,
  UnregisterBrokerRequest,
  UnregisterBrokerResponseInput,
} from '../../protocol/generated/messages.ts';

export type LifecycleController = Pick<
  Controller,
  'brokerRegistration' | 'brokerHeartbeat' | 'unregisterBroker' | 'brokerConnectionClosed'
>;

export interface BrokerLifecycleHandlerOptions {
  logger?: { warn(obj: object, msg: string): void };
}

/** A connection as far as these handlers need it: its socket says when it closes. */
type ClosableConnection = { socket: Pick<EventEmitter, 'once'> & { destroyed?: boolean } };

/** The error code for a failure of the controller (not a refusal it decided). */
function failureCode(err: unknown): number {
  if (err instanceof NotControllerError) return ErrorCode.NOT_CONTROLLER;
  if (err instanceof MetadataStorageError) return ErrorCode.KAFKA_STORAGE_ERROR;
  return ErrorCode.UNKNOWN_SERVER_ERROR;
}

const toNumber = (v: number | bigint): number => (typeof v === 'bigint' ? Number(v) : v);

/**
 * Registers the three handlers on `dispatcher` (the controller listener's).
 * Returns the connection bookkeeping for tests: `heartbeatConnections()`
 * gives the broker ids whose heartbeat connection is known.
 */
export function registerBrokerLifecycleHandlers(
  dispatcher: Dispatcher,
  controller: LifecycleController,
  opts: BrokerLifecycleHandlerOptions = {},
): { heartbeatConnections(): number[] } {
  const h = brokerLifecycleHandlers(controller, opts);
  dispatcher.register('BrokerRegistration', { handler: h.registration });
  dispatcher.register('BrokerHeartbeat', { handler: h.heartbeat });
  dispatcher.register('UnregisterBroker', { handler: h.unregister });
  return { heartbeatConnections: h.heartbeatConnections };
}

/** The handlers themselves (registerBrokerLifecycleHandlers puts them on a dispatcher). */
export function brokerLifecycleHandlers(controller: LifecycleController, opts: BrokerLifecycleHandlerOptions = {}) {
  /** Per broker: the connection its latest accepted request came on, and the registration it was for. */
  const byBroker = new Map<number, { conn: ClosableConnection; brokerEpoch: number }>();
  const watched = new WeakSet<ClosableConnection>();

  const closed = (conn: ClosableConnection) => {
    for (const [brokerId, t] of byBroker) {
      if (t.conn !== conn) continue;
      byBroker.delete(brokerId);
      controller.brokerConnectionClosed(brokerId, t.brokerEpoch).catch((err: unknown) => {
        // Not the active controller any more, or the fence was not committed: the session timeout still applies.
        if (!(err instanceof NotControllerError))
          opts.logger?.warn({ err, brokerId }, 'a broker whose connection closed was not fenced');
      });
    }
  };

  /** The error code for a failed request; failures other than "not the controller" are logged. */
  const failed = (err: unknown, api: string): number => {
    const code = failureCode(err);
    if (code !== ErrorCode.NOT_CONTROLLER) opts.logger?.warn({ err, api }, 'broker lifecycle request failed');
    return code;
  };

  const track = (ctx: RequestContext, brokerId: number, brokerEpoch: number) => {
    const conn = ctx.conn as unknown as ClosableConnection;
    byBroker.set(brokerId, { conn, brokerEpoch });
    if (watched.has(conn)) return;
    watched.add(conn);
    // It may have closed while the request waited for its commit.
    if (conn.socket.destroyed) closed(conn);
    else conn.socket.once('close', () => closed(conn));
  };

  const registration: Handler<BrokerRegistrationRequest, BrokerRegistrationResponseInput> = async (req, ctx) => {
    if (req.brokerId < 0) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REGISTRATION, brokerEpoch: -1 };
    try {
      const r = await controller.brokerRegistration({
        brokerId: req.brokerId,
        clusterId: req.clusterId,
        incarnationId: req.incarnationId,
        listeners: req.listeners.map((l) => ({ name: l.name, host: l.host, port: l.port })),
        rack: req.rack,
      });
      if (r.errorCode === ErrorCode.NONE) track(ctx, req.brokerId, r.brokerEpoch);
      return { throttleTimeMs: 0, errorCode: r.errorCode, brokerEpoch: r.brokerEpoch };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: failed(err, 'BrokerRegistration'), brokerEpoch: -1 };
    }
  };

  const heartbeat: Handler<BrokerHeartbeatRequest, BrokerHeartbeatResponseInput> = async (req, ctx) => {
    const brokerEpoch = toNumber(req.brokerEpoch);
    try {
      const r = await controller.brokerHeartbeat({
        brokerId: req.brokerId,
        brokerEpoch,
        currentMetadataOffset: toNumber(req.currentMetadataOffset),
        wantFence: req.wantFence,
        wantShutDown: req.wantShutDown,
      });
      if (r.errorCode === ErrorCode.NONE) track(ctx, req.brokerId, brokerEpoch);
      return { throttleTimeMs: 0, ...r };
    } catch (err) {
      return {
        throttleTimeMs: 0,
        errorCode: failed(err, 'BrokerHeartbeat'),
        isCaughtUp: false,
        isFenced: true,
        shouldShutDown: false,
      };
    }
  };

  const unregister: Handler<UnregisterBrokerRequest, UnregisterBrokerResponseInput> = async (req) => {
    try {
      const r = await controller.unregisterBroker(req.brokerId);
      if (r.errorCode === ErrorCode.NONE) byBroker.delete(req.brokerId);
      return { throttleTimeMs: 0, errorCode: r.errorCode, errorMessage: r.errorMessage };
    } catch (err) {
      return { throttleTimeMs: 0, errorCode: failed(err, 'UnregisterBroker'), errorMessage: (err as Error).message };
    }
  };

  return {
    registration,
    heartbeat,
    unregister,
    heartbeatConnections: () => [...byBroker.keys()].sort((a, b) => a - b),
  };
}
