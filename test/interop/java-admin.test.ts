/**
 * The Java Admin client (Apache Kafka 4.3.1), method by method: one program
 * (test/interop/java/admin/AdminScenarios.java) runs the same scenarios
 * against the reference Kafka and against Samsa, and prints one outcome per
 * scenario (success with facts that do not depend on the broker, or the
 * exception class the client raised). Samsa's outcome must equal Kafka's,
 * except for the differences listed in DIFFERENT (also in
 * docs/compatibility.md, "Java Admin client"), where Samsa's own outcome is
 * asserted and Kafka's is checked to still differ.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { compileJava, runJava, startReferenceKafka, type ReferenceKafka } from '../helpers/kafka-ref.ts';

type Outcome = Record<string, unknown>;

/** Every scenario the program runs, in its order. */
const SCENARIOS = [
  'describeCluster',
  'createTopics',
  'createTopics.defaults',
  'createTopics.validateOnly',
  'createTopics.replicationFactorAboveBrokers',
  'createTopics.exists',
  'createTopics.invalidConfig',
  'createTopics.invalidName',
  'listTopics',
  'describeTopics',
  'describeTopics.unknown',
  'describeTopics.unknownId',
  'createPartitions',
  'createPartitions.validateOnly',
  'createPartitions.decrease',
  'createPartitions.unknownTopic',
  'describeConfigs.topic',
  'describeConfigs.topic.synonyms',
  'describeConfigs.unknownTopic',
  'describeConfigs.broker',
  'incrementalAlterConfigs.topic',
  'incrementalAlterConfigs.topic.validateOnly',
  'incrementalAlterConfigs.topic.unknownConfig',
  'incrementalAlterConfigs.topic.invalidValue',
  'incrementalAlterConfigs.broker.dynamic',
  'incrementalAlterConfigs.clusterDefault.dynamic',
  'incrementalAlterConfigs.broker.readOnly',
  'produce',
  'listOffsets',
  'listOffsets.moreSpecs',
  'deleteRecords',
  'deleteRecords.beyondHighWatermark',
  'consumer.joinAndCommit',
  'listConsumerGroups',
  'listGroups',
  'describeConsumerGroups',
  'describeConsumerGroups.unknown',
  'listConsumerGroupOffsets',
  'alterConsumerGroupOffsets.activeGroup',
  'deleteConsumerGroups.nonEmpty',
  'deleteConsumerGroupOffsets.subscribedTopic',
  'removeMembersFromConsumerGroup',
  'removeMembersFromConsumerGroup.unknownMember',
  'consumerProtocol.join',
  'consumerProtocol.listGroups',
  'consumerProtocol.describeConsumerGroups',
  'consumerProtocol.deleteConsumerGroups.nonEmpty',
  'alterConsumerGroupOffsets',
  'deleteConsumerGroupOffsets',
  'deleteConsumerGroups',
  'deleteConsumerGroups.unknown',
  'describeLogDirs',
  'describeReplicaLogDirs',
  'describeCluster.authorizedOperations',
  'listConfigResources',
  'describeFeatures',
  'electLeaders',
  'describeProducers',
  'listTransactions',
  'describeTransactions',
  'describeAcls',
  'createAcls',
  'deleteAcls',
  'describeUserScramCredentials',
  'describeClientQuotas',
  'describeMetadataQuorum',
  'listPartitionReassignments',
  'deleteTopics',
  'deleteTopics.byId',
  'deleteTopics.unknownId',
  'deleteTopics.unknown',
];

const unsupported = { ok: false, error: 'UnsupportedVersionException' };

