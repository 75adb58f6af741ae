/**
 * ElectLeaders (43): PREFERRED (0) or UNCLEAN (1) leader election for the
 * partitions named, or for every partition when the list is null
 * (Controller.electLeaders decides and commits). Served on the controller
 * listener, and on the broker listeners relayed to the active controller
 * (forwarding.ts) as Kafka's brokers forward it. Version 0 has no election
 * type (always PREFERRED) and no top-level error code: a refusal is also
 * written into every partition's result.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Controller, ElectLeadersAnswer } from '../../metadata/controller.ts';
import { MetadataStorageError } from '../../metadata/metadata-log.ts';
import { NotControllerError } from '../../metadata/quorum.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import { type ControllerRouter, relayHandler } from '../forwarding.ts';
import type {
  ElectLeadersRequest,
  ElectLeadersResponse,
  ElectLeadersResponseInput,
} from '../../protocol/generated/messages.ts';
import { clusterAllowed, Op } from '../../security/acl-check.ts';

export type ElectLeadersController = Pick<Controller, 'electLeaders'>;

type Logger = { warn(obj: object, msg: string): void };

/** A whole-request error, repeated in the result of each partition named. */
function refusal(req: ElectLeadersRequest, errorCode: number, errorMessage: string | null): ElectLeadersResponseInput {
  return {
    throttleTimeMs: 0,
    errorCode,
    replicaElectionResults: (req.topicPartitions ?? []).map((t) => ({
      topic: t.topic,
      partitionResult: t.partitions.map((partitionId) => ({ partitionId, errorCode, errorMessage })),
    })),
  };
}

function toResponse(r: ElectLeadersAnswer): ElectLeadersResponseInput {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    replicaElectionResults: r.results.map((t) => ({ topic: t.topic, partitionResult: t.partitions })),
  };
}

/** The answer of this node's controller (NOT_CONTROLLER when it is not the active one). */
export function electLeadersHandler(
  controller: ElectLeadersController,
  opts: { logger?: Logger } = {},
): Handler<ElectLeadersRequest, ElectLeadersResponseInput> {
  return async (req, ctx) => {
    const electionType = ctx.apiVersion >= 1 ? req.electionType : 0;
    try {
      const r = await controller.electLeaders(electionType, req.topicPartitions);
      if (r.errorCode !== ErrorCode.NONE) return refusal(req, r.errorCode, r.errorMessage);
      return toResponse(r);
    } catch (err) {
      let errorCode: number = ErrorCode.UNKNOWN_SERVER_ERROR;
      if (err instanceof NotControllerError) errorCode = ErrorCode.NOT_CONTROLLER;
      else if (err instanceof MetadataStorageError) errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      if (errorCode !== ErrorCode.NOT_CONTROLLER) opts.logger?.warn({ err }, 'ElectLeaders failed');
      return refusal(req, errorCode, (err as Error).message);
    }
  };
}

/** Whether an answer means "not the active controller" (v0 carries it in the partition results only). */
function refused(r: ElectLeadersResponse | ElectLeadersResponseInput): boolean {
  if (r.errorCode === ErrorCode.NOT_CONTROLLER) return true;
  const all = r.replicaElectionResults.flatMap((t) => t.partitionResult);
  return all.length > 0 && all.every((p) => p.errorCode === ErrorCode.NOT_CONTROLLER);
}

/** The broker listeners' ElectLeaders: answered by the active controller, here or relayed to it. */
export function forwardedElectLeadersHandler(
  router: ControllerRouter,
  controller: ElectLeadersController,
  opts: { logger?: Logger } = {},
): Handler<ElectLeadersRequest, ElectLeadersResponseInput> {
  const relay = relayHandler(
    router,
    'ElectLeaders',
    electLeadersHandler(controller, opts),
    refused,
    (reason, req) => refusal(req, ErrorCode.REQUEST_TIMED_OUT, reason),
    (req) => (req.timeoutMs > 0 ? req.timeoutMs : 60_000),
  );
  // ACLs: Alter on the cluster
  return (req, ctx) =>
    clusterAllowed(ctx, Op.ALTER)
      ? relay(req, ctx)
      : refusal(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
}

/** Registers ElectLeaders on `dispatcher` (the controller listener's). */
export function registerElectLeadersHandler(
  dispatcher: Dispatcher,
  controller: ElectLeadersController,
  opts: { logger?: Logger } = {},
): void {
  dispatcher.register('ElectLeaders', { handler: electLeadersHandler(controller, opts) });
}
