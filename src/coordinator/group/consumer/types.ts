/**
 * Shapes shared by the consumer-protocol (KIP-848) group coordinator: topic
 * metadata as it is handed in, assignments, the heartbeat request as the
 * state machine sees it (decoded, version folded in), its response body, the
 * describe result and the configuration.
 */
import type { ConsumerGroupHeartbeatRequestInput } from '../../../protocol/generated/messages.ts';

/** What the coordinator knows of a topic; taken as an input, never read from the broker. */
export interface TopicInfo {
  topicId: string;
  partitions: number;
}

/** Topic name -> id and partition count. Internal topics should be left out. */
export type TopicsMetadata = ReadonlyMap<string, TopicInfo>;

/** topicId -> partitions. */
export type Assignment = Map<string, Set<number>>;

/**
 * A ConsumerGroupHeartbeat request as the coordinator takes it: the declared
 * fields (null / -1: unchanged; a v1 regex of '': none), with the owned
 * partitions' topic ids required, plus who sent it.
 */
export type HeartbeatRequest = Omit<ConsumerGroupHeartbeatRequestInput, 'topicPartitions' | '_unknownTaggedFields'> & {
  /** What the member owns now; null: not sent in this heartbeat. */
  topicPartitions?: { topicId: string; partitions: number[] }[] | null;
  /** Request version: v0 lets the coordinator make the member id, v1+ the client makes it. Default 1. */
  apiVersion?: number;
  clientId?: string;
  clientHost?: string;
};

export interface WireTopicPartitions {
  topicId: string;
  partitions: number[];
}

/** The ConsumerGroupHeartbeat response body. */
export interface HeartbeatResponse {
  throttleTimeMs: number;
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: WireTopicPartitions[] } | null;
}

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';

export interface DescribedTopicPartitions {
  topicId: string;
  topicName: string;
  partitions: number[];
}

/** One entry of the ConsumerGroupDescribe response body. */
export interface DescribedGroup {
  errorCode: number;
  errorMessage: string | null;
  groupId: string;
  /** '' for a group that does not exist, as Kafka answers. */
  groupState: ConsumerGroupState | '';
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: {
    memberId: string;
    /** v1+: 1 for a member of the consumer protocol (0 would be a classic member). */
    memberType: number;
    instanceId: string | null;
    rackId: string | null;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopicNames: string[];
    subscribedTopicRegex: string | null;
    assignment: { topicPartitions: DescribedTopicPartitions[] };
    targetAssignment: { topicPartitions: DescribedTopicPartitions[] };
  }[];
  authorizedOperations: number;
}

/** A ListGroups entry. */
export interface ListedGroup {
  groupId: string;
  protocolType: string;
  groupState: ConsumerGroupState;
  groupType: 'consumer';
}

export interface ConsumerGroupConfig {
  /** group.consumer.session.timeout.ms */
  sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** group.consumer.max.size */
  maxSize: number;
  /** group.consumer.assignors: the first is the default. */
  assignors: string[];
  /** Makes member ids for v0 joins (tests pass a counter). */
  newMemberId: () => string;
  /** True when a classic group with members holds this id (the ids are one namespace). */
  classicGroupInUse: (groupId: string) => boolean;
}
