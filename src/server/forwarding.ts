/**
 * Admin requests on a broker that is not the active controller go to the one
 * that is, as in KRaft: CreateTopics, DeleteTopics, CreatePartitions,
 * AlterConfigs, IncrementalAlterConfigs (through `ControllerClient`, which has
 * the controller's operations and runs them here when this node is the active
 * controller), InitProducerId, DescribeQuorum and ElectLeaders (relayed as
 * they came, see `relayHandler`). They are sent over a client connection to the CONTROLLER
 * listener of the quorum leader, whose address is in controller.quorum.voters.
 *
 * No leader known, the leader unreachable, or an answer NOT_CONTROLLER
 * (leadership moved meanwhile): the request waits for the next leader and
 * is tried again, until its deadline; then it is answered with the API's
 * retriable error (REQUEST_TIMED_OUT, or what the caller chooses), so that
 * clients retry.
 *
 * A forwarded change is answered once this node's own image has it (topics
 * created or deleted, partitions added, configs set), so that the client's
 * next request to this broker sees it.
 */
import type { Logger } from 'pino';
import { type ClientSecurity, Connection, ConnectionError } from '../client/connection.ts';
import type { QuorumVoter } from '../config/broker-config.ts';
import {
  type Controller,
  type ControllerResult,
  type CreateTopicSpec,
  notControllerMessage,
} from '../metadata/controller.ts';
import type { TopicState } from '../metadata/image.ts';
import { apiByName } from '../protocol/apis.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import type { ApiMessages, ApiName } from '../protocol/generated/messages.ts';
import type { Handler, RequestContext } from './dispatcher.ts';

/** How long a forwarded request waits for an active controller and its answer when the request sets no timeout. */
export const DEFAULT_FORWARD_TIMEOUT_MS = 25_000;
/**
 * Pause before trying again an unreachable controller, or one that answered
 * NOT_CONTROLLER (a leader not yet active: its quorum has not committed its
 * leader-change entry), unless the leader changes first.
 */
const RETRY_BACKOFF_MS = 100;
/** Longest wait for news of a leader before looking again. */
const LEADER_WAIT_MS = 500;

/** The controller operations the broker's handlers (and internal users, e.g. auto-creation) call. */
export interface ControllerApi {
  createTopics(
    specs: CreateTopicSpec[],
    validateOnly: boolean,
    timeoutMs?: number,
  ): Promise<(ControllerResult & { topicId?: string; numPartitions?: number; replicationFactor?: number })[]>;
  deleteTopic(topic: TopicState): Promise<ControllerResult>;
  deleteTopics(topics: TopicState[], timeoutMs?: number): Promise<ControllerResult[]>;
  createPartitions(name: string, count: number, validateOnly: boolean, timeoutMs?: number): Promise<ControllerResult>;
  alterConfigs(
    resourceType: 'topic' | 'broker',
    resourceName: string,
    changes: Record<string, string | null>,
    replace: boolean,
  ): Promise<ControllerResult>;
}

type Outcome<T> = { done: T } | { retry: string };

/**
 * Finds the active controller and talks to it: this node's own Controller
 * when it is active, else the leader's CONTROLLER listener.
 */
export class ControllerRouter {
  private readonly connections = new Map<number, Connection>();
  private closed = false;

  constructor(
    readonly controller: Controller,
    private readonly opts: {
      nodeId: number;
      /** Where each voter's CONTROLLER listener is. */
      voters: () => readonly QuorumVoter[];
      logger: Logger;
      /** TLS for the connections to the controllers (an SSL controller listener). */
      security?: () => ClientSecurity | undefined;
    },
  ) {}

