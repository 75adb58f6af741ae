/**
 * The controller listener's BrokerRegistration / BrokerHeartbeat /
 * UnregisterBroker handlers over a real Controller (memory log): answers,
 * error codes, and the fence that follows the close of a broker's heartbeat
 * connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Controller } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { Dispatcher, type RequestContext } from '../../../src/server/dispatcher.ts';
import {
  brokerLifecycleHandlers,
  registerBrokerLifecycleHandlers,
} from '../../../src/server/handlers/broker-lifecycle.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';

function setup() {
  const image = new MetadataImage();
  image.clusterId = 'c';
  const quorum = new MemoryQuorum(0);
  const controller = new Controller(quorum, image, {
    nodeId: 0,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  controller.enableBrokerLifecycle({ sessionTimeoutMs: 9000, env: new SimulatedEnv(3), clusterId: () => 'c' });
  const warnings: string[] = [];
  const h = brokerLifecycleHandlers(controller, { logger: { warn: (_o, msg) => warnings.push(msg) } });
  return { image, controller, h, warnings, setActive: (a: boolean) => quorum.setActive(a) };
}

/** A connection as the handlers see it: its socket emits 'close'. */
function connection(): { ctx: RequestContext; close(): void } {
  const socket = new EventEmitter();
  const ctx = {
    apiKey: 0,
    apiVersion: 0,
    correlationId: 1,
    clientId: 'b',
    conn: { socket },
  } as unknown as RequestContext;
  return { ctx, close: () => socket.emit('close') };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

const registration = (brokerId: number, incarnationId = 'AAAAAAAAAAAAAAAAAAAAAQ') => ({
  brokerId,
  clusterId: 'c',
  incarnationId,
  listeners: [{ name: 'PLAINTEXT', host: 'h', port: 9092, securityProtocol: 0 }],
  features: [],
  rack: 'r1',
  isMigratingZkBroker: false,
  logDirs: [],
  previousBrokerEpoch: -1,
});

const heartbeat = (brokerId: number, brokerEpoch: number | bigint, currentMetadataOffset: number) => ({
  brokerId,
  brokerEpoch,
  currentMetadataOffset,
  wantFence: false,
  wantShutDown: false,
  offlineLogDirs: [],
});

test('the three APIs are served at the versions declared', () => {
  const d = new Dispatcher();
  registerBrokerLifecycleHandlers(d, setup().controller);
  const served = d.supportedApis().map((a) => [a.apiKey, a.minVersion, a.maxVersion]);
  assert.deepEqual(served, [
    [62, 0, 4],
    [63, 0, 1],
    [64, 0, 0],
  ]);
});

test('register, heartbeat until unfenced; closing the heartbeat connection fences the broker at once', async () => {
  const { image, h } = setup();
  const a = connection();
  const reg: any = await h.registration(registration(1), a.ctx);
  assert.deepEqual(reg, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, brokerEpoch: 0 });
  assert.equal(image.brokers.get(1)!.rack, 'r1');
  assert.deepEqual(image.brokers.get(1)!.listeners, [{ name: 'PLAINTEXT', host: 'h', port: 9092 }]);
  // int64 fields may arrive as bigint
  const hb: any = await h.heartbeat(heartbeat(1, 0n, image.epoch), a.ctx);
  assert.deepEqual(hb, {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    isCaughtUp: true,
    isFenced: false,
    shouldShutDown: false,
  });
  assert.deepEqual(h.heartbeatConnections(), [1]);
  a.close();
  await until(() => image.brokers.get(1)!.fenced, 'fenced after the close');
  assert.deepEqual(h.heartbeatConnections(), []);
});

test('only the connection of the latest heartbeat counts: an older one closing fences nobody', async () => {
  const { image, h } = setup();
  const a = connection();
  const b = connection();
  await h.registration(registration(1), a.ctx);
  await h.heartbeat(heartbeat(1, 0, image.epoch), a.ctx);
  await h.heartbeat(heartbeat(1, 0, image.epoch), b.ctx); // the broker reconnected
  a.close();
  // Give the (absent) fence a chance to be committed before looking.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  assert.equal(image.brokers.get(1)!.fenced, false);
  b.close();
  await until(() => image.brokers.get(1)!.fenced, 'fenced when its current connection closed');
});

test('refusals and failures carry Kafka error codes', async () => {
  const { image, h, setActive, warnings } = setup();
  const a = connection();
  const bad: any = await h.registration(registration(-1), a.ctx);
  assert.equal(bad.errorCode, ErrorCode.INVALID_REGISTRATION);
  const other: any = await h.registration({ ...registration(1), clusterId: 'elsewhere' }, a.ctx);
  assert.deepEqual(other, { throttleTimeMs: 0, errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, brokerEpoch: -1 });
  const stale: any = await h.heartbeat(heartbeat(1, 5, 10), a.ctx);
  assert.equal(stale.errorCode, ErrorCode.STALE_BROKER_EPOCH);
  assert.equal(stale.isFenced, true);
  const unknown: any = await h.unregister({ brokerId: 9 }, a.ctx);
  assert.equal(unknown.errorCode, ErrorCode.BROKER_ID_NOT_REGISTERED);
  assert.match(unknown.errorMessage, /9/);

  await h.registration(registration(1), a.ctx);
  const gone: any = await h.unregister({ brokerId: 1 }, a.ctx);
  assert.deepEqual(gone, { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null });
  assert.equal(image.brokers.has(1), false);

  setActive(false);
  const notCtl: any = await h.heartbeat(heartbeat(1, 0, 0), a.ctx);
  assert.equal(notCtl.errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal(((await h.registration(registration(2), a.ctx)) as any).errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal(((await h.unregister({ brokerId: 2 }, a.ctx)) as any).errorCode, ErrorCode.NOT_CONTROLLER);
  assert.deepEqual(warnings, [], 'not being the controller is not worth a warning');
});

test('a connection that closed while its heartbeat was being committed still fences the broker', async () => {
  const { image, h } = setup();
  const a = connection();
  await h.registration(registration(1), a.ctx);
  const socket = (a.ctx.conn as any).socket;
  const answer = h.heartbeat(heartbeat(1, 0, image.epoch), a.ctx); // unfences: waits for its commit
  a.close();
  socket.destroyed = true;
  assert.equal(((await answer) as any).isFenced, false);
  await until(() => image.brokers.get(1)!.fenced, 'fenced although the close came first');
});
