/**
 * kafkajs 2.2.4 against Samsa: admin (create/describe/delete topics, configs,
 * offsets), produce with acks -1/1/0, keys / null values / headers /
 * timestamps across partitions, gzip, a 1 MiB message and MESSAGE_TOO_LARGE,
 * UNKNOWN_TOPIC_OR_PARTITION with auto-create off, the idempotent producer,
 * and (needs the group coordinator) a kafkajs consumer reading it all back.
 *
 * Records produced with kafkajs are read back with kcat (no consumer group),
 * so a broker bug cannot hide behind one client's symmetric encode/decode.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { Kafka, CompressionTypes, logLevel, Partitioners, type Admin } from 'kafkajs';

// kafkajs is CommonJS and Node cannot see this enum as a named ESM export
const { ConfigResourceTypes } = kafkajs;
import { startTestBroker, uniqueTopic, eventually, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

const MAX_MESSAGE_BYTES = 1_200_000; // a 1 MiB record fits, 1.5 MiB does not

function kafkaFor(b: TestBroker, retries = 5) {
  return new Kafka({
    clientId: 'samsa-interop',
    brokers: [b.bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 },
    connectionTimeout: 5000,
    requestTimeout: 30000,
  });
}

/** The error `type` (Kafka error name) anywhere in a kafkajs error's cause chain. */
function errorTypes(e: any): string[] {
  const out: string[] = [];
  const seen = new Set<any>();
  const walk = (x: any) => {
    if (!x || typeof x !== 'object' || seen.has(x)) return;
    seen.add(x);
    if (typeof x.type === 'string') out.push(x.type);
    walk(x.cause);
    walk(x.originalError);
    if (Array.isArray(x.errors)) x.errors.forEach(walk);
  };
  walk(e);
  return out;
}

