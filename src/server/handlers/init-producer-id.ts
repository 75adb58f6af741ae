/**
 * InitProducerId for idempotent producers (KIP-98): hands out producer ids
 * from blocks reserved durably in the metadata log, so an id is never reused
 * after a restart. Transactional ids need the transaction coordinator, which
 * is not built yet: those requests get a clear INVALID_REQUEST.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Broker } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { InitProducerIdRequest, InitProducerIdResponseInput } from '../../protocol/generated/messages.ts';

const BLOCK = 1000;

export function initProducerIdHandler(b: Broker): Handler<InitProducerIdRequest, InitProducerIdResponseInput> {
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
      const block = await b.controller.allocateProducerIds(BLOCK);
      if (next > last) {
        next = block.first;
        last = block.last;
      }
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: next++, producerEpoch: 0 };
  };
}
