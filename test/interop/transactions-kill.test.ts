/**
 * A broker killed (-9) in the middle of a transaction: after the restart the
 * coordinator, which loaded the open transaction from __transaction_state,
 * aborts it once its transaction.timeout.ms has passed (fencing the producer
 * that left it); a read_committed consumer never sees its record, and the
 * last stable offset moves past it. A transaction committed before the kill
 * stays committed.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { eventually, startChildBroker, uniqueTopic, type ChildBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

/** EndTxn as a transactions v1 producer sends it (v5 would bump the epoch at every transaction end). */
const END_TXN = apiByName('EndTxn');

let broker: ChildBroker;

before(async () => {
  broker = await startChildBroker({
    overrides: {
      'transaction.state.log.num.partitions': '3',
      'offsets.topic.num.partitions': '3',
      'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200',
    },
  });
});

after(async () => {
  await broker?.close();
});

function newClient(): KafkaClient {
  return new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'txn-kill', retries: 20 });
}

test('kill -9 mid-transaction: after the restart the transaction is aborted by its timeout; read_committed never sees it', async () => {
  const topic = uniqueTopic('txn-kill');
  const id = `${topic}-tx`;
  let client = newClient();
  await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
  // FindCoordinator creates __transaction_state, as a client's first step does
  const conn = await client.brokerConnection((await client.findCoordinator(id, 1)).nodeId);
  const init = await eventually(async () => {
    const r = await conn.send('InitProducerId', {
      transactionalId: id,
      transactionTimeoutMs: 3000,
      producerId: -1,
      producerEpoch: -1,
    });
    assert.equal(r.errorCode, ErrorCode.NONE);
    return r;
  });
  const pid = Number(init.producerId);
  const epoch = init.producerEpoch;
  let sequence = 0;
  const transaction = async (value: string) => {
    const add = await conn.sendAt(apiByName('AddPartitionsToTxn'), 3, {
      v3AndBelowTransactionalId: id,
      v3AndBelowProducerId: pid,
      v3AndBelowProducerEpoch: epoch,
      v3AndBelowTopics: [{ name: topic, partitions: [0] }],
    });
    assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
    const res = await conn.sendAt(apiByName('Produce'), 11, {
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
                producerId: pid,
                producerEpoch: epoch,
                baseSequence: sequence++,
                isTransactional: true,
                records: [{ key: 'k', value }],
              }),
            },
          ],
        },
      ],
    });
    assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  };
  const state = async (c: KafkaClient) => {
    const d = await (await c.anyConnection()).send('DescribeTransactions', { transactionalIds: [id] });
    return d.transactionStates[0];
  };

  await transaction('committed-0');
  const end = await conn.sendAt(END_TXN, 4, {
    transactionalId: id,
    producerId: pid,
    producerEpoch: epoch,
    committed: true,
  });
  assert.equal(end.errorCode, ErrorCode.NONE);
  await eventually(async () => (await state(client)).transactionState === 'CompleteCommit');
  await transaction('open-1');
  assert.equal((await state(client)).transactionState, 'Ongoing');

  await client.close();
  await broker.kill('SIGKILL');
  await broker.restart();
  client = newClient();

  // loaded from the log as Ongoing, then aborted by the coordinator once its 3 s timeout passed
  const aborted = await eventually(async () => {
    const s = await state(client);
    return s.errorCode === ErrorCode.NONE && s.transactionState === 'CompleteAbort' ? s : undefined;
  }, 60_000);
  assert.equal(aborted.producerEpoch, epoch + 1, 'the producer that left it is fenced');
  const c2 = await client.anyConnection();
  const fenced = await c2.sendAt(END_TXN, 4, {
    transactionalId: id,
    producerId: pid,
    producerEpoch: epoch,
    committed: true,
  });
  assert.equal(fenced.errorCode, ErrorCode.PRODUCER_FENCED);

  const committed = await kcatConsume(broker.bootstrapServers, topic, {
    extra: ['-X', 'isolation.level=read_committed'],
  });
  assert.deepEqual(
    committed.map((r) => r.payload),
    ['committed-0'],
  );
  const all = await kcatConsume(broker.bootstrapServers, topic, { extra: ['-X', 'isolation.level=read_uncommitted'] });
  assert.deepEqual(
    all.map((r) => r.payload),
    ['committed-0', 'open-1'],
  );
  // the last stable offset is past the abort marker: the log end offset
  const leo = await client.listOffsets(topic, 0, 'latest');
  const lso = await (await client.brokerConnection(1)).send('ListOffsets', {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, timestamp: -1, currentLeaderEpoch: -1 }] }],
  });
  assert.equal(Number(lso.topics[0].partitions[0].offset), leo.offset);
  await client.close();
});
