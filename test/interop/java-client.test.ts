/**
 * The Java client (kafka-clients 4.3.1, the reference Kafka's) against
 * Samsa and against Apache Kafka 4.3.1 itself (scripts/kafka-ref.sh), the
 * same scenario program (test/interop/java/client/ClientScenarios.java) run
 * once per broker, one JVM each:
 *
 *  - the producer with its defaults (idempotent, acks=all): keyed records
 *    land on the partitions murmur2 picks, at the same offsets, and read back;
 *  - every compression type (none, gzip, snappy, lz4, zstd);
 *  - a send to a topic nobody created (auto.create.topics.enable);
 *  - a read_committed consumer (no transactions: everything, end offsets
 *    at the high watermark);
 *  - headers (repeated keys, null and empty values, non-ASCII), a tombstone
 *    with a null key;
 *  - a 1,000,000-byte record, fetched by a consumer with 64 KiB fetch limits
 *    (KIP-74); RecordTooLargeException from the broker over the topic's
 *    max.message.bytes and from the client over max.request.size;
 *  - seek, seekToEnd, seekToBeginning, a seek past the end with
 *    auto.offset.reset=earliest (reset) and none (OffsetOutOfRangeException);
 *  - offsetsForTimes before, between, at and after the records' timestamps,
 *    beginning and end offsets;
 *  - after Admin.deleteRecords: beginningOffsets, offsetsForTimes(0) and
 *    seekToBeginning at the new log start; a fetch below it resets to it,
 *    or throws OffsetOutOfRangeException with auto.offset.reset=none;
 *  - a LogAppendTime topic: the broker's time in the acknowledgement and
 *    on the record;
 *  - commitSync of an offset of a topic that does not exist: the broker
 *    answers UNKNOWN_TOPIC_OR_PARTITION, which the client retries until
 *    TimeoutException;
 *  - a classic-protocol group member: commitSync, commitAsync and commitSync
 *    with explicit offsets and metadata, committed(), a new member resuming
 *    from the committed offsets;
 *  - a commit while the group prepares a rebalance (a member joining, the
 *    other not rejoined yet) is accepted, as Kafka accepts the current
 *    generation's commits; then range shares and commits go on;
 *  - the cooperative-sticky assignor: a second member takes half, the first
 *    revokes only what moves, and gets it all back when the second leaves;
 *  - static membership (KIP-345): a static member that closes and returns
 *    keeps its assignment in the same generation; a duplicate
 *    group.instance.id fences the old member (FencedInstanceIdException);
 *  - group.protocol=consumer (KIP-848): the broker assigns, a second member
 *    takes a share, each record is consumed once by its owner, commits, and
 *    Admin's describeConsumerGroups sees a Stable consumer group of 2;
 *  - KIP-848 with group.remote.assignor=range and a SubscriptionPattern
 *    (regex resolved by the broker): range shares, and a matching topic
 *    created later is assigned (the client then asks Metadata by topic id);
 *  - KIP-848 static membership: a static member that closes and returns
 *    gets its partitions again; a duplicate group.instance.id of a live
 *    member is refused (UnreleasedInstanceIdException);
 *  - a transactional producer: initTransactions, a committed transaction
 *    that a read_committed consumer reads; then a second producer with the
 *    same transactional.id fences the first (with transactions v2, which both
 *    finalize, InvalidProducerEpochException on its next send);
 *  - sendOffsetsToTransaction (transactions v2: TxnOffsetCommit v5, the
 *    broker adds the group's partition) in a committed, an aborted and an
 *    offsets-only transaction: the group's committed offsets after each, a
 *    read_committed member's position; the output's batches show the epoch
 *    bumped at every transaction end, markers at the bumped epoch.
 *
 * Every scenario's result on Samsa must equal Kafka's. The record batches the producer wrote are
 * then fetched raw from both brokers (Samsa's client): the default producer's
 * batches carry a producer id and consecutive sequence numbers (it is
 * idempotent), and each compression scenario's batches are stored with the
 * codec the producer chose.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KafkaClient } from '../../src/client/index.ts';
import { readBatchHeader } from '../../src/protocol/records/record-batch.ts';
import { splitBatches } from '../../src/protocol/records/validate.ts';
import { type ChildBroker, startChildBroker } from '../helpers/broker.ts';
import { type ReferenceKafka, compileJava, runJava, startReferenceKafka } from '../helpers/kafka-ref.ts';

type Result = Record<string, unknown> & { scenario: string };

const SCENARIOS = [
  'producer-defaults',
  'compression-none',
  'compression-gzip',
  'compression-snappy',
  'compression-lz4',
  'compression-zstd',
  'auto-create',
  'read-committed',
  'headers',
  'large-records',
  'seek',
  'offsets-for-times',
  'log-start',
  'log-append-time',
  'commit-unknown-topic',
  'classic-commit',
  'classic-rebalance-commit',
  'cooperative-sticky',
  'static-membership',
  'kip848',
  'kip848-range-regex',
  'kip848-static',
  'transactions',
  'transaction-offsets',
];

let kafka: ReferenceKafka | undefined;
let samsa: ChildBroker | undefined;
let onKafka: Map<string, Result>;
let onSamsa: Map<string, Result>;
let stderr: { kafka: string; samsa: string };
/** The prefix of the scenarios' topic and group names. */
const PREFIX = `jc${Date.now().toString(36)}`;

