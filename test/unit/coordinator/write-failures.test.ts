/**
 * Failed writes to __consumer_offsets, injected through the group store: the
 * request that needed the write fails with the error Kafka's group
 * coordinator gives for it, nothing of it is applied, and the failure is
 * logged, rate-limited. (The KIP-848 heartbeat persists nothing yet, so it
 * has no write to fail.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCoordinatorService, writeError, type GroupStore } from '../../../src/coordinator/group/service.ts';
import type { OffsetRecord } from '../../../src/coordinator/group/group-coordinator.ts';
import type { GroupSnapshot, JoinArgs } from '../../../src/coordinator/group/types.ts';
import { ErrorCode, errorName } from '../../../src/protocol/error-codes.ts';
import { KafkaStorageError } from '../../../src/storage/errors.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

type Stored = OffsetRecord | { groupId: string; snapshot: GroupSnapshot | null };

/** A store whose next writes fail with `failWith` while it is set. */
class FaultyStore implements GroupStore {
  readonly written: Stored[] = [];
  failWith: unknown = null;
  async write(records: Stored[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.written.push(...records);
  }
  async load(): Promise<Stored[]> {
    return [];
  }
}

class Warnings {
  readonly lines: { fields: Record<string, unknown>; msg: string }[] = [];
  warn(fields: object, msg: string): void {
    this.lines.push({ fields: fields as Record<string, unknown>, msg });
  }
}

const config = {
  minSessionTimeoutMs: 100,
  maxSessionTimeoutMs: 100_000,
  initialRebalanceDelayMs: 0,
  maxSize: 100,
  offsetsRetentionMs: 7 * 24 * 3600 * 1000,
  maxMetadataSize: 4096,
};

/** An error of the kind a partition's append reports (its Kafka error by name). */
function appendError(name: keyof typeof ErrorCode): Error {
  return Object.assign(new Error(`append failed: ${name}`), { errorCode: name });
}

function setup() {
  const env = new SimulatedEnv(1);
  const store = new FaultyStore();
  const log = new Warnings();
  const svc = new GroupCoordinatorService(config, store, env, log);
  return { env, store, log, svc };
}

const commit = (offset: number) => ({
  groupId: 'g',
  generationId: -1,
  memberId: '',
  groupInstanceId: null,
  offsets: [{ topic: 't', partition: 0, offset, leaderEpoch: 0, metadata: null }],
});

test('writeError maps an append failure as Kafka does, for offsets and for group metadata', () => {
  const cases: [unknown, number, number][] = [
    [
      appendError('UNKNOWN_TOPIC_OR_PARTITION'),
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ],
    [appendError('NOT_ENOUGH_REPLICAS'), ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [
      appendError('NOT_ENOUGH_REPLICAS_AFTER_APPEND'),
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ],
    [appendError('REQUEST_TIMED_OUT'), ErrorCode.COORDINATOR_NOT_AVAILABLE, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    [appendError('NOT_LEADER_OR_FOLLOWER'), ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR],
    [new KafkaStorageError('fsync failed', '/data'), ErrorCode.NOT_COORDINATOR, ErrorCode.NOT_COORDINATOR],
    [appendError('MESSAGE_TOO_LARGE'), ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.UNKNOWN_SERVER_ERROR],
    [appendError('RECORD_LIST_TOO_LARGE'), ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.UNKNOWN_SERVER_ERROR],
    [appendError('INVALID_FETCH_SIZE'), ErrorCode.INVALID_COMMIT_OFFSET_SIZE, ErrorCode.UNKNOWN_SERVER_ERROR],
    [
      Object.assign(new Error('x'), { errorCode: ErrorCode.CORRUPT_MESSAGE }),
      ErrorCode.CORRUPT_MESSAGE,
      ErrorCode.CORRUPT_MESSAGE,
    ],
    [
      new Error('__consumer_offsets could not be created'),
      ErrorCode.UNKNOWN_SERVER_ERROR,
      ErrorCode.UNKNOWN_SERVER_ERROR,
    ],
  ];
  for (const [err, offsets, group] of cases) {
    assert.equal(errorName(writeError(err, 'offsets')), errorName(offsets), String(err));
    assert.equal(errorName(writeError(err, 'group')), errorName(group), String(err));
  }
});

test('OffsetCommit whose write fails answers the mapped error, applies nothing, and logs once per interval', async () => {
  const { env, store, log, svc } = setup();
  store.failWith = appendError('NOT_ENOUGH_REPLICAS');
  assert.deepEqual((await svc.commitOffsets(commit(5))).perPartition, [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  assert.deepEqual(
    svc.state.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].partitions[0].value,
    null,
    'not applied',
  );
  store.failWith = new KafkaStorageError('log dir failed', '/data');
  assert.deepEqual((await svc.commitOffsets(commit(6))).perPartition, [ErrorCode.NOT_COORDINATOR]);
  store.failWith = appendError('RECORD_LIST_TOO_LARGE');
  assert.deepEqual((await svc.commitOffsets(commit(7))).perPartition, [ErrorCode.INVALID_COMMIT_OFFSET_SIZE]);
  // A failure that carries no Kafka error (a bug, a missing partition log) fails the request too, rather than closing the connection.
  store.failWith = new Error('__consumer_offsets-3 is not hosted here');
  assert.deepEqual((await svc.commitOffsets(commit(8))).perPartition, [ErrorCode.UNKNOWN_SERVER_ERROR]);
  assert.equal(log.lines.length, 4, 'one line for each distinct error');
  assert.ok(log.lines.every((l) => l.msg === 'could not write committed offsets to __consumer_offsets'));
  assert.deepEqual(
    log.lines.map((l) => l.fields.answered),
    ['COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR', 'INVALID_COMMIT_OFFSET_SIZE', 'UNKNOWN_SERVER_ERROR'],
  );

  // The same error again within the interval is not logged; after it, one line counts what was held back.
  store.failWith = appendError('NOT_ENOUGH_REPLICAS');
  for (let i = 0; i < 3; i++)
    assert.deepEqual((await svc.commitOffsets(commit(9))).perPartition, [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  assert.equal(log.lines.length, 4);
  env.advance(10_000);
  await svc.commitOffsets(commit(9));
  assert.equal(log.lines.length, 5);
  assert.equal(log.lines[4].fields.suppressed, 3);

  store.failWith = null;
  assert.deepEqual((await svc.commitOffsets(commit(10))).perPartition, [ErrorCode.NONE]);
  assert.equal(svc.state.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].partitions[0].value?.offset, 10);
  svc.close();
});

function joinArgs(clientId: string, memberId = ''): JoinArgs {
  return {
    groupId: 'g',
    memberId,
    groupInstanceId: null,
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('sub') }],
    clientId,
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    reason: null,
  };
}

async function formGroup(svc: GroupCoordinatorService) {
  const pa = svc.join(joinArgs('a'));
  // The first join completes at once (no initial delay); b's join starts generation 2 with both.
  const a1 = await pa;
  const pb = svc.join(joinArgs('b'));
  const pa2 = svc.join(joinArgs('a', a1.memberId));
  const [a, b] = await Promise.all([pa2, pb]);
  assert.equal(a.errorCode, ErrorCode.NONE);
  assert.equal(a.generationId, b.generationId);
  const leader = a.leader === a.memberId ? a : b;
  const follower = leader === a ? b : a;
  return { leader, follower };
}

for (const [name, err, expected] of [
  ['a failed log dir', new KafkaStorageError('fsync failed', '/data'), ErrorCode.NOT_COORDINATOR],
  ['records too large', appendError('RECORD_LIST_TOO_LARGE'), ErrorCode.UNKNOWN_SERVER_ERROR],
] as const) {
  test(`SyncGroup whose group-state write fails (${name}): every waiting member gets ${errorName(expected)}, the group rebalances, and recovers`, async () => {
    const { store, log, svc } = setup();
    const { leader, follower } = await formGroup(svc);
    const sync = (m: typeof leader, assignments: { memberId: string; assignment: Buffer }[]) =>
      svc.sync({
        groupId: 'g',
        generationId: m.generationId,
        memberId: m.memberId,
        groupInstanceId: null,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments,
      });
    const assignments = [leader, follower].map((m) => ({
      memberId: m.memberId,
      assignment: Buffer.from(`for-${m.memberId}`),
    }));

    store.failWith = err;
    const [f, l] = await Promise.all([sync(follower, []), sync(leader, assignments)]);
    assert.equal(errorName(f.errorCode), errorName(expected));
    assert.equal(errorName(l.errorCode), errorName(expected));
    assert.equal(f.assignment.length, 0);
    assert.equal(l.assignment.length, 0);
    assert.equal(store.written.filter((r) => 'snapshot' in r).length, 0);
    const g = svc.state.groups.get('g')!;
    assert.equal(g.state, 'PreparingRebalance', 'the unwritten assignment is not kept');
    assert.ok([...g.members.values()].every((m) => m.assignment.length === 0));
    assert.equal(svc.heartbeat('g', leader.memberId, null, leader.generationId), ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(log.lines.length, 1);
    assert.equal(log.lines[0].msg, 'could not write group metadata to __consumer_offsets');

    // The store works again: the members rejoin and the next generation's assignment is written and answered.
    store.failWith = null;
    const [a2, b2] = await Promise.all([
      svc.join(joinArgs('a', leader.memberId)),
      svc.join(joinArgs('b', follower.memberId)),
    ]);
    assert.equal(a2.errorCode, ErrorCode.NONE);
    assert.equal(a2.generationId, leader.generationId + 1);
    const leader2 = a2.leader === a2.memberId ? a2 : b2;
    const follower2 = leader2 === a2 ? b2 : a2;
    const [f2, l2] = await Promise.all([sync(follower2, []), sync(leader2, assignments)]);
    assert.equal(f2.errorCode, ErrorCode.NONE);
    assert.equal(l2.errorCode, ErrorCode.NONE);
    assert.equal(f2.assignment.toString(), `for-${follower.memberId}`);
    assert.equal(svc.state.groups.get('g')!.state, 'Stable');
    assert.equal(store.written.filter((r) => 'snapshot' in r).length, 1);
    svc.close();
  });
}

test('DeleteGroups and OffsetDelete whose writes fail answer the mapped error and keep the offsets', async () => {
  const { store, svc } = setup();
  assert.deepEqual((await svc.commitOffsets(commit(5))).perPartition, [ErrorCode.NONE]);
  store.failWith = appendError('NOT_LEADER_OR_FOLLOWER');
  const del = await svc.deleteOffsets('g', [{ topic: 't', partition: 0 }]);
  assert.equal(del.errorCode, ErrorCode.NOT_COORDINATOR);
  assert.deepEqual(del.perPartition, [ErrorCode.NOT_COORDINATOR]);
  assert.equal(await svc.deleteGroup('g'), ErrorCode.NOT_COORDINATOR);
  assert.equal(
    svc.state.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].partitions[0].value?.offset,
    5,
    'kept',
  );
  assert.equal(svc.state.groups.get('g')?.state, 'Empty', 'the group is still there');
  store.failWith = null;
  assert.equal(await svc.deleteGroup('g'), ErrorCode.NONE);
  assert.equal(svc.state.fetchOffsets('g', [{ topic: 't', partitions: [0] }])[0].partitions[0].value, null);
  svc.close();
});
