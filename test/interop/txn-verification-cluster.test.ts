/**
 * KIP-890 verification over the network: two in-process brokers, a topic
 * partition led by one and the transactional id's coordinator on the other.
 * The partition's leader asks the coordinator (AddPartitionsToTxn verifyOnly:
 * v4 for a Produce v10 client, v5 for v11) before appending a transaction's
 * first batch.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { partitionForTxn } from '../../src/coordinator/txn/txn-records.ts';
import { eventually } from '../helpers/broker.ts';
import { startInProcessCluster, type InProcessCluster } from '../helpers/inprocess-cluster.ts';

const TXN_PARTITIONS = 2;
let cluster: InProcessCluster;
let client: KafkaClient;

before(async () => {
  cluster = await startInProcessCluster({
    nodes: 2,
    overrides: {
      'transaction.state.log.num.partitions': String(TXN_PARTITIONS),
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
  client = new KafkaClient({ bootstrapServers: cluster.bootstrap(), clientId: 'txn-verify-cluster', retries: 20 });
});

after(async () => {
  await client?.close();
  await cluster?.close();
});

test('the leader of a partition asks a coordinator on another broker before appending a transactional batch', async () => {
  const topic = 'txn-verify-remote';
  await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 1 }]);
  await client.findCoordinator('probe', 1); // creates __transaction_state
  const md = await eventually(async () => {
    const m = await client.metadata(['__transaction_state', topic]);
    const ok = m.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
    return ok && m.topics.length === 2 ? m : undefined;
  }, 60_000);
  const leader = md.topics.find((t) => t.name === topic)!.partitions[0].leader;
  const remote = md.topics.find((t) => t.name === '__transaction_state')!.partitions.find((p) => p.leader !== leader);
  assert.ok(remote, 'a __transaction_state partition led by the other broker');
  let id = '';
  for (let i = 0; id === ''; i++) if (partitionForTxn(`tx-${i}`, TXN_PARTITIONS) === remote.partition) id = `tx-${i}`;
  assert.equal((await client.findCoordinator(id, 1)).nodeId, remote.leader);
  const coord = await client.brokerConnection(remote.leader);
  const init = await eventually(async () => {
    const r = await coord.send('InitProducerId', {
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
  const atLeader = await client.brokerConnection(leader);
  const produce = async (seq: number, version = 11) => {
    const r = await atLeader.sendAt(apiByName('Produce'), version, {
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
                baseSequence: seq,
                isTransactional: true,
                records: [{ value: `v${seq}` }],
              }),
            },
          ],
        },
      ],
    });
    return r.responses[0].partitionResponses[0];
  };

  // the coordinator answers TRANSACTION_ABORTABLE (AddPartitionsToTxn v5), which a Produce v11 client is told (KIP-890)
  // and a v10 one gets as INVALID_TXN_STATE
  assert.equal((await produce(0)).errorCode, ErrorCode.TRANSACTION_ABORTABLE);
  assert.equal((await produce(0, 10)).errorCode, ErrorCode.INVALID_TXN_STATE);
  const add = await coord.sendAt(apiByName('AddPartitionsToTxn'), 3, {
    v3AndBelowTransactionalId: id,
    v3AndBelowProducerId: pid,
    v3AndBelowProducerEpoch: epoch,
    v3AndBelowTopics: [{ name: topic, partitions: [0] }],
  });
  assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
  const first = await produce(0);
  assert.equal(first.errorCode, ErrorCode.NONE);
  assert.equal(Number(first.baseOffset), 0); // the refused batch left nothing
  assert.equal((await produce(1)).errorCode, ErrorCode.NONE);
  const end = await coord.sendAt(apiByName('EndTxn'), 4, {
    transactionalId: id,
    producerId: pid,
    producerEpoch: epoch,
    committed: true,
  });
  assert.equal(end.errorCode, ErrorCode.NONE);
});
