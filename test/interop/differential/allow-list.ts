/**
 * The fields that may differ between the reference Kafka's and Samsa's answer
 * to the same request, each with its reason. A field is named by its path in
 * the decoded response, array levels as `[]` (`brokers[].port`); an entry
 * covers that field and everything under it; `*.field` names a field at any
 * level. Anything else that differs is a
 * difference: a bug in Samsa, or a new entry here with its reason.
 */
export interface AllowEntry {
  /** The API the entry applies to, or '*' for every API. */
  api: string;
  path: string;
  reason: string;
}

export const ALLOW_LIST: readonly AllowEntry[] = [
  {
    api: '*',
    path: 'throttleTimeMs',
    reason: 'quota throttling depends on timing; neither broker throttles these requests',
  },
  {
    api: '*',
    path: '*.errorMessage',
    reason: 'wording of an error message, at any level (the error code is compared)',
  },
  {
    api: 'Produce',
    path: 'responses[].partitionResponses[].recordErrors[].batchIndexErrorMessage',
    reason: 'wording of an error message',
  },
  { api: '*', path: 'clusterId', reason: 'each cluster has its own random id' },
  { api: '*', path: 'brokers[].port', reason: 'each broker listens on a free port' },
  { api: '*', path: 'port', reason: 'each broker listens on a free port (FindCoordinator v0–v3)' },
  { api: '*', path: 'coordinators[].port', reason: 'each broker listens on a free port' },
  { api: '*', path: 'nodeEndpoints[].port', reason: 'each broker listens on a free port' },
  { api: '*', path: '*.topicId', reason: 'topic ids are random UUIDs' },
  { api: '*', path: '*.memberId', reason: 'a member id is the client id and a random UUID' },
  { api: 'JoinGroup', path: 'leader', reason: "the leader's member id (a random UUID)" },
  { api: 'DescribeLogDirs', path: 'results[].logDir', reason: 'each broker has its own data directory' },
  {
    api: 'DescribeLogDirs',
    path: 'results[].totalBytes',
    reason: 'size of the file system holding the data directory',
  },
  {
    api: 'DescribeLogDirs',
    path: 'results[].usableBytes',
    reason: 'free space of the file system holding the data directory',
  },
  {
    api: 'DescribeQuorum',
    path: 'topics[].partitions[].highWatermark',
    reason: 'the metadata log of each cluster holds its own records (Kafka writes more of them, e.g. feature levels)',
  },
  {
    api: 'DescribeQuorum',
    path: '*.logEndOffset',
    reason: 'the metadata log of each cluster holds its own records (Kafka writes more of them, e.g. feature levels)',
  },
  { api: 'DescribeQuorum', path: '*.lastFetchTimestamp', reason: 'wall-clock times of the fetches' },
  { api: 'DescribeQuorum', path: '*.lastCaughtUpTimestamp', reason: 'wall-clock times of the fetches' },
  {
    api: 'ApiVersions',
    path: 'apiKeys',
    reason: 'the served ranges are compared key by key in the "not yet served" list of docs/protocol.md',
  },
];

/** Whether an entry covers `path` of a response of `api`. */
export function allowed(entries: readonly AllowEntry[], api: string, path: string): boolean {
  const field = path.slice(path.lastIndexOf('.') + 1);
  return entries.some(
    (e) =>
      (e.api === '*' || e.api === api) &&
      ((e.path.startsWith('*.') && field === e.path.slice(2)) ||
        path === e.path ||
        path.startsWith(`${e.path}.`) ||
        path.startsWith(`${e.path}[]`)),
  );
}

/**
 * Differences that stay in the table, each with its reason: a behaviour
 * Samsa has on purpose, or a gap not closed yet. A difference of a case that
 * is not listed here fails the test even when the table is regenerated.
 */
export interface KnownDifference {
  api: string;
  /** The case, or '*' for every case of the API. */
  caseName: string;
  reason: string;
}

const TOPIC_CONFIGS =
  'Samsa has no tiered storage: remote.log.copy.disable and remote.log.delete.on.disable are not described; the reference Kafka (ELR on) holds min.insync.replicas as a cluster default (source DYNAMIC_DEFAULT_BROKER_CONFIG), Samsa as its default';

export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    api: 'ApiVersions',
    caseName: '*',
    reason:
      'Samsa has one feature flag, transaction.version (finalized at 2), and not metadata.version, group.version and the others: clients choose by API versions',
  },
  { api: 'CreateTopics', caseName: '*', reason: TOPIC_CONFIGS },
  { api: 'DescribeConfigs', caseName: 'kafkajs/DescribeConfigs-v2.bin', reason: TOPIC_CONFIGS },
  {
    api: 'ConsumerGroupHeartbeat',
    caseName: '*',
    reason:
      "Kafka 4.3 gives a new group's first member epoch 2, Samsa epoch 1: clients echo epochs, they do not compare them",
  },
  { api: 'ConsumerGroupDescribe', caseName: '*', reason: 'the group and member epochs of the heartbeat row above' },
  {
    api: 'DescribeQuorum',
    caseName: '*',
    reason:
      "the reference Kafka's controller has a CONTROLLER listener; a single Samsa node is a quorum of one voter without network (controller.quorum.voters empty), so `nodes` lists no endpoint",
  },
  {
    api: 'Produce',
    caseName: 'old message format',
    reason:
      'Kafka 4 advertises Produce v0–v2 (for librdkafka) but closes the connection on them; Samsa answers UNSUPPORTED_FOR_MESSAGE_FORMAT',
  },
];

export function knownDifference(api: string, caseName: string): KnownDifference | undefined {
  return KNOWN_DIFFERENCES.find((d) => d.api === api && (d.caseName === caseName || d.caseName === '*'));
}
