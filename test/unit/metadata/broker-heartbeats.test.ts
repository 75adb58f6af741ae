/**
 * The broker lifecycle state machine (KIP-631) on simulated time: records
 * it decides are committed to an in-memory log (offsets in order) and applied
 * to the image, as the controller does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataImage, type PartitionState } from '../../../src/metadata/image.ts';
import { BrokerHeartbeats, type BrokerHeartbeatInput } from '../../../src/metadata/broker-heartbeats.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

const SESSION_MS = 9000;

class World {
  readonly env = new SimulatedEnv(1);
  readonly image = new MetadataImage();
  readonly hb: BrokerHeartbeats;
  /** Every committed batch, as the log holds it. */
  readonly log: MetadataRecord[][] = [];
  private nextOffset = 0;

  constructor(clusterId: string | null = 'cluster-a') {
    this.hb = new BrokerHeartbeats(this.image, {
      sessionTimeoutMs: SESSION_MS,
      env: this.env,
      clusterId: () => clusterId,
    });
    this.hb.activate();
  }

  commit(records: MetadataRecord[]): void {
    if (records.length === 0) return;
    const bad = this.image.check(records);
    assert.equal(bad, null);
    this.nextOffset += records.length;
    this.image.applyBatch(records, this.nextOffset - 1);
    this.log.push(records);
  }

  /** Registers broker `id` and returns its broker epoch. */
  register(id: number, incarnationId = `inc-${id}`, rack: string | null = null): number {
    const d = this.hb.register({
      brokerId: id,
      clusterId: 'cluster-a',
      incarnationId,
      listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9090 + id }],
      rack,
    });
    assert.equal(d.answer.errorCode, ErrorCode.NONE);
    this.commit(d.records);
    return this.image.brokers.get(id)!.brokerEpoch;
  }

  heartbeat(id: number, over: Partial<BrokerHeartbeatInput> = {}) {
    const b = this.image.brokers.get(id);
    const d = this.hb.heartbeat({
      brokerId: id,
      brokerEpoch: b?.brokerEpoch ?? -1,
      currentMetadataOffset: this.image.epoch,
      wantFence: false,
      wantShutDown: false,
      ...over,
    });
    this.commit(d.records);
    return d;
  }

  /** Registers and unfences brokers `ids`. */
  liveBrokers(...ids: number[]): void {
    for (const id of ids) this.register(id);
    for (const id of ids) assert.equal(this.heartbeat(id).answer.isFenced, false);
  }

  /** A topic whose partition i has replicas `assignments[i]` (all in sync, the first leads). */
  topic(name: string, assignments: number[][]): string {
    const topicId = `id-${name}`;
    this.commit([
      { type: 'Topic', name, topicId },
      ...assignments.map((replicas, partition) => ({
        type: 'Partition' as const,
        topicId,
        partition,
        replicas,
        isr: [...replicas],
        leader: replicas[0],
        leaderEpoch: 0,
        partitionEpoch: 0,
      })),
    ]);
    return topicId;
  }

  partition(name: string, p: number): PartitionState {
    return this.image.topicsByName.get(name)!.partitions[p];
  }

  /** Commits the fencing of every expired broker, one decision at a time, as the controller does. */
  expire(): number[] {
    const fenced: number[] = [];
    for (;;) {
      const records = this.hb.expireOne();
      if (records.length === 0) return fenced;
      const f = records.find((r) => r.type === 'FenceBroker');
      assert.ok(f && f.type === 'FenceBroker');
      fenced.push(f.nodeId);
      this.commit(records);
    }
  }
}

const summary = (p: PartitionState) => ({
  leader: p.leader,
  isr: p.isr,
  leaderEpoch: p.leaderEpoch,
  partitionEpoch: p.partitionEpoch,
});

