// Zero-copy fetch over a real loopback socket. The primitives: a file region
// goes out by sendfile only when nothing is queued before it, and as far as
// the socket takes it. The connection: a response holding a region larger
// than the socket's buffers reaches a slow reader whole and in order (pieces
// through Node's queue tell it when the socket drained, then sendfile goes
// on), and what the response holds is released once, also when the reader
// goes away mid-way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FileRegion } from '../../../src/storage/file-region.ts';
import { PooledBuffer } from '../../../src/storage/buffer-pool.ts';
import {
  canSendInPlace,
  copyOut,
  sendInPlace,
  sendfileAvailable,
  sendfileStats,
} from '../../../src/server/sendfile.ts';
import type { Reply, ReplyChunks } from '../../../src/server/connection.ts';
import { withSocketServer } from '../../helpers/socket-server.ts';

const SIZE = 48 * 1024 * 1024;
let dir: string;
let fd: number;
let content: Buffer;

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-sendfile-'));
  content = crypto.randomBytes(SIZE);
  fs.writeFileSync(path.join(dir, 'data'), content);
  fd = fs.openSync(path.join(dir, 'data'), 'r');
});
after(() => {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

function region(position: number, length: number): { region: FileRegion; releases: () => number } {
  let releases = 0;
  const r = new FileRegion({ fd, release: () => releases++ }, position, length);
  return { region: r, releases: () => releases };
}

/** A connected pair: `sender` is the accepted socket; `received` resolves with all bytes once the sender ends. */
async function pair(): Promise<{
  sender: net.Socket;
  receiver: net.Socket;
  received: Promise<Buffer>;
  close: () => void;
}> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
  const receiver = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const chunks: Buffer[] = [];
  receiver.on('data', (d) => chunks.push(d));
  const received = new Promise<Buffer>((r) => receiver.on('end', () => r(Buffer.concat(chunks))));
  const sender = await accepted;
  return { sender, receiver, received, close: () => srv.close() };
}

test('the addon is built and loads (npm install / scripts/test.sh build it)', () => {
  assert.equal(sendfileAvailable, true);
});

test('sendInPlace: with nothing queued, the region goes out by sendfile', async () => {
  const { sender, received, close } = await pair();
  const before = sendfileStats.bytesInPlace;
  assert.equal(canSendInPlace(sender), true);
  assert.equal(canSendInPlace(new net.Socket()), false, 'no descriptor (not connected): regions are copied whole');
  const r = region(12_345, 256 * 1024);
  assert.equal(sendInPlace(sender, r.region, 0), 256 * 1024);
  assert.equal(sendfileStats.bytesInPlace - before, 256 * 1024);
  sender.end();
  assert.ok((await received).equals(content.subarray(12_345, 12_345 + 256 * 1024)));
  r.region.unpin();
  assert.equal(r.releases(), 1);
  close();
});

test('sendInPlace: as far as a full send buffer takes it; nothing past bytes already queued', async () => {
  const { sender, receiver, received, close } = await pair();
  receiver.pause(); // a reader that does not read: the kernel's buffers fill
  const r = region(1, SIZE - 1);
  const n = sendInPlace(sender, r.region, 0);
  assert.ok(n > 0 && n < SIZE - 1, `some bytes in place (${n})`);
  const pinsBefore = PooledBuffer.outstandingPins;
  const piece = copyOut(r.region, n, 1 << 20);
  const queued = piece.bytes;
  assert.ok(
    queued.equals(content.subarray(1 + n, 1 + n + (1 << 20))),
    'copyOut reads the file from where sendfile stopped',
  );
  sender.write(queued, () => piece.release());
  assert.ok(sender.writableLength > 0, 'the copy is queued');
  assert.equal(sendInPlace(sender, r.region, n + queued.length), 0, 'no sendfile past queued bytes');
  sender.end();
  receiver.resume();
  assert.ok((await received).equals(content.subarray(1, 1 + n + queued.length)));
  assert.equal(PooledBuffer.outstandingPins, pinsBefore, 'the copy is pooled memory, released once written');
  r.region.unpin();
  close();
});

test('copyOut of bytes the file no longer holds is an error, not short bytes', () => {
  const r = region(SIZE - 100, 1000);
  const pinsBefore = PooledBuffer.outstandingPins;
  assert.throws(() => copyOut(r.region, 0, 1000), /ends early/);
  assert.equal(PooledBuffer.outstandingPins, pinsBefore, 'the pooled buffer is given back');
  r.region.unpin();
});

/** A server whose n-th reply is built by `reply(n)` (requests are empty frames). */
function withServer(reply: (n: number) => Reply, fn: (port: number) => Promise<void>) {
  let n = 0;
  return withSocketServer(() => reply(n++), fn, { maxInFlight: 8 });
}

const EMPTY_FRAME = Buffer.alloc(4);

/** Polls `cond` until it holds, failing after `ms`. */
async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The server has filled the socket and queued a copied piece of a region: the region waits for a drain. */
function regionWaits(before: typeof sendfileStats): () => boolean {
  return () => sendfileStats.bytesCopied > before.bytesCopied;
}

/** Reads `total` bytes, not before `start` holds, then slowly (small reads with pauses). */
function slowRead(sock: net.Socket, total: number, start: () => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    sock.pause();
    waitFor('the server to fill the socket', start).then(() => sock.resume(), reject);
    sock.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      if (got >= total) resolve(Buffer.concat(chunks));
      else if (chunks.length % 8 === 0) {
        sock.pause();
        setTimeout(() => sock.resume(), 2); // the slow reader under test: the socket fills again and drains in steps
      }
    });
    sock.on('error', reject);
  });
}

