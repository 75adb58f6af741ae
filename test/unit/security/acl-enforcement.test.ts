/**
 * The ACLs enforced by an in-process broker, row by row of the table in
 * src/security/acl-table.ts: for each API, a principal the ACLs allow and one
 * they refuse, with the error Kafka answers. ACLs are managed with `samsa acl`
 * (in-process) as a super user.
 *
 * The principals are set through a test-only path: the test wraps the
 * dispatcher and gives each connection the principal its client id names
 * (`as:alice` is User:alice); interop tests authenticate with SASL instead.
 * Also: the table has a row for every API the broker serves, and
 * docs/security.md shows the table as the code has it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { runCli } from '../../../src/cli/main.ts';
import { Connection } from '../../../src/client/connection.ts';
import { loadBrokerConfig } from '../../../src/config/broker-config.ts';
import { apiByKey } from '../../../src/protocol/apis.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';
import { ACL_TABLE, renderAclTable } from '../../../src/security/acl-table.ts';
import { ANONYMOUS, userPrincipal } from '../../../src/security/principal.ts';
import { type RunningBroker, startBroker } from '../../../src/server/index.ts';

let b: RunningBroker;
let dir: string;
const conns: Connection[] = [];

/** The client id of a request frame (header v1+: api key, version, correlation id, client id). */
function clientIdOf(frame: Buffer): string | null {
  if (frame.length < 10) return null;
  const len = frame.readInt16BE(8);
  return len < 0 || frame.length < 10 + len ? null : frame.toString('utf8', 10, 10 + len);
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli([...args, '-b', `${b.host}:${b.port}`], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    stdin: Readable.from(['']),
  });
  return { code, out, err };
}

async function as(user: string): Promise<Connection> {
  const c = new Connection({ host: b.host, port: b.port, clientId: `as:${user}`, requestTimeoutMs: 60_000 });
  await c.connect();
  conns.push(c);
  return c;
}

function produceBody(topic: string, extra: { transactionalId?: string } = {}) {
  return {
    ...extra,
    acks: 1,
    timeoutMs: 30_000,
    topicData: [
      {
        name: topic,
        partitionData: [
          { index: 0, records: encodeBatch({ baseTimestamp: Date.now(), records: [{ value: Buffer.from('v') }] }) },
        ],
      },
    ],
  };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-acl-'));
  const config = loadBrokerConfig({
    overrides: {
      listeners: 'PLAINTEXT://127.0.0.1:0',
      'log.dirs': dir,
      'num.partitions': '1',
      'offsets.topic.num.partitions': '1',
      'auto.create.topics.enable': 'true',
      'group.initial.rebalance.delay.ms': '0',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin',
    },
  });
  b = await startBroker({ config, logger: pino({ level: 'silent' }) });
  // test-only: the principal comes from the client id (the CLI is the super user)
  const d = b.broker.dispatcher;
  const handle = d.handle.bind(d);
  d.handle = (frame, conn) => {
    const id = clientIdOf(frame);
    conn.principal =
      id === 'samsa-cli' ? userPrincipal('admin') : id?.startsWith('as:') ? userPrincipal(id.slice(3)) : ANONYMOUS;
    return handle(frame, conn);
  };
  const admin = await as('admin');
  const r = await admin.send('CreateTopics', {
    topics: ['orders', 'secret', 'shared'].map((name) => ({
      name,
      numPartitions: 1,
      replicationFactor: 1,
      assignments: [],
      configs: [],
    })),
    timeoutMs: 30_000,
    validateOnly: false,
  });
  assert.deepEqual(
    r.topics.map((t) => t.errorCode),
    [0, 0, 0],
  );
  // alice: produce and consume orders in group g1, create topics prefixed alice-, a transactional id
  for (const args of [
    ['--allow-principal', 'User:alice', '--producer', '--consumer', '--topic', 'orders', '--group', 'g1'],
    [
      '--allow-principal',
      'User:alice',
      '--operation',
      'Create',
      '--topic',
      'alice-',
      '--resource-pattern-type',
      'prefixed',
    ],
    ['--allow-principal', 'User:alice', '--operation', 'Write', '--transactional-id', 'tx-alice'],
    // carol: everything on every topic, except writing to orders (Deny wins)
    ['--allow-principal', 'User:carol', '--operation', 'All', '--topic', '*'],
    ['--deny-principal', 'User:carol', '--operation', 'Write', '--topic', 'orders'],
    // dave may describe dave-* topics, not create them
    [
      '--allow-principal',
      'User:dave',
      '--operation',
      'Describe',
      '--topic',
      'dave-',
      '--resource-pattern-type',
      'prefixed',
    ],
    // bob may only describe groups (and so find their coordinator)
    ['--allow-principal', 'User:bob', '--operation', 'Describe', '--group', 'g1'],
  ]) {
    const res = await cli('acl', 'add', ...args);
    assert.equal(res.code, 0, res.err);
  }
});

