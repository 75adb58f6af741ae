/**
 * Connection limits changed at runtime through the admin APIs take effect on
 * a running broker: IncrementalAlterConfigs (our client) and AlterConfigs
 * (kafkajs), cluster-wide and per broker, and DELETE restores the static
 * value. Raw sockets do an ApiVersions round trip to show they are served.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { KafkaClient } from '../../../src/client/client.ts';
import { WireConn } from '../../helpers/wire.ts';

let broker: EmbeddedBroker;

before(async () => {
  broker = await startBroker();
});

after(async () => {
  await broker?.close();
});

async function alterIncremental(name: string, configs: { name: string; value?: string; op?: 'set' | 'delete' }[]) {
  const client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'conn-config-test' });
  try {
    const [r] = await client.incrementalAlterConfigs([{ type: 'broker', name, configs }]);
    assert.equal(r.error, null);
  } finally {
    await client.close();
  }
}

/** Opens `n` connections one after the other, each served (ApiVersions) when opened; returns them. */
async function openServed(n: number): Promise<WireConn[]> {
  const conns: WireConn[] = [];
  for (let i = 0; i < n; i++) {
    const c = await WireConn.open(broker.host, broker.port);
    const reply = await c.request(18, 0, i, Buffer.alloc(0));
    assert.equal(reply.readInt32BE(0), i);
    conns.push(c);
  }
  return conns;
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('max.connections lowered with IncrementalAlterConfigs: a new client gets in, the least recently used idle ones make room', async () => {
  await alterIncremental('', [{ name: 'max.connections', value: '3' }]);
  const conns = await openServed(5);
  // at most 3 open: the two oldest were closed to make room (the admin client's, if still open, went first)
  await until(() => conns.filter((c) => c.closed).length >= 2, 'two closed');
  assert.deepEqual(
    conns.map((c) => c.closed),
    [true, true, false, false, false],
  );
  for (const c of conns) c.destroy();
  await alterIncremental('', [{ name: 'max.connections', op: 'delete' }]);
  const again = await openServed(5);
  assert.ok(
    again.every((c) => !c.closed),
    'back to the static limit: all five were served after each other',
  );
  for (const c of again) c.destroy();
});

test('max.connections.per.ip set per broker with AlterConfigs (kafkajs) refuses the connection beyond it; removing it lifts the limit', async () => {
  const admin = new kafkajs.Kafka({
    brokers: [broker.bootstrapServers],
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  await admin.connect();
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: kafkajs.ConfigResourceTypes.BROKER,
        name: '1',
        configEntries: [{ name: 'max.connections.per.ip', value: '2' }],
      },
    ],
  });
  await admin.disconnect();
  // the broker sees the admin's connections from this address close shortly after disconnect()
  let conns: WireConn[] = [];
  for (let attempt = 0; ; attempt++) {
    for (const c of conns) c.destroy();
    conns = [];
    try {
      conns = await openServed(2);
      break;
    } catch (err) {
      if (attempt > 200) throw err; // the broker has not yet seen the admin's connections close
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const third = await WireConn.open(broker.host, broker.port);
  await third.expectClose();
  assert.ok(conns.every((c) => !c.closed));
  for (const c of conns) c.destroy();
  // DELETE through IncrementalAlterConfigs: one connection of ours is needed for it, so wait until the two above are gone
  for (let attempt = 0; ; attempt++) {
    try {
      await alterIncremental('1', [{ name: 'max.connections.per.ip', op: 'delete' }]);
      break;
    } catch (err) {
      if (attempt > 200) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const many = await openServed(4);
  for (const c of many) c.destroy();
});

test('an invalid max.connections.per.ip.overrides is refused (INVALID_REQUEST, as Kafka answers for a bad broker config)', async () => {
  const client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'conn-config-test' });
  try {
    const [r] = await client.incrementalAlterConfigs([
      { type: 'broker', name: '', configs: [{ name: 'max.connections.per.ip.overrides', value: '127.0.0.1=5' }] },
    ]);
    assert.equal(r.error?.code, 42); // INVALID_REQUEST
  } finally {
    await client.close();
  }
});

test('config: queued.max.request.bytes defaults to 256 MiB or a quarter of the memory; -1 is unbounded; overrides parse host:count', async () => {
  const { loadBrokerConfig } = await import('../../../src/config/broker-config.ts');
  assert.equal(loadBrokerConfig({ totalMemory: 64 * 2 ** 30 }).queuedMaxRequestBytes, 256 << 20);
  assert.equal(loadBrokerConfig({ totalMemory: 512 << 20 }).queuedMaxRequestBytes, 128 << 20);
  assert.equal(loadBrokerConfig({ overrides: { 'queued.max.request.bytes': '-1' } }).queuedMaxRequestBytes, -1);
  assert.throws(
    () => loadBrokerConfig({ overrides: { 'queued.max.request.bytes': '0' } }),
    /queued\.max\.request\.bytes/,
  );
  const c = loadBrokerConfig({
    overrides: { 'max.connections.per.ip.overrides': '10.0.0.7:200, client.example:50,[::1]:3' },
  });
  assert.deepEqual(
    [...c.maxConnectionsPerIpOverrides],
    [
      ['10.0.0.7', 200],
      ['client.example', 50],
      ['::1', 3],
    ],
  );
  assert.throws(
    () => loadBrokerConfig({ overrides: { 'max.connections.per.ip.overrides': 'nohost' } }),
    /max\.connections\.per\.ip\.overrides/,
  );
  assert.equal(loadBrokerConfig().queuedMaxRequests, 500);
  assert.equal(loadBrokerConfig().requestReadTimeoutMs, 30_000);
});

test('a dynamic max.connections kept from before a restart applies, and deleting it falls back to the static value', async () => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-conn-config-'));
  let b = await startBroker({ dataDir: dir });
  try {
    const alter = async (configs: { name: string; value?: string; op?: 'set' | 'delete' }[]) => {
      const client = new KafkaClient({ bootstrapServers: b.bootstrapServers, clientId: 'conn-config-test' });
      try {
        const [r] = await client.incrementalAlterConfigs([{ type: 'broker', name: '', configs }]);
        assert.equal(r.error, null);
      } finally {
        await client.close();
      }
    };
    await alter([{ name: 'max.connections', value: '2' }]);
    await b.close();
    b = await startBroker({ dataDir: dir });
    const open = async (n: number) => {
      const conns: WireConn[] = [];
      for (let i = 0; i < n; i++) {
        const c = await WireConn.open(b.host, b.port);
        await c.request(18, 0, i, Buffer.alloc(0));
        conns.push(c);
      }
      return conns;
    };
    const limited = await open(4);
    await until(() => limited.filter((c) => c.closed).length === 2, 'the limit of 2 kept across the restart');
    for (const c of limited) c.destroy();
    await alter([{ name: 'max.connections', op: 'delete' }]);
    const free = await open(4);
    assert.ok(
      free.every((c) => !c.closed),
      'the static limit again',
    );
    for (const c of free) c.destroy();
  } finally {
    await b.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
