/**
 * CreateAcls (30), DescribeAcls (29), DeleteAcls (31).
 *
 * ACLs live in the metadata log (AccessControlEntryRecord); the active
 * controller writes them. A broker authorizes the request itself (Alter on
 * the cluster to create or delete, Describe on the cluster to list), then
 * relays CreateAcls and DeleteAcls to the active controller as they came;
 * DescribeAcls is answered from this broker's image. Without an authorizer
 * every request is answered SECURITY_DISABLED, as in Kafka.
 */
import type { Controller } from '../../metadata/controller.ts';
import type { MetadataImage } from '../../metadata/image.ts';
import type { AccessControlEntryRecord } from '../../metadata/records.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type {
  CreateAclsRequest,
  CreateAclsResponseInput,
  DeleteAclsRequest,
  DeleteAclsResponseInput,
  DescribeAclsRequest,
  DescribeAclsResponseInput,
} from '../../protocol/generated/messages.ts';
import { aclsEnabled, clusterAllowed, Op } from '../../security/acl-check.ts';
import {
  type AclBinding,
  type AclFilter,
  filterMatches,
  validateBinding,
  validateFilter,
} from '../../security/acl-types.ts';
import type { Dispatcher, Handler } from '../dispatcher.ts';
import { type ControllerRouter, relayHandler } from '../forwarding.ts';

const NO_AUTHORIZER = 'No Authorizer is configured.';

type CreateAcls = Handler<CreateAclsRequest, CreateAclsResponseInput>;
type DeleteAcls = Handler<DeleteAclsRequest, DeleteAclsResponseInput>;
type DescribeAcls = Handler<DescribeAclsRequest, DescribeAclsResponseInput>;

function bindingOf(c: CreateAclsRequest['creations'][number]): AclBinding {
  return {
    resourceType: c.resourceType,
    resourceName: c.resourceName,
    patternType: c.resourcePatternType,
    principal: c.principal,
    host: c.host,
    operation: c.operation,
    permission: c.permissionType,
  };
}

function filterOf(f: DeleteAclsRequest['filters'][number] | DescribeAclsRequest): AclFilter {
  return {
    resourceType: f.resourceTypeFilter,
    resourceName: f.resourceNameFilter,
    patternType: f.patternTypeFilter,
    principal: f.principalFilter,
    host: f.hostFilter,
    operation: f.operation,
    permission: f.permissionType,
  };
}

/** CreateAcls at the active controller: each binding validated, the valid ones written in one commit. */
export function createAclsLocal(controller: Controller): CreateAcls {
  return async (req) => {
    const results: { errorCode: number; errorMessage: string | null }[] = [];
    const valid: { i: number; b: AclBinding }[] = [];
    req.creations.forEach((c, i) => {
      const b = bindingOf(c);
      const bad = validateBinding(b);
      results.push(
        bad ? { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: bad } : { errorCode: 0, errorMessage: null },
      );
      if (!bad) valid.push({ i, b });
    });
    if (valid.length > 0) {
      const rs = await controller.createAcls(valid.map((v) => v.b));
      valid.forEach((v, k) => {
        results[v.i] = rs[k];
      });
    }
    return { throttleTimeMs: 0, results };
  };
}

/** DeleteAcls at the active controller: every ACL a valid filter matches is removed in one commit. */
export function deleteAclsLocal(controller: Controller): DeleteAcls {
  return async (req) => {
    const out: DeleteAclsResponseInput['filterResults'] = [];
    const valid: { i: number; f: AclFilter }[] = [];
    req.filters.forEach((raw, i) => {
      const f = filterOf(raw);
      const bad = validateFilter(f);
      out.push({ errorCode: bad ? ErrorCode.INVALID_REQUEST : ErrorCode.NONE, errorMessage: bad, matchingAcls: [] });
      if (!bad) valid.push({ i, f });
    });
    if (valid.length > 0) {
      const rs = await controller.deleteAcls(valid.map((v) => (a: AccessControlEntryRecord) => filterMatches(v.f, a)));
      valid.forEach((v, k) => {
        const r = rs[k];
        out[v.i] = {
          errorCode: r.errorCode,
          errorMessage: r.errorMessage,
          matchingAcls: r.removed.map((a) => ({
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            resourceType: a.resourceType,
            resourceName: a.resourceName,
            patternType: a.patternType,
            principal: a.principal,
            host: a.host,
            operation: a.operation,
            permissionType: a.permission,
          })),
        };
      });
    }
    return { throttleTimeMs: 0, filterResults: out };
  };
}

