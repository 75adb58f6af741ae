/**
 * The broker side of the lifecycle (src/server/broker-lifecycle.ts) against
 * a controller: the real Controller and its handlers behind a fake channel
 * that passes every request and answer through the wire codecs, all on one
 * simulated clock; a scripted controller for the error paths; and a broker
 * process killed with SIGKILL, over real sockets, fenced at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import pino from 'pino';
import { Controller } from '../../../src/metadata/controller.ts';
import { MetadataImage } from '../../../src/metadata/image.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { ErrorCode } from '../../../src/protocol/error-codes.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import {
  BrokerLifecycle,
  type BrokerLifecycleOptions,
  type ControllerChannel,
  type ControllerConnector,
} from '../../../src/server/broker-lifecycle.ts';
import { SocketServer } from '../../../src/server/socket-server.ts';
import { Dispatcher, type RequestContext } from '../../../src/server/dispatcher.ts';
import {
  brokerLifecycleHandlers,
  registerBrokerLifecycleHandlers,
} from '../../../src/server/handlers/broker-lifecycle.ts';
import { SimulatedEnv } from '../../../src/util/env.ts';
import { MemoryQuorum } from '../../helpers/memory-quorum.ts';
import { REPO_ROOT } from '../../helpers/broker.ts';

const INTERVAL_MS = 2000;
const SESSION_MS = 9000;

/** Encodes `body` at the newest version and decodes it again: what the other side of a socket would see. */
function overTheWire(api: 'BrokerRegistration' | 'BrokerHeartbeat', dir: 'request' | 'response', body: object): any {
  const a = apiByName(api);
  const w = new Writer(128);
  (dir === 'request' ? a.requestEncoder(a.maxVersion) : a.responseEncoder(a.maxVersion))(w, body);
  const r = new Reader(w.toBuffer());
  return (dir === 'request' ? a.requestDecoder(a.maxVersion) : a.responseDecoder(a.maxVersion))(r);
}

/** Lets queued promise work run (the memory log commits at once); simulated time does not move. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

async function until(cond: () => boolean, what: string, turns = 2000): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), what);
}

/**
 * One controller (node 100) and brokers that reach it through fake channels,
 * on a simulated clock. `offsets` holds each broker's own metadata offset
 * (the image's unless a test holds it back).
 */
