// `samsa cluster info` against a fake broker (a real SocketServer + Dispatcher with canned answers): brokers live and
// fenced from DescribeCluster v2, the quorum from DescribeQuorum (leader, epoch, high watermark, lag, last fetch,
// CONTROLLER endpoints), a retried election, a broker without DescribeQuorum, and the under-replicated and offline
// partitions; `samsa topic describe` of a replicated topic (leader, epoch, replicas, ISR, offline).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { runCli } from '../../../src/cli/main.ts';
import { Dispatcher } from '../../../src/server/dispatcher.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import type {
  DescribeQuorumResponseInput,
  MetadataResponseTopicInput,
} from '../../../src/protocol/generated/messages.ts';
import { formatClusterInfo, type ClusterInfo } from '../../../src/cli/cluster.ts';

const CLUSTER_ID = 'ngEtWdfqKwzNyx_bEHyQzg';

interface Fake {
  quorum?: () => DescribeQuorumResponseInput;
  describeClusterV2?: boolean;
  /** Metadata's topics (default: `orders`, 3 partitions on broker 1). */
  topics?: MetadataResponseTopicInput[];
}

const ZERO_ID = '00000000-0000-0000-0000-000000000000';

const partitionOf = (i: number, leaderId: number, leaderEpoch: number, replicaNodes: number[], isrNodes: number[]) => ({
  errorCode: leaderId < 0 ? ErrorCode.LEADER_NOT_AVAILABLE : 0,
  partitionIndex: i,
  leaderId,
  leaderEpoch,
  replicaNodes,
  isrNodes,
  offlineReplicas: [],
});

/** A replicated topic and __consumer_offsets, after broker 3 died: some partitions under-replicated, one offline. */
const replicatedTopics: MetadataResponseTopicInput[] = [
  {
    errorCode: 0,
    name: 'payments',
    topicId: ZERO_ID,
    isInternal: false,
    partitions: [
      partitionOf(0, 1, 4, [1, 2, 3], [1, 2, 3]),
      partitionOf(1, 2, 6, [2, 3, 1], [2, 1]),
      partitionOf(2, -1, 3, [3], [3]),
    ],
  },
  {
    errorCode: 0,
    name: '__consumer_offsets',
    topicId: ZERO_ID,
    isInternal: true,
    partitions: [partitionOf(0, 1, 2, [3, 1, 2], [1, 2]), partitionOf(1, 2, 0, [2, 1, 3], [2, 1, 3])],
  },
];

async function withFakeBroker(fake: Fake, fn: (bootstrap: string) => Promise<void>): Promise<void> {
  const d = new Dispatcher();
  let port = 0;
  d.register('ApiVersions', {
    handler: () => ({ errorCode: 0, apiKeys: d.supportedApis(), throttleTimeMs: 0 }),
  });
  d.register('Metadata', {
    handler: (req) => ({
      throttleTimeMs: 0,
      clusterId: CLUSTER_ID,
      controllerId: 2,
      brokers: [
        { nodeId: 1, host: '127.0.0.1', port, rack: null },
        { nodeId: 2, host: '127.0.0.1', port: port + 1, rack: 'r2' },
      ],
      topics: (
        fake.topics ?? [
          {
            errorCode: 0,
            name: 'orders',
            topicId: ZERO_ID,
            isInternal: false,
            partitions: [0, 1, 2].map((i) => partitionOf(i, 1, 0, [1], [1])),
          },
        ]
      ).filter((t) => req.topics === null || req.topics.some((x) => x.name === t.name)),
    }),
  });
  d.register('DescribeConfigs', {
    handler: (req) => ({
      throttleTimeMs: 0,
      results: req.resources.map((r) => ({
        errorCode: 0,
        errorMessage: null,
        resourceType: r.resourceType,
        resourceName: r.resourceName,
        configs: [],
      })),
    }),
  });
  d.register('DescribeCluster', {
    maxVersion: fake.describeClusterV2 === false ? 1 : 2,
    handler: (req) => ({
      throttleTimeMs: 0,
      errorCode: 0,
      errorMessage: null,
      endpointType: 1,
      clusterId: CLUSTER_ID,
      controllerId: 2,
      brokers: [
        { brokerId: 1, host: '127.0.0.1', port, rack: null, isFenced: false },
        { brokerId: 2, host: '127.0.0.1', port: port + 1, rack: 'r2', isFenced: false },
        ...(req.includeFencedBrokers
          ? [{ brokerId: 3, host: '127.0.0.1', port: port + 2, rack: null, isFenced: true }]
          : []),
      ],
      clusterAuthorizedOperations: -2147483648,
    }),
  });
  if (fake.quorum) {
    const quorum = fake.quorum;
    d.register('DescribeQuorum', { handler: () => quorum() });
  }
  const s = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1 << 20,
      idleTimeoutMs: 0,
      maxInFlightPerConnection: 4,
      logger: pino({ level: 'silent' }),
    },
    (frame, conn) => d.handle(frame, conn),
  );
  port = (await s.listen()).port;
  s.open();
  try {
    await fn(`127.0.0.1:${port}`);
  } finally {
    await s.close(100);
  }
}

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

