/**
 * src/server: the broker process — TCP listener, request dispatch, the
 * per-API handlers, the replicas this node hosts and long-poll wake-ups.
 * It owns no storage format and no protocol codec: it uses src/storage for
 * logs, src/metadata for the cluster metadata log and image, src/protocol
 * for the wire.
 *
 * `startBroker` assembles one broker from a BrokerConfig: it loads (or
 * creates) the cluster identity, replays the metadata log, opens the logs,
 * registers the broker and starts listening.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { type BrokerConfig, ConfigError, withDynamicConfigs } from '../config/broker-config.ts';
import { FileMetadataLog } from '../metadata/metadata-log.ts';
import { replaceFile } from '../storage/file-io.ts';
import { MetadataImage, type TopicState } from '../metadata/image.ts';
import { Controller } from '../metadata/controller.ts';
import { ErrorCode } from '../protocol/error-codes.ts';
import { Dispatcher } from './dispatcher.ts';
import { ReplicaManager } from './replica-manager.ts';
import { SocketServer } from './socket-server.ts';
import { connectionLimits, touchesConnectionLimits } from './connection-limits.ts';
import { FetchSessionCache } from './fetch-sessions.ts';
import type { Broker } from './broker.ts';
import { dynamicBrokerConfigs, validateTopicConfigValue } from './topic-configs.ts';
import { registerHandlers } from './handlers/index.ts';
import { partitionExistsIn } from './handlers/groups.ts';
import { GroupCoordinatorService } from '../coordinator/group/service.ts';
import { systemEnv } from '../util/env.ts';
import { followOffsetsLeadership, OffsetsTopicStore } from './group-store.ts';
import { ConsumerGroupService, topicsFromImage } from '../coordinator/group/consumer/service.ts';
import { sendfileAvailable, sendfileStats, sendfileUnavailableReason } from './sendfile.ts';

export interface RunningBroker {
  readonly host: string;
  readonly port: number;
  readonly clusterId: string;
  readonly logDirs: string[];
  readonly broker: Broker;
  close(): Promise<void>;
}

/** Reads meta.properties (cluster.id, node.id) from the log dirs, or writes a new identity. */
function loadIdentity(config: BrokerConfig, logger: Logger): string {
  let clusterId: string | undefined = config.clusterId ?? undefined;
  for (const dir of config.logDirs) {
    const file = path.join(dir, 'meta.properties');
    if (!fs.existsSync(file)) continue;
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
    if (clusterId && props['cluster.id'] && props['cluster.id'] !== clusterId) {
      throw new Error(`log dir ${dir} belongs to cluster ${props['cluster.id']}, not ${clusterId}`);
    }
    clusterId = props['cluster.id'] ?? clusterId;
  }
  if (!clusterId) {
    clusterId = randomBytes(16).toString('base64url');
    logger.info({ clusterId }, 'formatting new log dirs with a fresh cluster id');
  }
  for (const dir of config.logDirs) {
    const file = path.join(dir, 'meta.properties');
    if (fs.existsSync(file)) continue;
    // Atomic and durable: a torn identity file would make the next start format the dirs anew.
    replaceFile(file, `# Samsa broker identity\nversion=1\ncluster.id=${clusterId}\nnode.id=${config.nodeId}\n`);
  }
  return clusterId;
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

export async function startBroker(opts: { config: BrokerConfig; logger?: Logger }): Promise<RunningBroker> {
  let config = opts.config;
  const logger = opts.logger ?? pino({ level: process.env.SAMSA_LOG_LEVEL ?? 'info' });
  for (const dir of config.logDirs) fs.mkdirSync(dir, { recursive: true });
  const clusterId = loadIdentity(config, logger);

  // KRaft's place for the metadata log: metadata.log.dir, else the first log dir.
  const metadataLog = await FileMetadataLog.open(config.metadataLogDir ?? config.logDirs[0], {
    logger,
    onTruncate: (dropped) =>
      logger.warn(
        { droppedBytes: dropped },
        'metadata log: cut a torn tail (an append interrupted by a crash or power loss)',
      ),
    onBroken: (reason) =>
      logger.error(
        { reason },
        'metadata log failed: admin requests that change metadata answer KAFKA_STORAGE_ERROR until the broker restarts',
      ),
  });
  const image = new MetadataImage();
  const controller = new Controller(metadataLog, image, {
    nodeId: config.nodeId,
    defaultPartitions: config.numPartitions,
    defaultReplicationFactor: config.defaultReplicationFactor,
    validateConfig: validateTopicConfigValue,
    maxTopics: config.maxTopics,
    maxPartitions: config.maxPartitions,
    maxRecordBytesBetweenSnapshots: config.metadataLogMaxRecordBytesBetweenSnapshots,
    logger,
  });
  controller.load();
  config = applyDynamicConfigs(config, image, logger);
  if (config.ignored.length > 0) {
    logger.warn(
      { ignored: config.ignored },
      `set but without effect in Samsa (accepted for compatibility): ${config.ignored.join(', ')}`,
    );
  }
  const replicas = await ReplicaManager.open(image, config, logger, [metadataLog.dirHealth]);
  controller.onCommit((batch) => replicas.onMetadata(batch));

  const listener = config.listeners[0];
  const dispatcher = new Dispatcher();
  const server = new SocketServer(
    {
      host: listener.host,
      port: listener.port,
      ...connectionLimits(opts.config, image), // the static config: a deleted dynamic value falls back to it
      maxFrameBytes: config.socketRequestMaxBytes,
      idleTimeoutMs: config.connectionsMaxIdleMs,
      maxInFlightPerConnection: 100,
      queuedMaxRequests: config.queuedMaxRequests,
      queuedMaxRequestBytes: config.queuedMaxRequestBytes,
      requestReadTimeoutMs: config.requestReadTimeoutMs,
      logger,
    },
    (frame, conn) => dispatcher.handle(frame, conn),
  );
  // dynamic max.connections* and max.connection.creation.rate apply as soon as they are committed
  controller.onCommit((batch) => {
    if (touchesConnectionLimits(batch)) server.updateLimits(connectionLimits(opts.config, image));
  });
  const bound = await server.listen();
  const adv = config.advertisedListeners[0] ?? listener;
  const advertised = {
    host: adv.host && adv.host !== '0.0.0.0' ? adv.host : bound.host,
    port: adv.port === 0 || adv.port === listener.port ? bound.port : adv.port,
  };

  const pendingCreates = new Map<string, Promise<TopicState | number>>();
  const broker: Broker = {
    config,
    logger,
    clusterId,
    nodeId: config.nodeId,
    image,
    controller,
    replicas,
    dispatcher,
    fetchSessions: new FetchSessionCache(),
    advertised,
    autoCreateTopic(name: string) {
      if (!config.autoCreateTopicsEnable) return Promise.resolve(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      let p = pendingCreates.get(name);
      if (!p) {
        p = controller
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
  registerHandlers(broker, groups, consumerGroups);

  const me = image.brokers.get(config.nodeId);
  const regListeners = [{ name: listener.name, host: advertised.host, port: advertised.port }];
  if (!me || JSON.stringify(me.listeners) !== JSON.stringify(regListeners))
    await controller.registerBroker(regListeners);
  // only now, registered and with every handler in place, are requests read
  server.open();

  logger.info(
    {
      listener: `${listener.name}://${bound.host}:${bound.port}`,
      logDirs: config.logDirs,
      clusterId,
      nodeId: config.nodeId,
    },
    `Samsa broker listening on ${bound.host}:${bound.port}, data in ${config.logDirs.join(', ')}`,
  );
  if (!sendfileAvailable)
    logger.warn(`fetches read segment files into memory (no zero-copy sendfile): ${sendfileUnavailableReason}`);

  let closing: Promise<void> | undefined;
  return {
    host: bound.host,
    port: bound.port,
    clusterId,
    logDirs: config.logDirs,
    broker,
    close() {
      closing ??= (async () => {
        logger.info('shutting down: no new connections, finishing in-flight requests');
        await server.close();
        groups.close();
        consumerGroups.close();
        await replicas.close();
        await metadataLog.close();
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
}