test('a registration is fenced, with the offset of its record as broker epoch, until a heartbeat has caught up with it', () => {
  const w = new World();
  w.commit([{ type: 'ProducerIds', nextProducerId: 1000 }]); // offset 0
  const epoch = w.register(1); // RegisterBroker at offset 1
  assert.equal(epoch, 1);
  const b = w.image.brokers.get(1)!;
  assert.equal(b.fenced, true);
  assert.deepEqual(w.image.liveBrokers(), []);

  const behind = w.heartbeat(1, { currentMetadataOffset: 0 });
  assert.deepEqual(behind.answer, {
    errorCode: ErrorCode.NONE,
    isCaughtUp: false,
    isFenced: true,
    shouldShutDown: false,
  });
  assert.deepEqual(behind.records, []);

  const caughtUp = w.heartbeat(1, { currentMetadataOffset: 1 });
  assert.deepEqual(caughtUp.answer, {
    errorCode: ErrorCode.NONE,
    isCaughtUp: true,
    isFenced: false,
    shouldShutDown: false,
  });
  assert.deepEqual(caughtUp.records, [{ type: 'UnfenceBroker', nodeId: 1, brokerEpoch: 1 }]);
  assert.deepEqual(
    w.image.liveBrokers().map((x) => x.nodeId),
    [1],
  );

  // A broker that asks to stay fenced is not unfenced, caught up or not.
  w.register(2);
  assert.equal(w.heartbeat(2, { wantFence: true }).answer.isFenced, true);
  assert.equal(w.image.brokers.get(2)!.fenced, true);
});

test('every registration is a new broker epoch; a heartbeat of an older one is STALE_BROKER_EPOCH', () => {
  const w = new World();
  const first = w.register(1);
  w.heartbeat(1);
  w.commit(w.hb.connectionClosed(1, first)); // the old process died
  const second = w.register(1, 'inc-1b');
  assert.ok(second > first);
  const stale = w.heartbeat(1, { brokerEpoch: first });
  assert.equal(stale.answer.errorCode, ErrorCode.STALE_BROKER_EPOCH);
  assert.equal(stale.answer.isFenced, true);
  assert.equal(w.heartbeat(7, { brokerEpoch: 3 }).answer.errorCode, ErrorCode.STALE_BROKER_EPOCH, 'never registered');
});

test('a broker whose heartbeats stop is fenced when broker.session.timeout.ms has passed, not before', () => {
  const w = new World();
  w.liveBrokers(1, 2);
  const start = w.env.now();
  assert.equal(w.hb.nextDeadline(), start + SESSION_MS);
  // Broker 2 keeps heartbeating, broker 1 stops.
  for (let t = 0; t < 4; t++) {
    w.env.advance(2000);
    w.heartbeat(2);
    assert.deepEqual(w.expire(), []);
  }
  w.env.advance(SESSION_MS - 8000 - 1);
  assert.deepEqual(w.expire(), [], 'one millisecond before the deadline');
  assert.equal(w.hb.nextDeadline(), start + SESSION_MS);
  w.env.advance(1);
  assert.deepEqual(w.expire(), [1]);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.equal(w.image.brokers.get(2)!.fenced, false);
  assert.equal(w.hb.nextDeadline(), start + 8000 + SESSION_MS, "broker 2's session");
  // The fenced broker is unfenced again by a caught-up heartbeat with the same epoch.
  assert.equal(w.heartbeat(1).answer.isFenced, false);
});