const NOW = Date.now();
const quorumAnswer = (): DescribeQuorumResponseInput => ({
  errorCode: 0,
  errorMessage: null,
  topics: [
    {
      topicName: '__cluster_metadata',
      partitions: [
        {
          partitionIndex: 0,
          errorCode: 0,
          errorMessage: null,
          leaderId: 2,
          leaderEpoch: 7,
          highWatermark: 120n,
          currentVoters: [
            { replicaId: 2, logEndOffset: 125n, lastFetchTimestamp: BigInt(NOW), lastCaughtUpTimestamp: BigInt(NOW) },
            {
              replicaId: 1,
              logEndOffset: 125n,
              lastFetchTimestamp: BigInt(NOW - 40),
              lastCaughtUpTimestamp: BigInt(NOW - 40),
            },
            { replicaId: 3, logEndOffset: 100n, lastFetchTimestamp: BigInt(NOW - 5000), lastCaughtUpTimestamp: -1n },
          ],
          observers: [
            { replicaId: 4, logEndOffset: 118n, lastFetchTimestamp: BigInt(NOW - 10), lastCaughtUpTimestamp: -1n },
          ],
        },
      ],
    },
  ],
  nodes: [1, 2, 3].map((id) => ({
    nodeId: id,
    listeners: [{ name: 'CONTROLLER', host: '127.0.0.1', port: 19091 + id }],
  })),
});

test('cluster info --json: brokers live and fenced, the quorum with lags, the metadata offset', async () => {
  await withFakeBroker({ quorum: quorumAnswer }, async (bootstrap) => {
    const r = await run(['cluster', 'info', '--json', '-b', bootstrap]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out) as ClusterInfo;
    assert.equal(info.clusterId, CLUSTER_ID);
    assert.equal(info.controllerId, 2);
    assert.deepEqual(
      info.brokers.map((b) => [b.nodeId, b.rack, b.fenced]),
      [
        [1, null, false],
        [2, 'r2', false],
        [3, null, true],
      ],
    );
    assert.equal(info.topics, 1);
    assert.equal(info.partitions, 3);
    assert.equal(info.metadataOffset, 119);
    assert.equal(info.quorumError, null);
    const q = info.quorum!;
    assert.deepEqual([q.leaderId, q.leaderEpoch, q.highWatermark], [2, 7, 120]);
    assert.deepEqual(
      q.voters.map((v) => [v.nodeId, v.logEndOffset, v.lag, v.endpoints]),
      [
        [1, 125, 0, ['CONTROLLER://127.0.0.1:19092']],
        [2, 125, 0, ['CONTROLLER://127.0.0.1:19093']],
        [3, 100, 25, ['CONTROLLER://127.0.0.1:19094']],
      ],
    );
    assert.deepEqual(
      q.observers.map((v) => [v.nodeId, v.logEndOffset, v.lag, v.lastFetchTimestamp]),
      [[4, 118, 7, NOW - 10]],
    );
  });
});

