/**
 * Connection floods from one address (127.0.0.2) against a client from
 * another (127.0.0.1), on a real broker:
 *
 * - a flood of connections held open stops at max.connections.per.ip, and
 *   the other client connects and is served throughout;
 * - a flood of short-lived connections under max.connection.creation.rate
 *   (listener-wide) uses up the listener's rate and the other client's new
 *   connections are refused, unless the flooding address has a
 *   connection_creation_rate quota (KIP-612, set with `samsa quota --ip`):
 *   then it is held to its quota and the other client is never refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { eventually, startTestBroker, type TestBroker } from '../helpers/broker.ts';
import { Connection } from '../../src/client/connection.ts';
import { runCli } from '../../src/cli/main.ts';

const FLOOD_FROM = '127.0.0.2';

async function samsa(args: string[]): Promise<void> {
  let err = '';
  const code = await runCli(args, { stdout: () => {}, stderr: (s) => void (err += s) });
  assert.equal(code, 0, `samsa ${args.join(' ')}: ${err}`);
}

/** Opens a socket from `localAddress`; resolves once connected, or null when refused or closed before any use. */
function openFrom(port: number, localAddress: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.on('error', () => resolve(null));
    s.once('connect', () => resolve(s));
  });
}

/** Whether the broker keeps a socket open: ApiVersions v0 answered (a refused one is closed at once). */
function served(s: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const req = Buffer.alloc(4 + 10 + 2);
    req.writeInt32BE(12, 0);
    req.writeInt16BE(18, 4); // ApiVersions
    req.writeInt16BE(0, 6); // v0
    req.writeInt32BE(7, 8); // correlation id
    req.writeInt16BE(-1, 12); // null client id
    let got = 0;
    s.on('data', (d) => {
      got += d.length;
      if (got >= 8) resolve(true);
    });
    s.on('close', () => resolve(false));
    s.on('error', () => resolve(false));
    s.write(req);
  });
}

/** The other client: a new connection from 127.0.0.1 and a Metadata round trip; false when refused. */
async function otherClientServed(broker: TestBroker): Promise<boolean> {
  const c = new Connection({ host: '127.0.0.1', port: broker.port, clientId: 'bystander', connectTimeoutMs: 5000 });
  try {
    await c.connect();
    const md = await c.send('Metadata', { topics: [], allowAutoTopicCreation: false });
    return md.brokers.length === 1;
  } catch {
    return false;
  } finally {
    await c.close().catch(() => {});
  }
}

/**
 * `n` connections of the other client, one per 100 ms (10/s, well within the
 * listener's 40/s by itself); resolves to how many were served.
 */
async function pacedOtherClient(broker: TestBroker, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (await otherClientServed(broker)) ok++;
  }
  return ok;
}

/** Opens and closes connections from FLOOD_FROM as fast as it can until `stop()`; counts those served. */
function churn(port: number): { stop: () => Promise<{ attempts: number; served: number }> } {
  let running = true;
  let attempts = 0;
  let servedCount = 0;
  const loops = Array.from({ length: 8 }, async () => {
    while (running) {
      attempts++;
      const s = await openFrom(port, FLOOD_FROM);
      if (s) {
        if (await served(s)) servedCount++;
        s.destroy();
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { attempts, served: servedCount };
    },
  };
}

describe('connection floods from one address', () => {
  let broker: TestBroker;

  before(async () => {
    broker = await startTestBroker({
      overrides: {
        'max.connections.per.ip': '20',
        'max.connections': '200',
        'max.connection.creation.rate': '40',
      },
    });
  });
  after(async () => {
    await broker?.close();
  });

  test('connections held open stop at max.connections.per.ip; the other address is served throughout', async () => {
    const held: net.Socket[] = [];
    let open = 0;
    let otherOk = 0;
    let otherTries = 0;
    try {
      for (let i = 0; i < 10; i++) {
        // 30 at a time: what the listener's creation rate leaves room for
        const batch = await Promise.all(Array.from({ length: 30 }, () => openFrom(broker.port, FLOOD_FROM)));
        const alive = await Promise.all(batch.map((s) => (s ? served(s) : Promise.resolve(false))));
        batch.forEach((s, j) => {
          if (s && alive[j]) {
            held.push(s);
            open++;
          } else s?.destroy();
        });
        otherTries++;
        if (await otherClientServed(broker)) otherOk++;
      }
      assert.ok(open <= 20, `${open} flood connections stayed open, limit 20`);
      assert.equal(otherOk, otherTries, 'the other client was served every time');
    } finally {
      for (const s of held) s.destroy();
    }
  });

  test('short-lived connections use up the listener rate, unless the address has a connection_creation_rate quota', async () => {
    // without a quota for the flooding address: the other client is refused some of the time
    let flood = churn(broker.port);
    const refused = 20 - (await pacedOtherClient(broker, 20));
    await flood.stop();
    console.log(`without a quota: the other client was refused ${refused} of 20 times`);
    assert.ok(refused > 0, 'the flood starved the other client of the listener rate');

    // the flooding address gets a quota of 5 connections/s (its refused connections do not use the listener rate);
    // the CLI's own connection may find the listener's rate used up until its bucket refills
    await eventually(() =>
      samsa([
        'quota',
        'set',
        '-b',
        broker.bootstrapServers,
        '--ip',
        FLOOD_FROM,
        '--add-config',
        'connection_creation_rate=5',
      ]).then(
        () => true,
        () => false,
      ),
    );
    // the listener's rate, used up by the flood before, has room again
    await eventually(() => otherClientServed(broker));
    flood = churn(broker.port);
    const ok = await pacedOtherClient(broker, 20);
    const f = await flood.stop();
    console.log(
      `with connection_creation_rate=5: the flood got ${f.served} of ${f.attempts}; the other client ${ok} of 20`,
    );
    assert.equal(ok, 20, 'the other client was never refused');
    assert.ok(f.attempts > 100, `the flood tried ${f.attempts} connections`);
    assert.ok(f.served < f.attempts / 4, `the flood got ${f.served} of ${f.attempts} connections`);
  });
});