/** DescribeAcls from this node's image: the matching ACLs grouped by resource pattern. */
export function describeAclsHandler(image: MetadataImage): DescribeAcls {
  return (req, ctx) => {
    const refuse = (errorCode: number, errorMessage: string): DescribeAclsResponseInput => ({
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      resources: [],
    });
    if (!aclsEnabled(ctx)) return refuse(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
    if (!clusterAllowed(ctx, Op.DESCRIBE))
      return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
    const f = filterOf(req);
    const bad = validateFilter(f);
    if (bad) return refuse(ErrorCode.INVALID_REQUEST, bad);
    const byResource = new Map<string, DescribeAclsResponseInput['resources'][number]>();
    for (const a of image.acls.values()) {
      if (!filterMatches(f, a)) continue;
      const key = JSON.stringify([a.resourceType, a.patternType, a.resourceName]);
      let r = byResource.get(key);
      if (!r) {
        r = { resourceType: a.resourceType, resourceName: a.resourceName, patternType: a.patternType, acls: [] };
        byResource.set(key, r);
      }
      r.acls.push({ principal: a.principal, host: a.host, operation: a.operation, permissionType: a.permission });
    }
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, resources: [...byResource.values()] };
  };
}

/** The ACL APIs of a broker's client listener: authorized here, CreateAcls and DeleteAcls relayed to the active controller. */
export function registerAclHandlers(
  d: Dispatcher,
  image: MetadataImage,
  controller: Controller,
  router: ControllerRouter,
): void {
  const create = relayHandler(
    router,
    'CreateAcls',
    createAclsLocal(controller),
    (r) => r.results.some((x) => x.errorCode === ErrorCode.NOT_CONTROLLER),
    (reason, req) => ({
      throttleTimeMs: 0,
      results: req.creations.map(() => ({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason })),
    }),
  );
  d.register('CreateAcls', {
    handler: (req, ctx) => {
      const refuse = (errorCode: number, errorMessage: string): CreateAclsResponseInput => ({
        throttleTimeMs: 0,
        results: req.creations.map(() => ({ errorCode, errorMessage })),
      });
      if (!aclsEnabled(ctx)) return refuse(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
      if (!clusterAllowed(ctx, Op.ALTER))
        return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
      return create(req, ctx);
    },
  });
  const del = relayHandler(
    router,
    'DeleteAcls',
    deleteAclsLocal(controller),
    (r) => r.filterResults.some((x) => x.errorCode === ErrorCode.NOT_CONTROLLER),
    (reason, req) => ({
      throttleTimeMs: 0,
      filterResults: req.filters.map(() => ({
        errorCode: ErrorCode.REQUEST_TIMED_OUT,
        errorMessage: reason,
        matchingAcls: [],
      })),
    }),
  );
  d.register('DeleteAcls', {
    handler: (req, ctx) => {
      const refuse = (errorCode: number, errorMessage: string): DeleteAclsResponseInput => ({
        throttleTimeMs: 0,
        filterResults: req.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
      });
      if (!aclsEnabled(ctx)) return refuse(ErrorCode.SECURITY_DISABLED, NO_AUTHORIZER);
      if (!clusterAllowed(ctx, Op.ALTER))
        return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
      return del(req, ctx);
    },
  });
  d.register('DescribeAcls', { handler: describeAclsHandler(image) });
}

/** The ACL APIs of a voter's CONTROLLER listener, where brokers relay them (already authorized there). */
export function registerAclControllerHandlers(d: Dispatcher, controller: Controller): void {
  d.register('CreateAcls', { handler: createAclsLocal(controller) });
  d.register('DeleteAcls', { handler: deleteAclsLocal(controller) });
}
