/**
 * DescribeConfigs, AlterConfigs (replace all overrides) and
 * IncrementalAlterConfigs (SET / DELETE / APPEND / SUBTRACT, KIP-339) for
 * topics and for this broker, with config sources and synonyms.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { AdminNode, Broker } from '../broker.ts';
import { checkBrokerConfigChange } from '../../config/topic-config.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  AlterConfigsRequest,
  AlterConfigsResponseInput,
  DescribeConfigsRequest,
  DescribeConfigsResponseInput,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponseInput,
} from '../../protocol/generated/messages.ts';
import {
  type DescribedConfig,
  checkDynamicBrokerConfigChange,
  describeBrokerConfigs,
  describeClusterDefaultConfigs,
  describeTopicConfigs,
  dynamicBrokerConfigs,
  isListConfig,
  validateTopicConfigValue,
} from '../topic-configs.ts';
import { allowed, type AuthzContext, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

const TOPIC = 2;
const BROKER = 4;
const BROKER_LOGGER = 8;

type Changes = Record<string, string | null>;

/** ACLs: DescribeConfigs / AlterConfigs (`op`) on the topic, or on the cluster for broker and broker-logger configs; the refusal's code, or null. */
function configsDenied(
  ctx: AuthzContext,
  op: number,
  r: { resourceType: number; resourceName: string },
): number | null {
  if (r.resourceType === TOPIC)
    return allowed(ctx, op, Res.TOPIC, r.resourceName) ? null : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
  if (r.resourceType === BROKER || r.resourceType === BROKER_LOGGER)
    return clusterAllowed(ctx, op) ? null : ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
  return null;
}

function resourceError(r: { resourceType: number; resourceName: string }, errorCode: number, errorMessage: string) {
  return { errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName, configs: [] };
}