test('cluster info: the human table', async () => {
  await withFakeBroker({ quorum: quorumAnswer }, async (bootstrap) => {
    const r = await run(['cluster', 'info', '-b', bootstrap]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      new RegExp(`^Cluster id: ${CLUSTER_ID}\nController: 2\nMetadata offset: 119\nTopics: 1 \\(3 partitions\\)\n`),
    );
    assert.match(r.out, /\n\s*3\s+127\.0\.0\.1\s+\d+\s+-\s+fenced\n/);
    assert.match(r.out, /\n\s*2\s+127\.0\.0\.1\s+\d+\s+r2\s+live\n/);
    assert.match(r.out, /Quorum: leader 2, epoch 7, high watermark 120\n/);
    assert.match(r.out, /NODE\s+ROLE\s+LOG END OFFSET\s+LAG\s+LAST FETCH\s+LAST CAUGHT UP\s+ENDPOINT\n/);
    assert.match(r.out, /\n\s*2\s+leader\s+125\s+0\s+-\s+-\s+CONTROLLER:\/\/127\.0\.0\.1:19093\n/);
    assert.match(r.out, /\n\s*3\s+voter\s+100\s+25\s+\d+ ms ago\s+-\s+CONTROLLER:\/\/127\.0\.0\.1:19094\n/);
    assert.match(r.out, /\n\s*4\s+observer\s+118\s+7\s+\d+ ms ago\s+-\s+-\n/);
  });
});

test('cluster info: an election under way is retried; a broker without DescribeQuorum still shows the rest', async () => {
  let calls = 0;
  const electing = (): DescribeQuorumResponseInput => {
    calls++;
    if (calls < 3)
      return {
        errorCode: 0,
        topics: [
          {
            topicName: '__cluster_metadata',
            partitions: [
              {
                partitionIndex: 0,
                errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
                leaderId: -1,
                leaderEpoch: 7,
                highWatermark: -1n,
                currentVoters: [],
                observers: [],
              },
            ],
          },
        ],
        nodes: [],
      };
    return quorumAnswer();
  };
  await withFakeBroker({ quorum: electing }, async (bootstrap) => {
    const r = await run(['cluster', 'info', '--json', '-b', bootstrap]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).quorum.leaderId, 2);
    assert.equal(calls, 3);
  });
  await withFakeBroker({ describeClusterV2: false }, async (bootstrap) => {
    const r = await run(['cluster', 'info', '--json', '-b', bootstrap]);
    assert.equal(r.code, 0, r.err);
    const info = JSON.parse(r.out) as ClusterInfo;
    assert.equal(info.quorum, null);
    assert.match(info.quorumError!, /does not serve DescribeQuorum/);
    // from Metadata: the live brokers only, with no fenced flag to report
    assert.deepEqual(
      info.brokers.map((b) => [b.nodeId, b.fenced]),
      [
        [1, null],
        [2, null],
      ],
    );
    const t = await run(['cluster', 'info', '-b', bootstrap]);
    assert.match(t.out, /Quorum: not available: the broker at 127\.0\.0\.1:\d+ does not serve DescribeQuorum\n$/);
  });
});

test('formatClusterInfo: no active controller', () => {
  const text = formatClusterInfo({
    clusterId: null,
    controllerId: -1,
    brokers: [],
    topics: 0,
    partitions: 0,
    quorum: null,
    quorumError: 'DescribeQuorum: NOT_LEADER_OR_FOLLOWER',
    metadataOffset: null,
    underReplicatedPartitions: [],
    offlinePartitions: [],
  });
  assert.match(text, /^Cluster id: -\nController: none \(no active controller\)\nMetadata offset: -\n/);
  assert.match(text, /Quorum: not available: DescribeQuorum: NOT_LEADER_OR_FOLLOWER\n$/);
});

