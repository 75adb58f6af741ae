/**
 * src/server: the broker process — TCP listeners, request dispatch, the
 * per-API handlers, the replicas this node hosts and long-poll wake-ups.
 * It owns no storage format and no protocol codec: it uses src/storage for
 * logs, src/metadata for the cluster metadata quorum and image, src/protocol
 * for the wire.
 *
 * `startBroker` assembles one node from a BrokerConfig, for each of its roles
 * (process.roles): it opens the metadata quorum and replays it into the
 * image; a voter opens its CONTROLLER listener (the quorum's Raft requests,
 * admin requests forwarded by brokers); it learns the cluster id (written by
 * the first active controller, adopted by every other node, checked against
 * meta.properties); a broker then opens its logs, registers, and only then
 * opens its client listener.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { type BrokerConfig, ConfigError, type Listener, withDynamicConfigs } from '../config/broker-config.ts';
import { replaceFile } from '../storage/file-io.ts';
import { MetadataImage, type TopicState } from '../metadata/image.ts';
import { Controller } from '../metadata/controller.ts';
import type { MetadataQuorum } from '../metadata/quorum.ts';
import { RaftNode, type VoterEndpoint } from '../raft/node.ts';
import { registerRaftHandlers } from '../raft/handlers.ts';
import { Connection } from '../client/connection.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { type ApiHandler, Dispatcher } from './dispatcher.ts';
import type { ApiName } from '../protocol/generated/messages.ts';
import { apiByName } from '../protocol/apis.ts';
import { METADATA_TOPIC } from '../metadata/metadata-log.ts';
import { ReplicaManager } from './replica-manager.ts';
import { ListenerTls, controllerSecurity } from '../security/tls.ts';
import { RequestMemory } from './request-memory.ts';
import { ConnectionRegistry, SocketServer } from './socket-server.ts';
import { connectionLimits, touchesConnectionLimits } from './connection-limits.ts';
import { FetchSessionCache } from './fetch-sessions.ts';
import type { AdminNode, Broker } from './broker.ts';
import { dynamicBrokerConfigs, validateTopicConfigValue } from './topic-configs.ts';
import { registerHandlers, relayedInitProducerId } from './handlers/index.ts';
import { registerSaslHandlers, SaslServer } from './handlers/sasl.ts';
import { imageScramStore, registerScramControllerHandler, registerScramHandlers } from './handlers/scram.ts';
import { saslServerConfig } from '../security/sasl/index.ts';
import { followTxnLeadership, startTxnCoordinator } from './txn-store.ts';
import { TxnVerifier } from './txn-verification.ts';
import { partitionExistsIn } from './handlers/groups.ts';
import { apiVersionsHandler } from './handlers/api-versions.ts';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './handlers/topics.ts';
import { alterConfigsHandler, incrementalAlterConfigsHandler } from './handlers/configs.ts';
import { initProducerIdHandler } from './handlers/init-producer-id.ts';
import { registerReassignmentControllerHandlers } from './handlers/reassignments.ts';
import { registerAclControllerHandlers } from './handlers/acls.ts';
import { Authorizer } from '../security/authorizer.ts';
import { clusterAllowed, controllerListenerGate, Op } from '../security/acl-check.ts';
import { ControllerClient, ControllerRouter, relayHandler } from './forwarding.ts';
import { GroupCoordinatorService } from '../coordinator/group/service.ts';
import { systemEnv } from '../util/env.ts';
import { followOffsetsLeadership, OffsetsTopicStore } from './group-store.ts';
import { ConsumerGroupService, topicsFromImage } from '../coordinator/group/consumer/service.ts';
import { sendfileAvailable, sendfileStats, sendfileUnavailableReason } from './sendfile.ts';
import { BrokerLifecycle, type ControllerConnector, clientConnector } from './broker-lifecycle.ts';
import { startReplication, connectionConnector } from './replication.ts';
import { alterPartitionHandler, registerAlterPartitionHandler } from './handlers/alter-partition.ts';
import { registerElectLeadersHandler } from './handlers/elect-leaders.ts';
import { alterClientQuotasHandler, describeClientQuotasHandler } from './handlers/client-quotas.ts';
import { QuotaThrottle } from './quota-throttle.ts';
import { ClientQuotaManager, quotaWindows } from '../security/quotas.ts';
import type { AlterPartitionConnector } from './isr-changes.ts';
import { brokerLifecycleHandlers, registerBrokerLifecycleHandlers } from './handlers/broker-lifecycle.ts';
import type { RequestContext } from './dispatcher.ts';
import { Reader } from '../protocol/reader.ts';
import { Writer } from '../protocol/writer.ts';
import { EventEmitter } from 'node:events';

export interface RunningBroker {
  /** The client listener's address (a controller-only node: its CONTROLLER listener's). */
  readonly host: string;
  readonly port: number;
  /** The bound address of each client listener, in the order of `listeners` (none on a controller-only node). */
  readonly listeners: readonly { name: string; securityProtocol: string; host: string; port: number }[];
  /** The CONTROLLER listener's bound address, when this node opened one. */
  readonly controllerAddress: { host: string; port: number } | null;
  readonly clusterId: string;
  readonly logDirs: string[];
  /** The broker (throws on a controller-only node, which has none). */
  readonly broker: Broker;
  /** This node's Controller (every node has one: it keeps the metadata image). */
  readonly controller: Controller;
  readonly quorum: RaftNode;
  close(): Promise<void>;
}

