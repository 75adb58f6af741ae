/**
 * AlterPartition (56) on the controller listener: a partition leader's ISR
 * change goes to the controller, which checks it as Kafka does, commits a
 * PartitionChange and answers each partition's state after the request
 * (Controller.alterPartition). Version 2 names the new ISR's broker ids,
 * version 3 also their broker epochs (KIP-903).
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { Controller } from '../../metadata/controller.ts';
import { MetadataStorageError } from '../../metadata/metadata-log.ts';
import { NotControllerError } from '../../metadata/quorum.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import type { AlterPartitionRequest, AlterPartitionResponseInput } from '../../protocol/generated/messages.ts';

export type AlterPartitionController = Pick<Controller, 'alterPartition'>;

const toNumber = (v: number | bigint): number => (typeof v === 'bigint' ? Number(v) : v);

export function alterPartitionHandler(
  controller: AlterPartitionController,
  opts: { logger?: { warn(obj: object, msg: string): void } } = {},
): Handler<AlterPartitionRequest, AlterPartitionResponseInput> {
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    try {
      const r = await controller.alterPartition({
        brokerId: req.brokerId,
        brokerEpoch: toNumber(req.brokerEpoch),
        partitions: req.topics.flatMap((t) =>
          t.partitions.map((p) => ({
            topicId: t.topicId,
            partitionIndex: p.partitionIndex,
            leaderEpoch: p.leaderEpoch,
            partitionEpoch: p.partitionEpoch,
            newIsr:
              v >= 3
                ? p.newIsrWithEpochs.map((m) => ({ brokerId: m.brokerId, brokerEpoch: toNumber(m.brokerEpoch) }))
                : p.newIsr.map((id) => ({ brokerId: id, brokerEpoch: -1 })),
          })),
        ),
      });
      const topics = new Map<
        string,
        { topicId: string; partitions: AlterPartitionResponseInput['topics'][0]['partitions'] }
      >();
      for (const p of r.partitions) {
        let t = topics.get(p.topicId);
        if (!t) topics.set(p.topicId, (t = { topicId: p.topicId, partitions: [] }));
        t.partitions.push({
          partitionIndex: p.partitionIndex,
          errorCode: p.errorCode,
          leaderId: p.leaderId,
          leaderEpoch: p.leaderEpoch,
          isr: p.isr,
          partitionEpoch: p.partitionEpoch,
        });
      }
      return { throttleTimeMs: 0, errorCode: r.errorCode, topics: [...topics.values()] };
    } catch (err) {
      let errorCode: number = ErrorCode.UNKNOWN_SERVER_ERROR;
      if (err instanceof NotControllerError) errorCode = ErrorCode.NOT_CONTROLLER;
      else if (err instanceof MetadataStorageError) errorCode = ErrorCode.KAFKA_STORAGE_ERROR;
      if (errorCode !== ErrorCode.NOT_CONTROLLER) opts.logger?.warn({ err }, 'AlterPartition failed');
      return { throttleTimeMs: 0, errorCode, topics: [] };
    }
  };
}

/** Registers AlterPartition on `dispatcher` (the controller listener's). */
export function registerAlterPartitionHandler(
  dispatcher: Dispatcher,
  controller: AlterPartitionController,
  opts: { logger?: { warn(obj: object, msg: string): void } } = {},
): void {
  dispatcher.register('AlterPartition', { handler: alterPartitionHandler(controller, opts) });
}