async function scenarios(cp: string, bootstrap: string): Promise<{ results: Map<string, Result>; stderr: string }> {
  const r = await runJava(cp, 'ClientScenarios', [bootstrap, PREFIX], { timeoutMs: 600_000 });
  const results = new Map<string, Result>();
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const obj = JSON.parse(line) as Result;
    results.set(obj.scenario, obj);
  }
  if (r.code !== 0)
    throw new Error(
      `ClientScenarios against ${bootstrap} exited ${r.code} ${r.signal}:\n${r.stdout}\n${r.stderr.slice(-4000)}`,
    );
  return { results, stderr: r.stderr };
}

before(async () => {
  const [cp, k, s] = await Promise.all([
    compileJava('client'),
    startReferenceKafka({
      // KIP-848 heartbeats every second instead of 5 s (the scenario waits for reconciliation)
      'group.consumer.heartbeat.interval.ms': '1000',
      'group.consumer.min.heartbeat.interval.ms': '1000',
    }),
    startChildBroker({
      overrides: {
        // as kafka-ref.sh sets for the reference broker
        'group.initial.rebalance.delay.ms': '0',
        'group.consumer.heartbeat.interval.ms': '1000',
      },
    }),
  ]);
  kafka = k;
  samsa = s;
  const [rk, rs] = await Promise.all([scenarios(cp, k.bootstrapServers), scenarios(cp, s.bootstrapServers)]);
  onKafka = rk.results;
  onSamsa = rs.results;
  stderr = { kafka: rk.stderr, samsa: rs.stderr };
});

