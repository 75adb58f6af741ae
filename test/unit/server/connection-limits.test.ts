/**
 * The socket server's protections, over real loopback sockets: connection
 * limits (max.connections with LRU-idle eviction, max.connections.per.ip and
 * its overrides, max.connection.creation.rate, shared by a broker's
 * listeners as the other limits are), the idle timeout, the
 * deadline for a frame that started arriving, and rate-limited warnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pino from 'pino';
import type { Reply } from '../../../src/server/connection.ts';
import { LogLimiter } from '../../../src/server/log-limiter.ts';
import { withSocketServer } from '../../helpers/socket-server.ts';
import { ConnectionRegistry } from '../../../src/server/socket-server.ts';

const echo = (f: Buffer): Reply => [Buffer.from(f)];

function frame(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

/** A client socket that records whether the server closed it. */
class Client {
  readonly sock: net.Socket;
  closed = false;
  readonly closedP: Promise<void>;
  private data = Buffer.alloc(0);
  private onData: (() => void) | null = null;

  constructor(port: number, localAddress = '127.0.0.1') {
    this.sock = net.connect({ port, host: '127.0.0.1', localAddress });
    this.sock.on('error', () => {});
    this.closedP = new Promise((r) =>
      this.sock.on('close', () => {
        this.closed = true;
        this.onData?.();
        r();
      }),
    );
    this.sock.on('data', (d) => {
      this.data = Buffer.concat([this.data, d]);
      this.onData?.();
    });
  }

  /** Sends one frame; resolves 'served' once its echo arrives, 'closed' if the server closes first. */
  roundTrip(text = 'ping'): Promise<'served' | 'closed'> {
    const want = 4 + Buffer.byteLength(text);
    this.data = Buffer.alloc(0);
    this.sock.write(frame(Buffer.from(text)));
    return new Promise((resolve) => {
      const check = () => {
        if (this.data.length >= want) resolve('served');
        else if (this.closed) resolve('closed');
        else return;
        this.onData = null;
      };
      this.onData = check;
      check();
    });
  }

  destroy() {
    this.sock.destroy();
  }
}

/** Polls `cond` until it holds; fails after `ms`. */
async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function openAll(port: number, n: number, localAddress?: string) {
  const clients: Client[] = [];
  const results: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Client(port, localAddress);
    clients.push(c);
    results.push(await c.roundTrip());
  }
  return { clients, results };
}

test('max.connections.per.ip: connections beyond the limit from one address are closed, other addresses are not', async () => {
  await withSocketServer(
    echo,
    async (port) => {
      const a = await openAll(port, 5);
      assert.deepEqual(a.results, ['served', 'served', 'served', 'closed', 'closed']);
      const b = await openAll(port, 1, '127.0.0.2');
      assert.deepEqual(b.results, ['served']);
      // one closes: there is room again for that address
      a.clients[0].destroy();
      await a.clients[0].closedP;
      let again = 'closed';
      for (let i = 0; i < 50 && again === 'closed'; i++) again = await new Client(port).roundTrip(); // the server sees the close shortly after the client
      assert.equal(again, 'served');
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnectionsPerIp: 3, maxConnections: 100 },
  );
});

test('max.connections.per.ip.overrides: an address with an override gets its own limit', async () => {
  await withSocketServer(
    echo,
    async (port) => {
      const a = await openAll(port, 2, '127.0.0.1');
      assert.deepEqual(a.results, ['served', 'closed']);
      const b = await openAll(port, 4, '127.0.0.2');
      assert.deepEqual(b.results, ['served', 'served', 'served', 'closed']);
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnectionsPerIp: 1, maxConnectionsPerIpOverrides: new Map([['127.0.0.2', 3]]), maxConnections: 100 },
  );
});

test('max.connections.per.ip.overrides: a host name applies to its addresses once resolved', async () => {
  await withSocketServer(
    echo,
    async (port, server) => {
      await until(() => server.resolvedOverrides.get('127.0.0.1') === 2, 'localhost resolved');
      const a = await openAll(port, 3, '127.0.0.1');
      assert.deepEqual(a.results, ['served', 'served', 'closed']);
      for (const c of a.clients) c.destroy();
    },
    { maxConnectionsPerIp: 1, maxConnectionsPerIpOverrides: new Map([['localhost', 2]]), maxConnections: 100 },
  );
});