export function describeConfigsHandler(b: Broker): Handler<DescribeConfigsRequest, DescribeConfigsResponseInput> {
  return (req, ctx) => {
    const v = ctx.apiVersion;
    const results = req.resources.map((r) => {
      const denied = configsDenied(ctx, Op.DESCRIBE_CONFIGS, r);
      if (denied !== null) return resourceError(r, denied, 'Authorization failed.');
      let configs: DescribedConfig[];
      if (r.resourceType === TOPIC) {
        const t = b.image.topicsByName.get(r.resourceName);
        if (!t)
          return resourceError(r, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic '${r.resourceName}' does not exist.`);
        configs = describeTopicConfigs(t, b.config, b.image);
      } else if (r.resourceType === BROKER) {
        if (r.resourceName !== '' && r.resourceName !== String(b.nodeId)) {
          return resourceError(
            r,
            ErrorCode.INVALID_REQUEST,
            `Unexpected broker id, expected ${b.nodeId} or empty string, but received ${r.resourceName}`,
          );
        }
        configs =
          r.resourceName === '' ? describeClusterDefaultConfigs(b.image) : describeBrokerConfigs(b.config, b.image);
      } else if (r.resourceType === BROKER_LOGGER) {
        configs = [];
      } else {
        return resourceError(r, ErrorCode.INVALID_REQUEST, `Unsupported resource type ${r.resourceType}`);
      }
      const keys: string[] | null = r.configurationKeys;
      if (keys && keys.length > 0) configs = configs.filter((c) => keys.includes(c.name));
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: configs.map((c) => ({
          name: c.name,
          value: c.isSensitive ? null : c.value,
          readOnly: c.readOnly,
          isDefault: c.source === 5,
          configSource: c.source,
          isSensitive: c.isSensitive,
          synonyms: v >= 1 && req.includeSynonyms ? c.synonyms : [],
          configType: c.configType,
          documentation: v >= 3 && req.includeDocumentation ? c.documentation : null,
        })),
      };
    });
    return { throttleTimeMs: 0, results };
  };
}

/**
 * Where the Alter handlers run: on a broker (a broker resource must name this
 * broker or the cluster default; the change is forwarded to the active
 * controller), or on the CONTROLLER listener (`anyBroker`: a change forwarded
 * by a broker names that broker, which validated it against its own static
 * configuration first).
 */
export interface AlterOptions {
  anyBroker?: boolean;
}

/** Validates and applies one resource's changes; returns an error or null. */
async function alterResource(
  b: AdminNode,
  resourceType: number,
  resourceName: string,
  changes: Changes,
  replace: boolean,
  validateOnly: boolean,
  opts: AlterOptions = {},
): Promise<{ errorCode: number; errorMessage: string | null }> {
  if (resourceType === TOPIC) {
    if (!b.image.topicsByName.has(resourceName)) {
      return {
        errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        errorMessage: `Topic '${resourceName}' does not exist.`,
      };
    }
    for (const [k, val] of Object.entries(changes)) {
      if (val === null) continue;
      const err = validateTopicConfigValue(k, val);
      if (err) return { errorCode: ErrorCode.INVALID_CONFIG, errorMessage: err };
    }
    if (!validateOnly) return b.controller.alterConfigs('topic', resourceName, changes, replace);
    return { errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (resourceType === BROKER) {
    const other =
      resourceName !== '' && resourceName !== String(b.nodeId)
        ? opts.anyBroker && /^\d+$/.test(resourceName) && b.image.brokers.has(Number(resourceName))
          ? Number(resourceName)
          : null
        : undefined;
    if (other === null) {
      return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id ${resourceName}` };
    }
    const refused =
      other === undefined
        ? checkDynamicBrokerConfigChange(b.config, b.image, resourceName, changes, replace)
        : checkBrokerConfigChange(b.config, dynamicBrokerConfigs(b.image, other), resourceName, changes, replace);
    if (refused) return { errorCode: ErrorCode[refused.error], errorMessage: refused.message };
    if (!validateOnly) return b.controller.alterConfigs('broker', resourceName, changes, replace);
    return { errorCode: ErrorCode.NONE, errorMessage: null };
  }
  return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${resourceType}` };
}

export function alterConfigsHandler(
  b: AdminNode,
  opts: AlterOptions = {},
): Handler<AlterConfigsRequest, AlterConfigsResponseInput> {
  return async (req, ctx) => {
    const responses = [];
    for (const r of req.resources) {
      const denied = configsDenied(ctx, Op.ALTER_CONFIGS, r);
      if (denied !== null) {
        responses.push({
          errorCode: denied,
          errorMessage: 'Authorization failed.',
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        });
        continue;
      }
      const changes: Changes = {};
      for (const c of r.configs) changes[c.name] = c.value;
      const res = await alterResource(
        b,
        r.resourceType,
        r.resourceName,
        changes,
        true,
        req.validateOnly === true,
        opts,
      );
      responses.push({ ...res, resourceType: r.resourceType, resourceName: r.resourceName });
    }
    return { throttleTimeMs: 0, responses };
  };
}

const SET = 0;
const DELETE = 1;
const APPEND = 2;
const SUBTRACT = 3;

export function incrementalAlterConfigsHandler(
  b: AdminNode,
  opts: AlterOptions = {},
): Handler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponseInput> {
  return async (req, ctx) => {
    const responses = [];
    for (const r of req.resources) {
      const denied = configsDenied(ctx, Op.ALTER_CONFIGS, r);
      if (denied !== null) {
        responses.push({
          errorCode: denied,
          errorMessage: 'Authorization failed.',
          resourceType: r.resourceType,
          resourceName: r.resourceName,
        });
        continue;
      }
      const current = currentOverrides(b, r.resourceType, r.resourceName);
      const changes: Changes = {};
      let bad: { errorCode: number; errorMessage: string } | null = null;
      for (const c of r.configs) {
        const op = c.configOperation;
        if (op === SET) changes[c.name] = c.value;
        else if (op === DELETE) changes[c.name] = null;
        else if (op === APPEND || op === SUBTRACT) {
          if (!isListConfig(c.name)) {
            bad = {
              errorCode: ErrorCode.INVALID_CONFIG,
              errorMessage: `Config value append/subtract is not allowed for config key ${c.name}`,
            };
            break;
          }
          const list = (changes[c.name] ?? current.get(c.name) ?? '').split(',').filter((x) => x !== '');
          const items = (c.value ?? '').split(',').filter((x: string) => x !== '');
          const next =
            op === APPEND
              ? [...list, ...items.filter((x: string) => !list.includes(x))]
              : list.filter((x) => !items.includes(x));
          changes[c.name] = next.join(',');
        } else {
          bad = { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unknown config operation ${op}` };
          break;
        }
      }
      const res = bad
        ? bad
        : await alterResource(b, r.resourceType, r.resourceName, changes, false, req.validateOnly === true, opts);
      responses.push({ ...res, resourceType: r.resourceType, resourceName: r.resourceName });
    }
    return { throttleTimeMs: 0, responses };
  };
}

function currentOverrides(b: AdminNode, resourceType: number, resourceName: string): Map<string, string> {
  if (resourceType === TOPIC) return b.image.topicsByName.get(resourceName)?.configs ?? new Map();
  return b.image.brokerConfigs.get(resourceName) ?? new Map();
}
