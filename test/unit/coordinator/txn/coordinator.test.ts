/**
 * The transaction coordinator with an in-memory store and marker sender:
 * producer ids and epoch bumps, fencing, the state machine of a transaction
 * (AddPartitions, EndTxn, markers, completion), Kafka's error codes,
 * timeouts, expiry, and loading from the log after a failover.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransactionCoordinator, type TxnStore } from '../../../../src/coordinator/txn/coordinator.ts';
import {
  decodeTxnRecord,
  encodeTxnRecord,
  partitionForTxn,
  type TxnLogRecord,
} from '../../../../src/coordinator/txn/txn-records.ts';
import { ErrorCode } from '../../../../src/protocol/error-codes.ts';
import type { TopicPartition } from '../../../../src/coordinator/txn/types.ts';

const PARTITIONS = 4;

interface Sent {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  partitions: TopicPartition[];
}

function setup(opts: { failWrites?: () => number | null } = {}) {
  const log = new Map<number, TxnLogRecord[]>();
  let clock = 1_000_000;
  let nextPid = 1000;
  const sent: Sent[] = [];
  let releaseMarkers: (() => void) | null = null;
  let holdMarkers = false;
  const store: TxnStore = {
    async write(partition, record) {
      const code = opts.failWrites?.() ?? null;
      if (code !== null) throw Object.assign(new Error('refused'), { errorCode: code });
      // round-trip through Kafka's record format, as the log would
      const { key, value } = encodeTxnRecord(record);
      const back = decodeTxnRecord(key, value)!;
      const l = log.get(partition) ?? [];
      l.push(back);
      log.set(partition, l);
    },
    async load(partition) {
      return log.get(partition) ?? [];
    },
  };
  const deps = {
    store,
    markers: {
      async send(m: Sent) {
        sent.push(m);
        if (holdMarkers) await new Promise<void>((r) => (releaseMarkers = r));
      },
    },
    allocateProducerId: async () => nextPid++,
    now: () => clock,
    partitionCount: () => PARTITIONS,
    isLeader: () => true,
  };
  const c = new TransactionCoordinator({ maxTimeoutMs: 900_000, idExpirationMs: 604_800_000 }, deps);
  return {
    c,
    deps,
    log,
    sent,
    advance: (ms: number) => (clock += ms),
    hold: () => (holdMarkers = true),
    release: () => {
      holdMarkers = false;
      releaseMarkers?.();
    },
    async hostAll(epoch = 1) {
      for (let p = 0; p < PARTITIONS; p++) await c.onElection(p, epoch);
    },
  };
}

/** Lets the marker sending and completion write that follow an EndTxn run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

const tp = (topic: string, partition: number) => ({ topic, partition });

test('a new transactional id gets a producer id at epoch 0; InitProducerId again bumps the epoch', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t1', 60000, null);
  assert.deepEqual(a, { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 0 });
  const b = await s.c.initProducerId('t1', 60000, null);
  assert.deepEqual(b, { errorCode: ErrorCode.NONE, producerId: 1000, producerEpoch: 1 });
});

test('transaction timeouts above transaction.max.timeout.ms or not positive are refused', async () => {
  const s = setup();
  await s.hostAll();
  assert.equal((await s.c.initProducerId('t', 900_001, null)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  assert.equal((await s.c.initProducerId('t', 0, null)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
  assert.equal((await s.c.initProducerId('', 1000, null)).errorCode, ErrorCode.INVALID_REQUEST);
});

test('not hosted: NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS when led but not loaded', async () => {
  const s = setup();
  assert.equal((await s.c.initProducerId('t', 1000, null)).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  s.deps.isLeader = () => false;
  assert.equal((await s.c.initProducerId('t', 1000, null)).errorCode, ErrorCode.NOT_COORDINATOR);
});

test('commit: Ongoing, PrepareCommit, markers to every partition, CompleteCommit', async () => {
  const s = setup();
  await s.hostAll();
  const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
  assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0), tp('b', 1)]), ErrorCode.NONE);
  assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0)]), ErrorCode.NONE);
  assert.equal(s.c.describe('t').txn?.state, 'Ongoing');
  s.hold();
  assert.equal(await s.c.endTxn('t', pid, ep, true), ErrorCode.NONE);
  assert.equal(s.c.describe('t').txn?.state, 'PrepareCommit');
  // while the markers are being written: a retry waits, an abort is refused, a new partition waits
  assert.equal(await s.c.endTxn('t', pid, ep, true), ErrorCode.CONCURRENT_TRANSACTIONS);
  assert.equal(await s.c.endTxn('t', pid, ep, false), ErrorCode.INVALID_TXN_STATE);
  assert.equal(await s.c.addPartitions('t', pid, ep, [tp('c', 0)]), ErrorCode.CONCURRENT_TRANSACTIONS);
  assert.equal((await s.c.initProducerId('t', 60000, null)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  s.release();
  await settle();
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0].commit, true);
  assert.deepEqual(s.sent[0].partitions.map((p) => `${p.topic}-${p.partition}`).sort(), ['a-0', 'b-1']);
  const d = s.c.describe('t').txn!;
  assert.equal(d.state, 'CompleteCommit');
  assert.deepEqual(d.partitions, []);
  // a retried commit is answered NONE; an abort of it INVALID_TXN_STATE
  assert.equal(await s.c.endTxn('t', pid, ep, true), ErrorCode.NONE);
  assert.equal(await s.c.endTxn('t', pid, ep, false), ErrorCode.INVALID_TXN_STATE);
  // the log holds Kafka's states in order
  const states = s.log.get(partitionForTxn('t', PARTITIONS))!.map((r) => r.value?.state);
  assert.deepEqual(states, ['Empty', 'Ongoing', 'PrepareCommit', 'CompleteCommit']);
});

test('EndTxn errors: unknown producer id, older epoch, no transaction open', async () => {
  const s = setup();
  await s.hostAll();
  const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
  assert.equal(await s.c.endTxn('t', pid + 1, ep, true), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  assert.equal(await s.c.endTxn('nobody', pid, ep, true), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  assert.equal(await s.c.endTxn('t', pid, ep, true), ErrorCode.INVALID_TXN_STATE);
  assert.equal(await s.c.addPartitions('t', pid + 1, ep, [tp('a', 0)]), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
});

test('a second producer with the same transactional id fences the first and aborts what it left open', async () => {
  const s = setup();
  await s.hostAll();
  const first = await s.c.initProducerId('t', 60000, null);
  assert.equal(await s.c.addPartitions('t', first.producerId, first.producerEpoch, [tp('a', 0)]), ErrorCode.NONE);
  // the second producer: the open transaction is aborted with a bumped epoch, and it is told to retry
  assert.equal((await s.c.initProducerId('t', 60000, null)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  await settle();
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0].commit, false);
  assert.equal(s.sent[0].producerEpoch, first.producerEpoch + 1);
  const second = await s.c.initProducerId('t', 60000, null);
  assert.equal(second.errorCode, ErrorCode.NONE);
  assert.equal(second.producerId, first.producerId);
  assert.equal(second.producerEpoch, first.producerEpoch + 2);
  // the first producer is fenced
  assert.equal(
    await s.c.addPartitions('t', first.producerId, first.producerEpoch, [tp('a', 0)]),
    ErrorCode.PRODUCER_FENCED,
  );
  assert.equal(await s.c.endTxn('t', first.producerId, first.producerEpoch, true), ErrorCode.PRODUCER_FENCED);
});

test('KIP-360: a producer bumps its own epoch; a retry of that bump gets the same epoch; another id is fenced', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60000, null);
  const expected = { producerId: a.producerId, producerEpoch: a.producerEpoch };
  const b = await s.c.initProducerId('t', 60000, expected);
  assert.deepEqual(b, { errorCode: ErrorCode.NONE, producerId: a.producerId, producerEpoch: a.producerEpoch + 1 });
  const retry = await s.c.initProducerId('t', 60000, expected);
  assert.equal(retry.producerEpoch, b.producerEpoch);
  const stale = await s.c.initProducerId('t', 60000, { producerId: a.producerId, producerEpoch: 77 });
  assert.equal(stale.errorCode, ErrorCode.PRODUCER_FENCED);
  const other = await s.c.initProducerId('t', 60000, { producerId: 5, producerEpoch: 0 });
  assert.equal(other.errorCode, ErrorCode.PRODUCER_FENCED);
});

test('an exhausted epoch gets a new producer id at epoch 0', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60000, null);
  // the state as a long-lived id would have it, loaded from the log
  const p = partitionForTxn('t', PARTITIONS);
  const last = s.log.get(p)!.at(-1)!;
  last.value!.producerEpoch = 32766;
  s.c.onResignation(p);
  await s.c.onElection(p, 2);
  const b = await s.c.initProducerId('t', 60000, null);
  assert.equal(b.errorCode, ErrorCode.NONE);
  assert.notEqual(b.producerId, a.producerId);
  assert.equal(b.producerEpoch, 0);
});

test('the coordinator aborts a transaction open longer than its timeout, fencing its producer', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 10_000, null);
  await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]);
  s.advance(9_000);
  assert.equal(s.c.abortTimedOut(), 0);
  s.advance(2_000);
  assert.equal(s.c.abortTimedOut(), 1);
  await settle();
  assert.equal(s.c.describe('t').txn?.state, 'CompleteAbort');
  assert.equal(s.sent[0].commit, false);
  assert.equal(await s.c.endTxn('t', a.producerId, a.producerEpoch, true), ErrorCode.PRODUCER_FENCED);
});

test('after a failover the new coordinator sends the markers of a prepared transaction and completes it', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60_000, null);
  await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]);
  s.hold();
  assert.equal(await s.c.endTxn('t', a.producerId, a.producerEpoch, true), ErrorCode.NONE);
  // leadership moves before the markers were written: nothing more is written by this coordinator
  const p = partitionForTxn('t', PARTITIONS);
  s.c.onResignation(p);
  assert.equal(s.c.coordinatorError('t'), ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
  s.release();
  await settle();
  assert.deepEqual(
    s.log.get(p)!.map((r) => r.value?.state),
    ['Empty', 'Ongoing', 'PrepareCommit'],
  );
  // the next leader (here the same coordinator at a newer epoch) finishes it
  await s.c.onElection(p, 2);
  await settle();
  assert.equal(s.sent.length, 2);
  assert.equal(s.sent[1].commit, true);
  assert.equal(s.c.describe('t').txn?.state, 'CompleteCommit');
  // the producer carries on where it was
  assert.equal(await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]), ErrorCode.NONE);
});

test('a failed write answers Kafka’s coordinator error and leaves the state as it was', async () => {
  let fail: number | null = null;
  const s = setup({ failWrites: () => fail });
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60_000, null);
  fail = ErrorCode.NOT_ENOUGH_REPLICAS;
  assert.equal(
    await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]),
    ErrorCode.COORDINATOR_NOT_AVAILABLE,
  );
  fail = ErrorCode.NOT_LEADER_OR_FOLLOWER;
  assert.equal(await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]), ErrorCode.NOT_COORDINATOR);
  assert.equal(s.c.describe('t').txn?.state, 'Empty');
  fail = null;
  assert.equal(await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]), ErrorCode.NONE);
});

test('verifyOnly: partitions outside the ongoing transaction get the given error', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60_000, null);
  await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)]);
  assert.deepEqual(
    s.c.verifyPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0), tp('a', 1)], ErrorCode.INVALID_TXN_STATE),
    [ErrorCode.NONE, ErrorCode.INVALID_TXN_STATE],
  );
  assert.deepEqual(
    s.c.verifyPartitions('t', a.producerId, a.producerEpoch - 1 + 2, [tp('a', 0)], ErrorCode.INVALID_TXN_STATE),
    [ErrorCode.PRODUCER_FENCED],
  );
});

test('idle transactional ids expire after transactional.id.expiration.ms with a tombstone', async () => {
  const s = setup();
  await s.hostAll();
  await s.c.initProducerId('t', 60_000, null);
  assert.equal(await s.c.expireIds(), 0);
  s.advance(604_800_001);
  assert.equal(await s.c.expireIds(), 1);
  assert.equal(s.c.describe('t').errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
  const p = partitionForTxn('t', PARTITIONS);
  assert.equal(s.log.get(p)!.at(-1)!.value, null);
  // reloaded: still gone
  s.c.onResignation(p);
  await s.c.onElection(p, 2);
  assert.equal(s.c.describe('t').errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
});

test('ListTransactions filters by state and producer id', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t1', 60_000, null);
  await s.c.initProducerId('t2', 60_000, null);
  await s.c.addPartitions('t1', a.producerId, a.producerEpoch, [tp('a', 0)]);
  assert.deepEqual(
    s.c.list(['Ongoing'], []).txns.map((t) => t.transactionalId),
    ['t1'],
  );
  assert.equal(s.c.list([], [a.producerId]).txns.length, 1);
  assert.equal(s.c.list([], []).txns.length, 2);
  // durationFilter: open longer than 5 s
  assert.deepEqual(
    s.c.list(['Ongoing'], [], 5000).txns.map((t) => t.transactionalId),
    [],
  );
  s.advance(5001);
  assert.deepEqual(
    s.c.list(['Ongoing'], [], 5000).txns.map((t) => t.transactionalId),
    ['t1'],
  );
});

test('TransactionLogValue round-trips in Kafka layout (version 0)', () => {
  const rec: TxnLogRecord = {
    transactionalId: 'tx',
    value: {
      producerId: 42,
      prevProducerId: -1,
      nextProducerId: -1,
      producerEpoch: 3,
      timeoutMs: 60000,
      state: 'Ongoing',
      partitions: new Map([['a', new Set([0, 2])]]),
      lastUpdateTimestamp: 5,
      startTimestamp: 4,
      clientTransactionVersion: 0,
    },
  };
  const { key, value } = encodeTxnRecord(rec);
  // key: int16 version 0, int16 length, "tx"
  assert.deepEqual([...key], [0, 0, 0, 2, 0x74, 0x78]);
  // value: version 0, producer id, epoch, timeout, status 1 (Ongoing)
  assert.equal(value!.readInt16BE(0), 0);
  assert.equal(value!.readBigInt64BE(2), 42n);
  assert.equal(value!.readInt16BE(10), 3);
  assert.equal(value!.readInt32BE(12), 60000);
  assert.equal(value!.readInt8(16), 1);
  assert.deepEqual(decodeTxnRecord(key, value), rec);
  assert.deepEqual(decodeTxnRecord(key, null), { transactionalId: 'tx', value: null });
});

// ---- transactions v2 (KIP-890 part 2: EndTxn v5) -------------------------------------------------

test('TV2: EndTxn bumps the epoch, writes the markers with it and answers it; a retry waits, then gets the same answer', async () => {
  const s = setup();
  await s.hostAll();
  const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
  assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0), tp('b', 1)]), ErrorCode.NONE);
  s.hold();
  const end = await s.c.endTxnV2('t', pid, ep, true);
  assert.deepEqual(end, { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: ep + 1 });
  assert.equal(s.c.describe('t').txn?.state, 'PrepareCommit');
  // while the markers are written: the retry waits (Kafka's CONCURRENT_TRANSACTIONS); the old epoch adds nothing
  assert.deepEqual(await s.c.endTxnV2('t', pid, ep, true), {
    errorCode: ErrorCode.CONCURRENT_TRANSACTIONS,
    producerId: -1,
    producerEpoch: -1,
  });
  assert.equal((await s.c.endTxnV2('t', pid, ep, false)).errorCode, ErrorCode.INVALID_TXN_STATE);
  assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0)]), ErrorCode.PRODUCER_FENCED);
  s.release();
  await settle();
  assert.equal(s.sent.length, 1);
  assert.equal(s.sent[0].commit, true);
  assert.equal(s.sent[0].producerEpoch, ep + 1);
  assert.equal(s.c.describe('t').txn?.state, 'CompleteCommit');
  assert.deepEqual(await s.c.endTxnV2('t', pid, ep, true), end);
  // the next transaction, with the new epoch
  assert.equal(await s.c.addPartitions('t', pid, ep + 1, [tp('a', 0)]), ErrorCode.NONE);
  assert.equal(s.c.describe('t').txn?.state, 'Ongoing');
  const abort = await s.c.endTxnV2('t', pid, ep + 1, false);
  assert.deepEqual(abort, { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: ep + 2 });
  await settle();
  assert.equal(s.sent[1].commit, false);
  assert.equal(s.sent[1].producerEpoch, ep + 2);
  assert.equal(s.c.describe('t').txn?.state, 'CompleteAbort');
  // the log holds the bumped epochs (a new coordinator loads them)
  const values = s.log.get(partitionForTxn('t', PARTITIONS))!.map((r) => [r.value?.state, r.value?.producerEpoch]);
  assert.deepEqual(values.slice(-3), [
    ['Ongoing', ep + 1],
    ['PrepareAbort', ep + 2],
    ['CompleteAbort', ep + 2],
  ]);
});

test('TV2: an abort with no transaction open bumps the epoch; a commit of none is INVALID_TXN_STATE', async () => {
  const s = setup();
  await s.hostAll();
  const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
  assert.equal((await s.c.endTxnV2('t', pid, ep, true)).errorCode, ErrorCode.INVALID_TXN_STATE);
  const abort = await s.c.endTxnV2('t', pid, ep, false);
  assert.deepEqual(abort, { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: ep + 1 });
  await settle();
  assert.equal(s.c.describe('t').txn?.state, 'CompleteAbort');
  assert.deepEqual(s.sent[0].partitions, []);
});

test('TV2: a producer fenced by InitProducerId is not taken for a retry; errors as Kafka answers them', async () => {
  const s = setup();
  await s.hostAll();
  const first = await s.c.initProducerId('t', 60000, null);
  const second = await s.c.initProducerId('t', 60000, null);
  assert.equal(second.producerEpoch, first.producerEpoch + 1);
  for (const commit of [true, false]) {
    const r = await s.c.endTxnV2('t', first.producerId, first.producerEpoch, commit);
    assert.deepEqual(r, { errorCode: ErrorCode.PRODUCER_FENCED, producerId: -1, producerEpoch: -1 });
  }
  assert.equal(
    (await s.c.endTxnV2('t', first.producerId + 1, second.producerEpoch, true)).errorCode,
    ErrorCode.INVALID_PRODUCER_ID_MAPPING,
  );
  assert.equal(
    (await s.c.endTxnV2('', first.producerId, second.producerEpoch, true)).errorCode,
    ErrorCode.INVALID_REQUEST,
  );
  // a transaction that InitProducerId aborted (fencing its producer) is no retry of that producer's EndTxn either
  assert.equal(await s.c.addPartitions('t', second.producerId, second.producerEpoch, [tp('a', 0)]), ErrorCode.NONE);
  assert.equal((await s.c.initProducerId('t', 60000, null)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  await settle();
  assert.equal(s.c.describe('t').txn?.state, 'CompleteAbort');
  assert.equal(
    (await s.c.endTxnV2('t', second.producerId, second.producerEpoch, false)).errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
});

test('TV2: at an exhausted epoch EndTxn moves the producer to a new id at epoch 0 once the transaction completes', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60000, null);
  const p = partitionForTxn('t', PARTITIONS);
  s.log.get(p)!.at(-1)!.value!.producerEpoch = 32766;
  s.c.onResignation(p);
  await s.c.onElection(p, 2);
  assert.equal(await s.c.addPartitions('t', a.producerId, 32766, [tp('a', 0)]), ErrorCode.NONE);
  s.hold();
  const end = await s.c.endTxnV2('t', a.producerId, 32766, true);
  assert.equal(end.errorCode, ErrorCode.NONE);
  assert.notEqual(end.producerId, a.producerId);
  assert.equal(end.producerEpoch, 0);
  // the new id waits for the old one's transaction to complete; so does its retry
  assert.equal(await s.c.addPartitions('t', end.producerId, 0, [tp('a', 0)]), ErrorCode.CONCURRENT_TRANSACTIONS);
  assert.equal((await s.c.endTxnV2('t', a.producerId, 32766, true)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  s.release();
  await settle();
  // the markers close the transaction on the old id, at the last epoch
  assert.equal(s.sent[0].producerId, a.producerId);
  assert.equal(s.sent[0].producerEpoch, 32767);
  const d = s.c.describe('t').txn!;
  assert.equal(d.state, 'CompleteCommit');
  assert.deepEqual(await s.c.endTxnV2('t', a.producerId, 32766, true), end);
  assert.equal(await s.c.addPartitions('t', end.producerId, 0, [tp('a', 0)]), ErrorCode.NONE);
  assert.equal(await s.c.addPartitions('t', a.producerId, 32767, [tp('a', 0)]), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
});

test('a retried EndTxn while PrepareCommit / PrepareAbort is CONCURRENT_TRANSACTIONS until the markers complete it', async () => {
  for (const v2 of [false, true]) {
    for (const commit of [true, false]) {
      const s = setup();
      await s.hostAll();
      const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
      assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0)], v2 ? 2 : 0), ErrorCode.NONE);
      s.hold();
      const end = async (c: boolean) =>
        v2 ? (await s.c.endTxnV2('t', pid, ep, c)).errorCode : await s.c.endTxn('t', pid, ep, c);
      assert.equal(await end(commit), ErrorCode.NONE);
      assert.equal(s.c.describe('t').txn?.state, commit ? 'PrepareCommit' : 'PrepareAbort');
      // the same EndTxn again: retriable until the transaction is complete; the other outcome is refused
      assert.equal(await end(commit), ErrorCode.CONCURRENT_TRANSACTIONS);
      assert.equal(await end(!commit), ErrorCode.INVALID_TXN_STATE);
      s.release();
      await settle();
      assert.equal(s.c.describe('t').txn?.state, commit ? 'CompleteCommit' : 'CompleteAbort');
      assert.equal(await end(commit), ErrorCode.NONE);
      if (v2)
        assert.deepEqual(await s.c.endTxnV2('t', pid, ep, commit), {
          errorCode: 0,
          producerId: pid,
          producerEpoch: ep + 1,
        });
    }
  }
});

// ---- transactions v2 across a failover: what __transaction_state keeps (TransactionLogValue v1 tagged fields) ----

/** A second coordinator on the same log (a failover): it knows only what was written. */
async function failover(s: ReturnType<typeof setup>, transactionalId: string): Promise<TransactionCoordinator> {
  const p = partitionForTxn(transactionalId, PARTITIONS);
  s.c.onResignation(p);
  const next = new TransactionCoordinator({ maxTimeoutMs: 900_000, idExpirationMs: 604_800_000 }, s.deps);
  await next.onElection(p, 2);
  return next;
}