const META_PROPERTIES = 'meta.properties';

/**
 * What the log dirs say about this node (meta.properties: cluster.id,
 * node.id): the cluster id they belong to (null when none is formatted yet),
 * and the dirs without the file. A dir of another node, or dirs of two
 * clusters, stop startup.
 */
function readIdentity(config: BrokerConfig): { clusterId: string | null; unformatted: string[] } {
  let clusterId: string | null = null;
  let from = '';
  const unformatted: string[] = [];
  for (const dir of config.logDirs) {
    const file = path.join(dir, META_PROPERTIES);
    if (!fs.existsSync(file)) {
      unformatted.push(dir);
      continue;
    }
    const props = Object.fromEntries(
      fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('=') && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]),
    );
    if (props['node.id'] && Number(props['node.id']) !== config.nodeId) {
      throw new Error(
        `log dir ${dir} belongs to node.id ${props['node.id']}, but this broker is node.id ${config.nodeId}`,
      );
    }
    const id: string | undefined = props['cluster.id'];
    if (!id) continue;
    if (config.clusterId && id !== config.clusterId)
      throw new Error(`log dir ${dir} belongs to cluster ${id}, not ${config.clusterId}`);
    if (clusterId !== null && id !== clusterId)
      throw new Error(`log dir ${dir} belongs to cluster ${id}, but log dir ${from} to cluster ${clusterId}`);
    clusterId = id;
    from = dir;
  }
  return { clusterId, unformatted };
}

/** Writes meta.properties into the dirs that have none, atomically and durably. */
function writeIdentity(config: BrokerConfig, clusterId: string, dirs: string[]): void {
  for (const dir of dirs) {
    // Atomic and durable: a torn identity file would make the next start format the dirs anew.
    replaceFile(
      path.join(dir, META_PROPERTIES),
      `# Samsa broker identity\nversion=1\ncluster.id=${clusterId}\nnode.id=${config.nodeId}\n`,
    );
  }
}

/**
 * The static configuration with the dynamic broker configs of the metadata
 * log applied (AlterConfigs made before this start). A combination that no
 * longer loads is logged and the static configuration kept.
 */
function applyDynamicConfigs(config: BrokerConfig, image: MetadataImage, logger: Logger): BrokerConfig {
  try {
    return withDynamicConfigs(config, dynamicBrokerConfigs(image, config.nodeId));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.error(`dynamic broker configs ignored at start, the static configuration is used: ${err.message}`);
    return config;
  }
}

/**
 * One of the quorum's own handlers (src/raft/handlers.ts registers them on a
 * dispatcher), to answer on this node when it leads.
 */
function raftHandler<K extends ApiName>(node: RaftNode, name: K): ApiHandler<K> {
  let found: ApiHandler<K> | undefined;
  const capture = {
    register(n: string, entry: { handler: unknown }) {
      if (n === name) found = entry.handler as ApiHandler<K>;
    },
    supportedApis: () => [],
  };
  registerRaftHandlers(capture as unknown as Dispatcher, node);
  if (!found) throw new Error(`the quorum registers no ${name} handler`);
  return found;
}

/**
 * The broker lifecycle's connection to its own controller on a node that is
 * the whole quorum without network: the controller listener's handlers,
 * called in process (requests and answers through the codecs, as over a
 * socket). Closing it is a closed connection to the controller.
 */
function inProcessConnector(handlers: ReturnType<typeof brokerLifecycleHandlers>): ControllerConnector {
  const through = <T>(bytes: (w: Writer) => void, read: (r: Reader) => unknown): T => {
    const w = new Writer(256);
    bytes(w);
    return read(new Reader(w.toBuffer())) as T;
  };
  return async () => {
    const socket = Object.assign(new EventEmitter(), { destroyed: false });
    const ctx = { apiKey: -1, apiVersion: 0, correlationId: 0, clientId: 'in-process', conn: { socket } };
    return {
      async send(name, body) {
        const api = apiByName(name);
        const v = api.maxVersion;
        const req = through<never>(
          (w) => api.requestEncoder(v)(w, body),
          (r) => api.requestDecoder(v)(r),
        );
        const handler = name === 'BrokerRegistration' ? handlers.registration : handlers.heartbeat;
        const res = await handler(req, ctx as unknown as RequestContext);
        return through(
          (w) => api.responseEncoder(v)(w, res as never),
          (r) => api.responseDecoder(v)(r),
        );
      },
      close() {
        socket.destroyed = true;
        socket.emit('close');
      },
    };
  };
}

