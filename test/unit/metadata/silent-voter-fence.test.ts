/**
 * BrokerHeartbeats after a controller failover, on simulated time: the broker
 * of a voter that neither heartbeats nor fetches from the new leader within
 * controller.quorum.fetch.timeout.ms of activation is fenced then
 * ('quorum-silent'), not a whole broker.session.timeout.ms later.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerHeartbeats, type ExpiryReason } from '../../../src/metadata/broker-heartbeats.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import type { MetadataRecord } from '../../../src/metadata/records.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';

const SESSION_MS = 9000;
const FETCH_TIMEOUT_MS = 2000;

class World {
  readonly env = new SimulatedEnv(1);
  readonly image = new MetadataImage();
  readonly hb: BrokerHeartbeats;
  /** The quorum's answer per node id (absent: not another voter). */
  readonly fetched = new Map<number, boolean>();
  private nextOffset = 0;

  constructor(withQuorumSignal = true) {
    this.hb = new BrokerHeartbeats(this.image, {
      sessionTimeoutMs: SESSION_MS,
      env: this.env,
      clusterId: () => 'c',
      ...(withQuorumSignal
        ? { quorumFetchTimeoutMs: FETCH_TIMEOUT_MS, voterFetched: (id: number) => this.fetched.get(id) ?? null }
        : {}),
    });
    this.hb.activate();
  }

  commit(records: MetadataRecord[]): void {
    if (records.length === 0) return;
    assert.equal(this.image.check(records), null);
    this.nextOffset += records.length;
    this.image.applyBatch(records, this.nextOffset - 1);
  }

  heartbeat(id: number) {
    const d = this.hb.heartbeat({
      brokerId: id,
      brokerEpoch: this.image.brokers.get(id)!.brokerEpoch,
      currentMetadataOffset: this.image.epoch,
      wantFence: false,
      wantShutDown: false,
    });
    this.commit(d.records);
    return d.answer;
  }

  /** Brokers `ids` registered and unfenced, and a partition replicated on all of them led by the first. */
  cluster(...ids: number[]): void {
    for (const id of ids) {
      const d = this.hb.register({ brokerId: id, clusterId: 'c', incarnationId: `i${id}`, listeners: [], rack: null });
      assert.equal(d.answer.errorCode, ErrorCode.NONE);
      this.commit(d.records);
    }
    for (const id of ids) assert.equal(this.heartbeat(id).isFenced, false);
    this.commit([
      { type: 'Topic', name: 't', topicId: 'tid' },
      {
        type: 'Partition',
        topicId: 'tid',
        partition: 0,
        replicas: ids,
        isr: [...ids],
        leader: ids[0],
        leaderEpoch: 0,
        partitionEpoch: 0,
      },
    ]);
  }

  /** A failover to this controller: it has heard from nobody yet. */
  failover(): void {
    this.hb.deactivate();
    this.hb.activate();
  }

  /** Commits every fence now due, one at a time. */
  expire(): { id: number; reason: ExpiryReason }[] {
    const out: { id: number; reason: ExpiryReason }[] = [];
    for (let e = this.hb.expire(); e !== null; e = this.hb.expire()) {
      out.push({ id: e.brokerId, reason: e.reason });
      this.commit(e.records);
    }
    return out;
  }

  get leader(): number {
    return this.image.topicsByName.get('t')!.partitions[0].leader;
  }
}

test('the broker of a voter that never fetched from the new leader is fenced a fetch timeout after activation', () => {
  const w = new World();
  // brokers 1, 2, 3 are voters (combined nodes), 4 a broker only; 1 died with the old active controller, 3 is this one
  w.cluster(1, 2, 3, 4);
  w.fetched.set(1, false).set(2, true);
  w.failover();
  assert.equal(w.hb.nextDeadline(), w.env.now() + FETCH_TIMEOUT_MS);
  w.env.advance(FETCH_TIMEOUT_MS - 1);
  assert.deepEqual(w.expire(), []);
  w.env.advance(1);
  assert.deepEqual(w.expire(), [{ id: 1, reason: 'quorum-silent' }]);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.notEqual(w.leader, 1, 'its leadership moved to an in-sync replica');
  // the others keep their full session: 2 (its voter fetched), 3 and 4 (no voters of another node) fenced only at its end
  assert.equal(w.hb.nextDeadline(), w.env.now() - FETCH_TIMEOUT_MS + SESSION_MS);
  w.env.advance(SESSION_MS - FETCH_TIMEOUT_MS - 1);
  assert.deepEqual(w.expire(), []);
  w.env.advance(1);
  assert.deepEqual(
    w.expire().map((e) => e.reason),
    ['session', 'session', 'session'],
  );
});