test('a fenced broker leaves every ISR and its leaderships go to another live in-sync replica, or to -1', () => {
  const w = new World();
  w.liveBrokers(1, 2, 3);
  w.topic('t', [
    [1, 2, 3], // led by 1: leadership moves to 2
    [2, 1, 3], // led by 2: 1 leaves the ISR only
    [1], // only 1: no leader, ISR kept
    [2, 3], // 1 not a replica: untouched
  ]);
  w.env.advance(SESSION_MS);
  w.heartbeat(2);
  w.heartbeat(3);
  // Broker 1 expired alone (2 and 3 just heartbeated).
  assert.deepEqual(w.expire(), [1]);
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 });
  assert.deepEqual(summary(w.partition('t', 1)), { leader: 2, isr: [2, 3], leaderEpoch: 0, partitionEpoch: 1 });
  assert.deepEqual(summary(w.partition('t', 2)), { leader: -1, isr: [1], leaderEpoch: 1, partitionEpoch: 1 });
  assert.deepEqual(summary(w.partition('t', 3)), { leader: 2, isr: [2, 3], leaderEpoch: 0, partitionEpoch: 0 });

  // Back and caught up: the leaderless partition whose ISR holds it is led by it again (a new leader epoch).
  const back = w.heartbeat(1);
  assert.equal(back.answer.isFenced, false);
  assert.deepEqual(summary(w.partition('t', 2)), { leader: 1, isr: [1], leaderEpoch: 2, partitionEpoch: 2 });
  assert.deepEqual(
    summary(w.partition('t', 0)),
    { leader: 2, isr: [2, 3], leaderEpoch: 1, partitionEpoch: 1 },
    'unchanged',
  );
});

test('brokers that expire together are fenced one decision at a time, each against the image the previous left', () => {
  const w = new World();
  w.liveBrokers(1, 2, 3);
  w.topic('t', [[1, 2, 3]]);
  w.env.advance(SESSION_MS - 1);
  w.heartbeat(3);
  w.env.advance(1);
  assert.deepEqual(w.expire(), [1, 2]);
  // Leadership went 1 -> 2 -> 3: never to a broker fenced in the same round.
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 3, isr: [3], leaderEpoch: 2, partitionEpoch: 2 });
});

test('a closed heartbeat connection fences the broker at once; one of an older registration changes nothing', () => {
  const w = new World();
  w.liveBrokers(1, 2);
  w.topic('t', [[1, 2]]);
  const epoch = w.image.brokers.get(1)!.brokerEpoch;
  assert.deepEqual(w.hb.connectionClosed(1, epoch - 1), [], 'another registration');
  const records = w.hb.connectionClosed(1, epoch);
  w.commit(records);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 1 });
  assert.deepEqual(w.hb.connectionClosed(1, epoch), [], 'already fenced');
  assert.equal(w.env.now(), 1_700_000_000_000, 'no time passed');
});

test('controlled shutdown: leaderships move, then shouldShutDown once the other brokers know; what cannot move stays until the fence', () => {
  const w = new World();
  w.liveBrokers(1, 2, 3);
  w.topic('t', [
    [1, 2], // moves to 2
    [1], // cannot move
    [3, 1], // 1 leaves the ISR
  ]);
  const first = w.heartbeat(1, { wantShutDown: true });
  assert.deepEqual(first.answer, {
    errorCode: ErrorCode.NONE,
    isCaughtUp: true,
    isFenced: false,
    shouldShutDown: false,
  });
  assert.equal(first.records[0].type, 'BrokerRegistrationChange');
  const b1 = w.image.brokers.get(1)!;
  assert.equal(b1.inControlledShutdown, true);
  assert.equal(b1.fenced, false);
  assert.equal(w.image.canLead(1), false);
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 1 });
  assert.deepEqual(summary(w.partition('t', 1)), { leader: 1, isr: [1], leaderEpoch: 0, partitionEpoch: 0 });
  assert.deepEqual(summary(w.partition('t', 2)), { leader: 3, isr: [3], leaderEpoch: 0, partitionEpoch: 1 });

  // Brokers 2 and 3 have not reported an offset that includes the moves yet.
  const moveOffset = w.image.epoch;
  w.heartbeat(2, { currentMetadataOffset: moveOffset - 1 });
  w.heartbeat(3, { currentMetadataOffset: moveOffset - 1 });
  const waiting = w.heartbeat(1, { wantShutDown: true });
  assert.equal(waiting.answer.shouldShutDown, false);
  assert.deepEqual(waiting.records, []);
  w.heartbeat(2, { currentMetadataOffset: moveOffset });
  assert.equal(w.heartbeat(1, { wantShutDown: true }).answer.shouldShutDown, false, 'broker 3 is still behind');
  w.heartbeat(3, { currentMetadataOffset: moveOffset });
  const done = w.heartbeat(1, { wantShutDown: true });
  assert.deepEqual(done.answer, { errorCode: ErrorCode.NONE, isCaughtUp: true, isFenced: true, shouldShutDown: true });
  // Fenced on the way out: what it still led has no leader now.
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.equal(w.image.brokers.get(1)!.inControlledShutdown, false);
  assert.deepEqual(summary(w.partition('t', 1)), { leader: -1, isr: [1], leaderEpoch: 1, partitionEpoch: 1 });
});