test('max.connection.creation.rate: connections beyond the rate are closed, and accepted again a second later', async () => {
  let clock = 1_000_000;
  await withSocketServer(
    echo,
    async (port) => {
      const a = await openAll(port, 4);
      assert.deepEqual(a.results, ['served', 'served', 'closed', 'closed']);
      clock += 1000;
      const b = await openAll(port, 1);
      assert.deepEqual(b.results, ['served']);
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnectionCreationRate: 2, maxConnections: 100, now: () => clock },
  );
});

test('max.connections reached: the least recently used idle connection is closed to let a new one in', async () => {
  await withSocketServer(
    echo,
    async (port, server) => {
      const a = await openAll(port, 3);
      assert.deepEqual(a.results, ['served', 'served', 'served']);
      // the first is used again: the second is now the least recently used
      assert.equal(await a.clients[0].roundTrip(), 'served');
      const b = await openAll(port, 1);
      assert.deepEqual(b.results, ['served'], 'the new client gets in');
      await a.clients[1].closedP;
      assert.equal(a.clients[0].closed, false);
      assert.equal(a.clients[2].closed, false);
      assert.equal(server.connectionCount, 3);
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnections: 3 },
  );
});

test("an eviction of a connection from the same address keeps that address's count right", async () => {
  await withSocketServer(
    echo,
    async (port, server) => {
      const a = await openAll(port, 3); // the third evicts the first
      assert.deepEqual(a.results, ['served', 'served', 'served']);
      await a.clients[0].closedP;
      a.clients[1].destroy();
      await until(() => server.connectionCount === 1, 'the server saw the close');
      // one open from this address: two more get in (the second by evicting), within the 3 per address
      const b = await openAll(port, 2);
      assert.deepEqual(b.results, ['served', 'served']);
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnections: 2, maxConnectionsPerIp: 3 },
  );
});

test('max.connections reached and every connection busy: the new one is refused', async () => {
  let held = 0;
  await withSocketServer(
    (f) => {
      if (f.toString() === 'ping') return echo(f);
      held++;
      return new Promise<Reply>(() => {}); // answered never: its connection is busy
    },
    async (port) => {
      const a = await openAll(port, 2);
      assert.deepEqual(a.results, ['served', 'served']);
      for (const c of a.clients) c.sock.write(frame(Buffer.from('hold')));
      await until(() => held === 2, 'both requests in flight');
      const b = await openAll(port, 1);
      assert.deepEqual(b.results, ['closed']);
      assert.ok(a.clients.every((c) => !c.closed));
      for (const c of [...a.clients, ...b.clients]) c.destroy();
    },
    { maxConnections: 2 },
  );
});

test('connections.max.idle.ms: an idle connection is closed within the period, not up to twice it', async () => {
  const IDLE = 1500;
  await withSocketServer(
    echo,
    async (port) => {
      const c = new Client(port);
      assert.equal(await c.roundTrip(), 'served');
      // active again part-way through the first period: the idle time counts from here
      // (a real pause: the socket server's idle timer runs on the wall clock, no clock is injected)
      await new Promise((r) => setTimeout(r, IDLE * 0.2));
      assert.equal(await c.roundTrip(), 'served');
      const lastActive = Date.now();
      await c.closedP;
      const idle = Date.now() - lastActive;
      assert.ok(idle >= IDLE - 50, `closed after ${idle} ms idle, before the period`);
      assert.ok(idle < IDLE * 1.5, `closed after ${idle} ms idle; the period is ${IDLE} ms`);
    },
    { idleTimeoutMs: IDLE },
  );
});

test('a frame that started arriving must be complete within the deadline, even if bytes trickle in', async () => {
  const DEADLINE = 400;
  await withSocketServer(
    echo,
    async (port) => {
      const c = new Client(port);
      const hdr = Buffer.alloc(4 + 10);
      hdr.writeInt32BE(1000, 0); // a 1000-byte frame, of which 10 bytes come now and then one byte at a time
      const started = Date.now();
      c.sock.write(hdr);
      const trickle = setInterval(() => c.sock.write(Buffer.from([1])), 50);
      try {
        await c.closedP;
      } finally {
        clearInterval(trickle);
      }
      const took = Date.now() - started;
      assert.ok(took >= DEADLINE - 50, `closed after ${took} ms, before the deadline`);
      // the connection was never idle long: only the deadline can have closed it
    },
    { requestReadTimeoutMs: DEADLINE, idleTimeoutMs: 60_000, maxFrameBytes: 1 << 20 },
  );
});

