/**
 * Keyed records land on the partition the Java client's default partitioner
 * picks: toPositive(murmur2(keyBytes)) % numPartitions. Three clients choose
 * partitions themselves from the broker's metadata (kafkajs's
 * DefaultPartitioner, librdkafka's murmur2_random via kcat and
 * confluent-kafka-python); kcat then reads every partition back and we check
 * where each key is, against murmur2 implemented here from its definition.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners, type Admin } from 'kafkajs';
import { startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { runPy } from '../helpers/proc.ts';

/** Kafka's murmur2 (seed 0x9747b28c, m 0x5bd1e995, r 24) as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const r = 24;
  const len = data.length;
  let h = (0x9747b28c ^ len) | 0;
  const len4 = len >>> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = len & ~3;
  switch (len % 4) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: murmur2 mixes in the last 3, 2 or 1 bytes, falling through
    case 3:
      h ^= data[tail + 2] << 16;
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: falls through, as above
    case 2:
      h ^= data[tail + 1] << 8;
    // falls through
    case 1:
      h ^= data[tail];
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

const javaPartition = (key: string, n: number) => (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % n;

const PARTITIONS = 7;
const KEYS = Array.from({ length: 150 }, (_, i) =>
  i % 3 === 0 ? `user-${i}` : i % 3 === 1 ? `${i}` : `ключ-${i}-${'x'.repeat(i % 11)}`,
);

test('murmur2 matches the published reference values', () => {
  const cases: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [s, h] of cases) assert.equal(murmur2(Buffer.from(s)), h, s);
});

describe('murmur2 partitioning', () => {
  let broker: TestBroker;
  let admin: Admin;

  before(async () => {
    broker = await startTestBroker();
    admin = new Kafka({ brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
  });
  after(async () => {
    await admin?.disconnect();
    await broker?.close();
  });

  async function assertPlacement(topic: string) {
    const recs = await kcatConsume(broker.bootstrapServers, topic);
    assert.equal(recs.length, KEYS.length);
    const seen = new Set<string>();
    for (const r of recs) {
      assert.ok(r.key !== null);
      seen.add(r.key!);
      assert.equal(r.partition, javaPartition(r.key!, PARTITIONS), `key ${r.key}`);
      assert.equal(r.payload, `v-${r.key}`);
    }
    assert.equal(seen.size, KEYS.length);
    // the keys spread over every partition
    assert.equal(new Set(recs.map((r) => r.partition)).size, PARTITIONS);
  }

  test('kafkajs DefaultPartitioner (Java-compatible)', async () => {
    const topic = uniqueTopic('part-kjs');
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    const producer = new Kafka({ brokers: [broker.bootstrapServers], logLevel: logLevel.NOTHING }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    try {
      await producer.send({ topic, messages: KEYS.map((k) => ({ key: k, value: `v-${k}` })) });
    } finally {
      await producer.disconnect();
    }
    await assertPlacement(topic);
  });

  test('kcat with partitioner=murmur2_random', async () => {
    const topic = uniqueTopic('part-kcat');
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    await kcatProduce(
      broker.bootstrapServers,
      topic,
      KEYS.map((k) => `${k}:v-${k}`),
      ['-X', 'partitioner=murmur2_random'],
    );
    await assertPlacement(topic);
  });

  test('confluent-kafka-python with partitioner=murmur2_random', async () => {
    const topic = uniqueTopic('part-py');
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
    const r = await runPy('ck_produce.py', [broker.bootstrapServers, topic, 'murmur2_random', ...KEYS]);
    assert.deepEqual(r.errors, []);
    assert.equal(r.delivered.length, KEYS.length);
    for (const d of r.delivered) assert.equal(d.partition, javaPartition(d.key, PARTITIONS), `key ${d.key}`);
    await assertPlacement(topic);
  });
});
