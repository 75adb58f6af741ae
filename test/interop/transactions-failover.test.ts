/**
 * The transaction coordinator fails over like any partition leader, on three
 * `samsa start` processes (__transaction_state with replication factor 3):
 *
 *  - transaction 1 of id A is committed and complete;
 *  - transaction 2 of A is ended with EndTxn(commit), and the coordinator's
 *    broker (not the active controller) is killed (-9) at once: whether or
 *    not its markers were written, PrepareCommit is on the in-sync replicas,
 *    so the new leader of the partition sends the markers and completes it;
 *  - id B (same coordinator) has a transaction left open: the new
 *    coordinator aborts it once its timeout passed;
 *  - id C (same coordinator) is a transactions v2 producer (Produce v12, the
 *    leader adds the partition; EndTxn v5 bumps the epoch) whose EndTxn
 *    answer is taken as lost: retried at the new coordinator, it gets the
 *    same answer (the epoch it was given), not PRODUCER_FENCED;
 *  - FindCoordinator names the new leader; read_committed sees exactly the
 *    two committed transactions' records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';
import { encodeBatch } from '../../src/protocol/records/index.ts';
import { apiByName } from '../../src/protocol/apis.ts';
import { partitionForTxn } from '../../src/coordinator/txn/txn-records.ts';
import { startProcessCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

/** EndTxn as a transactions v1 producer sends it (v5 would bump the epoch at every transaction end). */
const END_TXN = apiByName('EndTxn');

const TXN_PARTITIONS = 3;

