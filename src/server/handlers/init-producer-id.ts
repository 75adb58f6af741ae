/**
 * InitProducerId for idempotent producers (KIP-98): hands out producer ids
 * from blocks reserved durably in the metadata log, so an id is never reused
 * after a restart. Only the active controller reserves blocks; a broker that
 * is not the active controller relays the request to it (forwarding.ts), so
 * every id comes from one place. Transactional ids need the transaction
 * coordinator, which is not built yet: those requests get a clear
 * INVALID_REQUEST.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Controller } from '../../metadata/controller.ts';
import { NotControllerError } from '../../metadata/quorum.ts';
import type { Handler } from '../dispatcher.ts';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../../protocol/generated/messages.ts';
import { allowed, allowedOnSomeOf, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

const BLOCK = 1000;

/**
 * The ACL check of InitProducerId on a client listener, in front of `inner`:
 * Write on the transactional id; without one (an idempotent producer),
 * IdempotentWrite on the cluster or Write on some topic (KIP-679).
 */
export function authorizedInitProducerId(
  inner: Handler<InitProducerIdRequest, InitProducerIdResponseInput>,
): Handler<InitProducerIdRequest, InitProducerIdResponseInput> {
  return (req, ctx) => {
    const id = req.transactionalId;
    if (id !== null && id !== undefined && !allowed(ctx, Op.WRITE, Res.TRANSACTIONAL_ID, id))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        producerId: -1,
        producerEpoch: -1,
      };
    if (
      (id === null || id === undefined) &&
      !clusterAllowed(ctx, Op.IDEMPOTENT_WRITE) &&
      !allowedOnSomeOf(ctx, Op.WRITE, Res.TOPIC)
    )
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        producerId: -1,
        producerEpoch: -1,
      };
    return inner(req, ctx);
  };
}

/**
 * The handler of the active controller. Elsewhere (or when leadership is
 * lost meanwhile) it answers `notController`: NOT_CONTROLLER on the
 * CONTROLLER listener, which the forwarding broker understands.
 */
export function initProducerIdHandler(
  controller: Pick<Controller, 'allocateProducerIds'>,
  notController: number = ErrorCode.NOT_CONTROLLER,
): Handler<InitProducerIdRequest, InitProducerIdResponseInput> {
  let next = 0;
  let last = -1;
  return async (req) => {
    if (req.transactionalId !== null && req.transactionalId !== undefined) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.INVALID_REQUEST,
        producerId: -1,
        producerEpoch: -1,
      };
    }
    if (next > last) {
      let block: { first: number; last: number };
      try {
        block = await controller.allocateProducerIds(BLOCK);
      } catch (err) {
        if (!(err instanceof NotControllerError)) throw err;
        return { throttleTimeMs: 0, errorCode: notController, producerId: -1, producerEpoch: -1 };
      }
      if (next > last) {
        next = block.first;
        last = block.last;
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: next++, producerEpoch: 0 };
  };
}