after(async () => {
  for (const c of conns) c.close();
  await b?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ACL enforcement', () => {
  test('samsa acl list shows what was added; DescribeAcls needs Describe on the cluster', async () => {
    const r = await cli('acl', 'list', '--principal', 'User:carol', '--json');
    assert.equal(r.code, 0, r.err);
    const rows = JSON.parse(r.out);
    assert.deepEqual(
      rows.map((x: { operation: string; permission: string; resourceName: string }) => [
        x.resourceName,
        x.operation,
        x.permission,
      ]),
      [
        ['*', 'All', 'Allow'],
        ['orders', 'Write', 'Deny'],
      ],
    );
    const alice = await as('alice');
    const d = await alice.send('DescribeAcls', {
      resourceTypeFilter: 1,
      resourceNameFilter: null,
      patternTypeFilter: 1,
      principalFilter: null,
      hostFilter: null,
      operation: 1,
      permissionType: 1,
    });
    assert.equal(d.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const c = await alice.send('CreateAcls', {
      creations: [
        {
          resourceType: 2,
          resourceName: 'secret',
          resourcePatternType: 3,
          principal: 'User:alice',
          host: '*',
          operation: 2,
          permissionType: 3,
        },
      ],
    });
    assert.equal(c.results[0].errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  });

  test('Metadata: all topics leaves out what the principal may not describe; a named one is refused', async () => {
    const alice = await as('alice');
    const all = await alice.send('Metadata', { topics: null, allowAutoTopicCreation: false });
    assert.deepEqual(
      all.topics.map((t) => t.name),
      ['orders'],
    );
    const named = await alice.send('Metadata', {
      topics: [{ name: 'secret' }, { name: 'orders' }],
      allowAutoTopicCreation: false,
    });
    assert.deepEqual(
      named.topics.map((t) => [t.name, t.errorCode]),
      [
        ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        ['orders', ErrorCode.NONE],
      ],
    );
    // auto-creation needs Describe, then Create (on the cluster or the topic)
    const carol = await as('carol');
    const auto = await carol.send('Metadata', { topics: [{ name: 'carol-auto' }], allowAutoTopicCreation: true });
    assert.equal(auto.topics[0].errorCode, ErrorCode.NONE, 'carol has All on every topic');
    const dave = await as('dave');
    const noCreate = await dave.send('Metadata', { topics: [{ name: 'dave-auto' }], allowAutoTopicCreation: true });
    assert.equal(noCreate.topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Describe without Create');
    assert.equal(b.broker.image.topicsByName.has('dave-auto'), false);
    const bob = await as('bob');
    const refused = await bob.send('Metadata', { topics: [{ name: 'bob-auto' }], allowAutoTopicCreation: true });
    assert.equal(refused.topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test('Produce: Write on the topic; Deny wins over Allow; transactional: Write on the transactional id', async () => {
    const code = async (user: string, topic: string, extra = {}) =>
      (await (await as(user)).send('Produce', produceBody(topic, extra))).responses[0].partitionResponses[0].errorCode;
    assert.equal(await code('alice', 'orders'), ErrorCode.NONE);
    assert.equal(await code('alice', 'secret'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await code('bob', 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await code('carol', 'shared'), ErrorCode.NONE);
    assert.equal(await code('carol', 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Deny wins');
    assert.equal(await code('admin', 'secret'), ErrorCode.NONE, 'super user');
    assert.equal(
      await code('carol', 'shared', { transactionalId: 'tx-alice' }),
      ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    );
  });

  test('Fetch and ListOffsets: Read / Describe on the topic', async () => {
    const fetch = async (user: string, topic: string) => {
      const r = await (await as(user)).send('Fetch', {
        replicaId: -1,
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic,
            topicId: b.broker.image.topicsByName.get(topic)!.topicId,
            partitions: [{ partition: 0, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: 1 << 20 }],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      return r.responses[0].partitions[0].errorCode;
    };
    assert.equal(await fetch('alice', 'orders'), ErrorCode.NONE);
    assert.equal(await fetch('bob', 'orders'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const lo = async (user: string) =>
      (
        await (
          await as(user)
        ).send('ListOffsets', {
          replicaId: -1,
          isolationLevel: 0,
          topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -1 }] }],
        })
      ).topics[0].partitions[0].errorCode;
    assert.equal(await lo('alice'), ErrorCode.NONE);
    assert.equal(await lo('bob'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test('CreateTopics: Create on the cluster or the topic; DeleteTopics and CreatePartitions: Delete / Alter', async () => {
    const alice = await as('alice');
    const created = await alice.send('CreateTopics', {
      topics: ['alice-new', 'not-alices'].map((name) => ({
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      })),
      timeoutMs: 30_000,
      validateOnly: false,
    });
    assert.deepEqual(
      created.topics.map((t) => [t.name, t.errorCode]),
      [
        ['alice-new', ErrorCode.NONE],
        ['not-alices', ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
    );
    const del = await alice.send('DeleteTopics', {
      topicNames: ['alice-new'],
      topics: [{ name: 'alice-new', topicId: b.broker.image.topicsByName.get('alice-new')!.topicId }],
      timeoutMs: 30_000,
    });
    assert.equal((del.responses[0] as { errorCode: number }).errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const parts = await alice.send('CreatePartitions', {
      topics: [{ name: 'orders', count: 2, assignments: null }],
      timeoutMs: 30_000,
      validateOnly: true,
    });
    assert.equal(parts.results[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    const carol = await as('carol');
    const carolParts = await carol.send('CreatePartitions', {
      topics: [{ name: 'shared', count: 2, assignments: null }],
      timeoutMs: 30_000,
      validateOnly: true,
    });
    assert.equal(carolParts.results[0].errorCode, ErrorCode.NONE);
  });

  test('DescribeConfigs: on the topic, and on the cluster for broker configs', async () => {
    const carol = await as('carol');
    const r = await carol.send('DescribeConfigs', {
      resources: [
        { resourceType: 2, resourceName: 'shared', configurationKeys: null },
        { resourceType: 2, resourceName: 'orders', configurationKeys: null },
        { resourceType: 4, resourceName: String(b.broker.nodeId), configurationKeys: null },
      ],
    });
    assert.deepEqual(
      r.results.map((x) => x.errorCode),
      [ErrorCode.NONE, ErrorCode.NONE, ErrorCode.CLUSTER_AUTHORIZATION_FAILED],
    );
    const bob = await as('bob');
    const rb = await bob.send('DescribeConfigs', {
      resources: [{ resourceType: 2, resourceName: 'shared', configurationKeys: null }],
    });
    assert.equal(rb.results[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  });

  test('groups: FindCoordinator, JoinGroup, OffsetCommit, ListGroups, DeleteGroups', async () => {
    const find = async (user: string, key: string, keyType = 0) =>
      (await (await as(user)).send('FindCoordinator', { key, keyType, coordinatorKeys: [key] })).coordinators[0]
        .errorCode;
    assert.equal(await find('alice', 'g1'), ErrorCode.NONE);
    assert.equal(await find('bob', 'g1'), ErrorCode.NONE, 'Describe on the group');
    assert.equal(await find('bob', 'g2'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
    assert.equal(await find('bob', 'tx-alice', 1), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const join = async (user: string) =>
      (
        await (
          await as(user)
        ).send('JoinGroup', {
          groupId: 'g1',
          sessionTimeoutMs: 30_000,
          rebalanceTimeoutMs: 30_000,
          memberId: '',
          protocolType: 'consumer',
          protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
        })
      ).errorCode;
    assert.equal(await join('bob'), ErrorCode.GROUP_AUTHORIZATION_FAILED, 'Describe is not Read');
    const commit = async (user: string, topic: string) =>
      (
        await (
          await as(user)
        ).send('OffsetCommit', {
          groupId: 'g1',
          generationIdOrMemberEpoch: -1,
          memberId: '',
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, committedOffset: 1, committedMetadata: '' }] }],
        })
      ).topics[0].partitions[0].errorCode;
    assert.equal(await commit('alice', 'orders'), ErrorCode.NONE);
    assert.equal(await commit('alice', 'secret'), ErrorCode.TOPIC_AUTHORIZATION_FAILED);
    assert.equal(await commit('bob', 'orders'), ErrorCode.GROUP_AUTHORIZATION_FAILED);
    const list = async (user: string) =>
      (await (await as(user)).send('ListGroups', { statesFilter: [], typesFilter: [] })).groups.map((g) => g.groupId);
    assert.deepEqual(await list('bob'), ['g1']);
    assert.deepEqual(await list('carol'), [], 'no group ACL for carol');
    const delGroup = await (await as('alice')).send('DeleteGroups', { groupsNames: ['g1'] });
    assert.equal(delGroup.results[0].errorCode, ErrorCode.GROUP_AUTHORIZATION_FAILED);
  });

  test('InitProducerId: IdempotentWrite on the cluster or Write on some topic; Write on the transactional id', async () => {
    const init = async (user: string, transactionalId: string | null) =>
      (await (await as(user)).send('InitProducerId', { transactionalId, transactionTimeoutMs: 60_000 })).errorCode;
    assert.equal(await init('alice', null), ErrorCode.NONE);
    assert.equal(await init('bob', null), ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    assert.equal(await init('bob', 'tx-alice'), ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
  });

  test('cluster APIs: DescribeLogDirs, ElectLeaders, DescribeCluster authorized operations', async () => {
    const bob = await as('bob');
    const logDirs = await bob.send('DescribeLogDirs', { topics: null });
    assert.equal(logDirs.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const adminDirs = await (await as('admin')).send('DescribeLogDirs', { topics: null });
    assert.equal(adminDirs.errorCode, ErrorCode.NONE);
    const elect = await bob.send('ElectLeaders', {
      electionType: 0,
      topicPartitions: [{ topic: 'orders', partitions: [0] }],
      timeoutMs: 10_000,
    });
    assert.equal(elect.errorCode, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const dc = await bob.send('DescribeCluster', { includeClusterAuthorizedOperations: true });
    assert.equal(dc.clusterAuthorizedOperations, 0);
  });

  test("the other rows: a principal without the ACL is refused with the table's error", async () => {
    const bob = await as('bob');
    const T = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    const G = ErrorCode.GROUP_AUTHORIZATION_FAILED;
    const C = ErrorCode.CLUSTER_AUTHORIZATION_FAILED;
    const X = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    const got: Record<string, number> = {};
    got.DeleteRecords = (
      await bob.send('DeleteRecords', {
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, offset: 0 }] }],
        timeoutMs: 10_000,
      })
    ).topics[0].partitions[0].errorCode;
    got.OffsetForLeaderEpoch = (
      await bob.send('OffsetForLeaderEpoch', {
        replicaId: -1,
        topics: [{ topic: 'orders', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }],
      })
    ).topics[0].partitions[0].errorCode;
    got.DescribeProducers = (
      await bob.send('DescribeProducers', { topics: [{ name: 'orders', partitionIndexes: [0] }] })
    ).topics[0].partitions[0].errorCode;
    got.AlterConfigs = (
      await bob.send('AlterConfigs', {
        resources: [{ resourceType: 2, resourceName: 'orders', configs: [{ name: 'retention.ms', value: '1000' }] }],
        validateOnly: true,
      })
    ).responses[0].errorCode;
    got.IncrementalAlterConfigs = (
      await bob.send('IncrementalAlterConfigs', {
        resources: [
          {
            resourceType: 4,
            resourceName: '',
            configs: [{ name: 'log.cleaner.threads', configOperation: 0, value: '2' }],
          },
        ],
        validateOnly: true,
      })
    ).responses[0].errorCode;
    got.OffsetFetch = (
      await bob.send('OffsetFetch', { groups: [{ groupId: 'g2', topics: null }], requireStable: false })
    ).groups[0].errorCode;
    got.OffsetDelete = (
      await bob.send('OffsetDelete', {
        groupId: 'g1',
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0 }] }],
      })
    ).errorCode;
    got.SyncGroup = (
      await bob.send('SyncGroup', { groupId: 'g1', generationId: 1, memberId: 'm', assignments: [] })
    ).errorCode;
    got.Heartbeat = (await bob.send('Heartbeat', { groupId: 'g1', generationId: 1, memberId: 'm' })).errorCode;
    got.LeaveGroup = (
      await bob.send('LeaveGroup', { groupId: 'g1', members: [{ memberId: 'm', groupInstanceId: null }] })
    ).errorCode;
    got.DescribeGroups = (await bob.send('DescribeGroups', { groups: ['g2'] })).groups[0].errorCode;
    got.ConsumerGroupHeartbeat = (
      await bob.send('ConsumerGroupHeartbeat', {
        groupId: 'g1',
        memberId: 'm',
        memberEpoch: 0,
        rebalanceTimeoutMs: 30_000,
        subscribedTopicNames: ['orders'],
        topicPartitions: [],
      })
    ).errorCode;
    got.ConsumerGroupDescribe = (
      await bob.send('ConsumerGroupDescribe', { groupIds: ['g2'], includeAuthorizedOperations: false })
    ).groups[0].errorCode;
    got.AddPartitionsToTxn = (
      await bob.send('AddPartitionsToTxn', {
        transactions: [
          {
            transactionalId: 'tx-alice',
            producerId: 1,
            producerEpoch: 0,
            verifyOnly: true,
            topics: [{ name: 'orders', partitions: [0] }],
          },
        ],
      })
    ).errorCode;
    got.AddOffsetsToTxn = (
      await bob.send('AddOffsetsToTxn', { transactionalId: 'tx-alice', producerId: 1, producerEpoch: 0, groupId: 'g1' })
    ).errorCode;
    got.EndTxn = (
      await bob.send('EndTxn', { transactionalId: 'tx-alice', producerId: 1, producerEpoch: 0, committed: true })
    ).errorCode;
    got.TxnOffsetCommit = (
      await bob.send('TxnOffsetCommit', {
        transactionalId: 'tx-alice',
        groupId: 'g1',
        producerId: 1,
        producerEpoch: 0,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 0 }] }],
      })
    ).topics[0].partitions[0].errorCode;
    got.DescribeTransactions = (
      await bob.send('DescribeTransactions', { transactionalIds: ['tx-alice'] })
    ).transactionStates[0].errorCode;
    got.WriteTxnMarkers = (
      await bob.send('WriteTxnMarkers', {
        markers: [
          {
            producerId: 1,
            producerEpoch: 0,
            transactionResult: true,
            coordinatorEpoch: 0,
            topics: [{ name: 'orders', partitionIndexes: [0] }],
          },
        ],
      })
    ).markers[0].topics[0].partitions[0].errorCode;
    got.ListPartitionReassignments = (
      await bob.send('ListPartitionReassignments', { timeoutMs: 10_000, topics: null })
    ).errorCode;
    got.AlterPartitionReassignments = (
      await bob.send('AlterPartitionReassignments', {
        timeoutMs: 10_000,
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, replicas: null }] }],
      })
    ).errorCode;
    got.DescribeQuorum = (
      await bob.send('DescribeQuorum', {
        topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
      })
    ).errorCode;
    got.DeleteAcls = (
      await bob.send('DeleteAcls', {
        filters: [
          {
            resourceTypeFilter: 1,
            resourceNameFilter: null,
            patternTypeFilter: 1,
            principalFilter: null,
            hostFilter: null,
            operation: 1,
            permissionType: 1,
          },
        ],
      })
    ).filterResults[0].errorCode;
    got.DescribeUserScramCredentials = (await bob.send('DescribeUserScramCredentials', { users: null })).errorCode;
    got.AlterUserScramCredentials = (
      await bob.send('AlterUserScramCredentials', { deletions: [{ name: 'alice', mechanism: 1 }], upsertions: [] })
    ).results[0].errorCode;
    assert.deepEqual(got, {
      DeleteRecords: T,
      OffsetForLeaderEpoch: T,
      DescribeProducers: T,
      AlterConfigs: T,
      IncrementalAlterConfigs: C,
      OffsetFetch: G,
      OffsetDelete: G,
      SyncGroup: G,
      Heartbeat: G,
      LeaveGroup: G,
      DescribeGroups: G,
      ConsumerGroupHeartbeat: G,
      ConsumerGroupDescribe: G,
      AddPartitionsToTxn: C,
      AddOffsetsToTxn: X,
      EndTxn: X,
      TxnOffsetCommit: X,
      DescribeTransactions: X,
      WriteTxnMarkers: C,
      ListPartitionReassignments: C,
      AlterPartitionReassignments: C,
      DescribeQuorum: C,
      DeleteAcls: C,
      DescribeUserScramCredentials: C,
      AlterUserScramCredentials: C,
    });
    const listed = await bob.send('ListTransactions', { stateFilters: [], producerIdFilters: [] });
    assert.equal(listed.errorCode, ErrorCode.NONE);
    assert.deepEqual(listed.transactionStates, []);
    // and the super user is let through each of these checks (a few of them)
    const admin = await as('admin');
    const ok = await admin.send('DescribeProducers', { topics: [{ name: 'orders', partitionIndexes: [0] }] });
    assert.equal(ok.topics[0].partitions[0].errorCode, ErrorCode.NONE);
    const quorum = await admin.send('DescribeQuorum', {
      topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
    });
    assert.equal(quorum.errorCode, ErrorCode.NONE);
    const scram = await admin.send('DescribeUserScramCredentials', { users: null });
    assert.equal(scram.errorCode, ErrorCode.NONE);
  });

  test('samsa acl remove takes the ACLs away (--force)', async () => {
    const r = await cli(
      'acl',
      'remove',
      '--deny-principal',
      'User:carol',
      '--operation',
      'Write',
      '--topic',
      'orders',
      '--force',
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /removed 1 ACL/);
    const carol = await as('carol');
    const res = await carol.send('Produce', produceBody('orders'));
    assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  });
});

describe('the ACL table', () => {
  test('has a row for every API the broker serves', () => {
    const served = b.broker.dispatcher.supportedApis().map((a) => apiByKey(a.apiKey)!.name);
    const rows = new Set(ACL_TABLE.map((r) => r.api));
    assert.deepEqual(
      served.filter((n) => !rows.has(n)),
      [],
    );
  });

  test('docs/security.md shows it as the code has it', () => {
    const doc = fs.readFileSync(path.join(import.meta.dirname, '../../../docs/security.md'), 'utf8');
    const m = /<!-- acl-table:start -->\n([\s\S]*?)<!-- acl-table:end -->/.exec(doc);
    assert.ok(m, 'docs/security.md has the table between its markers');
    assert.equal(m[1], renderAclTable());
  });
});
