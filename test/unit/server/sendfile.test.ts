// The transport half of zero-copy fetch: a file region goes to the socket by
// sendfile when nothing is queued before it; what the socket does not take at
// once, or everything when bytes are already queued, comes back read from the
// file, so the bytes arrive whole and in order either way.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FileRegion } from '../../../src/storage/file-region.ts';
import { sendRegion, sendfileAvailable, sendfileStats } from '../../../src/server/sendfile.ts';

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

function region(position: number, length: number): { region: FileRegion; released: () => boolean } {
  let released = false;
  const r = new FileRegion({ fd, release: () => (released = true) }, position, length);
  return { region: r, released: () => released };
}

/** A connected pair: `sender` is the accepted (broker-side) socket; `received()` resolves with all bytes once the sender ends. */
async function pair(): Promise<{ sender: net.Socket; receiver: net.Socket; received: Promise<Buffer>; close: () => void }> {
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

test('a region with nothing queued before it goes out in place', async () => {
  const { sender, received, close } = await pair();
  const before = { ...sendfileStats };
  const r = region(12_345, 256 * 1024);
  assert.equal(sendRegion(sender, r.region), null, 'all sent by sendfile');
  assert.equal(sendfileStats.bytesInPlace - before.bytesInPlace, 256 * 1024);
  assert.equal(sendfileStats.bytesCopied, before.bytesCopied);
  sender.end();
  assert.ok((await received).equals(content.subarray(12_345, 12_345 + 256 * 1024)));
  r.region.unpin();
  assert.ok(r.released());
  close();
});

test('what a full send buffer does not take is returned, read from the file, and the bytes arrive whole', async () => {
  const { sender, receiver, received, close } = await pair();
  receiver.pause(); // a consumer that does not read: the kernel's buffers fill
  const before = { ...sendfileStats };
  const r = region(1, SIZE - 1);
  const rest = sendRegion(sender, r.region);
  assert.ok(rest, 'the socket did not take 48 MiB at once');
  const inPlace = sendfileStats.bytesInPlace - before.bytesInPlace;
  assert.ok(inPlace > 0 && inPlace < SIZE - 1, `some bytes in place (${inPlace})`);
  assert.equal(rest.length, SIZE - 1 - inPlace);
  assert.equal(sendfileStats.bytesCopied - before.bytesCopied, rest.length);
  assert.ok(rest.equals(content.subarray(1 + inPlace)), 'the rest is the file from where sendfile stopped');
  sender.end(rest);
  receiver.resume();
  assert.ok((await received).equals(content.subarray(1)));
  r.region.unpin();
  close();
});

test('bytes already queued on the socket go first: the region is then written like any buffer', async () => {
  const { sender, receiver, received, close } = await pair();
  receiver.pause();
  const first = crypto.randomBytes(16 * 1024 * 1024);
  sender.write(first);
  assert.ok(sender.writableLength > 0, 'the first write is queued');
  const before = { ...sendfileStats };
  const r = region(0, 1024 * 1024);
  const rest = sendRegion(sender, r.region);
  assert.equal(sendfileStats.bytesInPlace, before.bytesInPlace, 'no sendfile past queued bytes');
  assert.ok(rest?.equals(content.subarray(0, 1024 * 1024)));
  sender.end(rest!);
  receiver.resume();
  assert.ok((await received).equals(Buffer.concat([first, content.subarray(0, 1024 * 1024)])));
  r.region.unpin();
  close();
});

test('a region the file no longer holds is an error, not short bytes', async () => {
  const { sender, receiver, close } = await pair();
  receiver.pause();
  sender.write(Buffer.alloc(8 * 1024 * 1024)); // queued: the region must be read, and the read comes up short
  const r = region(SIZE - 100, 1000);
  assert.throws(() => sendRegion(sender, r.region), /ends early/);
  r.region.unpin();
  sender.destroy();
  receiver.destroy();
  close();
});
