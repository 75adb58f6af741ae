/**
 * Data replication on one broker, assembled: the replica fetchers (this
 * node's follower partitions pull from their leaders) and the ISR changes
 * (the partitions it leads ask the controller to shrink and expand their
 * ISR). `startBroker` starts it once the replica manager is open and closes
 * it before the replica manager.
 */
import { interBrokerSecurity } from '../security/sasl/config.ts';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { MetadataImage } from '../metadata/image.ts';
import { type ClientSecurity, Connection } from '../client/connection.ts';
import type { Env } from '../util/env.ts';
import { type AlterPartitionConnector, IsrChanges } from './isr-changes.ts';
import {
  brokerEndpoint,
  type FetcherConnector,
  ReplicaFetcherManager,
  replicaFetcherSettings,
} from './replica-fetcher.ts';
import type { ReplicaManager } from './replica-manager.ts';
import { ReplicationQuota } from './replication-quota.ts';

export interface ReplicationOptions {
  config: BrokerConfig;
  image: MetadataImage;
  replicas: ReplicaManager;
  logger: Logger;
  /** This broker's registration epoch (the lifecycle's), -1 while unknown. */
  brokerEpoch: () => number;
  /** The active controller's id from the metadata quorum, -1 while unknown. */
  controllerId: () => number;
  /** A controller's CONTROLLER endpoint. */
  controllerEndpoint: (nodeId: number) => { host: string; port: number } | undefined;
  /** How AlterPartition reaches the controller (over the network, or in process on a combined node). */
  connectController: AlterPartitionConnector;
  /** How the fetchers reach leaders (default: the client's Connection). */
  connectBroker?: FetcherConnector;
  /** The listener other brokers are reached on (default: the first one each registered). */
  listenerName?: string;
  env?: Env;
}

/** A connector over the client's Connection (ApiVersions is negotiated first). */
export function connectionConnector(opts: {
  clientId: string;
  requestTimeoutMs?: number;
  /** TLS for the connections (the inter-broker listener's); read for each connection. */
  security?: () => ClientSecurity | undefined;
}) {
  return async ({ host, port }: { host: string; port: number }): Promise<Connection> => {
    const c = new Connection({
      host,
      port,
      clientId: opts.clientId,
      requestTimeoutMs: opts.requestTimeoutMs,
      security: opts.security?.(),
    });
    await c.connect();
    return c;
  };
}

export interface Replication {
  readonly fetchers: ReplicaFetcherManager;
  readonly isr: IsrChanges;
  close(): Promise<void>;
}

export function startReplication(o: ReplicationOptions): Replication {
  const raw = o.config.raw;
  const settings = replicaFetcherSettings(raw);
  const lag = Number(raw.get('replica.lag.time.max.ms') ?? 30000);
  const clientId = `samsa-replica-${o.config.nodeId}`;
  const fetchers = new ReplicaFetcherManager({
    localId: o.config.nodeId,
    brokerEpoch: o.brokerEpoch,
    endpointOf: (id) => brokerEndpoint(o.image, id, o.listenerName),
    connect:
      o.connectBroker ??
      connectionConnector({
        clientId,
        requestTimeoutMs: settings.fetchWaitMaxMs + 30000,
        security: () => interBrokerSecurity(o.config),
      }),
    settings,
    quota: new ReplicationQuota('follower', o.config, o.image, o.env ? () => o.env!.now() : Date.now),
    env: o.env,
    logger: o.logger,
  });
  const isr = new IsrChanges({
    localId: o.config.nodeId,
    brokerEpoch: o.brokerEpoch,
    controllerId: o.controllerId,
    controllerEndpoint: o.controllerEndpoint,
    connect: o.connectController,
    image: o.image,
    replicaLagTimeMaxMs: lag,
    env: o.env,
    logger: o.logger,
  });
  isr.start(o.replicas);
  fetchers.follow(o.replicas);
  return {
    fetchers,
    isr,
    async close() {
      isr.close();
      await fetchers.close();
    },
  };
}
