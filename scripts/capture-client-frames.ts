/**
 * Records the request frames real Kafka clients send, as test fixtures.
 *
 * Starts a Samsa broker, puts a recording TCP proxy in front of it, and runs
 * kcat (librdkafka), kafkajs and confluent-kafka-python through the proxy:
 * ApiVersions, Metadata, topic admin, Produce with every codec, Fetch,
 * ListOffsets and a consumer group (FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat, OffsetCommit, OffsetFetch, LeaveGroup). Each distinct
 * (client, API, version) frame is written to
 * test/fixtures/captures/<client>/<api>-v<version>[-<n>].bin (the frame
 * without its size prefix). test/unit/protocol/captures.test.ts decodes them
 * field by field and re-encodes them byte-identically.
 *
 *   node --import tsx scripts/capture-client-frames.ts
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import kafkajs from 'kafkajs';
import { startBroker } from '../src/index.ts';
import { apiByKey } from '../src/protocol/apis.ts';

const OUT = path.resolve(import.meta.dirname, '../test/fixtures/captures');
/** Frames kept per (client, API, version): more for Produce, to keep one per codec. */
const MAX_PER_KEY = 3;
const MAX_PRODUCE = 16;

interface Proxy {
  port: number;
  target: { host: string; port: number };
  close(): void;
}

/**
 * A recording proxy for one client. The broker behind it advertises the
 * proxy's port, so every connection the client makes (bootstrap, leader,
 * coordinator) passes through it.
 */
function proxy(client: string): Promise<Proxy> {
  const counts = new Map<string, number>();
  const target = { host: '127.0.0.1', port: 0 };
  const server = net.createServer((c) => {
    const up = net.connect(target.port, target.host);
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      up.write(d);
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const frame = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + frame.length);
        const api = apiByKey(frame.readInt16BE(0));
        if (!api) continue;
        const key = `${api.name}-v${frame.readInt16BE(2)}`;
        const n = counts.get(key) ?? 0;
        if (n >= (api.name === 'Produce' ? MAX_PRODUCE : MAX_PER_KEY)) continue;
        counts.set(key, n + 1);
        const dir = path.join(OUT, client);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, `${key}${n ? `-${n}` : ''}.bin`), frame);
      }
    });
    up.pipe(c);
    c.on('error', () => up.destroy());
    up.on('error', () => c.destroy());
    c.on('close', () => up.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ port: (server.address() as net.AddressInfo).port, target, close: () => server.close() }),
    ),
  );
}

/** A broker that advertises the proxy, and the proxy pointed at it. */
async function behindProxy(client: string) {
  const p = await proxy(client);
  const broker = await startBroker({
    overrides: {
      'group.initial.rebalance.delay.ms': '0',
      'num.partitions': '2',
      'advertised.listeners': `PLAINTEXT://127.0.0.1:${p.port}`,
    },
  });
  p.target.port = broker.port;
  return {
    bs: `127.0.0.1:${p.port}`,
    async close() {
      await broker.close();
      await p.close();
    },
  };
}

/** Runs a client process asynchronously (the proxy lives on this event loop). */
function run(cmd: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'pipe'], timeout: 60_000 });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(input ?? '');
    child.on('close', (code) => {
      if (code !== 0) console.error(`${cmd} ${args.join(' ')} -> ${code}\n${stderr}`);
      resolve();
    });
  });
}