function inProcessAlterPartition(handler: ReturnType<typeof alterPartitionHandler>): AlterPartitionConnector {
  return async () => ({
    async send(name, body) {
      const api = apiByName(name);
      const v = api.maxVersion;
      const w = new Writer(256);
      api.requestEncoder(v)(w, body);
      const req = api.requestDecoder(v)(new Reader(w.toBuffer()));
      const ctx = { apiKey: api.key, apiVersion: v, correlationId: 0, clientId: 'in-process', conn: undefined };
      const res = await handler(req as never, ctx as unknown as RequestContext);
      const rw = new Writer(256);
      api.responseEncoder(v)(rw, res as never);
      return api.responseDecoder(v)(new Reader(rw.toBuffer())) as never;
    },
    close() {},
  });
}

/** Waits for `p`, saying every 10 s what is awaited. */
async function awaitLogged<T>(p: Promise<T>, logger: Logger, progress: () => [object, string]): Promise<T> {
  const timer = setInterval(() => {
    const [obj, msg] = progress();
    logger.info(obj, msg);
  }, 10_000);
  timer.unref();
  try {
    return await p;
  } finally {
    clearInterval(timer);
  }
}

/** Waits for the cluster id, saying every 10 s what is awaited (a new cluster waits for its first leader). */
async function awaitClusterId(controller: Controller, quorum: MetadataQuorum, logger: Logger): Promise<string> {
  const timer = setInterval(() => {
    logger.info(
      { leaderId: quorum.leaderId, epoch: quorum.epoch },
      quorum.leaderId < 0
        ? 'waiting for the controller quorum to elect a leader (a majority of controller.quorum.voters must be up)'
        : 'waiting for the cluster id from the active controller',
    );
  }, 10_000);
  timer.unref();
  try {
    return await controller.clusterId();
  } finally {
    clearInterval(timer);
  }
}

function socketServer(
  config: BrokerConfig,
  listener: Listener,
  image: MetadataImage,
  dispatcher: Dispatcher,
  logger: Logger,
  /** The SASL exchange, when the listener is a SASL one. */
  sasl?: SaslServer,
  tls?: ListenerTls,
  shared?: { memory: RequestMemory; registry: ConnectionRegistry },
): SocketServer {
  return new SocketServer(
    {
      host: listener.host,
      port: listener.port,
      ...connectionLimits(config, image), // the static config: a deleted dynamic value falls back to it
      maxFrameBytes: config.socketRequestMaxBytes,
      idleTimeoutMs: config.connectionsMaxIdleMs,
      maxInFlightPerConnection: 100,
      queuedMaxRequests: config.queuedMaxRequests,
      queuedMaxRequestBytes: config.queuedMaxRequestBytes,
      memory: shared?.memory,
      registry: shared?.registry,
      // as in Kafka, the inter-broker listener is exempt from the broker-wide rate when there are others
      brokerWideRate: !(config.listeners.length > 1 && listener.name === config.interBrokerListenerName),
      requestReadTimeoutMs: config.requestReadTimeoutMs,
      logger,
      listenerName: listener.name,
      securityProtocol: listener.securityProtocol,
      unauthenticatedMaxFrameBytes: sasl?.isSaslListener(listener.name) ? sasl.config.maxReceiveSize : undefined,
      tls,
    },
    (frame, conn) => dispatcher.handle(frame, conn),
  );
}

/**
 * The voters of the quorum: controller.quorum.voters; when empty, this node
 * alone (a combined node: a one-voter quorum without network), or, for a
 * broker-only node, the voters a bootstrap server names (DescribeQuorum v2,
 * answered by the leader: its `nodes` are the voters' CONTROLLER endpoints).
 */