test('TV2 failover: a retried EndTxn v5 is answered as the original, prepared or completed', async () => {
  for (const completed of [false, true]) {
    const s = setup();
    await s.hostAll();
    const { producerId: pid, producerEpoch: ep } = await s.c.initProducerId('t', 60000, null);
    assert.equal(await s.c.addPartitions('t', pid, ep, [tp('a', 0)], 2), ErrorCode.NONE);
    if (!completed) s.hold();
    const end = await s.c.endTxnV2('t', pid, ep, true);
    assert.deepEqual(end, { errorCode: ErrorCode.NONE, producerId: pid, producerEpoch: ep + 1 });
    await settle();
    assert.equal(s.c.describe('t').txn?.state, completed ? 'CompleteCommit' : 'PrepareCommit');
    const c2 = await failover(s, 't');
    s.release();
    await settle();
    assert.equal(c2.describe('t').txn?.state, 'CompleteCommit');
    // the answer was lost: the producer retries with the epoch it had
    assert.deepEqual(await c2.endTxnV2('t', pid, ep, true), end);
    assert.equal((await c2.endTxnV2('t', pid, ep, false)).errorCode, ErrorCode.INVALID_TXN_STATE);
    // and carries on with the epoch it was given
    assert.equal(await c2.addPartitions('t', pid, ep + 1, [tp('a', 0)], 2), ErrorCode.NONE);
    assert.deepEqual(await c2.endTxnV2('t', pid, ep + 1, false), {
      errorCode: ErrorCode.NONE,
      producerId: pid,
      producerEpoch: ep + 2,
    });
  }
});

