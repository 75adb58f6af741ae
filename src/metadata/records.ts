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
  /**
   * The broker epoch: the offset of this record in the log. Left out in the
   * log (the image takes the record's offset) and written in snapshots,
   * where the record sits at another offset.
   */
  brokerEpoch?: number;
  /**
   * A broker registers fenced (KIP-631) and is unfenced once it has caught up
   * with the metadata log. Absent in registrations written before the broker
   * lifecycle existed (a single node registering itself): those are live.
   */
  fenced?: boolean;
  /** Written in snapshots only (see BrokerRegistrationChangeRecord). */
  inControlledShutdown?: boolean;
}

/**
 * The broker stops being live: it leads no partition and is left out of the
 * brokers clients are told about. Ignored unless `brokerEpoch` is the
 * broker's current registration (an older incarnation's fencing is moot).
 */
export interface FenceBrokerRecord {
  type: 'FenceBroker';
  nodeId: number;
  brokerEpoch: number;
}

/** The broker caught up with the metadata log and is live (same epoch rule as FenceBroker). */
export interface UnfenceBrokerRecord {
  type: 'UnfenceBroker';
  nodeId: number;
  brokerEpoch: number;
}

/** The registration is removed (UnregisterBroker, key 64); same epoch rule as FenceBroker. */
export interface UnregisterBrokerRecord {
  type: 'UnregisterBroker';
  nodeId: number;
  brokerEpoch: number;
}

/**
 * A change of a registration's state, as KRaft's BrokerRegistrationChangeRecord:
 * written when a broker enters controlled shutdown (`inControlledShutdown`);
 * `fenced` has the meaning of FenceBroker / UnfenceBroker. A field left out
 * is unchanged. Same epoch rule as FenceBroker.
 */
export interface BrokerRegistrationChangeRecord {
  type: 'BrokerRegistrationChange';
  nodeId: number;
  brokerEpoch: number;
  fenced?: boolean;
  inControlledShutdown?: boolean;
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
  /** A reassignment in progress (KIP-455): replicas joining, and leaving once it completes. Absent: none. */
  addingReplicas?: number[];
  removingReplicas?: number[];
}

/** A change to a partition's leadership or ISR (replication will write these). */
export interface PartitionChangeRecord {
  type: 'PartitionChange';
  topicId: string;
  partition: number;
  leader?: number;
  isr?: number[];
  replicas?: number[];
  /** The reassignment's replicas joining and leaving (KIP-455); an empty list ends it. Absent: unchanged. */
  addingReplicas?: number[];
  removingReplicas?: number[];
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

/**
 * The cluster's id, written by the first active controller when the log has
 * none (from meta.properties when this node has one, else a new id); every
 * node adopts it. The first such record in the log is the cluster id.
 */
export interface ClusterIdRecord {
  type: 'ClusterId';
  clusterId: string;
}

/**
 * A client quota set or removed (KRaft's ClientQuotaRecord, KIP-546): the
 * entity is one or two (type, name) pairs, type `user` or `client-id`, a null
 * name being that type's default entity; `key` is the quota
 * (producer_byte_rate, consumer_byte_rate, request_percentage,
 * controller_mutation_rate).
 */
export interface ClientQuotaRecord {
  type: 'ClientQuota';
  entity: { entityType: string; entityName: string | null }[];
  key: string;
  value: number;
  remove: boolean;
}

/**
 * An ACL (KRaft's AccessControlEntryRecord, key 23): the binding with the
 * random id the controller gave it. Codes are Kafka's (src/security/acl-types.ts).
 */
export interface AccessControlEntryRecord {
  type: 'AccessControlEntry';
  id: string;
  resourceType: number;
  resourceName: string;
  patternType: number;
  principal: string;
  host: string;
  operation: number;
  permission: number;
}

/** The ACL with this id is removed (RemoveAccessControlEntryRecord, key 24). */
export interface RemoveAccessControlEntryRecord {
  type: 'RemoveAccessControlEntry';
  id: string;
}

/**
 * A user's SCRAM credential for one mechanism (Kafka's UserScramCredentialRecord),
 * written by the controller for AlterUserScramCredentials; replaces an earlier
 * one of the same user and mechanism. Byte fields in base64.
 */
export interface UserScramCredentialRecord {
  type: 'UserScramCredential';
  name: string;
  /** 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512 (Kafka's ScramMechanism type). */
  mechanism: number;
  salt: string;
  storedKey: string;
  serverKey: string;
  iterations: number;
}

/** The SCRAM credential of a user for one mechanism is deleted (Kafka's RemoveUserScramCredentialRecord). */
export interface RemoveUserScramCredentialRecord {
  type: 'RemoveUserScramCredential';
  name: string;
  mechanism: number;
}

export type MetadataRecord =
  | ClusterIdRecord
  | ProducerIdsRecord
  | RegisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | UnregisterBrokerRecord
  | BrokerRegistrationChangeRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | ConfigRecord
  | RemoveTopicRecord
  | ClientQuotaRecord
  | AccessControlEntryRecord
  | RemoveAccessControlEntryRecord
  | UserScramCredentialRecord
  | RemoveUserScramCredentialRecord;
