/**
 * Metadata records: the facts the cluster metadata log holds, named after
 * KRaft's record types (KIP-500 / KIP-631). The image is the fold of these
 * records in log order; nothing else mutates cluster metadata.
 */
export interface RegisterBrokerRecord {
  type: 'RegisterBroker';
  nodeId: number;
  incarnationId: string;
  listeners: { name: string; host: string; port: number }[];
  rack: string | null;
}

export interface TopicRecord {
  type: 'Topic';
  name: string;
  topicId: string;
}

export interface PartitionRecord {
  type: 'Partition';
  topicId: string;
  partition: number;
  replicas: number[];
  isr: number[];
  leader: number;
  leaderEpoch: number;
  partitionEpoch: number;
}

/** A change to a partition's leadership or ISR (replication will write these). */
export interface PartitionChangeRecord {
  type: 'PartitionChange';
  topicId: string;
  partition: number;
  leader?: number;
  isr?: number[];
  replicas?: number[];
}

export interface ConfigRecord {
  type: 'Config';
  resourceType: 'topic' | 'broker';
  /** topic name, or broker id as a string ('' for the cluster-wide default) */
  resourceName: string;
  name: string;
  /** null removes the override */
  value: string | null;
}

export interface RemoveTopicRecord {
  type: 'RemoveTopic';
  topicId: string;
}

/** A block of producer ids handed out (KIP-730); the next block starts after it. */
export interface ProducerIdsRecord {
  type: 'ProducerIds';
  nextProducerId: number;
}

export type MetadataRecord =
  | ProducerIdsRecord
  | RegisterBrokerRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | ConfigRecord
  | RemoveTopicRecord;