test('TV2 failover at an exhausted epoch: the completion moves to the new producer id; the retry gets it', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 60000, null);
  const p = partitionForTxn('t', PARTITIONS);
  s.log.get(p)!.at(-1)!.value!.producerEpoch = 32766;
  s.c.onResignation(p);
  await s.c.onElection(p, 2);
  assert.equal(await s.c.addPartitions('t', a.producerId, 32766, [tp('a', 0)], 2), ErrorCode.NONE);
  s.hold();
  const end = await s.c.endTxnV2('t', a.producerId, 32766, true);
  assert.equal(end.errorCode, ErrorCode.NONE);
  assert.notEqual(end.producerId, a.producerId);
  const c2 = await failover(s, 't');
  // before completion the retry waits, as the new id does
  assert.equal((await c2.endTxnV2('t', a.producerId, 32766, true)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  s.release();
  await settle();
  assert.equal(c2.describe('t').txn?.state, 'CompleteCommit');
  assert.equal(s.sent.at(-1)!.producerId, a.producerId);
  assert.equal(s.sent.at(-1)!.producerEpoch, 32767);
  assert.deepEqual(await c2.endTxnV2('t', a.producerId, 32766, true), end);
  assert.equal(await c2.addPartitions('t', end.producerId, 0, [tp('a', 0)], 2), ErrorCode.NONE);
  // once more after another failover, from the completed state
  const c3 = await failover({ ...s, c: c2 }, 't');
  assert.equal(c3.describe('t').txn?.producerId, end.producerId);
  assert.equal(c3.describe('t').txn?.state, 'Ongoing');
});

