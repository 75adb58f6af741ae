/** CreateTopics, DeleteTopics and CreatePartitions: admin requests the controller decides. */
import { ErrorCode } from '../../protocol/error-codes.ts';
import { ZERO_UUID } from '../../protocol/schema.ts';
import type { AdminNode } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type {
  CreatePartitionsRequest,
  CreatePartitionsResponseInput,
  CreateTopicsRequest,
  CreateTopicsResponseInput,
  DeleteTopicsRequest,
  DeleteTopicsResponseInput,
} from '../../protocol/generated/messages.ts';
import { describeTopicConfigs, describeTopicOverrides } from '../topic-configs.ts';
import type { TopicState } from '../../metadata/image.ts';
import { TimeSlice } from '../../storage/time-slice.ts';
import { allowed, clusterAllowed, Op, Res } from '../../security/acl-check.ts';

export function createTopicsHandler(b: AdminNode): Handler<CreateTopicsRequest, CreateTopicsResponseInput> {
  return async (req, ctx) => {
    // ACLs: Create on the cluster, or on each topic
    const mayCreateAll = clusterAllowed(ctx, Op.CREATE);
    const denied = req.topics.map((t) => !mayCreateAll && !allowed(ctx, Op.CREATE, Res.TOPIC, t.name));
    const specs = req.topics
      .filter((_, i) => !denied[i])
      .map((t) => ({
        name: t.name,
        numPartitions: t.numPartitions,
        replicationFactor: t.replicationFactor,
        assignments: t.assignments,
        configs: Object.fromEntries(t.configs.map((c) => [c.name, c.value])),
      }));
    const created =
      specs.length > 0 ? await b.controller.createTopics(specs, req.validateOnly === true, req.timeoutMs) : [];
    let next = 0;
    const results = denied.map((d) =>
      d ? { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: 'Authorization failed.' } : created[next++],
    ) as typeof created;
    // The configs of thousands of topics take a while to describe: yield meanwhile.
    const slice = new TimeSlice();
    const topics = [];
    for (let i = 0; i < req.topics.length; i++) {
      const t = req.topics[i];
      const r = results[i];
      const ok = r.errorCode === ErrorCode.NONE;
      const topic = ok ? b.image.topicsByName.get(t.name) : undefined;
      // the configs are shown to who may DescribeConfigs the topic
      const configsDenied = ok && !allowed(ctx, Op.DESCRIBE_CONFIGS, Res.TOPIC, t.name);
      // validateOnly creates nothing: describe the configs the topic would have
      const overrides = () => new Map(t.configs.flatMap((c) => (c.value === null ? [] : [[c.name, c.value] as const])));
      const described =
        !ok || configsDenied
          ? null
          : req.validateOnly
            ? describeTopicOverrides(overrides(), b.config, b.image)
            : topic
              ? describeTopicConfigs(topic, b.config)
              : null;
      topics.push({
        name: t.name,
        topicId: ok && !req.validateOnly ? r.topicId : ZERO_UUID,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        topicConfigErrorCode: configsDenied ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.NONE,
        numPartitions: ok ? r.numPartitions : -1,
        replicationFactor: ok ? r.replicationFactor : -1,
        configs: described
          ? described.map((c) => ({
              name: c.name,
              value: c.value,
              readOnly: c.readOnly,
              configSource: c.source,
              isSensitive: c.isSensitive,
            }))
          : [], // a refused topic: no configs (an empty array, as Kafka answers)
      });
      const y = slice.tick();
      if (y) await y;
    }
    return { throttleTimeMs: 0, topics };
  };
}

export function deleteTopicsHandler(b: AdminNode): Handler<DeleteTopicsRequest, DeleteTopicsResponseInput> {
  return async (req, ctx) => {
    const v = ctx.apiVersion;
    // v6+ names topics as {name, topicId}; earlier versions as a list of names.
    const wanted: { name: string | null; topicId: string }[] =
      v >= 6 ? req.topics : req.topicNames.map((n: string) => ({ name: n, topicId: ZERO_UUID }));
    // Every topic found is deleted in one metadata commit.
    const responses: { name: string | null; topicId: string; errorCode: number; errorMessage: string | null }[] = [];
    if (!b.config.deleteTopicEnable) {
      // As Kafka's controller: the whole request is refused, INVALID_REQUEST before v3.
      const errorCode = v >= 3 ? ErrorCode.TOPIC_DELETION_DISABLED : ErrorCode.INVALID_REQUEST;
      for (const w of wanted)
        responses.push({ ...w, errorCode, errorMessage: 'Topic deletion is disabled (delete.topic.enable=false).' });
      return { throttleTimeMs: 0, responses };
    }
    const found: TopicState[] = [];
    const at: number[] = [];
    for (const w of wanted) {
      const t = w.name ? b.image.topicsByName.get(w.name) : b.image.topicsById.get(w.topicId);
      // ACLs: Delete on the topic
      const name = w.name || t?.name;
      if (name && !allowed(ctx, Op.DELETE, Res.TOPIC, name)) {
        responses.push({
          ...w,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          errorMessage: 'Authorization failed.',
        });
        continue;
      }
      if (!t) {
        responses.push({
          name: w.name,
          topicId: w.topicId,
          errorCode: w.name ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.UNKNOWN_TOPIC_ID,
          errorMessage: null,
        });
        continue;
      }
      at.push(responses.length);
      found.push(t);
      responses.push({ name: t.name, topicId: t.topicId, errorCode: ErrorCode.NONE, errorMessage: null });
    }
    if (found.length > 0) {
      const results = await b.controller.deleteTopics(found, req.timeoutMs);
      for (const [i, r] of results.entries())
        Object.assign(responses[at[i]], { errorCode: r.errorCode, errorMessage: r.errorMessage });
    }
    return { throttleTimeMs: 0, responses };
  };
}

export function createPartitionsHandler(b: AdminNode): Handler<CreatePartitionsRequest, CreatePartitionsResponseInput> {
  return async (req, ctx) => {
    const results = [];
    for (const t of req.topics) {
      // ACLs: Alter on the topic
      if (!allowed(ctx, Op.ALTER, Res.TOPIC, t.name)) {
        results.push({
          name: t.name,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          errorMessage: 'Authorization failed.',
        });
        continue;
      }
      const r = await b.controller.createPartitions(t.name, t.count, req.validateOnly === true, req.timeoutMs);
      results.push({ name: t.name, errorCode: r.errorCode, errorMessage: r.errorMessage });
    }
    return { throttleTimeMs: 0, results };
  };
}