test('a shutdown with nothing to hand over is granted at once; a fenced broker may always shut down', () => {
  const w = new World();
  w.liveBrokers(1);
  w.topic('solo', [[1]]);
  const d = w.heartbeat(1, { wantShutDown: true });
  assert.equal(d.answer.shouldShutDown, true);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  w.register(2);
  const fenced = w.heartbeat(2, { wantShutDown: true, currentMetadataOffset: -1 });
  assert.deepEqual(fenced.answer.shouldShutDown, true);
  assert.deepEqual(fenced.records, []);
});

test('wantFence fences a live broker (and with wantShutDown it is also told to shut down)', () => {
  const w = new World();
  w.liveBrokers(1, 2);
  w.topic('t', [[1, 2]]);
  const d = w.heartbeat(1, { wantFence: true });
  assert.deepEqual(d.answer, { errorCode: ErrorCode.NONE, isCaughtUp: true, isFenced: true, shouldShutDown: false });
  assert.equal(w.partition('t', 0).leader, 2);
  assert.equal(w.heartbeat(2, { wantFence: true, wantShutDown: true }).answer.shouldShutDown, true);
});

test('another incarnation with the id of a broker heard from is DUPLICATE_BROKER_REGISTRATION; after the fence it registers', () => {
  const w = new World();
  w.liveBrokers(1);
  const dup = w.hb.register({ brokerId: 1, clusterId: 'cluster-a', incarnationId: 'other', listeners: [], rack: null });
  assert.equal(dup.answer.errorCode, ErrorCode.DUPLICATE_BROKER_REGISTRATION);
  assert.deepEqual(dup.records, []);
  // The same incarnation may register again (a new epoch).
  const before = w.image.brokers.get(1)!.brokerEpoch;
  assert.ok(w.register(1) > before);
  w.heartbeat(1);
  w.env.advance(SESSION_MS);
  assert.deepEqual(w.expire(), [1]);
  assert.ok(w.register(1, 'other') > before);
  assert.equal(w.image.brokers.get(1)!.incarnationId, 'other');
});

test('after a controller failover a restarted broker re-registers at once; its old registration loses its leaderships first', () => {
  const w = new World();
  w.liveBrokers(1, 2);
  w.topic('t', [[1, 2]]);
  w.hb.deactivate();
  w.hb.activate(); // a new active controller: it has not heard from anyone
  const epoch = w.register(1, 'inc-1-restarted');
  const last = w.log[w.log.length - 1];
  assert.deepEqual(
    last.map((r) => r.type),
    ['PartitionChange', 'RegisterBroker'],
  );
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.equal(w.image.brokers.get(1)!.brokerEpoch, epoch);
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 1 });
});

test('a registration naming another cluster is INCONSISTENT_CLUSTER_ID', () => {
  const w = new World();
  const d = w.hb.register({ brokerId: 1, clusterId: 'cluster-b', incarnationId: 'x', listeners: [], rack: null });
  assert.equal(d.answer.errorCode, ErrorCode.INCONSISTENT_CLUSTER_ID);
  assert.match(d.answer.errorMessage!, /cluster-a.*cluster-b/);
  assert.deepEqual(d.records, []);
});