function world() {
  const env = new SimulatedEnv(7);
  const image = new MetadataImage();
  image.clusterId = 'c';
  const quorum = new MemoryQuorum(100);
  const controller = new Controller(quorum, image, {
    nodeId: 100,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  controller.enableBrokerLifecycle({ sessionTimeoutMs: SESSION_MS, env, clusterId: () => 'c' });
  const handlers = brokerLifecycleHandlers(controller);
  const heldOffsets = new Map<number, number>();
  const sent: { broker: number; api: string; body: any }[] = [];
  const channels: { broker: number; close(): void; open: boolean }[] = [];
  let refuseConnections = false;

  const connectorFor =
    (broker: number): ControllerConnector =>
    async (ep) => {
      assert.deepEqual(ep, { nodeId: 100, host: 'ctl', port: 9093 });
      if (refuseConnections) throw new Error('connection refused');
      const socket = new EventEmitter();
      const ctx = { conn: { socket } } as unknown as RequestContext;
      const state = {
        broker,
        open: true,
        close() {
          if (!state.open) return;
          state.open = false;
          socket.emit('close');
        },
      };
      channels.push(state);
      const ch: ControllerChannel = {
        async send(api, body) {
          if (!state.open) throw new Error('connection closed');
          const req = overTheWire(api, 'request', body);
          sent.push({ broker, api, body: req });
          const res =
            api === 'BrokerRegistration' ? await handlers.registration(req, ctx) : await handlers.heartbeat(req, ctx);
          if (!state.open) throw new Error('connection closed');
          return overTheWire(api, 'response', res as object);
        },
        close: () => state.close(),
      };
      return ch;
    };

  const broker = (nodeId: number, over: Partial<BrokerLifecycleOptions> = {}) =>
    new BrokerLifecycle({
      nodeId,
      clusterId: () => 'c',
      listeners: [{ name: 'PLAINTEXT', host: 'localhost', port: 9000 + nodeId }],
      rack: null,
      heartbeatIntervalMs: INTERVAL_MS,
      controllerId: () => 100,
      controllerEndpoint: (id) => (id === 100 ? { host: 'ctl', port: 9093 } : undefined),
      metadataOffset: () => heldOffsets.get(nodeId) ?? image.epoch,
      connect: connectorFor(nodeId),
      env,
      ...over,
    });

  /** Moves the clock `ms` forward in small steps, letting each step's work finish. */
  const pass = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      env.advance(Math.min(step, ms - t));
      await settle();
    }
  };

  /** Waits for `cond` at the current simulated time: timers due now fire, the clock does not move. */
  const now = async (cond: () => boolean, what: string) => {
    for (let i = 0; i < 2000 && !cond(); i++) {
      env.advance(0);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(cond(), what);
  };

  /** close() of each broker, with the clock moving until all have resolved. */
  const close = async (...brokers: BrokerLifecycle[]) => {
    let done = 0;
    for (const b of brokers) void b.close().then(() => done++);
    for (let i = 0; i < 1000 && done < brokers.length; i++) {
      env.advance(50);
      await settle();
    }
    assert.equal(done, brokers.length, 'closed');
  };

  return {
    env,
    image,
    now,
    close,
    controller,
    quorum,
    handlers,
    heldOffsets,
    sent,
    channels,
    broker,
    pass,
    refuse: (r: boolean) => void (refuseConnections = r),
    heartbeatsOf: (id: number) => sent.filter((s) => s.broker === id && s.api === 'BrokerHeartbeat').length,
  };
}

test('registers at once, is fenced, and is unfenced by the heartbeat sent as soon as its metadata reaches the broker epoch', async () => {
  const w = world();
  w.heldOffsets.set(1, -1); // the broker has not seen its registration yet
  const b = w.broker(1);
  let unfenced = false;
  void b.whenUnfenced().then(() => (unfenced = true));
  b.start();
  await w.now(() => b.state.brokerEpoch >= 0 && w.heartbeatsOf(1) > 0, 'registered, then a heartbeat');
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  assert.equal(b.state.fenced, true);
  const reg = w.sent.find((s) => s.api === 'BrokerRegistration')!.body;
  assert.equal(reg.brokerId, 1);
  assert.equal(reg.clusterId, 'c');
  assert.equal(reg.incarnationId, b.incarnationId);
  assert.deepEqual(
    reg.listeners.map((l: any) => [l.name, l.host, l.port]),
    [['PLAINTEXT', 'localhost', 9001]],
  );

  // The image reaches the registration: a heartbeat goes out now, not at the next interval.
  const t0 = w.env.now();
  w.heldOffsets.delete(1);
  b.metadataAdvanced();
  await w.now(() => unfenced, 'unfenced');
  assert.equal(w.env.now(), t0, 'no simulated time passed');
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  assert.equal(b.state.fenced, false);
  await w.close(b);
});

test('heartbeats every broker.heartbeat.interval.ms on one connection, and the session never ends', async () => {
  const w = world();
  const b = w.broker(1);
  b.start();
  await w.pass(100);
  assert.equal(b.state.fenced, false);
  const start = w.heartbeatsOf(1);
  await w.pass(10 * INTERVAL_MS);
  const n = w.heartbeatsOf(1) - start;
  assert.ok(n >= 9 && n <= 11, `about one heartbeat per interval (${n} in 10 intervals)`);
  assert.equal(w.channels.length, 1, 'one connection throughout');
  assert.equal(w.image.brokers.get(1)!.fenced, false, 'never fenced');
  await w.close(b);
});

test('a broker whose connection is cut is fenced at once; it reconnects and is unfenced with the same epoch', async () => {
  const w = world();
  const b1 = w.broker(1);
  const b2 = w.broker(2);
  b1.start();
  b2.start();
  await w.pass(100);
  const epoch = b1.state.brokerEpoch;
  assert.equal(w.image.isLive(1) && w.image.isLive(2), true);

  w.refuse(true); // the controller is unreachable for a while
  w.channels.find((c) => c.broker === 1 && c.open)!.close(); // the connection breaks
  await until(() => w.image.brokers.get(1)!.fenced, 'fenced as soon as the connection closed');
  assert.equal(w.image.brokers.get(2)!.fenced, false);
  await w.pass(3 * INTERVAL_MS);
  assert.equal(w.image.brokers.get(1)!.fenced, true, 'still fenced while it cannot reach the controller');
  w.refuse(false);
  await w.pass(2 * INTERVAL_MS);
  assert.equal(w.image.brokers.get(1)!.fenced, false, 'unfenced after reconnecting');
  assert.equal(b1.state.brokerEpoch, epoch, 'no new registration');
  assert.equal(w.sent.filter((s) => s.broker === 1 && s.api === 'BrokerRegistration').length, 1);
  await w.close(b1, b2);
});

test('a registration the controller no longer knows (STALE_BROKER_EPOCH) is replaced by a new one', async () => {
  const w = world();
  const b = w.broker(1);
  b.start();
  await w.pass(100);
  const first = b.state.brokerEpoch;
  assert.equal((await w.controller.unregisterBroker(1)).errorCode, ErrorCode.NONE);
  await w.pass(INTERVAL_MS + 100);
  assert.ok(b.state.brokerEpoch > first, 'registered again');
  assert.equal(w.image.brokers.get(1)!.brokerEpoch, b.state.brokerEpoch);
  assert.equal(w.image.brokers.get(1)!.fenced, false);
  await w.close(b);
});

test('controlled shutdown: leaderships move to the other in-sync broker before close() resolves', async () => {
  const w = world();
  const b1 = w.broker(1);
  const b2 = w.broker(2);
  b1.start();
  b2.start();
  await w.pass(100);
  assert.equal(w.image.isLive(1) && w.image.isLive(2), true);
  // two replicas each (committed as records: CreateTopics refuses a replication factor above 1 until data replication exists)
  const replicas = [
    [1, 2],
    [2, 1],
  ];
  await w.quorum.append([
    { type: 'Topic', name: 't', topicId: 't-id' },
    ...replicas.map((r, partition) => ({
      type: 'Partition' as const,
      topicId: 't-id',
      partition,
      replicas: r,
      isr: r,
      leader: r[0],
      leaderEpoch: 0,
      partitionEpoch: 0,
    })),
  ]);
  const partitions = () => w.image.topicsByName.get('t')!.partitions;
  assert.deepEqual(
    partitions().map((p) => p.leader),
    [1, 2],
  );

  let closed = false;
  const t0 = w.env.now();
  const closing = b1.close().then(() => (closed = true));
  // Broker 2 must learn of the move (its next heartbeat) before broker 1 is let go.
  for (let i = 0; i < 200 && !closed; i++) await w.pass(50);
  assert.ok(closed, 'close() resolved');
  await closing;
  assert.ok(w.env.now() - t0 < 2 * INTERVAL_MS, 'within about one heartbeat of broker 2');
  assert.deepEqual(
    partitions().map((p) => [p.leader, p.isr]),
    [
      [2, [2]],
      [2, [2]],
    ],
  );
  assert.equal(partitions()[0].leaderEpoch, 1);
  assert.equal(w.image.brokers.get(1)!.fenced, true);
  const last = w.sent.filter((s) => s.broker === 1).at(-1)!;
  assert.equal(last.body.wantShutDown, true);
  assert.equal(w.channels.filter((c) => c.broker === 1 && c.open).length, 0, 'its connection is closed');
  await w.close(b2);
});

test('controlled shutdown is bounded: with no answer from the controller close() gives up after the timeout', async () => {
  const env = new SimulatedEnv(9);
  let heartbeats = 0;
  const b = new BrokerLifecycle({
    nodeId: 1,
    clusterId: () => 'c',
    listeners: [],
    rack: null,
    heartbeatIntervalMs: INTERVAL_MS,
    controllerId: () => 0,
    controllerEndpoint: () => ({ host: 'x', port: 1 }),
    metadataOffset: () => 10,
    env,
    controlledShutdownTimeoutMs: 5000,
    connect: async () => ({
      async send(api: string) {
        if (api === 'BrokerRegistration') return { throttleTimeMs: 0, errorCode: 0, brokerEpoch: 3 } as any;
        heartbeats++;
        return { throttleTimeMs: 0, errorCode: 0, isCaughtUp: true, isFenced: false, shouldShutDown: false } as any;
      },
      close() {},
    }),
  });
  b.start();
  for (let i = 0; i < 100 && b.state.fenced; i++) {
    env.advance(0);
    await settle();
  }
  assert.equal(b.state.fenced, false);
  let closed = false;
  void b.close().then(() => (closed = true));
  for (let t = 0; t < 4900; t += 100) {
    env.advance(100);
    await settle();
  }
  assert.equal(closed, false, 'still asking before the timeout');
  assert.ok(heartbeats > 10, `asked repeatedly (${heartbeats} heartbeats)`);
  env.advance(100);
  await until(() => closed, 'closed at the timeout');
});

test('NOT_CONTROLLER and a leader change: the connection moves to the new active controller', async () => {
  const env = new SimulatedEnv(11);
  let leader = 0;
  const opened: number[] = [];
  const closedChannels: number[] = [];
  let sent2 = 0;
  const b = new BrokerLifecycle({
    nodeId: 1,
    clusterId: () => 'c',
    listeners: [],
    rack: null,
    heartbeatIntervalMs: INTERVAL_MS,
    controllerId: () => leader,
    controllerEndpoint: (id) => ({ host: `ctl${id}`, port: 9093 }),
    metadataOffset: () => 10,
    env,
    connect: async (ep) => {
      opened.push(ep.nodeId);
      const me = ep.nodeId;
      return {
        async send(api: string, body: any) {
          // Controller 0 has lost its leadership and says so.
          if (me === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NOT_CONTROLLER, brokerEpoch: -1 } as any;
          if (api === 'BrokerRegistration') return { throttleTimeMs: 0, errorCode: 0, brokerEpoch: 5 } as any;
          sent2++;
          const bye = body.wantShutDown === true;
          return { throttleTimeMs: 0, errorCode: 0, isCaughtUp: true, isFenced: bye, shouldShutDown: bye } as any;
        },
        close() {
          closedChannels.push(me);
        },
      };
    },
  });
  b.start();
  for (let i = 0; i < 5; i++) {
    env.advance(100);
    await settle();
  }
  assert.equal(b.state.brokerEpoch, -1);
  assert.ok(closedChannels.includes(0), 'the connection to a controller that is not active is dropped');
  leader = 2;
  b.controllerChanged();
  const registered = () => b.state.brokerEpoch === 5 && !b.state.fenced;
  for (let i = 0; i < 100 && !registered(); i++) {
    env.advance(0);
    await settle();
  }
  assert.equal(b.state.brokerEpoch, 5, 'registered with the new controller, without waiting');
  assert.equal(b.state.fenced, false);
  assert.equal(b.state.controllerId, 2);
  assert.equal(opened.at(-1), 2);
  // An election (no leader known): the connection stays open and heartbeats go on over it; closing it
  // would have a controller that is still active fence this broker.
  leader = -1;
  b.controllerChanged();
  const sentBefore = sent2;
  for (let i = 0; i < 30; i++) {
    env.advance(100);
    await settle();
  }
  assert.ok(!closedChannels.includes(2));
  assert.equal(b.state.controllerId, 2);
  assert.ok(sent2 > sentBefore, 'still heartbeating to controller 2');
  let closed = false;
  void b.close().then(() => (closed = true));
  for (let i = 0; i < 100 && !closed; i++) {
    env.advance(50);
    await settle();
  }
  assert.ok(closed);
});

test('a broker process killed with SIGKILL is fenced by the controller in well under a second', async (t) => {
  const image = new MetadataImage();
  image.clusterId = 'c';
  const quorum = new MemoryQuorum(100);
  const controller = new Controller(quorum, image, {
    nodeId: 100,
    defaultPartitions: 1,
    defaultReplicationFactor: 1,
    validateConfig: () => null,
  });
  controller.enableBrokerLifecycle({ sessionTimeoutMs: SESSION_MS, clusterId: () => 'c' });
  const dispatcher = new Dispatcher();
  registerBrokerLifecycleHandlers(dispatcher, controller);
  dispatcher.register('ApiVersions', {
    handler: () => ({ errorCode: 0, apiKeys: dispatcher.supportedApis(), throttleTimeMs: 0 }),
  });
  const server = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1 << 20,
      idleTimeoutMs: 600_000,
      maxInFlightPerConnection: 5,
      logger: pino({ level: 'silent' }),
    },
    (frame, conn) => dispatcher.handle(frame, conn),
  );
  const { port } = await server.listen();
  server.open();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test/helpers/lifecycle-broker.ts'), String(port), '1'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  t.after(async () => {
    child.kill('SIGKILL');
    controller.stopBrokerLifecycle();
    await server.close(100);
  });
  // The child started (a loaded machine may take a while) and was unfenced.
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('unfenced')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the broker process exited (${code}) before it was unfenced`)));
  });
  assert.equal(image.isLive(1), true);
  const exited = new Promise((r) => child.once('exit', r));
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await exited;
  const deadline = Date.now() + 30_000;
  while (!image.brokers.get(1)!.fenced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const ms = performance.now() - killedAt;
  assert.equal(image.brokers.get(1)!.fenced, true, 'fenced');
  t.diagnostic(`killed broker fenced ${ms.toFixed(1)} ms after SIGKILL (broker.session.timeout.ms: ${SESSION_MS})`);
  assert.ok(ms < 1000, `fenced ${ms.toFixed(1)} ms after the kill`);
});