test('a transaction prepared when its coordinator is killed is completed by the new one; an open one is aborted by timeout', async () => {
  const cluster = await startProcessCluster({
    nodes: 3,
    overrides: {
      'transaction.state.log.num.partitions': String(TXN_PARTITIONS),
      'offsets.topic.num.partitions': '3',
      'transaction.abort.timed.out.transaction.cleanup.interval.ms': '200',
    },
  });
  let client = new KafkaClient({ bootstrapServers: cluster.bootstrapServers, clientId: 'txn-failover', retries: 20 });
  try {
    const topic = 'txn-failover';
    await client.createTopics([{ name: topic, numPartitions: 1, replicationFactor: 3 }]);
    // creates __transaction_state (RF 3)
    const first = await client.findCoordinator('a-0', 1);
    const md = await client.metadata(['__transaction_state', topic]);
    const txnTopic = md.topics.find((t) => t.name === '__transaction_state')!;
    // two ids on one __transaction_state partition led by a broker that is not the active controller
    const victimPartition = txnTopic.partitions.find((p) => p.leader !== md.controllerId)!;
    const victim = victimPartition.leader;
    const ids: string[] = [];
    for (let i = 0; ids.length < 3; i++) {
      if (partitionForTxn(`tx-${i}`, TXN_PARTITIONS) === victimPartition.partition) ids.push(`tx-${i}`);
    }
    const [idA, idB, idC] = ids;
    assert.ok(first.nodeId >= 0);
    const coord = await client.brokerConnection(victim);

    const init = async (id: string, timeoutMs: number) =>
      eventually(async () => {
        const r = await coord.send('InitProducerId', {
          transactionalId: id,
          transactionTimeoutMs: timeoutMs,
          producerId: -1,
          producerEpoch: -1,
        });
        assert.equal(r.errorCode, ErrorCode.NONE);
        return { pid: Number(r.producerId), epoch: r.producerEpoch, seq: 0 };
      }, 60_000);
    /** A transactional write: transactions v1 (AddPartitionsToTxn, Produce v11), or v2 (Produce v12 alone). */
    const write = async (id: string, p: { pid: number; epoch: number; seq: number }, value: string, tv2 = false) => {
      if (!tv2) {
        const add = await coord.sendAt(apiByName('AddPartitionsToTxn'), 3, {
          v3AndBelowTransactionalId: id,
          v3AndBelowProducerId: p.pid,
          v3AndBelowProducerEpoch: p.epoch,
          v3AndBelowTopics: [{ name: topic, partitions: [0] }],
        });
        assert.equal(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode, ErrorCode.NONE);
      }
      const records = encodeBatch({
        producerId: p.pid,
        producerEpoch: p.epoch,
        baseSequence: p.seq++,
        isTransactional: true,
        records: [{ value }],
      });
      // NOT_ENOUGH_REPLICAS is retried, as clients do: e.g. the leader could not reach the coordinator to verify
      // the partition is in the transaction (KIP-890)
      const res = await eventually(async () => {
        const leader = (await client.metadata([topic])).topics[0].partitions[0].leader;
        const r = await (await client.brokerConnection(leader)).sendAt(apiByName('Produce'), tv2 ? 12 : 11, {
          transactionalId: id,
          acks: -1,
          timeoutMs: 30_000,
          topicData: [
            {
              name: topic,
              partitionData: [
                {
                  index: 0,
                  records,
                },
              ],
            },
          ],
        });
        return r.responses[0].partitionResponses[0].errorCode === ErrorCode.NOT_ENOUGH_REPLICAS ? undefined : r;
      }, 60_000);
      assert.equal(res.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
    };
    const endTxn = (id: string, p: { pid: number; epoch: number }) =>
      coord.sendAt(END_TXN, 4, { transactionalId: id, producerId: p.pid, producerEpoch: p.epoch, committed: true });
    const describe = async (c: KafkaClient, id: string) => {
      const node = (await c.findCoordinator(id, 1)).nodeId;
      const r = await (await c.brokerConnection(node)).send('DescribeTransactions', { transactionalIds: [id] });
      return { node, ...r.transactionStates[0] };
    };

    const a = await init(idA, 60_000);
    const b = await init(idB, 5_000);
    const c = await init(idC, 60_000);
    await write(idC, c, 'c-committed', true);
    const endC = { transactionalId: idC, producerId: c.pid, producerEpoch: c.epoch, committed: true };
    const endedC = await coord.sendAt(END_TXN, 5, endC);
    assert.deepEqual(
      [endedC.errorCode, Number(endedC.producerId), endedC.producerEpoch],
      [ErrorCode.NONE, c.pid, c.epoch + 1],
    );
    await write(idA, a, 'a-committed-1');
    assert.equal((await endTxn(idA, a)).errorCode, ErrorCode.NONE);
    await eventually(async () => (await describe(client, idA)).transactionState === 'CompleteCommit', 30_000);
    await write(idB, b, 'b-left-open');
    await write(idA, a, 'a-committed-2');
    assert.equal((await endTxn(idA, a)).errorCode, ErrorCode.NONE);
    await cluster.node(victim).kill('SIGKILL');

    await client.close();
    const survivors = cluster.nodes
      .filter((n) => n.nodeId !== victim)
      .map((n) => n.bootstrap)
      .join(',');
    client = new KafkaClient({
      bootstrapServers: survivors,
      clientId: 'txn-failover-after',
      retries: 20,
    });
    const settled = async (id: string, state: string) =>
      eventually(
        async () => {
          const d = await describe(client, id).catch(() => undefined);
          return d && d.errorCode === ErrorCode.NONE && d.transactionState === state ? d : undefined;
        },
        90_000,
        300,
      );
    const dA = await settled(idA, 'CompleteCommit');
    assert.notEqual(dA.node, victim);
    const dB = await settled(idB, 'CompleteAbort');
    assert.equal(dB.producerEpoch, b.epoch + 1);
    // C's EndTxn v5 retried at the new coordinator (loaded from __transaction_state) gets the first answer
    const dC = await settled(idC, 'CompleteCommit');
    const retried = await (await client.brokerConnection(dC.node)).sendAt(END_TXN, 5, endC);
    assert.deepEqual(
      [retried.errorCode, Number(retried.producerId), retried.producerEpoch],
      [ErrorCode.NONE, c.pid, c.epoch + 1],
    );

    const values = async (isolation: string) =>
      (await kcatConsume(survivors, topic, { extra: ['-X', `isolation.level=${isolation}`] })).map((r) => r.payload);
    assert.deepEqual(await values('read_committed'), ['c-committed', 'a-committed-1', 'a-committed-2']);
    assert.deepEqual(await values('read_uncommitted'), [
      'c-committed',
      'a-committed-1',
      'b-left-open',
      'a-committed-2',
    ]);
  } catch (err) {
    throw new Error(`${(err as Error).stack}\n--- cluster output ---\n${cluster.output().slice(-20_000)}`);
  } finally {
    await client.close();
    await cluster.close();
  }
});