  /**
   * Runs `local` when this node is the active controller, else `remote` on a
   * connection to the active controller; an outcome `{retry}` (NOT_CONTROLLER)
   * or an unreachable controller waits for the next leader and tries again.
   * At the deadline, `timedOut(reason)` answers.
   */
  async run<T>(
    timeoutMs: number,
    local: () => Promise<Outcome<T>>,
    remote: (conn: Connection, remainingMs: number) => Promise<Outcome<T>>,
    timedOut: (reason: string) => T,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let reason = 'no active controller is known';
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) return timedOut(this.closed ? 'the broker is shutting down' : reason);
      const next = this.controller.nextLeaderEvent();
      const leader = this.controller.leaderId;
      let outcome: Outcome<T> | null = null;
      if (this.controller.isActive) {
        outcome = await local();
      } else if (leader >= 0 && leader !== this.opts.nodeId) {
        try {
          const conn = await this.connection(leader, remaining);
          outcome = await remote(conn, deadline - Date.now());
        } catch (err) {
          if (!(err instanceof ConnectionError)) throw err;
          this.drop(leader);
          reason = `the active controller (node ${leader}) cannot be reached: ${err.message}`;
          await this.wait(next, Math.min(RETRY_BACKOFF_MS, deadline - Date.now()));
          continue;
        }
      } else {
        reason =
          leader < 0
            ? 'no active controller: the controller quorum has no leader (a majority of controller.quorum.voters must be up to elect one)'
            : notControllerMessage(leader);
      }
      if (outcome && 'done' in outcome) return outcome.done;
      if (outcome) reason = outcome.retry;
      // wait for leadership to move (or this node, or the leader, to become active)
      await this.wait(next, Math.min(outcome ? RETRY_BACKOFF_MS : LEADER_WAIT_MS, deadline - Date.now()));
    }
  }

  private async wait(event: Promise<void>, ms: number): Promise<void> {
    if (ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      event,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  private async connection(nodeId: number, timeoutMs: number): Promise<Connection> {
    const open = this.connections.get(nodeId);
    if (open?.isOpen) return open;
    if (open) this.drop(nodeId);
    const voter = this.opts.voters().find((v) => v.id === nodeId);
    if (!voter) throw new ConnectionError(`node ${nodeId} is not among the known voters`);
    const conn = new Connection({
      host: voter.host,
      port: voter.port,
      clientId: `samsa-broker-${this.opts.nodeId}`,
      connectTimeoutMs: Math.max(1, Math.min(timeoutMs, 5000)),
      requestTimeoutMs: DEFAULT_FORWARD_TIMEOUT_MS,
      security: this.opts.security?.(),
    });
    this.connections.set(nodeId, conn);
    try {
      await conn.connect();
    } catch (err) {
      this.drop(nodeId);
      throw err;
    }
    return conn;
  }

  private drop(nodeId: number): void {
    const c = this.connections.get(nodeId);
    this.connections.delete(nodeId);
    void c?.close().catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map((c) => c.close().catch(() => {})));
  }
}

/** Sends `body` as API `name` with a request timeout of `ms`, at the version both sides speak. */
function send<K extends ApiName>(
  conn: Connection,
  name: K,
  body: ApiMessages[K]['requestInput'],
  ms: number,
): Promise<ApiMessages[K]['response']> {
  return withTimeout(conn.send(name, body), ms, `${name} to the active controller timed out`);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new ConnectionError(message)), Math.max(1, ms));
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

const allRefused = (rs: readonly ControllerResult[]) =>
  rs.length > 0 && rs.every((r) => r.errorCode === ErrorCode.NOT_CONTROLLER);

const TOPIC = 2;
const BROKER = 4;

/**
 * The controller's operations as the broker calls them: run by this node's
 * Controller when it is the active controller, else forwarded to the active
 * controller (and answered once this node's image has the change).
 */
export class ControllerClient implements ControllerApi {
  constructor(private readonly router: ControllerRouter) {}

  private get controller(): Controller {
    return this.router.controller;
  }

  createTopics(
    specs: CreateTopicSpec[],
    validateOnly: boolean,
    timeoutMs = DEFAULT_FORWARD_TIMEOUT_MS,
  ): Promise<(ControllerResult & { topicId?: string; numPartitions?: number; replicationFactor?: number })[]> {
    type R = ControllerResult & { topicId?: string; numPartitions?: number; replicationFactor?: number };
    const deadline = Date.now() + timeoutMs;
    return this.router.run<R[]>(
      timeoutMs,
      async () => {
        const rs = await this.controller.createTopics(specs, validateOnly);
        return allRefused(rs) ? { retry: rs[0].errorMessage ?? 'NOT_CONTROLLER' } : { done: rs };
      },
      async (conn, ms) => {
        const res = await send(
          conn,
          'CreateTopics',
          {
            topics: specs.map((s) => ({
              name: s.name,
              numPartitions: s.numPartitions,
              replicationFactor: s.replicationFactor,
              assignments: (s.assignments ?? []).map((a) => ({
                partitionIndex: a.partitionIndex,
                brokerIds: a.brokerIds,
              })),
              configs: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
            })),
            timeoutMs: Math.max(1, ms),
            validateOnly,
          },
          ms,
        );
        const rs: R[] = specs.map((s, i) => {
          const t = res.topics[i]?.name === s.name ? res.topics[i] : res.topics.find((x) => x.name === s.name);
          if (!t) return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer for this topic' };
          return {
            errorCode: t.errorCode,
            errorMessage: t.errorMessage ?? null,
            topicId: t.topicId,
            numPartitions: t.numPartitions,
            replicationFactor: t.replicationFactor,
          };
        });
        if (allRefused(rs)) return { retry: rs[0].errorMessage ?? 'NOT_CONTROLLER' };
        if (!validateOnly) {
          const ids = rs.filter((r) => r.errorCode === ErrorCode.NONE && r.topicId).map((r) => r.topicId!);
          await this.seen(() => ids.every((id) => this.controller.image.topicsById.has(id)), deadline);
        }
        return { done: rs };
      },
      (reason) => specs.map(() => ({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason })),
    );
  }

