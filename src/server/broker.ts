/**
 * The broker: what every request handler reads and acts on — the
 * configuration, the metadata image and its controller, and the replicas
 * this node hosts. Assembled by `startBroker` (index.ts).
 */
import type { Logger } from 'pino';
import type { BrokerConfig } from '../config/broker-config.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';
import type { Controller } from '../metadata/controller.ts';
import type { ReplicaManager } from './replica-manager.ts';
import type { Dispatcher } from './dispatcher.ts';
import type { FetchSessionCache } from './fetch-sessions.ts';

export interface Broker {
  readonly config: BrokerConfig;
  readonly logger: Logger;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly image: MetadataImage;
  readonly controller: Controller;
  readonly replicas: ReplicaManager;
  readonly dispatcher: Dispatcher;
  readonly fetchSessions: FetchSessionCache;
  /** The advertised host and port of the listener clients use. */
  readonly advertised: { host: string; port: number };
  /**
   * Creates a topic with broker defaults when auto-creation is on; resolves to
   * it, or to the error code for the Metadata response (UNKNOWN_TOPIC_OR_PARTITION,
   * or POLICY_VIOLATION when a cap refused it).
   */
  autoCreateTopic(name: string): Promise<TopicState | number>;
}

/** Topics internal to Kafka: shown with isInternal in Metadata. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);
