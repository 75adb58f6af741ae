/**
 * KIP-890 part 1: a partition leader appends a transactional batch only once
 * the transaction coordinator confirms that the partition is in the
 * producer's ongoing transaction (AddPartitionsToTxn verifyOnly), and asks
 * once per transaction and partition.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../../src/client/index.ts';
import type { Connection } from '../../../src/client/connection.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../../src/protocol/records/index.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { type TxnOperation, TxnVerifier } from '../../../src/server/txn-verification.ts';
import { TXN_TOPIC } from '../../../src/server/txn-store.ts';
import type { Broker } from '../../../src/server/broker.ts';
import type { Partition } from '../../../src/server/partition.ts';
import type { TransactionCoordinator } from '../../../src/coordinator/txn/coordinator.ts';
import { eventually, startTestBroker, uniqueTopic, type TestBroker } from '../../helpers/broker.ts';
import { partitionForGroup } from '../../../src/coordinator/group/offsets-records.ts';

describe('on the wire (one broker, the coordinator in process)', () => {
  let broker: TestBroker;
  let client: KafkaClient;

  before(async () => {
    broker = await startTestBroker({
      overrides: {
        'auto.create.topics.enable': 'false',
        'transaction.state.log.num.partitions': '3',
        'transaction.state.log.replication.factor': '1',
        'transaction.state.log.min.isr': '1',
      },
    });
    client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'txn-verification-test' });
  });

  after(async () => {
    await client?.close();
    await broker?.close();
  });

  const latest = async (topic: string, partition: number) => {
    const conn = await client.anyConnection();
    const r = await conn.send('ListOffsets', {
      replicaId: -1,
      isolationLevel: 0,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1 }] }],
    });
    return Number(r.topics[0].partitions[0].offset);
  };

  test('a transactional batch for a partition not in the transaction is refused and nothing is appended', async () => {
    const id = `verify-${Date.now()}`;
    const topic = uniqueTopic('txn-verify');
    await client.createTopics([{ name: topic, numPartitions: 2, replicationFactor: 1 }]);
    await client.findCoordinator(id, 1); // creates __transaction_state, as a client's first step does
    const conn: Connection = await client.anyConnection();
    const init = await eventually(async () => {
      const r = await conn.send('InitProducerId', {
        transactionalId: id,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      assert.equal(r.errorCode, ErrorCode.NONE);
      return r;
    }, 60_000);
    const pid = Number(init.producerId);
    const epoch = init.producerEpoch;
    const seq = [0, 0];
    /** Produce v10 (v11 is told TRANSACTION_ABORTABLE instead of INVALID_TXN_STATE; v12+ is transactions v2). */
    const produce = async (partition: number, value: string, e = epoch, version = 10) => {
      const r = await conn.sendAt(apiByName('Produce'), version, {
        transactionalId: id,
        acks: -1,
        timeoutMs: 30_000,
        topicData: [
          {
            name: topic,
            partitionData: [
              {
                index: partition,
                records: encodeBatch({
                  producerId: pid,
                  producerEpoch: e,
                  baseSequence: seq[partition],
                  isTransactional: true,
                  records: [{ value }],
                }),
              },
            ],
          },
        ],
      });
      const p = r.responses[0].partitionResponses[0];
      if (p.errorCode === ErrorCode.NONE) seq[partition]++;
      return p.errorCode;
    };

    // no transaction yet: refused, the log untouched, no producer state
    assert.equal(await produce(1, 'stray'), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await latest(topic, 1), 0);
    const producers = await conn.send('DescribeProducers', { topics: [{ name: topic, partitionIndexes: [1] }] });
    assert.deepEqual(producers.topics[0].partitions[0].activeProducers, []);

    // partition 0 added: its batches are appended; partition 1 still refused
    const add = await conn.sendAt(apiByName('AddPartitionsToTxn'), 3, {
      v3AndBelowTransactionalId: id,
      v3AndBelowProducerId: pid,
      v3AndBelowProducerEpoch: epoch,
      v3AndBelowTopics: [{ name: topic, partitions: [0] }],
    });
    assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
    assert.equal(await produce(0, 'a'), ErrorCode.NONE);
    assert.equal(await produce(0, 'b'), ErrorCode.NONE);
    assert.equal(await produce(1, 'stray'), ErrorCode.INVALID_TXN_STATE);
    // KIP-890: a Produce v11 client handles TRANSACTION_ABORTABLE, and is told that instead
    assert.equal(await produce(1, 'stray', epoch, 11), ErrorCode.TRANSACTION_ABORTABLE);
    assert.equal(await latest(topic, 1), 0);
    // an epoch the coordinator does not have
    assert.equal(await produce(1, 'stray', epoch + 1), ErrorCode.INVALID_PRODUCER_EPOCH);

    // once the transaction is committed, a new batch needs a new transaction
    const end = await conn.sendAt(apiByName('EndTxn'), 4, {
      transactionalId: id,
      producerId: pid,
      producerEpoch: epoch,
      committed: true,
    });
    assert.equal(end.errorCode, ErrorCode.NONE);
    await eventually(async () => {
      const d = await conn.send('DescribeTransactions', { transactionalIds: [id] });
      return d.transactionStates[0].transactionState === 'CompleteCommit';
    });
    assert.equal(await latest(topic, 0), 3); // two records and the COMMIT marker
    assert.equal(await produce(0, 'after-commit'), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await latest(topic, 0), 3);
  });

  test('TxnOffsetCommit v0-v4: offsets of a group whose partition is not in the transaction are refused, nothing written', async () => {
    const id = `verify-offsets-${Date.now()}`;
    const group = `verify-offsets-group-${Date.now()}`;
    const topic = uniqueTopic('txn-verify-offsets');
    await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
    await client.findCoordinator(id, 1);
    await client.findCoordinator(group, 0); // creates __consumer_offsets
    const conn: Connection = await client.anyConnection();
    const init = await eventually(async () => {
      const r = await conn.send('InitProducerId', {
        transactionalId: id,
        transactionTimeoutMs: 60_000,
        producerId: -1,
        producerEpoch: -1,
      });
      assert.equal(r.errorCode, ErrorCode.NONE);
      return r;
    }, 60_000);
    const pid = Number(init.producerId);
    const epoch = init.producerEpoch;
    const md = await conn.send('Metadata', { topics: [{ name: '__consumer_offsets' }], allowAutoTopicCreation: false });
    const offsetsPartition = partitionForGroup(group, md.topics[0].partitions.length);
    const commit = async (version: number) => {
      const r = await eventually(async () => {
        const x = await conn.sendAt(apiByName('TxnOffsetCommit'), version, {
          transactionalId: id,
          groupId: group,
          producerId: pid,
          producerEpoch: epoch,
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [
            {
              name: topic,
              partitions: [
                { partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null },
              ],
            },
          ],
        });
        const errorCode = x.topics[0].partitions[0].errorCode;
        assert.notEqual(errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
        return { errorCode };
      }, 60_000);
      return r.errorCode;
    };
    const before = await latest('__consumer_offsets', offsetsPartition);
    // no AddOffsetsToTxn: INVALID_TXN_STATE, TRANSACTION_ABORTABLE from v4 (as Kafka's group coordinator)
    assert.equal(await commit(3), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await commit(0), ErrorCode.INVALID_TXN_STATE);
    assert.equal(await commit(4), ErrorCode.TRANSACTION_ABORTABLE);
    assert.equal(await latest('__consumer_offsets', offsetsPartition), before);
    // the group's partition added: the offsets are written
    const add = await conn.sendAt(apiByName('AddOffsetsToTxn'), 3, {
      transactionalId: id,
      producerId: pid,
      producerEpoch: epoch,
      groupId: group,
    });
    assert.equal(add.errorCode, ErrorCode.NONE);
    assert.equal(await commit(3), ErrorCode.NONE);
    assert.equal(await latest('__consumer_offsets', offsetsPartition), before + 1);
  });
});

