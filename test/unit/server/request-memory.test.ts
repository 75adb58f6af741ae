/**
 * The broker-wide bound on what requests hold (queued.max.request.bytes,
 * queued.max.requests): the pool's rules on its own, then over real sockets
 * a server that stops reading when the pool is full and resumes when
 * requests are answered or abandoned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { Reply } from '../../../src/server/connection.ts';
import { RequestMemory } from '../../../src/server/request-memory.ts';
import { withSocketServer } from '../../helpers/socket-server.ts';

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A frame of `size` bytes for API `apiKey`, filled with `fill`. */
function frame(apiKey: number, size: number, fill = 7): Buffer {
  const b = Buffer.alloc(4 + size, fill);
  b.writeInt32BE(size, 0);
  b.writeInt16BE(apiKey, 4);
  return b;
}

function connect(port: number): net.Socket {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  return s;
}

/** A handler that holds every request until released, and records the frames it got. */
function holding() {
  const got: Buffer[] = [];
  const release: (() => void)[] = [];
  const handler = (f: Buffer): Promise<Reply> => {
    got.push(f);
    return new Promise<Reply>((resolve) => release.push(() => resolve([Buffer.from('ok')])));
  };
  return { got, release, handler };
}

test('the pool admits while not full (so one frame may go over), and does not count Fetch/JoinGroup/SyncGroup as queued requests', () => {
  const m = new RequestMemory(100, 2);
  assert.ok(m.tryAdmit(60, 0));
  assert.ok(m.tryAdmit(60, 0), 'used 60 < 100: admitted although it goes over');
  assert.equal(m.used, 120);
  assert.ok(!m.tryAdmit(1, 3), 'full');
  m.release(60, 0);
  assert.ok(m.tryAdmit(10, 3));
  assert.equal(m.queuedRequests, 2);
  assert.ok(!m.tryAdmit(0, 3), 'queued.max.requests reached');
  assert.ok(m.tryAdmit(0, 1), 'a Fetch does not count');
  assert.equal(m.queuedRequests, 2);
  const unbounded = new RequestMemory(-1, -1);
  for (let i = 0; i < 1000; i++) assert.ok(unbounded.tryAdmit(1 << 20, 0));
});

test('waiters are woken in order as room is given back', async () => {
  const m = new RequestMemory(10, -1);
  assert.ok(m.tryAdmit(10, 0));
  // a fills the pool: b goes in only after a gives room back
  const order: string[] = [];
  const waiter = (name: string, size: number) => {
    const w = {
      retry: () => {
        if (!m.tryAdmit(size, 0)) return false;
        order.push(name);
        return true;
      },
    };
    m.wait(w);
    return w;
  };
  waiter('a', 10);
  waiter('b', 5);
  const c = waiter('c', 5);
  m.cancel(c);
  assert.equal(m.waiterCount, 2);
  m.release(10, 0);
  await until(() => order.length === 1, 'a woken');
  assert.deepEqual(order, ['a']);
  assert.equal(m.waiterCount, 1, 'b waits on');
  m.release(10, 0);
  await until(() => order.length === 2, 'b woken');
  assert.deepEqual(order, ['a', 'b']);
});

test('a full request memory stops reading frames; answering a request lets the waiting one in', async () => {
  const h = holding();
  await withSocketServer(
    h.handler,
    async (port, server) => {
      const a = connect(port);
      a.write(frame(3, 80_000));
      await until(() => h.got.length === 1, 'first frame handled');
      const b = connect(port);
      b.write(frame(3, 80_000));
      await until(() => h.got.length === 2, 'second frame handled (the pool was not full yet)');
      assert.equal(server.memory.used, 160_000);
      const c = connect(port);
      c.write(frame(3, 1000, 9));
      await until(() => server.memory.waiterCount === 1, 'the third connection waits for room');
      assert.equal(h.got.length, 2, 'nothing of the third frame is handed over while the pool is full');
      h.release[0]();
      await until(() => h.got.length === 3, 'the waiting frame gets in once the first is answered');
      assert.ok(h.got[2].equals(frame(3, 1000, 9).subarray(4)));
      assert.equal(server.memory.used, 81_000);
      for (const r of h.release) r();
      await until(() => server.memory.used === 0, 'all room given back once answered');
      for (const s of [a, b, c]) s.destroy();
    },
    { queuedMaxRequestBytes: 100_000, maxFrameBytes: 1 << 20 },
  );
});

test('incomplete frames hold their room only while their connection lives; then a waiting connection gets it', async () => {
  await withSocketServer(
    () => [Buffer.from('ok')],
    async (port, server) => {
      // connections each send a 200 kB frame but its last byte; the pool holds 300 kB
      const partial = () => {
        const s = connect(port);
        s.write(frame(0, 200_000).subarray(0, 4 + 200_000 - 1));
        return s;
      };
      const admitted = [partial(), partial()];
      await until(() => server.memory.used === 400_000, 'two frames admitted: the second went over the 300 kB once');
      const waiting = [partial(), partial(), partial(), partial()];
      await until(() => server.memory.waiterCount === 4, 'four connections wait');
      assert.equal(server.memory.used, 400_000);
      assert.equal(server.connectionCount, 6);
      // an admitted one gives up: its room goes to a waiter
      admitted[0].destroy();
      await until(() => server.connectionCount === 5, 'the server saw the close');
      await until(() => server.memory.used === 400_000 && server.memory.waiterCount === 3, 'its room went to a waiter');
      const socks = [...admitted, ...waiting];
      for (const s of socks) s.destroy();
      await until(() => server.memory.used === 0 && server.memory.waiterCount === 0, 'all room given back');
    },
    { queuedMaxRequestBytes: 300_000, maxFrameBytes: 1 << 20, maxConnections: 100 },
  );
});

test('queued.max.requests: requests beyond it across connections wait until one is answered; a Fetch does not count', async () => {
  const h = holding();
  await withSocketServer(
    h.handler,
    async (port, server) => {
      const a = connect(port);
      a.write(Buffer.concat([frame(3, 10, 1), frame(3, 10, 2)]));
      const b = connect(port);
      b.write(Buffer.concat([frame(3, 10, 3), frame(3, 10, 4), frame(3, 10, 5)]));
      await until(() => h.got.length === 3 && server.memory.waiterCount >= 1, 'three requests handled, the rest wait');
      assert.equal(server.memory.queuedRequests, 3);
      const c = connect(port);
      c.write(frame(1, 10, 6)); // a Fetch
      await until(() => h.got.length === 4, 'the Fetch is read although three requests are queued');
      h.release[0]();
      await until(() => h.got.length === 5, 'one more is read once one is answered');
      assert.equal(server.memory.queuedRequests, 3);
      for (const r of h.release) r();
      await until(() => h.got.length === 6, 'all read');
      for (const r of h.release) r();
      await until(() => server.memory.queuedRequests === 0, 'none queued');
      for (const s of [a, b, c]) s.destroy();
    },
    { queuedMaxRequests: 3, maxInFlight: 10 },
  );
});