  async deleteTopic(topic: TopicState): Promise<ControllerResult> {
    const [r] = await this.deleteTopics([topic]);
    return r;
  }

  deleteTopics(topics: TopicState[], timeoutMs = DEFAULT_FORWARD_TIMEOUT_MS): Promise<ControllerResult[]> {
    const deadline = Date.now() + timeoutMs;
    return this.router.run<ControllerResult[]>(
      timeoutMs,
      async () => {
        const rs = await this.controller.deleteTopics(topics);
        return allRefused(rs) ? { retry: rs[0].errorMessage ?? 'NOT_CONTROLLER' } : { done: rs };
      },
      async (conn, ms) => {
        // by id (v6+), so that a topic created again under the name meanwhile is not the one deleted
        const byId = conn.versionOf('DeleteTopics') >= 6;
        const res = await send(
          conn,
          'DeleteTopics',
          byId
            ? { topics: topics.map((t) => ({ name: null, topicId: t.topicId })), timeoutMs: Math.max(1, ms) }
            : { topicNames: topics.map((t) => t.name), timeoutMs: Math.max(1, ms) },
          ms,
        );
        const rs = topics.map((t, i): ControllerResult => {
          const r = res.responses[i] ?? res.responses.find((x) => x.topicId === t.topicId || x.name === t.name);
          if (!r) return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer for this topic' };
          // the topic may be gone from the controller's image already: as if this node had asked first
          const code = r.errorCode === ErrorCode.UNKNOWN_TOPIC_ID ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : r.errorCode;
          return { errorCode: code, errorMessage: r.errorMessage ?? null };
        });
        if (allRefused(rs)) return { retry: rs[0].errorMessage ?? 'NOT_CONTROLLER' };
        const gone = topics.filter((_, i) => rs[i].errorCode === ErrorCode.NONE).map((t) => t.topicId);
        await this.seen(() => gone.every((id) => !this.controller.image.topicsById.has(id)), deadline);
        return { done: rs };
      },
      (reason) => topics.map(() => ({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason })),
    );
  }

  createPartitions(
    name: string,
    count: number,
    validateOnly: boolean,
    timeoutMs = DEFAULT_FORWARD_TIMEOUT_MS,
  ): Promise<ControllerResult> {
    const deadline = Date.now() + timeoutMs;
    return this.router.run<ControllerResult>(
      timeoutMs,
      async () => {
        const r = await this.controller.createPartitions(name, count, validateOnly);
        return r.errorCode === ErrorCode.NOT_CONTROLLER ? { retry: r.errorMessage ?? 'NOT_CONTROLLER' } : { done: r };
      },
      async (conn, ms) => {
        const res = await send(
          conn,
          'CreatePartitions',
          { topics: [{ name, count, assignments: null }], timeoutMs: Math.max(1, ms), validateOnly },
          ms,
        );
        const t = res.results[0];
        const r: ControllerResult = t
          ? { errorCode: t.errorCode, errorMessage: t.errorMessage ?? null }
          : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer for this topic' };
        if (r.errorCode === ErrorCode.NOT_CONTROLLER) return { retry: r.errorMessage ?? 'NOT_CONTROLLER' };
        if (r.errorCode === ErrorCode.NONE && !validateOnly)
          await this.seen(
            () => (this.controller.image.topicsByName.get(name)?.partitions.length ?? 0) >= count,
            deadline,
          );
        return { done: r };
      },
      (reason) => ({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason }),
    );
  }

