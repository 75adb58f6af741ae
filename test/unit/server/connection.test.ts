/**
 * Connection framing over a real loopback socket: pipelined requests are
 * answered in request order even when handlers finish out of order; a frame
 * size beyond the limit or negative closes only that connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pino from 'pino';
import { SocketServer } from '../../../src/server/socket-server.ts';
import type { Reply } from '../../../src/server/connection.ts';
import { withSocketServer } from '../../helpers/socket-server.ts';

const logger = pino({ level: 'silent' });

function withServer(
  handler: (frame: Buffer) => Reply | Promise<Reply>,
  fn: (port: number) => Promise<void>,
  maxFrameBytes = 1024,
) {
  return withSocketServer(handler, fn, { maxFrameBytes });
}

function frame(payload: Buffer): Buffer {
  const b = Buffer.alloc(4 + payload.length);
  b.writeInt32BE(payload.length, 0);
  payload.copy(b, 4);
  return b;
}

function collect(sock: net.Socket, count: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const out: Buffer[] = [];
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const n = buf.readInt32BE(0);
        out.push(buf.subarray(4, 4 + n));
        buf = buf.subarray(4 + n);
        if (out.length === count) resolve(out);
      }
    });
    sock.on('error', reject);
  });
}

test('pipelined requests are answered in order although handlers finish out of order', async () => {
  const WINDOW = 4; // maxInFlight: the server handles this many at once, then pauses reading
  const held: (() => void)[] = [];
  await withSocketServer(
    async (f) => {
      const n = f.readInt32BE(0);
      // Each handler waits until a window is full (or the last request came), then they finish last-first.
      await new Promise<void>((r) => {
        held.push(r);
        if (held.length === WINDOW || n === 9) while (held.length > 0) held.pop()!();
      });
      return [Buffer.from(`r${n}`)];
    },
    async (port) => {
      const sock = net.connect(port, '127.0.0.1');
      const got = collect(sock, 10);
      for (let i = 0; i < 10; i++) {
        const p = Buffer.alloc(4);
        p.writeInt32BE(i, 0);
        sock.write(frame(p)); // more than maxInFlight (4): reading pauses and resumes
      }
      const replies = await got;
      assert.deepEqual(
        replies.map((r) => r.toString()),
        Array.from({ length: 10 }, (_, i) => `r${i}`),
      );
      sock.destroy();
    },
    { maxFrameBytes: 1024, maxInFlight: WINDOW },
  );
});

test('a frame split across many TCP writes is reassembled', async () => {
  await withServer(
    (f) => [Buffer.from(f)],
    async (port) => {
      const sock = net.connect(port, '127.0.0.1');
      const got = collect(sock, 1);
      const payload = Buffer.from('0123456789abcdef');
      const bytes = frame(payload);
      for (const byte of bytes) {
        sock.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      const [reply] = await got;
      assert.equal(reply.toString(), '0123456789abcdef');
      sock.destroy();
    },
  );
});

for (const size of [-5, 2 ** 31 - 1, 1025]) {
  test(`a frame size of ${size} closes that connection only`, async () => {
    await withServer(
      (f) => [Buffer.from(f)],
      async (port) => {
        const bad = net.connect(port, '127.0.0.1');
        const closed = new Promise<void>((r) => bad.on('close', () => r()));
        bad.on('error', () => {});
        const hdr = Buffer.alloc(4);
        hdr.writeInt32BE(size, 0);
        bad.write(hdr);
        await closed;
        const good = net.connect(port, '127.0.0.1');
        const got = collect(good, 1);
        good.write(frame(Buffer.from('still here')));
        assert.equal((await got)[0].toString(), 'still here');
        good.destroy();
      },
    );
  });
}

test('a null reply (acks=0) sends nothing and later replies still flow', async () => {
  await withServer(
    (f) => (f.toString() === 'quiet' ? null : [Buffer.from('ok:' + f.toString())]),
    async (port) => {
      const sock = net.connect(port, '127.0.0.1');
      const got = collect(sock, 1);
      sock.write(frame(Buffer.from('quiet')));
      sock.write(frame(Buffer.from('loud')));
      assert.equal((await got)[0].toString(), 'ok:loud');
      sock.destroy();
    },
  );
});

test('a connection accepted before open() is parked unread, then served in order once open', async () => {
  let handled = 0;
  const s = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1024,
      idleTimeoutMs: 0,
      maxInFlightPerConnection: 4,
      logger,
    },
    (f) => {
      handled++;
      return [Buffer.from(f)];
    },
  );
  const { port } = await s.listen();
  const sock = net.connect(port, '127.0.0.1');
  try {
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const answers = collect(sock, 2);
    const a = Buffer.alloc(4);
    a.writeInt32BE(1, 0);
    const b = Buffer.alloc(4);
    b.writeInt32BE(2, 0);
    sock.write(Buffer.concat([frame(a), frame(b)]));
    // Showing that nothing happens takes a window of time; no event marks its end.
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(handled, 0, 'no request is handled before open()');
    assert.equal(s.connectionCount, 0);
    s.open();
    const got = await answers;
    assert.equal(handled, 2);
    assert.deepEqual(
      got.map((g) => g.readInt32BE(0)),
      [1, 2],
    );
  } finally {
    sock.destroy();
    await s.close(100);
  }
});

test('pipelined frames of all sizes, read in place, are intact when their handlers finish later', async () => {
  const s = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: 1 << 20,
      idleTimeoutMs: 0,
      maxInFlightPerConnection: 4,
      logger,
    },
    async (f, conn) => {
      inPlace.push(conn.readsInPlace);
      await new Promise((r) => setTimeout(r, 2)); // later reads reuse the scratch meanwhile
      return [Buffer.from(f)];
    },
  );
  const inPlace: boolean[] = [];
  const { port } = await s.listen();
  s.open();
  try {
    const payloads = Array.from({ length: 40 }, (_, i) => {
      const size = [12, 300, 5_000, 70_000, 250_000][i % 5];
      const p = Buffer.alloc(size, i);
      p.writeInt16BE(i % 2 === 0 ? 0 : 3, 0); // even ones look like Produce (pooled when large)
      return p;
    });
    const sock = net.connect(port, '127.0.0.1');
    const got = collect(sock, payloads.length);
    sock.write(Buffer.concat(payloads.map(frame)));
    const replies = await got;
    for (const [i, r] of replies.entries())
      assert.ok(r.equals(payloads[i]), `reply ${i} (${payloads[i].length} bytes)`);
    assert.ok(inPlace.length === payloads.length && inPlace.every((v) => v === inPlace[0]));
    // Node 20/22 let the reader choose its read buffers; if this fails, the fallback ('data' events) is in use.
    assert.equal(inPlace[0], process.env.SAMSA_SOCKET_USER_BUFFER !== '0');
    sock.destroy();
  } finally {
    await s.close(100);
  }
});