async function quorumVoters(config: BrokerConfig, logger: Logger): Promise<VoterEndpoint[]> {
  if (config.quorumVoters.length > 0) return config.quorumVoters.map((v) => ({ ...v }));
  if (config.roles.controller) return [{ id: config.nodeId, host: '', port: 0 }];
  for (let attempt = 0; ; attempt++) {
    for (const server of config.quorumBootstrapServers) {
      const conn = new Connection({
        ...server,
        clientId: `samsa-broker-${config.nodeId}`,
        connectTimeoutMs: 2000,
        security: controllerSecurity(config),
      });
      try {
        await conn.connect();
        const res = await conn.sendAt(apiByName('DescribeQuorum'), 2, {
          topics: [{ topicName: METADATA_TOPIC, partitions: [{ partitionIndex: 0 }] }],
        });
        const p = res.topics[0]?.partitions[0];
        const nodes = res.nodes ?? [];
        if (p && p.errorCode === ErrorCode.NONE && nodes.length > 0) {
          const voters: VoterEndpoint[] = [];
          for (const v of p.currentVoters) {
            const l = nodes.find((n) => n.nodeId === v.replicaId)?.listeners[0];
            if (l) voters.push({ id: v.replicaId, host: l.host, port: l.port });
          }
          if (voters.length === p.currentVoters.length) return voters;
        }
      } catch {
        // not reachable, or not the leader: the next one
      } finally {
        await conn.close();
      }
    }
    if (attempt % 20 === 0)
      logger.info(
        { bootstrap: config.quorumBootstrapServers.map((s) => `${s.host}:${s.port}`) },
        'waiting for the quorum leader among controller.quorum.bootstrap.servers to name the voters',
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

export interface StartOptions {
  config: BrokerConfig;
  logger?: Logger;
  /**
   * Called once if the node stops by itself (its metadata log failed, or the
   * quorum refused it as another cluster's). Default: log it and close the
   * node, with exit code 1 for the process.
   */
  onFatal?: (err: Error) => void;
}

export async function startBroker(opts: StartOptions): Promise<RunningBroker> {
  let config = opts.config;
  const logger = opts.logger ?? pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'info' });
  // SASL settings are checked before anything starts: a bad one stops the start with its reason
  let saslImage: MetadataImage | undefined;
  const sasl = new SaslServer(
    saslServerConfig(
      config,
      logger,
      imageScramStore(() => saslImage),
    ),
  );
  for (const dir of config.logDirs) fs.mkdirSync(dir, { recursive: true });
  const identity = readIdentity(config);
  // The id a new cluster gets from its first active controller when this node leads it first.
  const proposedClusterId = identity.clusterId ?? config.clusterId;

  let running: RunningBroker | undefined;
  // While starting, a stop of the quorum (e.g. refused as another cluster's) fails the start with its reason.
  let failStart: (err: Error) => void = () => {};
  const startFailed = new Promise<never>((_, reject) => {
    failStart = reject;
  });
  startFailed.catch(() => {});
  const duringStart = <T>(p: Promise<T>): Promise<T> => Promise.race([p, startFailed]);
  const onFatal = (err: Error) => {
    if (running === undefined) return failStart(err);
    if (opts.onFatal) return opts.onFatal(err);
    logger.fatal({ err: err.message }, `stopping: ${err.message}`);
    process.exitCode = 1;
    void running.close();
  };
  // KRaft's place for the metadata log: metadata.log.dir, else the first log dir.
  const quorum = await RaftNode.open({
    nodeId: config.nodeId,
    voters: await quorumVoters(config, logger),
    metadataLogDir: config.metadataLogDir ?? config.logDirs[0],
    clusterId: proposedClusterId,
    electionTimeoutMs: config.quorumElectionTimeoutMs,
    fetchTimeoutMs: config.quorumFetchTimeoutMs,
    electionBackoffMaxMs: config.quorumElectionBackoffMaxMs,
    logger,
    onFatal: (err) => onFatal(err),
    security: () => controllerSecurity(config),
  });
  const image = new MetadataImage();
  saslImage = image;
  const controller = new Controller(quorum, image, {
    nodeId: config.nodeId,
    defaultPartitions: config.numPartitions,
    defaultReplicationFactor: config.defaultReplicationFactor,
    validateConfig: validateTopicConfigValue,
    maxTopics: config.maxTopics,
    maxPartitions: config.maxPartitions,
    maxRecordBytesBetweenSnapshots: config.metadataLogMaxRecordBytesBetweenSnapshots,
    uncleanLeaderElectionEnable: config.uncleanLeaderElectionEnable,
    initialClusterId: () => proposedClusterId,
    logger,
  });
  const initProducerId = initProducerIdHandler(controller);
  // The broker lifecycle (KIP-631) on every voter; only the active controller acts on it.
  if (config.roles.controller)
    controller.enableBrokerLifecycle({
      sessionTimeoutMs: config.brokerSessionTimeoutMs,
      clusterId: () => image.clusterId,
      quorumFetchTimeoutMs: config.quorumFetchTimeoutMs,
    });
  if (config.roles.controller && config.autoLeaderRebalanceEnable)
    controller.enableAutoLeaderRebalance({
      intervalMs: config.leaderImbalanceCheckIntervalSeconds * 1000,
      imbalancePercentage: config.leaderImbalancePerBrokerPercentage,
    });

  // A voter serves the quorum and the admin requests brokers forward on its CONTROLLER listener.
  let controllerServer: SocketServer | null = null;
  let controllerTls: ListenerTls | undefined;
  let controllerAddress: { host: string; port: number } | null = null;
  const stopEarly = async (err: unknown): Promise<never> => {
    controller.stopBrokerLifecycle();
    controller.close();
    controllerTls?.close();
    await controllerServer?.close();
    await quorum.close();
    throw err;
  };
  let clusterId: string;
  try {
    if (config.roles.controller && config.controllerListener) {
      const dispatcher = new Dispatcher();
      const node: AdminNode = { config, logger, nodeId: config.nodeId, image, controller, dispatcher };
      registerRaftHandlers(dispatcher, quorum);
      dispatcher.register('ApiVersions', { handler: apiVersionsHandler(node) });
      dispatcher.register('CreateTopics', { handler: createTopicsHandler(node) });
      dispatcher.register('DeleteTopics', { handler: deleteTopicsHandler(node) });
      dispatcher.register('CreatePartitions', { handler: createPartitionsHandler(node) });
      dispatcher.register('AlterConfigs', { handler: alterConfigsHandler(node, { anyBroker: true }) });
      dispatcher.register('IncrementalAlterConfigs', {
        handler: incrementalAlterConfigsHandler(node, { anyBroker: true }),
      });
      dispatcher.register('InitProducerId', { handler: initProducerId });
      registerBrokerLifecycleHandlers(dispatcher, controller, { logger });
      registerAlterPartitionHandler(dispatcher, controller, { logger });
      registerElectLeadersHandler(dispatcher, controller, { logger });
      registerReassignmentControllerHandlers(dispatcher, controller);
      dispatcher.register('DescribeClientQuotas', { handler: describeClientQuotasHandler(image) });
      dispatcher.register('AlterClientQuotas', { handler: alterClientQuotasHandler(controller) });
      registerAclControllerHandlers(dispatcher, controller);
      // ACLs: only nodes (ClusterAction on the cluster) may use the CONTROLLER listener
      if (config.authorizerEnabled)
        dispatcher.gate = controllerListenerGate(
          new Authorizer(
            { superUsers: config.superUsers, allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound },
            image,
          ),
        );
      registerScramControllerHandler(dispatcher, controller);
      const ctlSettings = config.listenerTls.get(config.controllerListener!.name);
      controllerTls = ctlSettings ? new ListenerTls(ctlSettings, logger) : undefined;
      controllerTls?.watch();
      controllerServer = socketServer(
        config,
        config.controllerListener!,
        image,
        dispatcher,
        logger,
        undefined,
        controllerTls,
      );
      controllerAddress = await controllerServer.listen();
      controllerServer.open();
    }
    // the local replay: the image is whole when it resolves (nobody builds on it before)
    controller.skipNotifications();
    await duringStart(quorum.start());
    clusterId = await duringStart(awaitClusterId(controller, quorum, logger));
    if (identity.clusterId !== null && identity.clusterId !== clusterId) {
      throw new Error(
        `log dir ${config.logDirs[0]} belongs to cluster ${identity.clusterId}, but the controller quorum is cluster ${clusterId}: ` +
          'this node holds another cluster’s data; give it empty log dirs to join this cluster, or point it at its own cluster’s voters',
      );
    }
    if (identity.unformatted.length > 0) {
      if (identity.clusterId === null) logger.info({ clusterId }, 'formatting new log dirs with the cluster id');
      writeIdentity(config, clusterId, identity.unformatted);
    }
    quorum.setClusterId(clusterId);
  } catch (err) {
    return stopEarly(err);
  }

  config = applyDynamicConfigs(config, image, logger);
  if (config.ignored.length > 0) {
    logger.warn(
      { ignored: config.ignored },
      `set but without effect in Samsa (accepted for compatibility): ${config.ignored.join(', ')}`,
    );
  }
  const router = new ControllerRouter(controller, {
    nodeId: config.nodeId,
    voters: () => quorum.voterEndpoints,
    logger,
    security: () => controllerSecurity(config),
  });
  const controllerApi = new ControllerClient(router);

  if (!config.roles.broker) {
    controller.releaseNotifications();
    const addr = controllerAddress!;
    logger.info(
      { listener: `${config.controllerListener!.name}://${addr.host}:${addr.port}`, clusterId, nodeId: config.nodeId },
      `Samsa controller listening on ${addr.host}:${addr.port}`,
    );
    let closing: Promise<void> | undefined;
    running = {
      host: addr.host,
      port: addr.port,
      listeners: [],
      controllerAddress: addr,
      clusterId,
      logDirs: config.logDirs,
      get broker(): Broker {
        throw new Error('a controller-only node (process.roles=controller) has no broker');
      },
      controller,
      quorum,
      close() {
        closing ??= (async () => {
          logger.info('shutting down the controller');
          await router.close();
          controller.stopBrokerLifecycle();
          controller.close();
          await quorum.close();
          controllerTls?.close();
          await controllerServer?.close();
          logger.info('shutdown complete');
        })();
        return closing;
      },
    };
    return afterStart(running, quorum);
  }

  // Bind the client listeners (their addresses are registered), but read nothing before the broker is ready.
  const dispatcher = new Dispatcher();
  if (config.authorizerEnabled)
    dispatcher.authorizer = new Authorizer(
      { superUsers: config.superUsers, allowEveryoneIfNoAclFound: config.allowEveryoneIfNoAclFound },
      image,
    );
  registerSaslHandlers(dispatcher, sasl);
  const clientServers: {
    listener: Listener;
    server: SocketServer;
    bound: { host: string; port: number };
    tls?: ListenerTls;
  }[] = [];
  const closeClientServers = async () => {
    for (const s of clientServers) {
      s.tls?.close();
      await s.server.close();
    }
  };
  // queued.max.request.bytes, queued.max.requests, max.connections, max.connections.per.ip and
  // max.connection.creation.rate bound the broker, not each listener
  const shared = {
    memory: new RequestMemory(opts.config.queuedMaxRequestBytes, opts.config.queuedMaxRequests),
    registry: new ConnectionRegistry(),
  };
  for (const l of config.listeners) {
    const settings = config.listenerTls.get(l.name);
    const tls = settings ? new ListenerTls(settings, logger) : undefined;
    const srv = socketServer(opts.config, l, image, dispatcher, logger, sasl, tls, shared);
    try {
      clientServers.push({ listener: l, server: srv, bound: await srv.listen(), tls });
    } catch (err) {
      tls?.close();
      await closeClientServers();
      return stopEarly(err);
    }
    tls?.watch();
  }
  const server = {
    updateLimits: (limits: Parameters<SocketServer['updateLimits']>[0]) => {
      for (const s of clientServers) s.server.updateLimits(limits);
    },
    open: () => {
      for (const s of clientServers) s.server.open();
    },
    close: closeClientServers,
  };
  const advertisedListeners = new Map<string, { host: string; port: number }>();
  for (const { listener: l, bound: b } of clientServers) {
    const adv = config.advertisedListeners.find((a) => a.name === l.name) ?? l;
    advertisedListeners.set(l.name, {
      host: adv.host && adv.host !== '0.0.0.0' ? adv.host : b.host,
      port: adv.port === 0 || adv.port === l.port ? b.port : adv.port,
    });
  }
  const { listener, bound } = clientServers[0];
  const advertised = advertisedListeners.get(listener.name)!;

  // Register with the active controller and heartbeat (KIP-631). Unfenced means the image has caught up with
  // the registration: only then are the logs opened against it (a stale image would delete the logs of newer topics).
  const voters = quorum.voterEndpoints;
  const inProcess = controllerServer === null && config.roles.controller;
  const lifecycle = new BrokerLifecycle({
    nodeId: config.nodeId,
    clusterId: () => image.clusterId,
    listeners: [...advertisedListeners].map(([name, a]) => ({ name, host: a.host, port: a.port })),
    rack: config.brokerRack,
    heartbeatIntervalMs: config.brokerHeartbeatIntervalMs,
    controllerId: () => quorum.leaderId,
    controllerEndpoint: (id) => {
      const v = voters.find((x) => x.id === id);
      if (inProcess) return v ? { host: 'in-process', port: 0 } : undefined;
      return v && v.port > 0 ? { host: v.host, port: v.port } : undefined;
    },
    metadataOffset: () => image.epoch,
    connect: inProcess
      ? inProcessConnector(brokerLifecycleHandlers(controller, { logger }))
      : clientConnector({ clientId: `samsa-broker-${config.nodeId}`, security: () => controllerSecurity(config) }),
    logger,
  });
  controller.onApplied(() => lifecycle.metadataAdvanced());
  controller.onLeader(() => lifecycle.controllerChanged());
  lifecycle.start();
  try {
    await duringStart(
      awaitLogged(lifecycle.whenUnfenced(), logger, () => [
        { leaderId: quorum.leaderId, metadataOffset: image.epoch, lifecycle: lifecycle.state },
        'waiting to be unfenced by the active controller (registered, catching up with the metadata log)',
      ]),
    );
  } catch (err) {
    void lifecycle.close();
    await server.close();
    return stopEarly(err);
  }

  // batches delivered from now on are acted on once the broker is built on the image (the open below reads it whole)
  controller.holdNotifications();
  const replicas = await ReplicaManager.open(image, config, logger, [quorum.log.meta.dirHealth]);
  controller.onCommit((batch) => replicas.onMetadata(batch));
  const replication = startReplication({
    config,
    image,
    replicas,
    logger,
    brokerEpoch: () => lifecycle.state.brokerEpoch,
    controllerId: () => quorum.leaderId,
    controllerEndpoint: (id) => {
      const v = voters.find((x) => x.id === id);
      if (inProcess) return v ? { host: 'in-process', port: 0 } : undefined;
      return v && v.port > 0 ? { host: v.host, port: v.port } : undefined;
    },
    connectController: inProcess
      ? inProcessAlterPartition(alterPartitionHandler(controller, { logger }))
      : (connectionConnector({
          clientId: `samsa-broker-${config.nodeId}`,
          security: () => controllerSecurity(config),
        }) as AlterPartitionConnector),
    listenerName: config.interBrokerListenerName ?? listener.name,
  });
  // dynamic max.connections* and max.connection.creation.rate apply as soon as they are committed
  controller.onCommit((batch) => {
    if (touchesConnectionLimits(batch)) server.updateLimits(connectionLimits(opts.config, image));
  });
  // dynamic ssl.* (this broker's or the cluster default) apply to new TLS handshakes as soon as they are committed
  controller.onCommit((batch) => {
    if (!batch.some((r) => r.type === 'Config' && r.resourceType === 'broker' && r.name.startsWith('ssl.'))) return;
    let merged: BrokerConfig;
    try {
      merged = withDynamicConfigs(opts.config, dynamicBrokerConfigs(image, config.nodeId));
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'dynamic ssl.* settings cannot be applied; TLS settings unchanged');
      return;
    }
    for (const s of clientServers) {
      const settings = merged.listenerTls.get(s.listener.name);
      if (s.tls && settings) s.tls.update(settings);
    }
    const ctl = config.controllerListener && merged.listenerTls.get(config.controllerListener.name);
    if (controllerTls && ctl) controllerTls.update(ctl);
  });

  const pendingCreates = new Map<string, Promise<TopicState | number>>();
  const broker: Broker = {
    config,
    logger,
    clusterId,
    nodeId: config.nodeId,
    image,
    controller: controllerApi,
    localController: controller,
    replicas,
    dispatcher,
    fetchSessions: new FetchSessionCache(),
    advertised,
    advertisedListeners,
    autoCreateTopic(name: string) {
      if (!config.autoCreateTopicsEnable) return Promise.resolve(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      let p = pendingCreates.get(name);
      if (!p) {
        p = controllerApi
          .createTopics([{ name, numPartitions: -1, replicationFactor: -1, configs: {} }], false)
          .then(([r]) => {
            if (r.errorCode === ErrorCode.NONE) logger.info({ topic: name }, 'auto-created topic');
            // a cap's refusal is told to the client (the controller logs it); other failures read as unknown
            if (r.errorCode === ErrorCode.POLICY_VIOLATION) return r.errorCode;
            return image.topicsByName.get(name) ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          })
          .finally(() => pendingCreates.delete(name));
        pendingCreates.set(name, p);
      }
      return p;
    },
  };
  const groups = new GroupCoordinatorService(
    {
      minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
      initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
      maxSize: config.groupMaxSize,
      offsetsRetentionMs: config.offsetsRetentionMs,
      maxMetadataSize: config.offsetMetadataMaxBytes,
    },
    new OffsetsTopicStore(broker),
    systemEnv,
    logger,
  );
  // hosts the groups of the __consumer_offsets partitions this node leads, loaded now and as leadership moves
  await followOffsetsLeadership(broker, groups);
  // The committed offsets of deleted topics go, as in Kafka: after each deletion, and at startup for any left.
  const removeDeletedOffsets = () =>
    groups
      .removeOffsetsOfDeletedPartitions(partitionExistsIn(image))
      .catch((err) => logger.warn({ err }, 'could not remove the committed offsets of deleted topics'));
  await removeDeletedOffsets();
  controller.onCommit((batch) => {
    if (batch.some((r) => r.type === 'RemoveTopic')) void removeDeletedOffsets();
  });
  // KIP-848 consumer groups live beside classic groups; an id belongs to one kind at a time.
  const consumerGroups = new ConsumerGroupService(
    {
      sessionTimeoutMs: config.groupConsumerSessionTimeoutMs,
      heartbeatIntervalMs: config.groupConsumerHeartbeatIntervalMs,
      maxSize: config.groupMaxSize,
      classicGroupInUse: (id) => {
        const g = groups.state.groups.get(id);
        return g !== undefined && !g.is('Empty') && !g.is('Dead');
      },
    },
    topicsFromImage(image),
  );
  groups.attachConsumerGroups(consumerGroups);
  controller.onCommit(() => consumerGroups.onMetadata());
  // the transaction coordinator hosts the transactional ids of the __transaction_state partitions this node leads
  const txn = startTxnCoordinator(broker, relayedInitProducerId(router, initProducerId));
  await followTxnLeadership(broker, txn.coordinator);
  // KIP-890: transactional produces are appended once the coordinator confirms the partition is in the transaction
  const txnVerifier = new TxnVerifier(
    broker,
    txn.coordinator,
    (config.raw.get('transaction.partition.verification.enable') ?? 'true') !== 'false',
  );
  registerHandlers(broker, groups, consumerGroups, router, initProducerId, txn.coordinator, txnVerifier);
  const clientQuotas = new ClientQuotaManager(image, quotaWindows(config));
  dispatcher.quotas = new QuotaThrottle(clientQuotas, image, () => Number(config.numPartitions));
  for (const s of clientServers) s.server.admitFromIp = (ip) => clientQuotas.admitConnection(ip);
  registerScramHandlers(dispatcher, image, router, controller);
  // DescribeQuorum (kafka-metadata-quorum, samsa cluster info) from any broker: answered by the quorum leader
  const describeQuorum = relayHandler(
    router,
    'DescribeQuorum',
    raftHandler(quorum, 'DescribeQuorum'),
    (r) => r.topics[0]?.partitions[0]?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER,
    (reason, req) => ({
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      topics: req.topics.map((t) => ({
        topicName: t.topicName,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
          errorMessage: reason,
          leaderId: -1,
          leaderEpoch: -1,
          highWatermark: -1,
          currentVoters: [],
          observers: [],
        })),
      })),
      nodes: [],
    }),
  );
  // ACLs: Describe on the cluster
  dispatcher.register('DescribeQuorum', {
    handler: (req, ctx) =>
      clusterAllowed(ctx, Op.DESCRIBE)
        ? describeQuorum(req, ctx)
        : {
            errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
            errorMessage: 'Cluster authorization failed.',
            topics: [],
            nodes: [],
          },
  });
  // every listener is in place: the batches committed since the replay are acted on, then each as it commits
  controller.releaseNotifications();

  // only now, registered, caught up and with every handler in place, are requests read
  server.open();

  logger.info(
    {
      listener: clientServers.map((s) => `${s.listener.name}://${s.bound.host}:${s.bound.port}`).join(','),
      logDirs: config.logDirs,
      clusterId,
      nodeId: config.nodeId,
    },
    `Samsa broker listening on ${bound.host}:${bound.port}, data in ${config.logDirs.join(', ')}`,
  );
  if (!sendfileAvailable)
    logger.warn(`fetches read segment files into memory (no zero-copy sendfile): ${sendfileUnavailableReason}`);

  let closing: Promise<void> | undefined;
  running = {
    host: bound.host,
    port: bound.port,
    listeners: clientServers.map((s) => ({
      name: s.listener.name,
      securityProtocol: s.listener.securityProtocol,
      ...s.bound,
    })),
    controllerAddress,
    clusterId,
    logDirs: config.logDirs,
    broker,
    controller,
    quorum,
    close() {
      closing ??= (async () => {
        // controlled shutdown first: the controller moves what this broker leads while it still serves
        // (not when this node is the whole quorum and it stopped: nobody is left to grant it)
        if (inProcess && quorum.failure) void lifecycle.close();
        else await lifecycle.close();
        logger.info('shutting down: no new connections, finishing in-flight requests');
        await server.close();
        for (const m of sasl.config.mechanisms.values()) m.close?.();
        groups.close();
        consumerGroups.close();
        txn.close();
        txnVerifier.close();
        await router.close();
        await replication.close();
        controller.stopBrokerLifecycle();
        controller.close();
        await replicas.close();
        await quorum.close();
        controllerTls?.close();
        await controllerServer?.close();
        if (sendfileStats.regions > 0)
          logger.info(
            { sendfile: sendfileStats },
            'fetch bytes sent from segment files: in place (sendfile) and copied',
          );
        logger.info('shutdown complete (logs flushed, clean-shutdown marker written)');
      })();
      return closing;
    },
  };
  return afterStart(running, quorum);
}

/** A quorum that stopped while the node started (past the points that wait on it): the start fails with why. */
async function afterStart(running: RunningBroker, quorum: RaftNode): Promise<RunningBroker> {
  if (!quorum.failure) return running;
  await running.close();
  throw quorum.failure;
}