test('unregistering removes the registration after taking the broker out of ISRs; an unknown id is BROKER_ID_NOT_REGISTERED', () => {
  const w = new World();
  w.liveBrokers(1, 2);
  w.topic('t', [[1, 2]]);
  const d = w.hb.unregister(1);
  assert.equal(d.answer.errorCode, ErrorCode.NONE);
  w.commit(d.records);
  assert.equal(w.image.brokers.has(1), false);
  assert.deepEqual(summary(w.partition('t', 0)), { leader: 2, isr: [2], leaderEpoch: 1, partitionEpoch: 1 });
  assert.equal(w.hb.unregister(1).answer.errorCode, ErrorCode.BROKER_ID_NOT_REGISTERED);
});

test('fence and unfence records of an older registration are moot when applied', () => {
  const w = new World();
  const old = w.register(1);
  w.heartbeat(1);
  w.commit(w.hb.connectionClosed(1, old));
  const now = w.register(1);
  w.heartbeat(1);
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  w.commit([{ type: 'FenceBroker', nodeId: 1, brokerEpoch: old }]);
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  w.commit([{ type: 'UnregisterBroker', nodeId: 1, brokerEpoch: old }]);
  assert.equal(w.image.brokers.get(1)!.brokerEpoch, now);
});

test('a snapshot of the image keeps broker epochs and fenced / shutdown states', () => {
  const w = new World();
  w.liveBrokers(1, 2, 3);
  w.topic('t', [[2, 1]]);
  w.heartbeat(2, { wantShutDown: true }); // in controlled shutdown
  w.commit(w.hb.connectionClosed(3, w.image.brokers.get(3)!.brokerEpoch)); // fenced
  const copy = new MetadataImage();
  copy.applyBatch(w.image.toRecords(), 1000);
  assert.deepEqual([...copy.brokers.values()], [...w.image.brokers.values()]);
  assert.deepEqual(copy.topicsByName.get('t')!.partitions, w.image.topicsByName.get('t')!.partitions);
});

test('a registration written before the lifecycle (no fenced flag) is live, its epoch its offset', () => {
  const image = new MetadataImage();
  image.applyBatch(
    [
      { type: 'ProducerIds', nextProducerId: 0 },
      { type: 'RegisterBroker', nodeId: 1, incarnationId: 'i', listeners: [], rack: null },
    ],
    41,
  );
  const b = image.brokers.get(1)!;
  assert.equal(b.fenced, false);
  assert.equal(b.brokerEpoch, 41);
  assert.equal(image.isLive(1), true);
});

// ---- The controller: commits the decisions, runs the session clock, refuses when not active ----

import { Controller } from '../../../src/metadata/controller.ts';
import { NotControllerError } from '../../../src/metadata/quorum.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