interface BatchInfo {
  baseOffset: number;
  records: number;
  compression: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

/** The headers of the record batches of `topic`-`partition` as the broker at `bootstrap` serves them (one raw Fetch). */
async function batchesOf(bootstrap: string, topic: string, partition: number): Promise<BatchInfo[]> {
  const client = new KafkaClient({ bootstrapServers: bootstrap, clientId: 'java-client-test' });
  try {
    const md = await client.metadata([topic]);
    const c = await client.anyConnection();
    const res = await c.send('Fetch', {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 52_428_800,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          topicId: md.topics[0].topicId,
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: 0,
              lastFetchedEpoch: -1,
              logStartOffset: -1,
              partitionMaxBytes: 52_428_800,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    const pr = res.responses[0].partitions[0];
    assert.equal(pr.errorCode, 0, `fetch ${topic}-${partition} from ${bootstrap}`);
    const records = pr.records ?? Buffer.alloc(0);
    return splitBatches(records, 0, records.length).map(({ at }) => {
      const h = readBatchHeader(records, at);
      return {
        baseOffset: h.baseOffset,
        records: h.recordCount,
        compression: h.compression,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
      };
    });
  } finally {
    await client.close();
  }
}

after(async () => {
  await Promise.all([kafka?.stop(), samsa?.close()]);
});

/** The scenario's result on `where`, which must have completed without an exception. */
function result(where: 'kafka' | 'samsa', name: string): Result {
  const r = (where === 'kafka' ? onKafka : onSamsa).get(name);
  assert.ok(r, `${name} printed no result on ${where}:\n${stderr[where].slice(-4000)}`);
  assert.equal(
    r.error,
    undefined,
    `${name} failed on ${where}: ${r.error}: ${r.message}\n${stderr[where].slice(-4000)}`,
  );
  return r;
}

/** Asserts `check` on Kafka's result, then that Samsa's equals Kafka's. */
function same(name: string, check: (r: Result) => void) {
  const k = result('kafka', name);
  check(k);
  assert.deepEqual(result('samsa', name), k, `${name}: Samsa's result differs from Kafka's`);
}

describe('Java client 4.3.1: Samsa gives the results Apache Kafka 4.3.1 gives', () => {
  test('every scenario ran on both brokers', () => {
    assert.deepEqual([...onKafka.keys()], SCENARIOS);
    assert.deepEqual([...onSamsa.keys()], SCENARIOS);
  });

  test('producer defaults (idempotent, acks=all): keyed records on murmur2 partitions, offsets, read back in order', () =>
    same('producer-defaults', (r) => {
      const acks = r.acks as [number, number][];
      const read = r.read as [number, number, string, string][];
      assert.equal(acks.length, 30);
      assert.equal(read.length, 30);
      for (let i = 0; i < 30; i++) {
        const [p, o] = acks[i];
        assert.deepEqual(
          read.find((x) => x[2] === `k${i}`),
          [p, o, `k${i}`, `v${i}`],
        );
      }
      assert.deepEqual(new Set(acks.map((a) => a[0])), new Set([0, 1, 2]), 'keys spread over all 3 partitions');
    }));

  for (const type of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    test(`compression.type=${type}: 500 records read back intact`, () =>
      same(`compression-${type}`, (r) =>
        assert.deepEqual(r, { scenario: `compression-${type}`, read: 500, intact: 500 }),
      ));
  }

  test('a send to an unknown topic creates it with num.partitions', () =>
    same('auto-create', (r) =>
      assert.deepEqual(r, { scenario: 'auto-create', acks: [[0, 0]], partitions: 1, read: 1 }),
    ));

  test('read_committed reads everything, end offsets at the high watermark', () =>
    same('read-committed', (r) => {
      assert.equal(r.read, 30);
      const ends = r.endOffsets as Record<string, number>;
      assert.equal(
        Object.values(ends).reduce((n, o) => n + o, 0),
        30,
      );
    }));

  test('headers: repeated keys, null and empty values, non-ASCII; a null key and value', () =>
    same('headers', (r) =>
      assert.deepEqual(r.read, [
        [
          0,
          'k1',
          'with headers',
          [
            ['a', '1'],
            ['a', '2'],
            ['b', null],
            ['', ''],
            ['ünï', 'välue'],
          ],
        ],
        [1, 'k2', 'no headers', []],
        [2, null, null, []],
      ]),
    ));

  test('large records: 1,000,000 bytes through 64 KiB fetch limits; RecordTooLargeException from broker and client', () =>
    same('large-records', (r) =>
      assert.deepEqual(r, {
        scenario: 'large-records',
        bigAck: [[0, 0]],
        overTopicLimit: 'org.apache.kafka.common.errors.RecordTooLargeException',
        overRequestLimit: 'org.apache.kafka.common.errors.RecordTooLargeException',
        smallTopicStillTakes: [[0, 0]],
        readCount: 1,
        readIntact: true,
      }),
    ));

  test('seek, seekToEnd, seekToBeginning; past the end: reset to earliest, or OffsetOutOfRangeException', () =>
    same('seek', (r) =>
      assert.deepEqual(r, {
        scenario: 'seek',
        fromFive: [5, 6, 7, 8, 9].map((i) => [i, `v${i}`]),
        positionAtEnd: 10,
        positionAtBeginning: 0,
        pastEndResetTo: 0,
        pastEndWithResetNone: 'org.apache.kafka.clients.consumer.OffsetOutOfRangeException',
      }),
    ));

  test('offsetsForTimes, beginningOffsets, endOffsets', () =>
    same('offsets-for-times', (r) =>
      assert.deepEqual(r, {
        scenario: 'offsets-for-times',
        'at+zero': [0, 0],
        'at+0': [0, 0],
        'at+2500': [3, 3000],
        'at+4000': [4, 4000],
        'at+10000': null,
        beginning: 0,
        end: 5,
      }),
    ));

  test('log start after deleteRecords: beginning, offsetsForTimes, reset from below it, or OffsetOutOfRangeException', () =>
    same('log-start', (r) =>
      assert.deepEqual(r, {
        scenario: 'log-start',
        beginning: 4,
        offsetForTimeZero: 4,
        positionAtBeginning: 4,
        belowStartResetTo: 4,
        belowStartWithResetNone: 'org.apache.kafka.clients.consumer.OffsetOutOfRangeException',
      }),
    ));

  test('LogAppendTime: the broker time in the acknowledgement and on the record', () =>
    same('log-append-time', (r) =>
      assert.deepEqual(r, {
        scenario: 'log-append-time',
        ackTimestampIsBrokerTime: true,
        timestampType: 'LogAppendTime',
        recordTimestampIsAckTimestamp: true,
      }),
    ));

  test('commitSync for a topic that does not exist times out (UNKNOWN_TOPIC_OR_PARTITION, retried)', () =>
    same('commit-unknown-topic', (r) =>
      assert.deepEqual(r, {
        scenario: 'commit-unknown-topic',
        commit: 'org.apache.kafka.common.errors.TimeoutException',
        committed: null,
      }),
    ));

  test('classic group: commitSync, commitAsync with metadata, committed(), a new member resumes there', () =>
    same('classic-commit', (r) => {
      assert.equal(r.read, 30);
      assert.deepEqual(r.assignment, [0, 1, 2]);
      assert.equal(r.asyncCallback, 'ok');
      const sync = r.afterCommitSync as Record<string, [number, string]>;
      assert.equal(
        Object.values(sync).reduce((n, [o]) => n + o, 0),
        30,
        'committed at the end of every partition',
      );
      assert.deepEqual(r.afterExplicitCommits, { 0: [5, 'async'], 1: [7, 'sync'], 2: sync['2'] });
      assert.equal(r.resumedRead, sync['0'][0] - 5 + sync['1'][0] - 7);
      assert.deepEqual(r.resumedFirstOffsets, { 0: 5, 1: 7 });
    }));

  test('classic group: a commit while a rebalance is being prepared is accepted; then range shares', () =>
    same('classic-rebalance-commit', (r) =>
      assert.deepEqual(r, {
        scenario: 'classic-rebalance-commit',
        stateWhileJoining: 'PreparingRebalance',
        commitDuringRebalance: null,
        committedDuringRebalance: { 0: [1, ''] },
        sizes: [1, 2],
        commitAfterRebalance: null,
        state: 'Stable',
      }),
    ));

  test('cooperative-sticky: the second member takes half, the first revokes only what moves, then gets it back', () =>
    same('cooperative-sticky', (r) =>
      assert.deepEqual(r, {
        scenario: 'cooperative-sticky',
        c1Alone: [0, 1, 2, 3],
        sizes: [2, 2],
        union: [0, 1, 2, 3],
        c1RevokedCount: 2,
        c1AfterC2Left: [0, 1, 2, 3],
        c1Lost: [],
      }),
    ));

  test('static membership: a returning member keeps its generation and partitions; a duplicate instance id fences the old one', () =>
    same('static-membership', (r) =>
      assert.deepEqual(r, {
        scenario: 'static-membership',
        assignment: [0, 1],
        groupInstanceId: 'instance-1',
        membersAfterClose: ['instance-1'],
        rejoinSameGeneration: true,
        rejoinNewMemberId: true,
        rejoinAssignment: [0, 1],
        duplicateInstanceFencesOld: 'org.apache.kafka.common.errors.FencedInstanceIdException',
        newcomerAssignment: [0, 1],
      }),
    ));

  test('group.protocol=consumer (KIP-848): shares, each record once by its owner, commits, describeConsumerGroups', () =>
    same('kip848', (r) =>
      assert.deepEqual(r, {
        scenario: 'kip848',
        sizes: [1, 2],
        union: [0, 1, 2],
        consumed: 30,
        duplicates: 0,
        fromNonOwners: 0,
        committedSum: 30,
        type: 'Consumer',
        state: 'Stable',
        members: 2,
        c1AfterC2Left: [0, 1, 2],
      }),
    ));

  test('KIP-848, range assignor and a broker-side regex: shares by partition index; a new matching topic is assigned', () =>
    same('kip848-range-regex', (r) =>
      assert.deepEqual(r, {
        scenario: 'kip848-range-regex',
        c1Alone: ['rx-a:0', 'rx-a:1', 'rx-b:0', 'rx-b:1'],
        rangeShares: ['[rx-a:0, rx-b:0]', '[rx-a:1, rx-b:1]'],
        afterNewTopic: ['rx-a:0', 'rx-a:1', 'rx-b:0', 'rx-b:1', 'rx-c:0', 'rx-c:1'],
      }),
    ));

  test('KIP-848 static membership: a returning member gets its partitions; a duplicate live instance id is refused', () =>
    same('kip848-static', (r) =>
      assert.deepEqual(r, {
        scenario: 'kip848-static',
        assignment: [0, 1],
        membersAfterClose: ['s-1'],
        rejoinAssignment: [0, 1],
        duplicateInstance: 'org.apache.kafka.common.errors.UnreleasedInstanceIdException',
        liveMemberKeeps: [0, 1],
      }),
    ));

  test('the default producer is idempotent: its batches carry a producer id and consecutive sequences, on both brokers', async () => {
    for (const [where, bootstrap] of [
      ['kafka', kafka!.bootstrapServers],
      ['samsa', samsa!.bootstrapServers],
    ]) {
      const perPartition = await Promise.all([0, 1, 2].map((p) => batchesOf(bootstrap, `${PREFIX}-defaults`, p)));
      const producerIds = new Set(perPartition.flat().map((b) => b.producerId));
      assert.equal(producerIds.size, 1, `${where}: one producer wrote every batch: ${JSON.stringify(perPartition)}`);
      assert.ok([...producerIds][0] >= 0, `${where}: the batches carry a producer id`);
      for (const batches of perPartition) {
        let seq = 0;
        for (const b of batches) {
          assert.equal(b.producerEpoch, 0, `${where}: producer epoch`);
          assert.equal(b.baseSequence, seq, `${where}: batches numbered consecutively: ${JSON.stringify(batches)}`);
          seq += b.records;
        }
        assert.equal(seq, batches.length ? batches.at(-1)!.baseOffset + batches.at(-1)!.records : 0);
      }
      assert.equal(
        perPartition.flat().reduce((n, b) => n + b.records, 0),
        30,
      );
    }
  });

  test('each compression type is stored as the producer compressed it, on both brokers', async () => {
    const codecs = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
    for (const [where, bootstrap] of [
      ['kafka', kafka!.bootstrapServers],
      ['samsa', samsa!.bootstrapServers],
    ]) {
      for (const [type, codec] of Object.entries(codecs)) {
        const batches = await batchesOf(bootstrap, `${PREFIX}-compression-${type}`, 0);
        assert.equal(
          batches.reduce((n, b) => n + b.records, 0),
          500,
          `${where} ${type}: all records`,
        );
        assert.deepEqual(
          new Set(batches.map((b) => b.compression)),
          new Set([codec]),
          `${where} ${type}: codec of every batch`,
        );
      }
    }
  });

  test('transactions: a committed transaction read at read_committed; a second producer fences the first', () => {
    const expected = (fenced: string) => ({
      scenario: 'transactions',
      initTransactions: null,
      readCommitted: [
        [0, 't0'],
        [1, 't1'],
        [2, 't2'],
      ],
      fenced: `org.apache.kafka.common.errors.${fenced}`,
    });
    // both finalize transaction.version 2: the fenced producer's send (Produce v12, no AddPartitionsToTxn)
    // reaches the partition leader, whose add to the transaction is refused for the old epoch
    assert.deepEqual(result('kafka', 'transactions'), expected('InvalidProducerEpochException'));
    assert.deepEqual(result('samsa', 'transactions'), expected('InvalidProducerEpochException'));
  });

  test('sendOffsetsToTransaction (TxnOffsetCommit v5): the group sees the offsets of committed transactions only', async () => {
    same('transaction-offsets', (r) =>
      assert.deepEqual(r, {
        scenario: 'transaction-offsets',
        afterCommit: [2, 'first'],
        afterAbort: [2, 'first'],
        afterOffsetsOnly: [3, 'third'],
        position: 3,
        readCommitted: [[0, 'committed']],
      }),
    );
    // transactions v2 on both: each transaction's end bumps the epoch and its marker carries the bumped one
    // (the committed record, its COMMIT marker, the aborted record, its ABORT marker)
    for (const where of [kafka!.bootstrapServers, samsa!.bootstrapServers]) {
      const batches = await batchesOf(where, `${PREFIX}-txo-out`, 0);
      assert.deepEqual(
        batches.map((x) => [x.baseOffset, x.producerEpoch - batches[0].producerEpoch]),
        [
          [0, 0],
          [1, 1],
          [2, 1],
          [3, 2],
        ],
        where,
      );
    }
  });
});
