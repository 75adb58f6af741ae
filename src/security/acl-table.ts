/**
 * What each API served on a client listener checks against the ACLs, as
 * Kafka's KafkaApis does: the operation, the resource, and the error a
 * refusal gets. The handlers make these checks (one line each, through
 * acl-check.ts); docs/security.md shows this table, rendered by
 * `renderAclTable` (a unit test keeps the two the same, and checks that every
 * API the broker serves has a row).
 */
export interface AclRule {
  /** The API's name as in Kafka's message definitions. */
  api: string;
  /** The checks, as `Operation Resource`; `or` between alternatives, `;` between checks made in turn. */
  checks: string;
  /** What a refusal is answered with. */
  refusal: string;
}

export const ACL_TABLE: readonly AclRule[] = [
  { api: 'ApiVersions', checks: 'none', refusal: '' },
  { api: 'SaslHandshake', checks: 'none', refusal: '' },
  { api: 'SaslAuthenticate', checks: 'none', refusal: '' },
  {
    api: 'Metadata',
    checks:
      'Describe Topic (all topics: those not allowed are left out); to auto-create a topic: Create Cluster or Create Topic',
    refusal: 'TOPIC_AUTHORIZATION_FAILED per topic',
  },
  {
    api: 'Produce',
    checks: 'Write TransactionalId (transactional producer); Write Topic',
    refusal: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED (every partition); TOPIC_AUTHORIZATION_FAILED per topic',
  },
  {
    api: 'Fetch',
    checks: 'consumer: Read Topic; follower (replica id >= 0): ClusterAction Cluster',
    refusal: 'TOPIC_AUTHORIZATION_FAILED per partition',
  },
  { api: 'ListOffsets', checks: 'Describe Topic', refusal: 'TOPIC_AUTHORIZATION_FAILED per partition' },
  {
    api: 'OffsetForLeaderEpoch',
    checks: 'ClusterAction Cluster or Describe Topic',
    refusal: 'TOPIC_AUTHORIZATION_FAILED per partition',
  },
  { api: 'DeleteRecords', checks: 'Delete Topic', refusal: 'TOPIC_AUTHORIZATION_FAILED per partition' },
  {
    api: 'DescribeProducers',
    checks: 'Read Topic',
    refusal: 'TOPIC_AUTHORIZATION_FAILED per partition',
  },
  {
    api: 'CreateTopics',
    checks: 'Create Cluster or Create Topic; the configs in the answer: DescribeConfigs Topic',
    refusal: 'TOPIC_AUTHORIZATION_FAILED per topic (configs: topic_config_error_code)',
  },
  { api: 'DeleteTopics', checks: 'Delete Topic', refusal: 'TOPIC_AUTHORIZATION_FAILED per topic' },
  { api: 'CreatePartitions', checks: 'Alter Topic', refusal: 'TOPIC_AUTHORIZATION_FAILED per topic' },
  {
    api: 'DescribeConfigs',
    checks: 'DescribeConfigs Topic (topic configs) or DescribeConfigs Cluster (broker and broker-logger configs)',
    refusal: 'TOPIC_AUTHORIZATION_FAILED / CLUSTER_AUTHORIZATION_FAILED per resource',
  },
  {
    api: 'AlterConfigs',
    checks: 'AlterConfigs Topic or AlterConfigs Cluster (broker configs)',
    refusal: 'TOPIC_AUTHORIZATION_FAILED / CLUSTER_AUTHORIZATION_FAILED per resource',
  },
  {
    api: 'IncrementalAlterConfigs',
    checks: 'AlterConfigs Topic or AlterConfigs Cluster (broker and broker-logger configs)',
    refusal: 'TOPIC_AUTHORIZATION_FAILED / CLUSTER_AUTHORIZATION_FAILED per resource',
  },
  {
    api: 'DescribeCluster',
    checks: 'none (the authorized operations, when asked: those allowed on the Cluster)',
    refusal: '',
  },
  { api: 'DescribeLogDirs', checks: 'Describe Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'DescribeQuorum', checks: 'Describe Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'ElectLeaders', checks: 'Alter Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'AlterPartitionReassignments', checks: 'Alter Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'ListPartitionReassignments', checks: 'Describe Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  {
    api: 'FindCoordinator',
    checks: 'Describe Group (group key) or Describe TransactionalId (transaction key)',
    refusal: 'GROUP_AUTHORIZATION_FAILED / TRANSACTIONAL_ID_AUTHORIZATION_FAILED per key',
  },
  { api: 'JoinGroup', checks: 'Read Group', refusal: 'GROUP_AUTHORIZATION_FAILED' },
  { api: 'SyncGroup', checks: 'Read Group', refusal: 'GROUP_AUTHORIZATION_FAILED' },
  { api: 'Heartbeat', checks: 'Read Group', refusal: 'GROUP_AUTHORIZATION_FAILED' },
  { api: 'LeaveGroup', checks: 'Read Group', refusal: 'GROUP_AUTHORIZATION_FAILED' },
  {
    api: 'OffsetCommit',
    checks: 'Read Group; Read Topic',
    refusal: 'GROUP_AUTHORIZATION_FAILED (every partition); TOPIC_AUTHORIZATION_FAILED per topic',
  },
  {
    api: 'OffsetFetch',
    checks: 'Describe Group; Describe Topic (all topics: those not allowed are left out)',
    refusal: 'GROUP_AUTHORIZATION_FAILED; TOPIC_AUTHORIZATION_FAILED per topic',
  },
  {
    api: 'OffsetDelete',
    checks: 'Delete Group; Read Topic',
    refusal: 'GROUP_AUTHORIZATION_FAILED; TOPIC_AUTHORIZATION_FAILED per topic',
  },
  { api: 'DescribeGroups', checks: 'Describe Group', refusal: 'GROUP_AUTHORIZATION_FAILED per group' },
  {
    api: 'ListGroups',
    checks: 'Describe Cluster, else Describe Group (groups not allowed are left out)',
    refusal: '(left out)',
  },
  { api: 'DeleteGroups', checks: 'Delete Group', refusal: 'GROUP_AUTHORIZATION_FAILED per group' },
  { api: 'ConsumerGroupHeartbeat', checks: 'Read Group', refusal: 'GROUP_AUTHORIZATION_FAILED' },
  { api: 'ConsumerGroupDescribe', checks: 'Describe Group', refusal: 'GROUP_AUTHORIZATION_FAILED per group' },
  {
    api: 'InitProducerId',
    checks:
      'Write TransactionalId (transactional producer); otherwise IdempotentWrite Cluster or Write on some Topic (KIP-679)',
    refusal: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED / CLUSTER_AUTHORIZATION_FAILED',
  },
  {
    api: 'AddPartitionsToTxn',
    checks: 'v4+ (brokers): ClusterAction Cluster; Write TransactionalId; Write Topic',
    refusal:
      'CLUSTER_AUTHORIZATION_FAILED; TRANSACTIONAL_ID_AUTHORIZATION_FAILED; TOPIC_AUTHORIZATION_FAILED per topic (the others OPERATION_NOT_ATTEMPTED)',
  },
  {
    api: 'AddOffsetsToTxn',
    checks: 'Write TransactionalId; Read Group',
    refusal: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED; GROUP_AUTHORIZATION_FAILED',
  },
  { api: 'EndTxn', checks: 'Write TransactionalId', refusal: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' },
  {
    api: 'TxnOffsetCommit',
    checks: 'Write TransactionalId; Read Group; Read Topic',
    refusal:
      'TRANSACTIONAL_ID_AUTHORIZATION_FAILED / GROUP_AUTHORIZATION_FAILED (every partition); TOPIC_AUTHORIZATION_FAILED per topic',
  },
  { api: 'WriteTxnMarkers', checks: 'ClusterAction Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED per partition' },
  {
    api: 'DescribeTransactions',
    checks: 'Describe TransactionalId; Describe Topic (topics not allowed are left out)',
    refusal: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED per id',
  },
  {
    api: 'ListTransactions',
    checks: 'Describe TransactionalId (ids not allowed are left out)',
    refusal: '(left out)',
  },
  { api: 'CreateAcls', checks: 'Alter Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED per ACL' },
  { api: 'DeleteAcls', checks: 'Alter Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED per filter' },
  { api: 'DescribeAcls', checks: 'Describe Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'DescribeUserScramCredentials', checks: 'Describe Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'AlterUserScramCredentials', checks: 'Alter Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED per user' },
  { api: 'DescribeClientQuotas', checks: 'DescribeConfigs Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED' },
  { api: 'AlterClientQuotas', checks: 'AlterConfigs Cluster', refusal: 'CLUSTER_AUTHORIZATION_FAILED per entity' },
];

/** The table as docs/security.md shows it (Markdown). */
export function renderAclTable(): string {
  const lines = ['| API | checks | refusal |', '| --- | --- | --- |'];
  for (const r of ACL_TABLE) lines.push(`| ${r.api} | ${r.checks} | ${r.refusal || '-'} |`);
  return `${lines.join('\n')}\n`;
}