test('a response with a region far larger than the socket buffers reaches a slow reader whole, mostly in place, in order with the next', async () => {
  const r = region(7, SIZE - 7);
  const pinsBefore = PooledBuffer.outstandingPins;
  let released = 0;
  await withServer(
    (n) => {
      if (n === 0) {
        const chunks: ReplyChunks = [Buffer.from('head'), r.region, Buffer.from('tail')];
        chunks.afterWrite = () => {
          released++;
          r.region.unpin();
        };
        return chunks;
      }
      return [Buffer.from('second')];
    },
    async (port) => {
      const sock = net.connect(port, '127.0.0.1');
      await new Promise((res) => sock.once('connect', res));
      const before = { ...sendfileStats };
      sock.write(Buffer.concat([EMPTY_FRAME, EMPTY_FRAME]));
      const first = 4 + 4 + (SIZE - 7) + 4;
      const all = await slowRead(sock, first + 4 + 6, regionWaits(before));
      assert.equal(all.readInt32BE(0), 8 + SIZE - 7);
      assert.equal(all.subarray(4, 8).toString(), 'head');
      assert.ok(all.subarray(8, 8 + SIZE - 7).equals(content.subarray(7)), 'the region, byte for byte');
      assert.equal(all.subarray(first - 4, first).toString(), 'tail');
      assert.equal(all.readInt32BE(first), 6);
      assert.equal(all.subarray(first + 4).toString(), 'second', 'the next response comes after the whole region');
      const inPlace = sendfileStats.bytesInPlace - before.bytesInPlace;
      const copied = sendfileStats.bytesCopied - before.bytesCopied;
      assert.equal(inPlace + copied, SIZE - 7);
      assert.ok(
        copied < (SIZE - 7) / 4,
        `pieces, not the rest, are copied while the reader is slow (${copied} of ${SIZE - 7} bytes)`,
      );
      sock.destroy();
    },
  );
  assert.equal(released, 1);
  assert.equal(r.releases(), 1);
  assert.equal(PooledBuffer.outstandingPins, pinsBefore, 'every copied piece went back to the pool');
});

test('a reader that goes away while a region waits for the socket to drain: the response is released once', async () => {
  const r = region(0, SIZE);
  const pinsBefore = PooledBuffer.outstandingPins;
  let released = 0;
  await withServer(
    () => {
      const chunks: ReplyChunks = [Buffer.from('head'), r.region];
      chunks.afterWrite = () => {
        released++;
        r.region.unpin();
      };
      return chunks;
    },
    async (port) => {
      const sock = net.connect(port, '127.0.0.1');
      await new Promise((res) => sock.once('connect', res));
      sock.pause(); // never reads: the broker's send buffer fills and the region waits
      const before = { ...sendfileStats };
      sock.write(EMPTY_FRAME);
      await waitFor('the region to wait for the socket to drain', regionWaits(before));
      assert.equal(released, 0, 'still waiting to finish the region');
      sock.destroy();
      await waitFor('the response to be released', () => released > 0);
    },
  );
  assert.equal(released, 1);
  assert.equal(r.releases(), 1);
  assert.equal(PooledBuffer.outstandingPins, pinsBefore, 'the queued piece went back to the pool');
});
