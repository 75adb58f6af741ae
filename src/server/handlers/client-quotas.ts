/**
 * DescribeClientQuotas (48), answered from this node's metadata image, and
 * AlterClientQuotas (49), decided by the active controller: on a broker
 * listener relayed there when it is another node (and answered once this
 * node's image has the change), on the CONTROLLER listener answered by the
 * node's own Controller (NOT_CONTROLLER unless it is the active one).
 * With ACLs on, DescribeClientQuotas needs DescribeConfigs on the cluster
 * (else CLUSTER_AUTHORIZATION_FAILED) and AlterClientQuotas AlterConfigs on
 * the cluster (else CLUSTER_AUTHORIZATION_FAILED for every entity).
 * Entities, keys and values are validated as Kafka does (src/security/quotas.ts);
 * an entry that fails gets INVALID_REQUEST and the others are applied, all
 * in one metadata commit.
 */
import type { Controller } from '../../metadata/controller.ts';
import { clientQuotaEntityKey, type MetadataImage } from '../../metadata/image.ts';
import type { ClientQuotaRecord } from '../../metadata/records.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type {
  AlterClientQuotasRequest,
  AlterClientQuotasResponse,
  AlterClientQuotasResponseInput,
  DescribeClientQuotasRequest,
  DescribeClientQuotasResponseInput,
} from '../../protocol/generated/messages.ts';
import { clusterAllowed, Op } from '../../security/acl-check.ts';
import { describeQuotas, quotaAlterationRecords } from '../../security/quotas.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import { type ControllerRouter, DEFAULT_FORWARD_TIMEOUT_MS, relayHandler } from '../forwarding.ts';

export function describeClientQuotasHandler(
  image: MetadataImage,
): Handler<DescribeClientQuotasRequest, DescribeClientQuotasResponseInput> {
  return (req, ctx) => {
    if (!clusterAllowed(ctx, Op.DESCRIBE_CONFIGS))
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        errorMessage: null,
        entries: null,
      };
    const r = describeQuotas(image, req.components, req.strict);
    if ('errorMessage' in r)
      return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: r.errorMessage, entries: null };
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      entries: r.entries.map((e) => ({
        entity: e.entity.map((x) => ({ entityType: x.entityType, entityName: x.entityName })),
        values: [...e.values].map(([key, value]) => ({ key, value })),
      })),
    };
  };
}

/** This node's Controller's answer (NOT_CONTROLLER for every entry unless it is the active controller). */
export function alterClientQuotasHandler(
  controller: Pick<Controller, 'alterClientQuotas'>,
): Handler<AlterClientQuotasRequest, AlterClientQuotasResponseInput> {
  return async (req) => {
    const results: { errorCode: number; errorMessage: string | null }[] = [];
    const records: ClientQuotaRecord[] = [];
    const seen = new Set<string>();
    for (const e of req.entries) {
      const r = quotaAlterationRecords(e.entity, e.ops);
      const key = clientQuotaEntityKey(e.entity);
      if ('errorCode' in r) {
        results.push({ errorCode: r.errorCode, errorMessage: r.errorMessage });
      } else if (seen.has(key)) {
        results.push({ errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'The same entity appears twice' });
      } else {
        seen.add(key);
        records.push(...r.records);
        results.push({ errorCode: ErrorCode.NONE, errorMessage: null });
      }
    }
    if (!req.validateOnly && records.length > 0) {
      const c = await controller.alterClientQuotas(records);
      if (c.errorCode !== ErrorCode.NONE)
        for (const r of results) if (r.errorCode === ErrorCode.NONE) Object.assign(r, c);
    }
    return {
      throttleTimeMs: 0,
      entries: req.entries.map((e, i) => ({ ...results[i], entity: e.entity })),
    };
  };
}

function refused(r: AlterClientQuotasResponse | AlterClientQuotasResponseInput): boolean {
  return r.entries.length > 0 && r.entries.some((e) => e.errorCode === ErrorCode.NOT_CONTROLLER);
}

/** Whether `image` shows the successful entries of an AlterClientQuotas as set. */
function applied(image: MetadataImage, req: AlterClientQuotasRequest, res: AlterClientQuotasResponseInput): boolean {
  return req.entries.every((e, i) => {
    if (res.entries[i]?.errorCode !== ErrorCode.NONE) return true;
    const now = image.clientQuotas.get(clientQuotaEntityKey(e.entity))?.values;
    return e.ops.every((op) => {
      const v = now?.get(op.key);
      return op.remove ? v === undefined : v !== undefined && Math.abs(v - op.value) < 1e-6;
    });
  });
}

/** The broker listeners' AlterClientQuotas: answered by the active controller, here or relayed to it. */
export function forwardedAlterClientQuotasHandler(
  router: ControllerRouter,
  controller: Controller,
): Handler<AlterClientQuotasRequest, AlterClientQuotasResponseInput> {
  const relayed = relayHandler(
    router,
    'AlterClientQuotas',
    alterClientQuotasHandler(controller),
    refused,
    (reason, req) => ({
      throttleTimeMs: 0,
      entries: req.entries.map((e) => ({
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        errorMessage: reason,
        entity: e.entity,
      })),
    }),
  );
  return async (req, ctx) => {
    if (!clusterAllowed(ctx, Op.ALTER_CONFIGS))
      return {
        throttleTimeMs: 0,
        entries: req.entries.map((e) => ({
          errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: null,
          entity: e.entity,
        })),
      };
    const res = (await relayed(req, ctx)) as AlterClientQuotasResponseInput;
    if (!req.validateOnly)
      await controller.waitForImage(() => applied(controller.image, req, res), DEFAULT_FORWARD_TIMEOUT_MS);
    return res;
  };
}

export function registerClientQuotaHandlers(d: Dispatcher, image: MetadataImage, router: ControllerRouter): void {
  d.register('DescribeClientQuotas', { handler: describeClientQuotasHandler(image) });
  d.register('AlterClientQuotas', { handler: forwardedAlterClientQuotasHandler(router, router.controller) });
}