test('a client loop of bad connections logs one warning per interval, with the count of those suppressed', async () => {
  const lines: any[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  let clock = 5_000_000;
  await withSocketServer(
    echo,
    async (port) => {
      const bad = async () => {
        const c = new Client(port);
        const hdr = Buffer.alloc(4);
        hdr.writeInt32BE(1 << 30, 0); // beyond socket.request.max.bytes
        c.sock.write(hdr);
        await c.closedP;
      };
      for (let i = 0; i < 30; i++) await bad();
      const sizeLines = () => lines.filter((l) => /socket\.request\.max\.bytes/.test(l.msg));
      assert.equal(sizeLines().length, 1, 'one line for 30 bad connections from one address');
      clock += 60_000;
      await bad();
      assert.equal(sizeLines().length, 2);
      assert.equal(sizeLines()[1].suppressed, 29);
    },
    { logger, logLimiter: new LogLimiter(10_000, 1000, () => clock) },
  );
});

test('listeners of one broker share the limits: max.connections.per.ip counts connections on every listener', async () => {
  const registry = new ConnectionRegistry();
  const limits = { maxConnectionsPerIp: 3, maxConnections: 100, registry };
  await withSocketServer(
    echo,
    async (first) => {
      await withSocketServer(
        echo,
        async (second) => {
          const a = await openAll(first, 2);
          assert.deepEqual(a.results, ['served', 'served']);
          const b = await openAll(second, 2);
          assert.deepEqual(b.results, ['served', 'closed']);
          assert.equal(registry.open.size, 3);
          for (const c of [...a.clients, ...b.clients]) c.destroy();
          await until(() => registry.open.size === 0, 'every connection gone from the shared count');
        },
        limits,
      );
    },
    limits,
  );
});

test('listeners of one broker share max.connection.creation.rate: it counts connections on every listener', async () => {
  let clock = 1_000_000;
  const registry = new ConnectionRegistry();
  const limits = { maxConnectionCreationRate: 3, maxConnections: 100, registry, now: () => clock };
  await withSocketServer(
    echo,
    async (first) => {
      await withSocketServer(
        echo,
        async (second) => {
          const a = await openAll(first, 2);
          assert.deepEqual(a.results, ['served', 'served']);
          const b = await openAll(second, 2);
          assert.deepEqual(
            b.results,
            ['served', 'closed'],
            "the second listener gets what is left of the broker's rate",
          );
          const c = await openAll(first, 1);
          assert.deepEqual(c.results, ['closed']);
          clock += 1000;
          const d = await openAll(second, 1);
          assert.deepEqual(d.results, ['served']);
          for (const x of [...a.clients, ...b.clients, ...c.clients, ...d.clients]) x.destroy();
        },
        limits,
      );
    },
    limits,
  );
});

test('max.connection.creation.rate: a listener exempt from it (the inter-broker one) is served while the rate is used up', async () => {
  const clock = 1_000_000;
  const registry = new ConnectionRegistry();
  const limits = { maxConnectionCreationRate: 1, maxConnections: 100, registry, now: () => clock };
  await withSocketServer(
    echo,
    async (clients) => {
      await withSocketServer(
        echo,
        async (interBroker) => {
          const a = await openAll(clients, 2);
          assert.deepEqual(a.results, ['served', 'closed']);
          const b = await openAll(interBroker, 3);
          assert.deepEqual(b.results, ['served', 'served', 'served']);
          const c = await openAll(clients, 1);
          assert.deepEqual(c.results, ['closed'], 'the exempt listener took no tokens');
          for (const x of [...a.clients, ...b.clients, ...c.clients]) x.destroy();
        },
        { ...limits, brokerWideRate: false },
      );
    },
    limits,
  );
});

test('max.connection.creation.rate lowered at runtime: the shared bucket holds at most one second of the new rate', async () => {
  const clock = 1_000_000;
  const registry = new ConnectionRegistry();
  const limits = { maxConnectionCreationRate: 10, maxConnections: 100, registry, now: () => clock };
  await withSocketServer(
    echo,
    async (first, s1) => {
      await withSocketServer(
        echo,
        async (second, s2) => {
          const a = await openAll(first, 1);
          assert.deepEqual(a.results, ['served']);
          for (const s of [s1, s2]) s.updateLimits({ maxConnectionCreationRate: 2 });
          const b = await openAll(second, 3);
          assert.deepEqual(b.results, ['served', 'served', 'closed']);
          for (const x of [...a.clients, ...b.clients]) x.destroy();
        },
        limits,
      );
    },
    limits,
  );
});
