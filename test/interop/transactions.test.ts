/**
 * Transactions through the transaction coordinator, with real clients and
 * on the wire:
 *
 *  - confluent-kafka-python (librdkafka): init_transactions, a transaction
 *    over 3 partitions of two topics with send_offsets_to_transaction,
 *    committed; a second one aborted; a third committed. A read_committed
 *    consumer sees exactly the committed records, a read_uncommitted one
 *    sees all; the group's offset is the one the transaction committed;
 *  - kafkajs: a transaction with sendOffsets committed, another aborted;
 *    kcat at read_committed reads only the committed records, and the
 *    group's committed offset is the first transaction's;
 *  - on the wire (Samsa's client): FindCoordinator key type 1, fencing (a
 *    second InitProducerId for the same transactional id: the first
 *    producer's EndTxn gets PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH on
 *    EndTxn v1), an older producer's open transaction aborted by the new
 *    one, DescribeTransactions and ListTransactions, and
 *    INVALID_TRANSACTION_TIMEOUT above transaction.max.timeout.ms.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { eventually, startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';
import { runPy } from '../helpers/proc.ts';
import { runCli } from '../../src/cli/main.ts';

let broker: TestBroker;
let client: KafkaClient;

before(async () => {
  broker = await startTestBroker({
    overrides: {
      'num.partitions': '1',
      'auto.create.topics.enable': 'true',
      'transaction.state.log.num.partitions': '5',
      'offsets.topic.num.partitions': '5',
      'group.initial.rebalance.delay.ms': '0',
      'transaction.max.timeout.ms': '120000',
    },
  });
  client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'txn-test' });
});

after(async () => {
  await client?.close();
  await broker?.close();
});

describe('confluent-kafka-python', () => {
  test('a committed transaction with offsets, an aborted one, a committed one: read_committed sees exactly the committed records', async () => {
    const tag = uniqueTopic('ck');
    const r = await runPy(
      'ck_txn.py',
      [broker.bootstrapServers, `${tag}-in`, `${tag}-a`, `${tag}-b`, `${tag}-g`, `${tag}-tx`],
      { timeoutMs: 180_000 },
    );
    assert.deepEqual(r.steps, ['init', 'sent-offsets', 'committed', 'aborted', 'committed-again']);
    assert.equal(r.consumedInput, 10);
    const committed = [0, 1, 2, 3, 4, 5].map((i) => `committed-${i}`).concat('committed-last');
    assert.deepEqual(r.readCommitted, committed.sort());
    assert.deepEqual(r.readUncommitted, [...committed, 'aborted-0', 'aborted-1', 'aborted-2', 'aborted-3'].sort());
    // the offsets sent with the first transaction are the group's once it committed
    assert.equal(r.groupOffset, 10);
  });
});

describe('kafkajs', () => {
  test('transaction with sendOffsets committed, another aborted: kcat read_committed sees the committed records only', async () => {
    const topic = uniqueTopic('kjs-txn');
    const source = uniqueTopic('kjs-src');
    const groupId = `${topic}-g`;
    const kafka = new Kafka({
      clientId: 'samsa-txn',
      brokers: [broker.bootstrapServers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }, { topic: source }], waitForLeaders: true });
    const producer = kafka.producer({ transactionalId: `${topic}-tx`, maxInFlightRequests: 1, idempotent: true });
    await producer.connect();
    try {
      const t1 = await producer.transaction();
      await t1.send({
        topic,
        messages: [
          { key: 'k0', value: 'committed-0', partition: 0 },
          { key: 'k1', value: 'committed-1', partition: 1 },
        ],
      });
      await t1.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: source, partitions: [{ partition: 0, offset: '7' }] }],
      });
      await t1.commit();
      const t2 = await producer.transaction();
      await t2.send({ topic, messages: [{ key: 'k2', value: 'aborted-2', partition: 0 }] });
      await t2.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: source, partitions: [{ partition: 0, offset: '9' }] }],
      });
      await t2.abort();
    } finally {
      await producer.disconnect();
    }
    const values = async (isolation: string) => {
      const recs = [];
      for (const partition of [0, 1]) {
        recs.push(
          ...(await kcatConsume(broker.bootstrapServers, topic, {
            partition,
            extra: ['-X', `isolation.level=${isolation}`],
          })),
        );
      }
      return recs.map((x) => x.payload).sort();
    };
    assert.deepEqual(await values('read_committed'), ['committed-0', 'committed-1']);
    assert.deepEqual(await values('read_uncommitted'), ['aborted-2', 'committed-0', 'committed-1']);
    const offsets = await admin.fetchOffsets({ groupId, topics: [source] });
    await admin.disconnect();
    assert.equal(offsets[0].partitions.find((p) => p.partition === 0)?.offset, '7');
  });
});

describe('on the wire', () => {
  const init = async (transactionalId: string, v = 4, timeoutMs = 60_000) => {
    const conn = await client.anyConnection();
    return conn.sendAt(apiByName('InitProducerId'), v, {
      transactionalId,
      transactionTimeoutMs: timeoutMs,
      producerId: -1,
      producerEpoch: -1,
    });
  };

  test('FindCoordinator for a transactional id names this broker; a timeout above the maximum is refused', async () => {
    const c = await client.findCoordinator('wire-tx', 1);
    assert.equal(c.port, broker.port);
    const r = await eventually(async () => {
      const x = await init('wire-timeout', 4, 120_001);
      assert.notEqual(x.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
      return x;
    });
    assert.equal(r.errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  });

  test('a second producer fences the first and aborts its open transaction; Describe/ListTransactions', async () => {
    const id = `wire-fence-${Date.now()}`;
    const topic = uniqueTopic('wire-fence');
    await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
    // FindCoordinator first, as clients do (it creates __transaction_state)
    const c0 = await client.findCoordinator(id, 1);
    const conn = await client.anyConnection();
    const first = await eventually(async () => {
      const x = await init(id);
      assert.equal(x.errorCode, ErrorCode.NONE);
      return x;
    });
    const add = await conn.sendAt(apiByName('AddPartitionsToTxn'), 3, {
      v3AndBelowTransactionalId: id,
      v3AndBelowProducerId: first.producerId,
      v3AndBelowProducerEpoch: first.producerEpoch,
      v3AndBelowTopics: [{ name: topic, partitions: [0] }],
    });
    assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
    // a transactional record of the first producer, left open
    const leader = await client.brokerConnection(c0.nodeId);
    const produced = await leader.sendAt(apiByName('Produce'), 11, {
      transactionalId: id,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [
        {
          name: topic,
          partitionData: [
            {
              index: 0,
              records: encodeBatch({
                producerId: Number(first.producerId),
                producerEpoch: first.producerEpoch,
                baseSequence: 0,
                isTransactional: true,
                records: [{ key: 'k', value: 'left-open' }],
              }),
            },
          ],
        },
      ],
    });
    assert.equal(produced.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    // DescribeProducers at the partition's leader: the producer, its open transaction from offset 0
    const producers = await leader.send('DescribeProducers', { topics: [{ name: topic, partitionIndexes: [0] }] });
    const active = producers.topics[0].partitions[0].activeProducers;
    assert.deepEqual(
      active.map((x) => [Number(x.producerId), x.producerEpoch, x.lastSequence, Number(x.currentTxnStartOffset)]),
      [[Number(first.producerId), first.producerEpoch, 0, 0]],
    );
    const listed = await conn.send('ListTransactions', { stateFilters: ['Ongoing'], producerIdFilters: [] });
    assert.ok(listed.transactionStates.some((t) => t.transactionalId === id && t.transactionState === 'Ongoing'));

    // the second producer: told to retry while the open transaction is aborted, then the bumped epoch
    const second = await eventually(async () => {
      const x = await init(id);
      assert.equal(x.errorCode, ErrorCode.NONE);
      return x;
    });
    assert.equal(Number(second.producerId), Number(first.producerId));
    assert.equal(second.producerEpoch, first.producerEpoch + 2);
    const described = await conn.send('DescribeTransactions', { transactionalIds: [id, 'nobody-here'] });
    // the abort completed, then the new producer's InitProducerId left the id Empty at the bumped epoch
    assert.equal(described.transactionStates[0].transactionState, 'Empty');
    assert.equal(described.transactionStates[0].producerEpoch, second.producerEpoch);
    assert.equal(described.transactionStates[1].errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    // the same through `samsa transactions describe | list`
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const code = await runCli(['transactions', ...args, '-b', broker.bootstrapServers, '--json'], {
        stdout: (x) => (out += x),
        stderr: (x) => (err += x),
      });
      return { code, out, err };
    };
    const d = await cli('describe', id);
    assert.equal(d.code, 0, d.err);
    assert.deepEqual(
      { ...JSON.parse(d.out), transactionStartTimeMs: 0 },
      {
        transactionalId: id,
        coordinator: c0.nodeId,
        state: 'Empty',
        producerId: Number(second.producerId),
        producerEpoch: second.producerEpoch,
        transactionTimeoutMs: 60_000,
        transactionStartTimeMs: 0,
        partitions: [],
      },
    );
    const l = await cli('list');
    assert.equal(l.code, 0, l.err);
    assert.ok(
      JSON.parse(l.out).some(
        (t: { transactionalId: string; state: string }) => t.transactionalId === id && t.state === 'Empty',
      ),
    );
    const unknown = await cli('describe', 'nobody-here');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /TRANSACTIONAL_ID_NOT_FOUND/);
    // the first producer is fenced: PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for EndTxn v1
    const end = (v: number) =>
      conn.sendAt(apiByName('EndTxn'), v, {
        transactionalId: id,
        producerId: first.producerId,
        producerEpoch: first.producerEpoch,
        committed: true,
      });
    assert.equal((await end(3)).errorCode, ErrorCode.PRODUCER_FENCED);
    assert.equal((await end(1)).errorCode, ErrorCode.INVALID_PRODUCER_EPOCH);
    // its record was aborted: read_committed reads nothing, and the partition is stable again
    const recs = await kcatConsume(broker.bootstrapServers, topic, { extra: ['-X', 'isolation.level=read_committed'] });
    assert.deepEqual(recs, []);
  });
  test('TxnOffsetCommit: pending until the commit (OffsetFetch requireStable answers UNSTABLE_OFFSET_COMMIT), dropped on abort', async () => {
    const id = `wire-offsets-${Date.now()}`;
    const groupId = `${id}-g`;
    const source = uniqueTopic('wire-src');
    await client.createTopics([{ name: source, numPartitions: 1, replicationFactor: 1 }]);
    await client.findCoordinator(id, 1);
    await client.findCoordinator(groupId, 0);
    const conn = await client.anyConnection();
    const p = await eventually(async () => {
      const x = await init(id);
      assert.equal(x.errorCode, ErrorCode.NONE);
      return x;
    });
    const fetchOffset = async (requireStable: boolean) => {
      const r = await conn.sendAt(apiByName('OffsetFetch'), 7, {
        groupId,
        topics: [{ name: source, partitionIndexes: [0] }],
        requireStable,
      });
      const x = r.topics[0].partitions[0];
      return { errorCode: x.errorCode, offset: Number(x.committedOffset) };
    };
    const txn = async (offset: number, commit: boolean) => {
      // CONCURRENT_TRANSACTIONS (retried, as clients do) until the previous transaction is complete
      await eventually(async () => {
        const added = await conn.send('AddOffsetsToTxn', {
          transactionalId: id,
          producerId: p.producerId,
          producerEpoch: p.producerEpoch,
          groupId,
        });
        assert.equal(added.errorCode, ErrorCode.NONE);
        return true;
      });
      const committed = await conn.sendAt(apiByName('TxnOffsetCommit'), 4, {
        transactionalId: id,
        groupId,
        producerId: p.producerId,
        producerEpoch: p.producerEpoch,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [{ name: source, partitions: [{ partitionIndex: 0, committedOffset: offset, committedMetadata: '' }] }],
      });
      assert.equal(committed.topics[0].partitions[0].errorCode, ErrorCode.NONE);
      assert.deepEqual(await fetchOffset(true), { errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT, offset: -1 });
      const end = await conn.sendAt(apiByName('EndTxn'), 4, {
        transactionalId: id,
        producerId: p.producerId,
        producerEpoch: p.producerEpoch,
        committed: commit,
      });
      assert.equal(end.errorCode, ErrorCode.NONE);
      // stable again once the marker reached __consumer_offsets
      return eventually(async () => {
        const f = await fetchOffset(true);
        return f.errorCode === ErrorCode.NONE ? f : undefined;
      });
    };
    assert.deepEqual(await fetchOffset(true), { errorCode: ErrorCode.NONE, offset: -1 });
    assert.deepEqual(await txn(10, true), { errorCode: ErrorCode.NONE, offset: 10 });
    assert.deepEqual(await txn(20, false), { errorCode: ErrorCode.NONE, offset: 10 });
  });
});