test('TV2 failover: a producer fenced by a timeout or by InitProducerId is not taken for a retry', async () => {
  const s = setup();
  await s.hostAll();
  const a = await s.c.initProducerId('t', 10_000, null);
  assert.equal(await s.c.addPartitions('t', a.producerId, a.producerEpoch, [tp('a', 0)], 2), ErrorCode.NONE);
  s.advance(11_000);
  assert.equal(s.c.abortTimedOut(), 1);
  await settle();
  assert.equal(s.c.describe('t').txn?.state, 'CompleteAbort');
  const fenced = async (c: TransactionCoordinator) => {
    for (const commit of [true, false]) {
      assert.equal((await c.endTxnV2('t', a.producerId, a.producerEpoch, commit)).errorCode, ErrorCode.PRODUCER_FENCED);
    }
  };
  await fenced(s.c);
  await fenced(await failover(s, 't'));
  const s2 = setup();
  await s2.hostAll();
  const first = await s2.c.initProducerId('t', 60000, null);
  assert.equal(await s2.c.addPartitions('t', first.producerId, first.producerEpoch, [tp('a', 0)], 2), ErrorCode.NONE);
  assert.equal((await s2.c.initProducerId('t', 60000, null)).errorCode, ErrorCode.CONCURRENT_TRANSACTIONS);
  await settle();
  const c2 = await failover(s2, 't');
  assert.equal(
    (await c2.endTxnV2('t', first.producerId, first.producerEpoch, false)).errorCode,
    ErrorCode.PRODUCER_FENCED,
  );
});