describe('kafkajs', () => {
  let broker: TestBroker;
  let admin: Admin;

  before(async () => {
    broker = await startTestBroker({
      overrides: {
        'auto.create.topics.enable': 'false',
        'num.partitions': '3',
        'message.max.bytes': String(MAX_MESSAGE_BYTES),
      },
    });
    admin = kafkaFor(broker).admin();
    await admin.connect();
  });

  after(async () => {
    await admin?.disconnect();
    await broker?.close();
  });

  test('admin: create, list, fetchTopicMetadata, describeConfigs, delete', async () => {
    const topic = uniqueTopic('admin');
    const created = await admin.createTopics({
      topics: [
        { topic, numPartitions: 4, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '7200000' }] },
      ],
      waitForLeaders: true,
    });
    assert.equal(created, true);
    // creating it again reports "already exists" (kafkajs maps TOPIC_ALREADY_EXISTS to false)
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] }), false);

    assert.ok((await admin.listTopics()).includes(topic));
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(md.topics.length, 1);
    assert.equal(md.topics[0].name, topic);
    const parts = md.topics[0].partitions.slice().sort((a, b) => a.partitionId - b.partitionId);
    assert.deepEqual(
      parts.map((p) => p.partitionId),
      [0, 1, 2, 3],
    );
    for (const p of parts) {
      assert.equal(p.partitionErrorCode, 0);
      assert.ok(p.leader >= 0, 'every partition has a leader');
      assert.deepEqual(p.replicas, [p.leader]);
      assert.deepEqual(p.isr, [p.leader]);
    }

    const cfg = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
      includeSynonyms: false,
    });
    assert.equal(cfg.resources.length, 1);
    assert.equal(cfg.resources[0].errorCode, 0);
    const entries = Object.fromEntries(cfg.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    assert.equal(entries['retention.ms'], '7200000');
    assert.equal(entries['cleanup.policy'], 'delete');

    const cluster = await admin.describeCluster();
    assert.equal(cluster.brokers.length, 1);
    assert.equal(cluster.brokers[0].port, broker.port);

    await admin.deleteTopics({ topics: [topic], timeout: 10000 });
    await eventually(async () => !(await admin.listTopics()).includes(topic), 15000);
  });

  test('produce with acks -1, 1 and 0; fetchTopicOffsets follows', async () => {
    const topic = uniqueTopic('acks');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafkaFor(broker).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      const all = await producer.send({
        topic,
        acks: -1,
        messages: [{ value: 'a0' }, { value: 'a1' }, { value: 'a2' }],
      });
      assert.equal(all.length, 1);
      assert.equal(all[0].errorCode, 0);
      assert.equal(all[0].baseOffset, '0');
      const one = await producer.send({ topic, acks: 1, messages: [{ value: 'b0' }, { value: 'b1' }] });
      assert.equal(one[0].errorCode, 0);
      assert.equal(one[0].baseOffset, '3');
      // acks=0: the broker sends no response; the record still lands
      await producer.send({ topic, acks: 0, messages: [{ value: 'c0' }] });
      const offsets = await eventually(async () => {
        const o = await admin.fetchTopicOffsets(topic);
        return o[0].high === '6' ? o : undefined;
      }, 15000);
      assert.deepEqual(offsets, [{ partition: 0, offset: '6', high: '6', low: '0' }]);
      // the producer (and its connection) still works after an acks=0 request
      const more = await producer.send({ topic, acks: -1, messages: [{ value: 'd0' }] });
      assert.equal(more[0].baseOffset, '6');
    } finally {
      await producer.disconnect();
    }
    const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: 0 });
    assert.deepEqual(
      recs.map((r) => r.payload),
      ['a0', 'a1', 'a2', 'b0', 'b1', 'c0', 'd0'],
    );
    assert.deepEqual(
      recs.map((r) => r.offset),
      [0, 1, 2, 3, 4, 5, 6],
    );
  });

  test('keys, null values, headers and timestamps across partitions; fetchTopicOffsetsByTimestamp', async () => {
    const topic = uniqueTopic('fields');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafkaFor(broker).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const base = Date.now() - 3_600_000;
    const expected: Record<
      number,
      { key: string | null; value: string | null; ts: number; headers: [string, string][] }[]
    > = { 0: [], 1: [], 2: [] };
    try {
      for (let batch = 0; batch < 4; batch++) {
        const messages = [];
        for (let i = 0; i < 6; i++) {
          const n = batch * 6 + i;
          const partition = n % 3;
          const key = n % 5 === 0 ? null : `k${n}`;
          const value = n % 7 === 3 ? null : `value ${n} ` + 'é'.repeat(n);
          const ts = base + n * 1000;
          const headers: [string, string][] =
            n % 2
              ? [
                  ['trace', `t${n}`],
                  ['empty', ''],
                ]
              : [];
          messages.push({ partition, key, value, timestamp: String(ts), headers: Object.fromEntries(headers) });
          expected[partition].push({ key, value, ts, headers });
        }
        const res = await producer.send({ topic, acks: -1, messages });
        for (const r of res) assert.equal(r.errorCode, 0);
      }
    } finally {
      await producer.disconnect();
    }
    for (const p of [0, 1, 2]) {
      const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: p });
      assert.equal(recs.length, expected[p].length, `partition ${p} count`);
      recs.forEach((r, i) => {
        const e = expected[p][i];
        assert.equal(r.offset, i);
        assert.equal(r.key, e.key, `p${p} o${i} key`);
        assert.equal(r.payload, e.value, `p${p} o${i} value`);
        assert.equal(r.ts, e.ts, `p${p} o${i} timestamp`);
        assert.equal(r.tstype, 'create');
        assert.deepEqual(r.headers, e.headers, `p${p} o${i} headers`);
      });
    }
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    assert.deepEqual(
      offsets.map((o) => o.high),
      ['8', '8', '8'],
    );
    // partition p holds records n = p, p+3, ...; the first with ts >= base + 10.5 s is n = 11..13
    const byTs = (await admin.fetchTopicOffsetsByTimestamp(topic, base + 10_500)).sort(
      (a, b) => a.partition - b.partition,
    );
    // p0: n=0,3,6,9,12 -> offset 4 ; p1: n=1,4,7,10,13 -> offset 4 ; p2: n=2,5,8,11 -> offset 3
    assert.deepEqual(
      byTs.map((o) => o.offset),
      ['4', '4', '3'],
    );
    // past the newest timestamp the broker answers -1, which kafkajs replaces with the high watermark
    const future = (await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3_600_000)).sort(
      (a, b) => a.partition - b.partition,
    );
    assert.deepEqual(
      future.map((o) => o.offset),
      ['8', '8', '8'],
    );
  });

  test('gzip-compressed batches are stored and served as written', async () => {
    const topic = uniqueTopic('gzip');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafkaFor(broker).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const values = Array.from({ length: 200 }, (_, i) => `gzip record ${i} ${'abc'.repeat(i % 30)}`);
    try {
      const r1 = await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: values.slice(0, 120).map((value, i) => ({ key: `k${i}`, value })),
      });
      assert.equal(r1[0].baseOffset, '0');
      const r2 = await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: values.slice(120).map((value, i) => ({ key: `k${120 + i}`, value })),
      });
      assert.equal(r2[0].baseOffset, '120');
    } finally {
      await producer.disconnect();
    }
    const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: 0 });
    assert.deepEqual(
      recs.map((r) => r.payload),
      values,
    );
    assert.deepEqual(
      recs.map((r) => r.key),
      values.map((_, i) => `k${i}`),
    );
    assert.deepEqual(
      recs.map((r) => r.offset),
      values.map((_, i) => i),
    );
  });

  test('a 1 MiB message is accepted; one over message.max.bytes gets MESSAGE_TOO_LARGE', async () => {
    const topic = uniqueTopic('big');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafkaFor(broker, 0).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 0 },
    });
    await producer.connect();
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = 97 + ((i * 31 + 7) % 26); // printable, non-repeating-ish
    try {
      const ok = await producer.send({ topic, acks: -1, messages: [{ key: 'big', value: big }] });
      assert.equal(ok[0].errorCode, 0);
      assert.equal(ok[0].baseOffset, '0');

      const tooBig = Buffer.alloc(1536 * 1024, 1);
      const err = await producer.send({ topic, acks: -1, messages: [{ key: 'too-big', value: tooBig }] }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(err, 'the oversized message must be rejected');
      assert.ok(
        errorTypes(err).includes('MESSAGE_TOO_LARGE'),
        `expected MESSAGE_TOO_LARGE, got ${errorTypes(err)} ${err}`,
      );

      // the connection and the partition are still usable; nothing of the rejected batch was appended
      const after = await producer.send({ topic, acks: -1, messages: [{ value: 'small' }] });
      assert.equal(after[0].baseOffset, '1');
    } finally {
      await producer.disconnect();
    }
    const recs = await kcatConsume(broker.bootstrapServers, topic, {
      partition: 0,
      extra: ['-X', 'fetch.message.max.bytes=65536'],
    });
    assert.equal(recs.length, 2);
    assert.equal(recs[0].key, 'big');
    assert.equal(recs[0].payload!.length, big.length);
    assert.ok(recs[0].payload === big.toString('latin1'), 'the 1 MiB value reads back byte for byte');
    assert.equal(recs[1].payload, 'small');
    const offs = await admin.fetchTopicOffsets(topic);
    assert.equal(offs[0].high, '2');
  });

  test('UNKNOWN_TOPIC_OR_PARTITION when auto-create is off', async () => {
    const topic = uniqueTopic('missing');
    const producer = kafkaFor(broker, 1).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: { retries: 1 },
    });
    await producer.connect();
    try {
      const err = await producer.send({ topic, messages: [{ value: 'x' }] }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(err, 'producing to a missing topic must fail');
      assert.ok(
        errorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION'),
        `expected UNKNOWN_TOPIC_OR_PARTITION, got ${errorTypes(err)} ${err}`,
      );
    } finally {
      await producer.disconnect();
    }
    const mdErr = await admin.fetchTopicMetadata({ topics: [topic] }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(mdErr && errorTypes(mdErr).includes('UNKNOWN_TOPIC_OR_PARTITION'), `metadata: ${mdErr}`);
    assert.ok(!(await admin.listTopics()).includes(topic), 'the topic was not auto-created');
  });

  test('idempotent producer: every record exactly once, in order', async () => {
    const topic = uniqueTopic('idem');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const producer = kafkaFor(broker).producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const sent: Record<number, string[]> = { 0: [], 1: [] };
    try {
      for (let round = 0; round < 10; round++) {
        const messages = Array.from({ length: 10 }, (_, i) => {
          const n = round * 10 + i;
          sent[n % 2].push(`idem-${n}`);
          return { partition: n % 2, value: `idem-${n}` };
        });
        const res = await producer.send({ topic, acks: -1, messages });
        for (const r of res) assert.equal(r.errorCode, 0);
      }
    } finally {
      await producer.disconnect();
    }
    for (const p of [0, 1]) {
      const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: p });
      assert.deepEqual(
        recs.map((r) => r.payload),
        sent[p],
        `partition ${p}`,
      );
    }
    const offs = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    assert.deepEqual(
      offs.map((o) => o.high),
      ['50', '50'],
    );
  });

  // Needs the group coordinator (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit/Fetch).
  test('kafkajs consumer (group) reads back keys, values, headers, timestamps, gzip', async () => {
    const topic = uniqueTopic('consume');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const kafka = kafkaFor(broker);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const base = Date.now() - 60_000;
    const expected = new Map<string, { partition: number; key: string; value: string | null; ts: string; h: string }>();
    try {
      for (let i = 0; i < 60; i++) {
        const key = `key-${i}`;
        const value = i % 9 === 4 ? null : `val-${i}`;
        expected.set(key, { partition: i % 3, key, value, ts: String(base + i), h: `h${i}` });
      }
      const msgs = [...expected.values()].map((e) => ({
        partition: e.partition,
        key: e.key,
        value: e.value,
        timestamp: e.ts,
        headers: { h: e.h },
      }));
      await producer.send({ topic, messages: msgs.slice(0, 30) });
      await producer.send({ topic, compression: CompressionTypes.GZIP, messages: msgs.slice(30) });
    } finally {
      await producer.disconnect();
    }
    const consumer = kafka.consumer({
      groupId: uniqueTopic('g'),
      sessionTimeout: 10000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 200,
    });
    await consumer.connect();
    const got: { partition: number; offset: string; key: string; value: string | null; ts: string; h: string }[] = [];
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let resolveDone!: () => void;
      const done = new Promise<void>((r) => (resolveDone = r));
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          got.push({
            partition,
            offset: message.offset,
            key: message.key!.toString(),
            value: message.value === null ? null : message.value.toString(),
            ts: message.timestamp,
            h: message.headers!.h!.toString(),
          });
          if (got.length >= expected.size) resolveDone();
        },
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise(
        (_, rej) => (timer = setTimeout(() => rej(new Error(`consumed ${got.length}/${expected.size}`)), 60_000)),
      );
      await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
    } finally {
      await consumer.disconnect();
    }
    assert.equal(got.length, expected.size);
    for (const g of got) {
      const e = expected.get(g.key)!;
      assert.ok(e, `unexpected key ${g.key}`);
      assert.equal(g.partition, e.partition);
      assert.equal(g.value, e.value);
      assert.equal(g.ts, e.ts);
      assert.equal(g.h, e.h);
    }
    for (const p of [0, 1, 2]) {
      const offs = got.filter((g) => g.partition === p).map((g) => Number(g.offset));
      assert.deepEqual(
        offs,
        offs.map((_, i) => i),
        `partition ${p} offsets in order`,
      );
    }
  });
});
