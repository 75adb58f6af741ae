/**
 * Memory held by requests in flight: the broker's RSS while many connections
 * each hold a nearly complete large request frame (the size prefix and all
 * of the frame but its last byte), as a client that stalls, or an attacker,
 * would leave them.
 *
 *   node --import tsx bench/connection-memory.ts [--connections 200] [--frame-mib 100] [--override k=v ...]
 *
 * Starts a broker as a child process (test/helpers/broker.ts), opens the
 * connections from this one process (all send the same buffer, so this
 * process does not grow), and waits until the broker takes no more bytes
 * (every connection has sent its bytes, or nothing moved for 5 s). Prints
 * the broker's RSS before and at its peak, and how many bytes it took in.
 */
import net from 'node:net';
import { startChildBroker } from '../test/helpers/broker.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const connections = Number(arg('connections', '200'));
const frameBytes = Number(arg('frame-mib', '100')) * 1024 * 1024;
const overrides: Record<string, string> = {};
process.argv.forEach((a, i) => {
  if (a === '--override') {
    const kv = process.argv[i + 1];
    overrides[kv.slice(0, kv.indexOf('='))] = kv.slice(kv.indexOf('=') + 1);
  }
});
const STALL_MS = 5000;
const POLL_MS = 250;

const broker = await startChildBroker({ overrides: { 'socket.request.max.bytes': String(frameBytes), ...overrides } });
const mib = (kib: number) => (kib / 1024).toFixed(0);
try {
  const before = broker.rssKiB();
  const header = Buffer.alloc(4);
  header.writeInt32BE(frameBytes, 0);
  // API key 0 (Produce), version 0, then filler: all of the frame but its last byte.
  const body = Buffer.alloc(frameBytes - 1, 1);
  body.writeInt16BE(0, 0);
  body.writeInt16BE(0, 2);
  const sockets: net.Socket[] = [];
  let closedByBroker = 0;
  for (let i = 0; i < connections; i++) {
    const s = net.connect(broker.port, broker.host);
    s.on('error', () => {});
    s.on('close', () => closedByBroker++);
    s.write(header);
    s.write(body);
    sockets.push(s);
  }
  const queued = connections * (frameBytes + 3);
  const sent = () => queued - sockets.reduce((n, s) => n + (s.destroyed ? 0 : s.writableLength), 0);
  let peak = before;
  let lastSent = -1;
  let lastMove = Date.now();
  const started = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    peak = Math.max(peak, broker.rssKiB());
    const now = sent();
    if (now !== lastSent) {
      lastSent = now;
      lastMove = Date.now();
    }
    if (now >= queued || Date.now() - lastMove > STALL_MS) break;
  }
  peak = Math.max(peak, broker.rssKiB());
  const took = sockets.reduce((n, s) => n + (s.destroyed ? 0 : 1), 0);
  console.log(
    `connections: ${connections} x ${(frameBytes / 1048576).toFixed(0)} MiB frames (each short of its last byte)`,
  );
  console.log(`overrides: ${JSON.stringify(overrides)}`);
  console.log(`broker RSS before: ${mib(before)} MiB`);
  console.log(`broker RSS peak:   ${mib(peak)} MiB`);
  console.log(
    `bytes the broker took in (left the client): ${(lastSent / 1048576).toFixed(0)} MiB of ${(queued / 1048576).toFixed(0)} MiB, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(`connections still open: ${took}, closed by the broker: ${closedByBroker}`);
  for (const s of sockets) s.destroy();
} finally {
  await broker.close();
}
