/** The broker's TCP layer alone, for connection tests: a SocketServer on a free loopback port, open while `fn` runs. */
import pino from 'pino';
import { SocketServer, type SocketServerOptions } from '../../src/server/socket-server.ts';
import type { Reply } from '../../src/server/connection.ts';

export async function withSocketServer(
  handler: (frame: Buffer) => Reply | Promise<Reply>,
  fn: (port: number, server: SocketServer) => Promise<void>,
  opts: { maxFrameBytes?: number; maxInFlight?: number } & Partial<SocketServerOptions> = {},
): Promise<void> {
  const { maxFrameBytes, maxInFlight, ...rest } = opts;
  const s = new SocketServer(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 10,
      maxFrameBytes: maxFrameBytes ?? 1024,
      idleTimeoutMs: 0,
      maxInFlightPerConnection: maxInFlight ?? 4,
      logger: pino({ level: 'silent' }),
      ...rest,
    },
    (frame) => handler(frame),
  );
  const { port } = await s.listen();
  s.open();
  try {
    await fn(port, s);
  } finally {
    await s.close(100);
  }
}