  alterConfigs(
    resourceType: 'topic' | 'broker',
    resourceName: string,
    changes: Record<string, string | null>,
    replace: boolean,
  ): Promise<ControllerResult> {
    const deadline = Date.now() + DEFAULT_FORWARD_TIMEOUT_MS;
    const type = resourceType === 'topic' ? TOPIC : BROKER;
    return this.router.run<ControllerResult>(
      DEFAULT_FORWARD_TIMEOUT_MS,
      async () => {
        const r = await this.controller.alterConfigs(resourceType, resourceName, changes, replace);
        return r.errorCode === ErrorCode.NOT_CONTROLLER ? { retry: r.errorMessage ?? 'NOT_CONTROLLER' } : { done: r };
      },
      async (conn, ms) => {
        const entries = Object.entries(changes);
        const res = replace
          ? (
              await send(
                conn,
                'AlterConfigs',
                {
                  resources: [
                    { resourceType: type, resourceName, configs: entries.map(([name, value]) => ({ name, value })) },
                  ],
                  validateOnly: false,
                },
                ms,
              )
            ).responses[0]
          : (
              await send(
                conn,
                'IncrementalAlterConfigs',
                {
                  resources: [
                    {
                      resourceType: type,
                      resourceName,
                      // SET (0) or DELETE (1)
                      configs: entries.map(([name, value]) => ({
                        name,
                        configOperation: value === null ? 1 : 0,
                        value,
                      })),
                    },
                  ],
                  validateOnly: false,
                },
                ms,
              )
            ).responses[0];
        const r: ControllerResult = res
          ? { errorCode: res.errorCode, errorMessage: res.errorMessage ?? null }
          : { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: 'no answer for this resource' };
        if (r.errorCode === ErrorCode.NOT_CONTROLLER) return { retry: r.errorMessage ?? 'NOT_CONTROLLER' };
        if (r.errorCode === ErrorCode.NONE) {
          const image = this.controller.image;
          await this.seen(() => {
            const now =
              resourceType === 'topic'
                ? image.topicsByName.get(resourceName)?.configs
                : image.brokerConfigs.get(resourceName);
            return entries.every(([k, v]) => (now?.get(k) ?? null) === v);
          }, deadline);
        }
        return { done: r };
      },
      (reason) => ({ errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: reason }),
    );
  }

  /** Waits (until the deadline at most) for this node's image to show what the controller committed. */
  private async seen(check: () => boolean, deadline: number): Promise<void> {
    await this.controller.waitForImage(check, Math.max(0, deadline - Date.now()));
  }
}

/**
 * A handler that answers here when this node is the active controller
 * (`local`), and otherwise relays the request as it came (same version, same
 * fields, unknown tagged fields included) to the active controller's
 * CONTROLLER listener and returns its answer. `refused` says whether an
 * answer means "not the controller" (tried again at the next leader);
 * `timedOut` answers when no controller answered in time.
 */
export function relayHandler<K extends ApiName>(
  router: ControllerRouter,
  name: K,
  local: Handler<ApiMessages[K]['request'], ApiMessages[K]['responseInput']>,
  refused: (res: ApiMessages[K]['response'] | ApiMessages[K]['responseInput']) => boolean,
  timedOut: (reason: string, req: ApiMessages[K]['request']) => ApiMessages[K]['responseInput'],
  timeoutMs: (req: ApiMessages[K]['request']) => number = () => DEFAULT_FORWARD_TIMEOUT_MS,
): Handler<ApiMessages[K]['request'], ApiMessages[K]['responseInput']> {
  const api = apiByName(name);
  return (req, ctx: RequestContext) =>
    router.run<ApiMessages[K]['responseInput']>(
      timeoutMs(req),
      async () => {
        // handlers of these APIs always answer
        const r = (await local(req, ctx)) as ApiMessages[K]['responseInput'];
        return refused(r) ? { retry: notControllerMessage(-1) } : { done: r };
      },
      async (conn, ms) => {
        const res = await withTimeout(
          conn.sendAt(api, ctx.apiVersion, req as unknown as ApiMessages[K]['requestInput']),
          ms,
          `${name} to the active controller timed out`,
        );
        if (refused(res)) return { retry: notControllerMessage(-1) };
        return { done: res as unknown as ApiMessages[K]['responseInput'] };
      },
      (reason) => timedOut(reason, req),
    );
}
