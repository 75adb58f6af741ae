/**
 * The broker: what every request handler reads and acts on — the
 * configuration, the metadata image and the controller, and the replicas
 * this node hosts. Assembled by `startBroker` (index.ts).
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { BrokerState, MetadataImage, TopicState } from '../metadata/image.ts';
import type { Controller } from '../metadata/controller.ts';
import type { ReplicaManager } from './replica-manager.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { FetchSessionCache } from './fetch-sessions.ts';
import type { ControllerApi } from './forwarding.ts';

/**
 * What the admin handlers need: on a broker's client listener (where
 * `controller` forwards to the active controller), and on the CONTROLLER
 * listener of a voter (where it is the node's own Controller, which refuses
 * with NOT_CONTROLLER unless it is the active controller).
 */
export interface AdminNode {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly controller: ControllerApi;
  /** The dispatcher of the listener the handlers are registered on (ApiVersions lists its APIs). */
  readonly dispatcher: Dispatcher;
}

export interface Broker extends AdminNode {
  readonly clusterId: string;
  /** This node's Controller: it keeps the image and decides only while it is the active controller. */
  readonly localController: Controller;
  readonly replicas: ReplicaManager;
  readonly fetchSessions: FetchSessionCache;
  /** The advertised host and port of the first client listener. */
  readonly advertised: { host: string; port: number };
  /** The advertised host and port of each client listener, by listener name (unset: only `advertised`). */
  readonly advertisedListeners?: ReadonlyMap<string, { host: string; port: number }>;
  /**
   * Creates a topic with broker defaults when auto-creation is on; resolves to
   * it, or to the error code for the Metadata response (UNKNOWN_TOPIC_OR_PARTITION,
   * or POLICY_VIOLATION when a cap refused it).
   */
  autoCreateTopic(name: string): Promise<TopicState | number>;
}

/** Topics internal to Kafka: shown with isInternal in Metadata. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);

/** The brokers clients are told about: registered and not fenced. */
export function liveBrokers(image: MetadataImage): BrokerState[] {
  return image.liveBrokers();
}

/**
 * The controller id given to clients (Metadata, DescribeCluster): the active
 * controller when it is a live broker, which clients can reach; otherwise
 * this broker, which forwards what it is sent (KRaft, which clients cannot
 * reach, names a broker too).
 */
export function controllerIdForClients(b: Broker): number {
  const leader = b.localController.leaderId;
  return leader >= 0 && b.image.isLive(leader) ? leader : b.nodeId;
}

/**
 * Where clients of listener `listener` (the one their request came in on)
 * reach broker `br`: that listener's address as `br` registered it (this
 * node: as it advertises it), undefined when `br` has no such listener (left
 * out of the answer, as Kafka does). A listener this node does not serve
 * clients on (none given, or a controller listener): the first client
 * listener, as without listener names.
 */
export function brokerAddress(
  b: Broker,
  br: BrokerState,
  listener?: string,
): { host: string; port: number } | undefined {
  const name = listener !== undefined && b.advertisedListeners?.has(listener) ? listener : undefined;
  if (name === undefined) return br.nodeId === b.nodeId ? b.advertised : br.listeners[0];
  if (br.nodeId === b.nodeId) return b.advertisedListeners!.get(name);
  const l = br.listeners.find((x) => x.name === name);
  return l ? { host: l.host, port: l.port } : undefined;
}
