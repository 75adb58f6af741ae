/**
 * Metadata: brokers, cluster id, controller and, for the topics asked for (or
 * all), partitions with leader, leader epoch, replicas and ISR. Creates
 * unknown topics when the request allows it and `auto.create.topics.enable`
 * is on.
 */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ZERO_UUID } from '../../protocol/schema.ts';
import type { TopicState } from '../../metadata/image.ts';
import { validateTopicName } from '../../metadata/controller.ts';
import { type Broker, INTERNAL_TOPICS, brokerAddress, controllerIdForClients, liveBrokers } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { MetadataRequest, MetadataResponseInput } from '../../protocol/generated/messages.ts';
import { allowed, authorizedOperations, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

const NO_AUTH_OPS = -2147483648;

/**
 * A topic's entry. `opening` (a topic whose new partitions' logs are still
 * being created) marks those partitions LEADER_NOT_AVAILABLE, as Kafka does
 * for a partition without a leader yet, so that clients wait and retry.
 */
export function describeTopic(t: TopicState, opening?: (partition: number) => boolean) {
  return {
    errorCode: ErrorCode.NONE,
    name: t.name,
    topicId: t.topicId,
    isInternal: INTERNAL_TOPICS.has(t.name),
    partitions: t.partitions.map((p) =>
      opening?.(p.partition)
        ? {
            errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
            partitionIndex: p.partition,
            leaderId: -1,
            leaderEpoch: -1,
            replicaNodes: p.replicas,
            isrNodes: p.isr,
            offlineReplicas: [],
          }
        : {
            errorCode: ErrorCode.NONE,
            partitionIndex: p.partition,
            leaderId: p.leader,
            leaderEpoch: p.leaderEpoch,
            replicaNodes: p.replicas,
            isrNodes: p.isr,
            offlineReplicas: [],
          },
    ),
    topicAuthorizedOperations: NO_AUTH_OPS,
  };
}

function unknownTopic(name: string | null, topicId: string, errorCode: number) {
  return { errorCode, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: NO_AUTH_OPS };
}

export function metadataHandler(b: Broker): Handler<MetadataRequest, MetadataResponseInput> {
  const describeOpening = (t: TopicState) =>
    describeTopic(t, b.replicas.isOpening(t.topicId) ? (p) => !b.replicas.get(t.name, p) : undefined);
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    // ACLs: Describe on a topic to see it (all topics: the others are left out), Create on the cluster or the topic to auto-create it
    const mayDescribe = (name: string) => allowed(ctx, Op.DESCRIBE, Res.TOPIC, name);
    const mayCreate = (name: string) => clusterAllowed(ctx, Op.CREATE) || allowed(ctx, Op.CREATE, Res.TOPIC, name);
    const withOps = v >= 8 && req.includeTopicAuthorizedOperations && !!ctx.authorizer;
    const describe = (t: TopicState) => {
      const d = describeOpening(t);
      if (withOps) d.topicAuthorizedOperations = authorizedOperations(ctx, Res.TOPIC, t.name);
      return d;
    };
    let requested: { name: string | null; topicId: string }[] | null = req.topics;
    // v0: an empty list means all topics; v1+: null means all.
    if (v === 0 && requested && requested.length === 0) requested = null;
    const allowAuto = v < 4 ? true : req.allowAutoTopicCreation !== false;
    const topics = [];
    if (requested === null) {
      for (const t of b.image.topicsByName.values()) if (mayDescribe(t.name)) topics.push(describe(t));
    } else {
      for (const rt of requested) {
        // v10+ may name a topic by id; Kafka's clients then leave the name null or empty.
        if (rt.name === null || rt.name === undefined || (rt.topicId !== undefined && rt.topicId !== ZERO_UUID)) {
          const t = b.image.topicsById.get(rt.topicId);
          if (t && !mayDescribe(t.name))
            topics.push(unknownTopic(null, rt.topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          else topics.push(t ? describe(t) : unknownTopic(null, rt.topicId, ErrorCode.UNKNOWN_TOPIC_ID));
          continue;
        }
        if (!mayDescribe(rt.name)) {
          topics.push(unknownTopic(rt.name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        let t = b.image.topicsByName.get(rt.name);
        if (!t && validateTopicName(rt.name) !== null) {
          topics.push(unknownTopic(rt.name, ZERO_UUID, ErrorCode.INVALID_TOPIC_EXCEPTION));
          continue;
        }
        let error: number = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        if (!t && allowAuto && b.config.autoCreateTopicsEnable && !mayCreate(rt.name)) {
          topics.push(unknownTopic(rt.name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
          continue;
        }
        if (!t && allowAuto) {
          const created = await b.autoCreateTopic(rt.name);
          if (typeof created === 'number') error = created;
          else t = created;
        }
        topics.push(t ? describe(t) : unknownTopic(rt.name, ZERO_UUID, error));
      }
    }
    const brokers = liveBrokers(b.image).flatMap((br) => {
      const l = brokerAddress(b, br, ctx.conn?.listenerName);
      return l ? [{ nodeId: br.nodeId, host: l.host, port: l.port, rack: br.rack }] : [];
    });
    return {
      throttleTimeMs: 0,
      brokers,
      clusterId: b.clusterId,
      controllerId: controllerIdForClients(b),
      topics,
      clusterAuthorizedOperations:
        v >= 8 && req.includeClusterAuthorizedOperations && ctx.authorizer
          ? authorizedOperations(ctx, Res.CLUSTER, 'kafka-cluster')
          : NO_AUTH_OPS,
    };
  };
}
