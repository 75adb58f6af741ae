/**
 * `samsa transactions find-hanging` and `samsa transactions abort` against a
 * hanging transaction: a transactional batch written raw (producer state
 * open on the partition, the coordinator unaware of its producer) holds the
 * last stable offset back. find-hanging reports it (and not an older-looking
 * transaction its coordinator has as Ongoing over that partition); abort at
 * its start offset writes the ABORT marker, the LSO moves to the log end, a
 * read_committed consumer skips the records, and find-hanging no longer
 * reports it. abort at an offset where no transaction starts fails.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { runCli } from '../../src/cli/main.ts';
import { eventually, startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

let broker: TestBroker;
let client: KafkaClient;

before(async () => {
  broker = await startTestBroker({
    // the hanging transaction is written as before KIP-890: with the partition verification off
    overrides: {
      'transaction.state.log.num.partitions': '3',
      'offsets.topic.num.partitions': '3',
      'transaction.partition.verification.enable': 'false',
    },
  });
  client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'txn-cli', retries: 20 });
});

after(async () => {
  await client?.close();
  await broker?.close();
});

async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(['transactions', ...args, '-b', broker.bootstrapServers, '--json'], {
    stdout: (x) => (out += x),
    stderr: (x) => (err += x),
  });
  return { code, out, err };
}

async function produce(
  topic: string,
  partition: number,
  batch: Buffer,
  transactionalId: string | null = null,
): Promise<number> {
  const conn = await client.brokerConnection(1);
  const r = await conn.send('Produce', {
    transactionalId,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }],
  });
  const p = r.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, ErrorCode.NONE);
  return Number(p.baseOffset);
}

async function lso(topic: string, partition: number): Promise<number> {
  const r = await (await client.brokerConnection(1)).send('ListOffsets', {
    replicaId: -1,
    isolationLevel: 1,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp: -1, currentLeaderEpoch: -1 }] }],
  });
  return Number(r.topics[0].partitions[0].offset);
}

test('find-hanging reports a transaction the coordinator does not know; abort at its start offset closes it and the LSO moves', async () => {
  const topic = uniqueTopic('hang');
  await client.createTopics([{ name: topic, numPartitions: 2, replicationFactor: 1 }]);
  const longAgo = Date.now() - 2 * 3600_000;
  const conn = await client.brokerConnection(1);

  // partition 0: a plain record, a raw transactional batch of an idempotent producer id
  // (no coordinator knows it) written two hours "ago", then another plain record
  const idem = await conn.send('InitProducerId', {
    transactionalId: null,
    transactionTimeoutMs: 60_000,
    producerId: -1,
    producerEpoch: -1,
  });
  assert.equal(idem.errorCode, ErrorCode.NONE);
  const pid = Number(idem.producerId);
  await produce(topic, 0, encodeBatch({ records: [{ key: 'k', value: 'plain-0' }] }));
  const start = await produce(
    topic,
    0,
    encodeBatch({
      producerId: pid,
      producerEpoch: idem.producerEpoch,
      baseSequence: 0,
      isTransactional: true,
      baseTimestamp: longAgo,
      records: [
        { key: 'k', value: 'hanging-1', timestamp: longAgo },
        { key: 'k', value: 'hanging-2', timestamp: longAgo },
      ],
    }),
    'ghost',
  );
  assert.equal(start, 1);
  await produce(topic, 0, encodeBatch({ records: [{ key: 'k', value: 'plain-3' }] }));
  assert.equal(await lso(topic, 0), 1, 'the open transaction holds the LSO');

  // partition 1: an ongoing transaction its coordinator knows, with an old record timestamp too
  const id = `${topic}-tx`;
  const coord = await client.brokerConnection((await client.findCoordinator(id, 1)).nodeId);
  const init = await eventually(async () => {
    const r = await coord.send('InitProducerId', {
      transactionalId: id,
      transactionTimeoutMs: 600_000,
      producerId: -1,
      producerEpoch: -1,
    });
    return r.errorCode === ErrorCode.NONE ? r : undefined;
  });
  const add = await coord.sendAt(apiByName('AddPartitionsToTxn'), 3, {
    v3AndBelowTransactionalId: id,
    v3AndBelowProducerId: init.producerId,
    v3AndBelowProducerEpoch: init.producerEpoch,
    v3AndBelowTopics: [{ name: topic, partitions: [1] }],
  });
  assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
  await produce(
    topic,
    1,
    encodeBatch({
      producerId: Number(init.producerId),
      producerEpoch: init.producerEpoch,
      baseSequence: 0,
      isTransactional: true,
      baseTimestamp: longAgo,
      records: [{ key: 'k', value: 'ongoing', timestamp: longAgo }],
    }),
    id,
  );

  // a limit above the transaction's age: nothing
  const young = await cli('find-hanging', '--topic', topic, '--max-transaction-timeout', '600');
  assert.equal(young.code, 0, young.err);
  assert.deepEqual(JSON.parse(young.out), []);

  const found = await cli('find-hanging', '--topic', topic, '--max-transaction-timeout', '60');
  assert.equal(found.code, 0, found.err);
  const hanging = JSON.parse(found.out);
  assert.equal(hanging.length, 1, found.out);
  assert.deepEqual(
    {
      topic: hanging[0].topic,
      partition: hanging[0].partition,
      producerId: hanging[0].producerId,
      startOffset: hanging[0].startOffset,
      transactionalId: hanging[0].transactionalId,
    },
    { topic, partition: 0, producerId: pid, startOffset: 1, transactionalId: null },
  );

  const wrong = await cli('abort', '--topic', topic, '--partition', '0', '--start-offset', '2');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.err, /no open transaction starts at offset 2/);
  assert.equal(await lso(topic, 0), 1);

  const aborted = await cli('abort', '--topic', topic, '--partition', '0', '--start-offset', '1');
  assert.equal(aborted.code, 0, aborted.err);
  assert.equal(JSON.parse(aborted.out).producerId, pid);
  // the ABORT marker is the last batch: the LSO is the log end offset
  const leo = (await client.listOffsets(topic, 0, 'latest')).offset;
  assert.equal(leo, 5);
  assert.equal(await lso(topic, 0), leo);
  const committed = await kcatConsume(broker.bootstrapServers, topic, {
    partition: 0,
    extra: ['-X', 'isolation.level=read_committed'],
  });
  assert.deepEqual(
    committed.map((r) => r.payload),
    ['plain-0', 'plain-3'],
  );
  const after = await cli('find-hanging', '--topic', topic, '--max-transaction-timeout', '60');
  assert.deepEqual(JSON.parse(after.out), []);
  // the coordinator's own transaction is untouched: still Ongoing
  const d = await coord.send('DescribeTransactions', { transactionalIds: [id] });
  assert.equal(d.transactionStates[0].transactionState, 'Ongoing');
});