test('TransactionLogValue version 1: PreviousProducerId, NextProducerId and ClientTransactionVersion tagged fields', () => {
  const rec: TxnLogRecord = {
    transactionalId: 'tx',
    value: {
      producerId: 42,
      prevProducerId: 41,
      nextProducerId: 43,
      producerEpoch: 32767,
      timeoutMs: 60000,
      state: 'PrepareCommit',
      partitions: new Map([['a', new Set([0, 2])]]),
      lastUpdateTimestamp: 5,
      startTimestamp: 4,
      clientTransactionVersion: 2,
    },
  };
  const { key, value } = encodeTxnRecord(rec);
  assert.equal(value!.readInt16BE(0), 1);
  assert.equal(value!.readBigInt64BE(2), 42n);
  assert.equal(value!.readInt16BE(10), 32767);
  assert.equal(value!.readInt32BE(12), 60000);
  assert.equal(value!.readInt8(16), 2);
  // the tagged fields close the record: 3 tags, tag 0 (8 bytes) 41, tag 1 (8 bytes) 43, tag 2 (2 bytes) 2
  const tail = [...value!.subarray(value!.length - 25)];
  assert.deepEqual(tail, [3, 0, 8, 0, 0, 0, 0, 0, 0, 0, 41, 1, 8, 0, 0, 0, 0, 0, 0, 0, 43, 2, 2, 0, 2]);
  assert.deepEqual(decodeTxnRecord(key, value), rec);
});