/** Where Samsa differs from Kafka on purpose or does not serve the API yet: Samsa's outcome (without the message). */
const DIFFERENT: Record<string, Outcome> = {
  // Kafka's storage format sets min.insync.replicas=1 as a cluster-wide dynamic config; Samsa has it as the static default
  'describeConfigs.topic': {
    'retention.ms': { value: '123456', source: 'DYNAMIC_TOPIC_CONFIG', readOnly: false },
    'cleanup.policy': { value: 'delete', source: 'DYNAMIC_TOPIC_CONFIG', readOnly: false },
    'segment.bytes': { value: '1073741824', source: 'DEFAULT_CONFIG', readOnly: false },
    'min.insync.replicas': { value: '1', source: 'DEFAULT_CONFIG', readOnly: false },
    ok: true,
  },
  // Samsa also lists the broker synonym log.retention.hours (default 168); Kafka lists no broker synonym
  // of retention.ms here (its first broker synonym, log.retention.ms, has no value)
  'describeConfigs.topic.synonyms': {
    'retention.ms': ['retention.ms=123456:DYNAMIC_TOPIC_CONFIG', 'log.retention.hours=168:DEFAULT_CONFIG'],
    'segment.bytes': ['log.segment.bytes=1073741824:DEFAULT_CONFIG'],
    ok: true,
  },
  // Samsa has no authorizer and answers "not provided"; Kafka without one answers every cluster operation
  'describeCluster.authorizedOperations': { operations: null, ok: true },
  listConfigResources: unsupported,
  // Samsa's only feature is transaction.version (finalized at 2: transactions v2); Kafka has metadata.version and others
  describeFeatures: { finalized: ['transaction.version'], supported: ['transaction.version'], ok: true },
  // after deleteRecords up to the high watermark Samsa's producer state forgets the producer whose batches
  // all went (src/storage/producer-state.ts truncateHead); Kafka keeps it
  describeProducers: { producers: 0, ok: true },
  describeAcls: unsupported,
  createAcls: unsupported,
  deleteAcls: unsupported,
};

function outcomes(stdout: string): Map<string, Outcome> {
  const m = new Map<string, Outcome>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const { scenario, message, ...rest } = JSON.parse(line) as Outcome;
    m.set(scenario as string, rest);
  }
  return m;
}

describe('Java Admin client against Kafka and Samsa', () => {
  let ref: ReferenceKafka | undefined;
  let samsa: TestBroker | undefined;
  let kafkaOut: Map<string, Outcome>;
  let samsaOut: Map<string, Outcome>;

  before(async () => {
    const [cp, r, s] = await Promise.all([compileJava('admin'), startReferenceKafka(), startTestBroker()]);
    ref = r;
    samsa = s;
    const [k, m] = await Promise.all([
      runJava(cp, 'AdminScenarios', [ref.bootstrapServers, 'ka']),
      runJava(cp, 'AdminScenarios', [samsa.bootstrapServers, 'sa']),
    ]);
    assert.equal(k.code, 0, `against Kafka:\n${k.stdout}\n${k.stderr}`);
    assert.equal(m.code, 0, `against Samsa:\n${m.stdout}\n${m.stderr}`);
    kafkaOut = outcomes(k.stdout);
    samsaOut = outcomes(m.stdout);
  });
  after(async () => {
    await Promise.all([ref?.stop(), samsa?.close()]);
  });

  test('the program ran every scenario against both brokers', () => {
    assert.deepEqual([...kafkaOut.keys()], SCENARIOS);
    assert.deepEqual([...samsaOut.keys()], SCENARIOS);
  });

  for (const name of SCENARIOS) {
    test(name, () => {
      const k = kafkaOut.get(name);
      const s = samsaOut.get(name);
      if (name in DIFFERENT) {
        assert.deepEqual(s, DIFFERENT[name], `Samsa's outcome (Kafka's: ${JSON.stringify(k)})`);
        assert.notDeepEqual(
          k,
          s,
          'Kafka now gives the same outcome: drop the entry from DIFFERENT and docs/compatibility.md',
        );
      } else {
        assert.deepEqual(s, k, 'Samsa gives the same outcome as Kafka');
      }
    });
  }
});