test('cluster info lists the under-replicated partitions (a leader, ISR smaller than replicas) and the offline ones (no leader), internal topics included', async () => {
  await withFakeBroker({ quorum: quorumAnswer, topics: replicatedTopics }, async (bootstrap) => {
    const j = await run(['cluster', 'info', '--json', '-b', bootstrap]);
    assert.equal(j.code, 0, j.err);
    const info = JSON.parse(j.out) as ClusterInfo;
    assert.deepEqual(info.underReplicatedPartitions, [
      { topic: '__consumer_offsets', partition: 0, leader: 1, leaderEpoch: 2, replicas: [3, 1, 2], isr: [1, 2] },
      { topic: 'payments', partition: 1, leader: 2, leaderEpoch: 6, replicas: [2, 3, 1], isr: [2, 1] },
    ]);
    assert.deepEqual(info.offlinePartitions, [
      { topic: 'payments', partition: 2, leader: -1, leaderEpoch: 3, replicas: [3], isr: [3] },
    ]);
    assert.equal(info.topics, 1, 'internal topics are not counted as topics');

    const t = await run(['cluster', 'info', '-b', bootstrap]);
    assert.equal(t.code, 0, t.err);
    assert.match(
      t.out,
      /\nUnder-replicated partitions: 2\nTOPIC\s+PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\n__consumer_offsets\s+0\s+1\s+2\s+3,1,2\s+1,2\npayments\s+1\s+2\s+6\s+2,3,1\s+2,1\n/,
    );
    assert.match(
      t.out,
      /\nOffline partitions: 1\nTOPIC\s+PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\npayments\s+2\s+none\s+3\s+3\s+3\n/,
    );
  });
  await withFakeBroker({ quorum: quorumAnswer }, async (bootstrap) => {
    const t = await run(['cluster', 'info', '-b', bootstrap]);
    assert.match(t.out, /\nUnder-replicated partitions: none\nOffline partitions: none\n/);
    const info = JSON.parse((await run(['cluster', 'info', '--json', '-b', bootstrap])).out) as ClusterInfo;
    assert.deepEqual([info.underReplicatedPartitions, info.offlinePartitions], [[], []]);
  });
});

test('topic describe: leader, leader epoch, replicas and ISR of each partition; offline (no leader) and under-replicated ones marked', async () => {
  await withFakeBroker({ topics: replicatedTopics }, async (bootstrap) => {
    const t = await run(['topic', 'describe', 'payments', '-b', bootstrap]);
    assert.equal(t.code, 0, t.err);
    const lines = t.out.split('\n');
    assert.match(lines[0], /^Topic: payments\s+TopicId: \S+\s+Partitions: 3$/);
    assert.match(lines[1], /^PARTITION\s+LEADER\s+EPOCH\s+REPLICAS\s+ISR\s+STATE$/);
    assert.match(lines[2], /^\s*0\s+1\s+4\s+1,2,3\s+1,2,3\s+-$/);
    assert.match(lines[3], /^\s*1\s+2\s+6\s+2,3,1\s+2,1\s+under-replicated$/);
    assert.match(lines[4], /^\s*2\s+none\s+3\s+3\s+3\s+offline$/);

    const j = await run(['topic', 'describe', 'payments', '--json', '-b', bootstrap]);
    assert.equal(j.code, 0, j.err);
    assert.deepEqual(JSON.parse(j.out)[0].partitions, [
      {
        partition: 0,
        leader: 1,
        leaderEpoch: 4,
        replicas: [1, 2, 3],
        isr: [1, 2, 3],
        offline: false,
        underReplicated: false,
      },
      {
        partition: 1,
        leader: 2,
        leaderEpoch: 6,
        replicas: [2, 3, 1],
        isr: [2, 1],
        offline: false,
        underReplicated: true,
      },
      { partition: 2, leader: -1, leaderEpoch: 3, replicas: [3], isr: [3], offline: true, underReplicated: false },
    ]);
  });
});