describe('TxnVerifier', () => {
  const PID = 7;
  /** A broker whose transaction coordinator is itself, and a partition whose producer state is `entry`. */
  const setup = (entry: { epoch: number; currentTxnFirstOffset: number } | undefined) => {
    const asked: number[] = [];
    const b = {
      nodeId: 1,
      image: { topicsByName: new Map([[TXN_TOPIC, { partitions: [{ leader: 1 }] }]]) },
    } as unknown as Broker;
    const coordinator = {
      verifyPartitions: (_id: string, producerId: number) => {
        asked.push(producerId);
        return [ErrorCode.NONE];
      },
    } as unknown as TransactionCoordinator;
    const part = {
      topic: { name: 't' },
      index: 0,
      log: { producerState: { get: (id: number) => (id === PID ? entry : undefined) } },
    } as unknown as Partition;
    return { verifier: new TxnVerifier(b, coordinator, true), part, asked };
  };

  test('verifies only while the producer has no transaction open on the partition at that epoch', async () => {
    assert.equal(setup(undefined).verifier.needsVerification(setup(undefined).part, PID, 0), true);
    const closed = setup({ epoch: 0, currentTxnFirstOffset: -1 });
    assert.equal(closed.verifier.needsVerification(closed.part, PID, 0), true);
    const open = setup({ epoch: 0, currentTxnFirstOffset: 5 });
    assert.equal(open.verifier.needsVerification(open.part, PID, 0), false);
    assert.equal(open.verifier.needsVerification(open.part, PID, 1), true);
    const off = new TxnVerifier({} as Broker, undefined, false);
    assert.equal(off.needsVerification(open.part, PID, 1), false);
  });

  test('a marker written while the coordinator is asked voids the verification', async () => {
    const { verifier, part, asked } = setup(undefined);
    const racing = verifier.verify(part, 'tx', PID, 0);
    verifier.onMarker(part, PID);
    const r = await racing;
    assert.equal(r.verdict.errorCode, ErrorCode.NONE);
    assert.equal(r.valid(), false);
    const fine = await verifier.verify(part, 'tx', PID, 0);
    assert.equal(fine.valid(), true);
    assert.deepEqual(asked, [PID, PID]);
  });

  test('pipelined batches of one producer verified at once are both valid; a new epoch voids the old', async () => {
    const { verifier, part } = setup(undefined);
    const [one, two] = await Promise.all([verifier.verify(part, 'tx', PID, 0), verifier.verify(part, 'tx', PID, 0)]);
    assert.equal(one.valid(), true);
    assert.equal(two.valid(), true);
    const bumped = await verifier.verify(part, 'tx', PID, 1);
    assert.equal(bumped.valid(), true);
    assert.equal(one.valid(), false);
  });

  test('the coordinator’s answer as the produce error, by Produce version (Kafka’s ReplicaManager)', async () => {
    const codeFor = async (answer: number, op: TxnOperation) => {
      const b = {
        nodeId: 1,
        image: { topicsByName: new Map([[TXN_TOPIC, { partitions: [{ leader: 1 }] }]]) },
        logger: { warn() {} },
      } as unknown as Broker;
      const coordinator = {
        verifyPartitions: (_i: string, _p: number, _e: number, _t: unknown, notInTxn: number) => [
          answer === ErrorCode.INVALID_TXN_STATE ? notInTxn : answer,
        ],
        addPartitions: async () => answer,
      } as unknown as TransactionCoordinator;
      const part = {
        topic: { name: 't' },
        index: 0,
        log: { producerState: { get: () => undefined } },
      } as unknown as Partition;
      return (await new TxnVerifier(b, coordinator, true).verify(part, 'tx', PID, 0, op)).verdict.errorCode;
    };
    const ops: TxnOperation[] = ['verify', 'verify-abortable', 'add'];
    const table = async (answer: number) => Promise.all(ops.map((op) => codeFor(answer, op)));
    // not in the transaction: INVALID_TXN_STATE to v0-v10, TRANSACTION_ABORTABLE to v11 (v12+ adds the partition)
    assert.deepEqual(await table(ErrorCode.INVALID_TXN_STATE), [
      ErrorCode.INVALID_TXN_STATE,
      ErrorCode.TRANSACTION_ABORTABLE,
      ErrorCode.INVALID_TXN_STATE,
    ]);
    // a transaction completing: retried as NOT_ENOUGH_REPLICAS, but told as it is to transactions v2 clients
    assert.deepEqual(await table(ErrorCode.CONCURRENT_TRANSACTIONS), [
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.CONCURRENT_TRANSACTIONS,
    ]);
    assert.deepEqual(await table(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS), [
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.NOT_ENOUGH_REPLICAS,
      ErrorCode.NOT_ENOUGH_REPLICAS,
    ]);
    assert.deepEqual(await table(ErrorCode.PRODUCER_FENCED), [
      ErrorCode.INVALID_PRODUCER_EPOCH,
      ErrorCode.INVALID_PRODUCER_EPOCH,
      ErrorCode.INVALID_PRODUCER_EPOCH,
    ]);
  });
});