test('a voter that fetches, or a broker that heartbeats, before the deadline is not fenced by it', () => {
  const w = new World();
  w.cluster(1, 2, 3);
  w.fetched.set(1, false).set(2, false);
  w.failover();
  w.env.advance(500);
  w.fetched.set(1, true); // 1's controller found the new leader
  assert.equal(w.heartbeat(2).isFenced, false); // 2's broker found it first
  w.env.advance(FETCH_TIMEOUT_MS);
  assert.deepEqual(w.expire(), []);
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  assert.equal(w.image.brokers.get(2)!.fenced, false);
  // 2 heartbeated, so its session runs from then; 1 is left with the full one it got on activation
  w.env.advance(SESSION_MS - FETCH_TIMEOUT_MS - 500);
  assert.deepEqual(w.expire(), [
    { id: 1, reason: 'session' },
    { id: 3, reason: 'session' },
  ]);
});

test('a slow but live broker fenced by the rule is unfenced by its next caught-up heartbeat', () => {
  const w = new World();
  w.cluster(1, 2, 3);
  w.fetched.set(1, false);
  w.failover();
  w.env.advance(FETCH_TIMEOUT_MS);
  assert.deepEqual(w.expire(), [{ id: 1, reason: 'quorum-silent' }]);
  const answer = w.heartbeat(1);
  assert.equal(answer.errorCode, ErrorCode.NONE);
  assert.equal(answer.isFenced, false);
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  // and it is not fenced again by the rule: only a session end would
  w.env.advance(SESSION_MS - 1);
  assert.deepEqual(w.expire(), [
    { id: 2, reason: 'session' },
    { id: 3, reason: 'session' },
  ]);
});

test('without the quorum signal every registration keeps a full session after a failover', () => {
  const w = new World(false);
  w.cluster(1, 2);
  w.failover();
  w.env.advance(SESSION_MS - 1);
  assert.deepEqual(w.expire(), []);
  w.env.advance(1);
  assert.equal(w.expire().length, 2);
});

test('only activation starts the rule: a voter that stops fetching later keeps its session', () => {
  const w = new World();
  w.cluster(1, 2);
  w.fetched.set(1, true);
  w.failover();
  w.fetched.set(1, false);
  w.env.advance(FETCH_TIMEOUT_MS);
  assert.deepEqual(w.expire(), []);
});

// ---- The controller: the quorum's signal wired in, the fence logged with its reason ----

import { Controller } from '../../../src/metadata/controller.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

test('controller: after a takeover the silent voter is fenced on the session clock a fetch timeout later, and says why', async () => {
  const env = new SimulatedEnv(2);
  const quorum = new MemoryQuorum(0);
  const fetched = new Map<number, boolean>([
    [1, false],
    [2, true],
  ]);
  const voterQuorum = Object.assign(quorum, { voterFetchedThisEpoch: (id: number) => fetched.get(id) ?? null });
  const image = new MetadataImage();
  image.clusterId = 'c';
  const logged: { obj: object; msg: string }[] = [];
  const controller = new Controller(voterQuorum, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
    logger: { warn: () => {}, info: (obj, msg) => logged.push({ obj, msg }) },
  });
  controller.enableBrokerLifecycle({
    sessionTimeoutMs: SESSION_MS,
    quorumFetchTimeoutMs: FETCH_TIMEOUT_MS,
    env,
    clusterId: () => 'c',
  });
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  for (const id of [1, 2]) {
    const r = await controller.brokerRegistration({
      brokerId: id,
      clusterId: 'c',
      incarnationId: `i${id}`,
      listeners: [],
      rack: null,
    });
    const h = await controller.brokerHeartbeat({
      brokerId: id,
      brokerEpoch: r.brokerEpoch,
      currentMetadataOffset: image.epoch,
      wantFence: false,
      wantShutDown: false,
    });
    assert.equal(h.isFenced, false);
  }
  // another node led for a while; this one takes over and hears from nobody
  quorum.setActive(false, 1);
  await settle();
  quorum.setActive(true);
  const takeover = env.now();
  while (!image.brokers.get(1)!.fenced) {
    assert.ok(env.now() - takeover < SESSION_MS, 'fenced before its session could have ended');
    env.advance(100);
    await settle();
  }
  const after = env.now() - takeover;
  assert.ok(after >= FETCH_TIMEOUT_MS, `fenced ${after} ms after the takeover`);
  assert.equal(image.brokers.get(2)!.fenced, false, `broker 2's voter fetched: ${JSON.stringify(logged)}`);
  assert.deepEqual(
    logged.map((l) => l.obj),
    [{ brokerId: 1, reason: 'quorum-silent' }],
  );
  controller.stopBrokerLifecycle();
});
