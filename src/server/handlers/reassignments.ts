/**
 * AlterPartitionReassignments (45) and ListPartitionReassignments (46), as
 * KRaft serves them: decided by the active controller (Controller
 * .alterPartitionReassignments, src/metadata/reassignment.ts). On a client
 * listener they are relayed to the active controller as they came
 * (forwarding.ts); on a CONTROLLER listener, and on the active controller
 * itself, they are answered from its image.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Controller } from '../../metadata/controller.ts';
import { NotControllerError } from '../../metadata/quorum.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import { type ControllerRouter, DEFAULT_FORWARD_TIMEOUT_MS, relayHandler } from '../forwarding.ts';
import type {
  AlterPartitionReassignmentsRequest,
  AlterPartitionReassignmentsResponseInput,
  ListPartitionReassignmentsRequest,
  ListPartitionReassignmentsResponseInput,
} from '../../protocol/generated/messages.ts';
import { clusterAllowed, Op } from '../../security/acl-check.ts';

type ReassignmentController = Pick<Controller, 'alterPartitionReassignments' | 'listPartitionReassignments'>;

export function alterPartitionReassignmentsHandler(
  controller: ReassignmentController,
): Handler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponseInput> {
  return async (req, ctx) => {
    const allow = ctx.apiVersion >= 1 ? req.allowReplicationFactorChange : true;
    const topics = await controller.alterPartitionReassignments(
      req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, replicas: p.replicas })),
      })),
      allow,
    );
    const all = topics.flatMap((t) => t.partitions);
    // refused as a whole: not (or no longer) the active controller
    if (all.length > 0 && all.every((p) => p.errorCode === ErrorCode.NOT_CONTROLLER))
      return alterAnswer(req, ErrorCode.NOT_CONTROLLER, all[0].errorMessage);
    return {
      throttleTimeMs: 0,
      allowReplicationFactorChange: allow,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      responses: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: p.errorCode,
          errorMessage: p.errorMessage,
        })),
      })),
    };
  };
}

/** An answer with `errorCode` for the whole request (and each partition, as Kafka's controller does). */
function alterAnswer(
  req: AlterPartitionReassignmentsRequest,
  errorCode: number,
  errorMessage: string | null,
): AlterPartitionReassignmentsResponseInput {
  return {
    throttleTimeMs: 0,
    allowReplicationFactorChange: req.allowReplicationFactorChange,
    errorCode,
    errorMessage,
    responses: req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode, errorMessage })),
    })),
  };
}

export function listPartitionReassignmentsHandler(
  controller: ReassignmentController,
): Handler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponseInput> {
  return (req) => {
    let ongoing: ReturnType<ReassignmentController['listPartitionReassignments']>;
    try {
      ongoing = controller.listPartitionReassignments(req.topics);
    } catch (err) {
      if (!(err instanceof NotControllerError)) throw err;
      return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, errorMessage: err.message, topics: [] };
    }
    const topics = new Map<string, ListPartitionReassignmentsResponseInput['topics'][0]>();
    for (const o of ongoing) {
      let t = topics.get(o.topic);
      if (!t) topics.set(o.topic, (t = { name: o.topic, partitions: [] }));
      t.partitions.push({
        partitionIndex: o.partition,
        replicas: o.replicas,
        addingReplicas: o.addingReplicas,
        removingReplicas: o.removingReplicas,
      });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [...topics.values()] };
  };
}

/** On a CONTROLLER listener: answered by this node (NOT_CONTROLLER unless it is the active controller). */
export function registerReassignmentControllerHandlers(d: Dispatcher, controller: ReassignmentController): void {
  d.register('AlterPartitionReassignments', { handler: alterPartitionReassignmentsHandler(controller) });
  d.register('ListPartitionReassignments', { handler: listPartitionReassignmentsHandler(controller) });
}

/** On a client listener: relayed to the active controller (answered here when this node is it). */
export function registerReassignmentHandlers(
  d: Dispatcher,
  controller: ReassignmentController,
  router: ControllerRouter,
): void {
  const alter = relayHandler(
    router,
    'AlterPartitionReassignments',
    alterPartitionReassignmentsHandler(controller),
    (r) => r.errorCode === ErrorCode.NOT_CONTROLLER,
    (reason, req) => alterAnswer(req, ErrorCode.REQUEST_TIMED_OUT, reason),
    (req) => (req.timeoutMs > 0 ? req.timeoutMs : DEFAULT_FORWARD_TIMEOUT_MS),
  );
  // ACLs: Alter on the cluster
  d.register('AlterPartitionReassignments', {
    handler: (req, ctx) =>
      clusterAllowed(ctx, Op.ALTER)
        ? alter(req, ctx)
        : alterAnswer(req, ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'),
  });
  const list = relayHandler(
    router,
    'ListPartitionReassignments',
    listPartitionReassignmentsHandler(controller),
    (r) => r.errorCode === ErrorCode.NOT_CONTROLLER,
    (reason) => ({ throttleTimeMs: 0, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason, topics: [] }),
    (req) => (req.timeoutMs > 0 ? req.timeoutMs : DEFAULT_FORWARD_TIMEOUT_MS),
  );
  // ACLs: Describe on the cluster
  d.register('ListPartitionReassignments', {
    handler: (req, ctx) =>
      clusterAllowed(ctx, Op.DESCRIBE)
        ? list(req, ctx)
        : {
            throttleTimeMs: 0,
            errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            errorMessage: 'Cluster authorization failed.',
            topics: [],
          },
  });
}