fs.rmSync(OUT, { recursive: true, force: true });
// kcat (librdkafka): metadata, produce with every codec, consume, consume in a group.
{
  const p = await behindProxy('kcat');
  const bs = p.bs;
  await run('kcat', ['-b', bs, '-L']);
  // Values padded with a repeated tail: librdkafka sends a batch uncompressed
  // when compression would not make it smaller.
  const pad = 'x'.repeat(300);
  for (const z of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    await run(
      'kcat',
      ['-b', bs, '-P', '-t', 'cap-kcat', '-z', z, '-K:', '-H', 'h=v', '-X', 'linger.ms=5'],
      `k1:v1${pad}\nk2:v2${pad}\n:nokey${pad}\n`,
    );
  }
  await run('kcat', ['-b', bs, '-P', '-t', 'cap-kcat', '-X', 'enable.idempotence=true'], 'a\nb\n');
  await run('kcat', ['-b', bs, '-C', '-t', 'cap-kcat', '-o', 'beginning', '-e', '-q']);
  await run('kcat', ['-b', bs, '-C', '-t', 'cap-kcat', '-o', 's@0', '-e', '-q']);
  await run('kcat', ['-b', bs, '-G', 'cap-kcat-group', 'cap-kcat', '-e', '-q', '-X', 'auto.offset.reset=earliest']);
  await p.close();
}
// kafkajs: admin, producer (none, gzip), consumer group with commits.
{
  const p = await behindProxy('kafkajs');
  const kafka = new kafkajs.Kafka({ brokers: [p.bs], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'cap-kjs', numPartitions: 2 }] });
  await admin.describeConfigs({ resources: [{ type: 2, name: 'cap-kjs' }], includeSynonyms: false });
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner, idempotent: true });
  await producer.connect();
  await producer.send({
    topic: 'cap-kjs',
    acks: -1,
    messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }, { value: null }],
  });
  await producer.send({
    topic: 'cap-kjs',
    compression: kafkajs.CompressionTypes.GZIP,
    messages: [{ key: 'k', value: 'zipped' }],
  });
  await producer.disconnect();
  await admin.fetchTopicOffsets('cap-kjs');
  await admin.fetchTopicOffsetsByTimestamp('cap-kjs', Date.now() - 60_000);
  const consumer = kafka.consumer({ groupId: 'cap-kjs-group' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'cap-kjs', fromBeginning: true });
  let seen = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async () => {
        if (++seen === 3) resolve();
      },
    });
  });
  await consumer.commitOffsets([{ topic: 'cap-kjs', partition: 0, offset: '1' }]).catch(() => {});
  await consumer.disconnect();
  await admin.fetchOffsets({ groupId: 'cap-kjs-group', topics: ['cap-kjs'] });
  await admin.listGroups();
  await admin.describeGroups(['cap-kjs-group']);
  await admin.deleteTopics({ topics: ['cap-kjs'] });
  await admin.disconnect();
  await p.close();
}
// confluent-kafka-python: admin, producer with every codec, group consumer.
{
  const p = await behindProxy('confluent-kafka-python');
  const script = `
import sys
from confluent_kafka import Producer, Consumer
from confluent_kafka.admin import AdminClient, NewTopic
bs = sys.argv[1]
a = AdminClient({'bootstrap.servers': bs})
a.create_topics([NewTopic('cap-ck', num_partitions=2, replication_factor=1)])['cap-ck'].result(30)
for z in ['none', 'gzip', 'snappy', 'lz4', 'zstd']:
    p = Producer({'bootstrap.servers': bs, 'compression.type': z, 'enable.idempotence': z == 'none'})
    p.produce('cap-ck', key=b'k', value=b'v-' + z.encode(), headers=[('h', b'1')])
    p.flush(30)
c = Consumer({'bootstrap.servers': bs, 'group.id': 'cap-ck-group', 'auto.offset.reset': 'earliest'})
c.subscribe(['cap-ck'])
got = 0
for _ in range(100):
    m = c.poll(0.5)
    if m is not None and not m.error():
        got += 1
        if got == 5: break
c.commit(asynchronous=False)
c.close()
`;
  await run('/usr/bin/python3', ['-c', script, p.bs]);
  await p.close();
}
const files = fs.readdirSync(OUT, { recursive: true }).filter((f) => String(f).endsWith('.bin'));
console.log(`captured ${files.length} frames under ${path.relative(process.cwd(), OUT)}`);