/** Waits (event-loop turns, no clock) until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

/**
 * Lets whatever the controller queued run to its end: with the memory log
 * every commit resolves at once, so a few event-loop turns drain the queue
 * and re-arm the session timer. Simulated time does not move meanwhile.
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

function controllerWorld() {
  const env = new SimulatedEnv(2);
  // every append commits at once
  const log = new MemoryQuorum(0);
  const image = new MetadataImage();
  image.clusterId = 'cluster-a';
  const controller = new Controller(log, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  controller.enableBrokerLifecycle({ sessionTimeoutMs: SESSION_MS, env, clusterId: () => 'cluster-a' });
  const register = (id: number) =>
    controller.brokerRegistration({
      brokerId: id,
      clusterId: 'cluster-a',
      incarnationId: `inc-${id}`,
      listeners: [{ name: 'PLAINTEXT', host: 'h', port: 9000 + id }],
      rack: null,
    });
  const heartbeat = (id: number, brokerEpoch: number) =>
    controller.brokerHeartbeat({
      brokerId: id,
      brokerEpoch,
      currentMetadataOffset: image.epoch,
      wantFence: false,
      wantShutDown: false,
    });
  return { env, log, image, controller, register, heartbeat, setActive: (a: boolean) => log.setActive(a) };
}

test('controller: a registration answers the broker epoch it committed; a caught-up heartbeat unfences', async () => {
  const w = controllerWorld();
  const r = await w.register(1);
  assert.deepEqual(r, { errorCode: ErrorCode.NONE, errorMessage: null, brokerEpoch: 0 });
  const h = await w.heartbeat(1, r.brokerEpoch);
  assert.equal(h.isFenced, false);
  assert.deepEqual(w.log.types(), ['RegisterBroker', 'UnfenceBroker']);
  const refused = await w.controller.brokerRegistration({
    brokerId: 1,
    clusterId: 'cluster-a',
    incarnationId: 'another',
    listeners: [],
    rack: null,
  });
  assert.deepEqual(refused, {
    errorCode: ErrorCode.DUPLICATE_BROKER_REGISTRATION,
    errorMessage: 'Another broker is registered with that broker id.',
    brokerEpoch: -1,
  });
  w.controller.stopBrokerLifecycle();
});

test('controller: the session clock fences a silent broker on its own, after broker.session.timeout.ms', async () => {
  const w = controllerWorld();
  const e1 = (await w.register(1)).brokerEpoch;
  const e2 = (await w.register(2)).brokerEpoch;
  await w.heartbeat(1, e1);
  await w.heartbeat(2, e2);
  for (let elapsed = 0; elapsed < SESSION_MS + 2000; elapsed += 1000) {
    w.env.advance(1000);
    await w.heartbeat(2, e2);
    await settle();
  }
  await until(() => w.image.brokers.get(1)!.fenced, 'broker 1 fenced by its session timeout');
  assert.equal(w.image.brokers.get(2)!.fenced, false, 'broker 2 kept heartbeating');
  assert.equal(w.log.types().filter((t) => t === 'FenceBroker').length, 1);
  w.controller.stopBrokerLifecycle();
  assert.equal(w.env.pendingTimers, 0, 'stopped: no timer left');
});

test('controller: a closed heartbeat connection is a fence committed at once', async () => {
  const w = controllerWorld();
  const e1 = (await w.register(1)).brokerEpoch;
  await w.heartbeat(1, e1);
  assert.equal(await w.controller.brokerConnectionClosed(1, e1), true);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.equal(await w.controller.brokerConnectionClosed(1, e1), false, 'already fenced');
  w.controller.stopBrokerLifecycle();
});

test('controller: not the active controller -> NotControllerError and no fencing; sessions restart when it is again', async () => {
  const w = controllerWorld();
  const e1 = (await w.register(1)).brokerEpoch;
  await w.heartbeat(1, e1);
  w.setActive(false);
  await assert.rejects(w.heartbeat(1, e1), NotControllerError);
  await assert.rejects(w.register(2), NotControllerError);
  await assert.rejects(w.controller.unregisterBroker(1), NotControllerError);
  w.env.advance(3 * SESSION_MS);
  await settle();
  assert.equal(w.image.brokers.get(1)!.fenced, false, 'a controller that is not active fences nobody');
  // Active again: the broker gets a full session from then (it may not have found this controller yet).
  w.setActive(true);
  w.env.advance(1000);
  await settle();
  w.env.advance(SESSION_MS - 1000);
  await settle();
  assert.equal(w.image.brokers.get(1)!.fenced, false, 'within the grace period');
  w.env.advance(1000);
  await until(() => w.image.brokers.get(1)!.fenced, 'fenced a session after the controller became active');
  w.controller.stopBrokerLifecycle();
});
