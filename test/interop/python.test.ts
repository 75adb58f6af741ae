/**
 * confluent-kafka-python (librdkafka) and kafka-python 2.0.2 against Samsa.
 * Each case runs a script from test/interop/py with Debian's python3; the
 * script prints one JSON document, asserted on here.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, uniqueTopic, type TestBroker } from '../helpers/broker.ts';
import { runPy } from '../helpers/proc.ts';

const MAX_MESSAGE_BYTES = 1_200_000;

describe('confluent-kafka-python', () => {
  let broker: TestBroker;
  let bs: string;

  before(async () => {
    broker = await startTestBroker({
      overrides: {
        'num.partitions': '1',
        'auto.create.topics.enable': 'true',
        'message.max.bytes': String(MAX_MESSAGE_BYTES),
      },
    });
    bs = broker.bootstrapServers;
  });
  after(async () => {
    await broker?.close();
  });

  test('AdminClient: create, duplicate, list_topics, describe_configs, delete', async () => {
    const topic = uniqueTopic('py-admin');
    const r = await runPy('ck_admin.py', [bs, topic, '3']);
    assert.equal(r.created, true);
    assert.equal(r.duplicateError, 'TOPIC_ALREADY_EXISTS');
    assert.equal(r.metadataError, null);
    assert.deepEqual(r.partitions, [0, 1, 2]);
    assert.equal(r.brokers.length, 1);
    assert.equal(r.brokers[0].port, broker.port);
    assert.deepEqual(r.leaders, [r.brokers[0].id]);
    assert.equal(r.controllerId, r.brokers[0].id);
    assert.ok(typeof r.clusterId === 'string' && r.clusterId.length > 0, 'cluster id');
    assert.equal(r.configs['retention.ms'], '3600000');
    assert.equal(r.configs['cleanup.policy'], 'delete');
    assert.equal(r.deleted, true);
    assert.equal(r.goneAfterDelete, true);
  });

  for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
    for (const idem of [false, true]) {
      test(`Producer compression=${codec} idempotence=${idem}: keys, headers, timestamps, null values round trip`, async () => {
        const topic = uniqueTopic(`py-${codec}`);
        const partitions = 3;
        const count = 120;
        const r = await runPy('ck_roundtrip.py', [
          bs,
          topic,
          codec,
          idem ? '1' : '0',
          String(count),
          String(partitions),
        ]);
        assert.deepEqual(r.produceErrors, []);
        assert.equal(r.unflushed, 0);
        assert.equal(r.delivered.length, count);
        assert.deepEqual(r.consumeErrors, []);
        assert.equal(r.consumed.length, count);
        for (let part = 0; part < partitions; part++) {
          const produced = r.produced.filter((x: any) => x.partition === part);
          const consumed = r.consumed.filter((x: any) => x.partition === part);
          const delivered = r.delivered.filter((x: any) => x.partition === part);
          assert.equal(consumed.length, produced.length, `partition ${part}`);
          // delivery reports: offsets 0..n-1 in produce order
          assert.deepEqual(
            delivered.map((d: any) => d.key),
            produced.map((x: any) => x.key),
          );
          assert.deepEqual(
            delivered.map((d: any) => d.offset),
            produced.map((_: any, i: number) => i),
          );
          consumed.forEach((c: any, i: number) => {
            const p = produced[i];
            assert.equal(c.offset, i);
            assert.equal(c.partition, p.partition);
            assert.equal(c.key, p.key);
            assert.equal(c.value, p.value);
            assert.equal(c.timestamp, p.timestamp);
            assert.equal(c.timestampType, 1, 'CreateTime');
            assert.deepEqual(c.headers, p.headers);
          });
        }
      });
    }
  }

  test('auto.offset.reset earliest / latest / error on OFFSET_OUT_OF_RANGE', async () => {
    const topic = uniqueTopic('py-reset');
    const r = await runPy('ck_offset_reset.py', [bs, topic]);
    assert.deepEqual(r.earliest, [0, 1, 2, 3, 4]);
    assert.deepEqual(r.earliestValues, ['v0', 'v1', 'v2', 'v3', 'v4']);
    assert.deepEqual(r.latestBeforeProduce, []);
    assert.deepEqual(r.latest, [5]);
    assert.deepEqual(r.latestValues, ['after']);
    assert.equal(r.errorPolicy, '_AUTO_OFFSET_RESET');
  });

  test('offsets_for_times and watermarks', async () => {
    const topic = uniqueTopic('py-oft');
    const r = await runPy('ck_offsets_for_times.py', [bs, topic]);
    assert.equal(r.before, 0);
    assert.equal(r.exact2, 2);
    assert.equal(r.between2and3, 3);
    assert.equal(r.after, -1);
    assert.equal(r.low, 0);
    assert.equal(r.high, 5);
  });

  test('a 1 MiB message round trips', async () => {
    const topic = uniqueTopic('py-big');
    const r = await runPy('ck_large.py', [bs, topic, String(1024 * 1024)]);
    assert.equal(r.error, null);
    assert.equal(r.offset, 0);
    assert.equal(r.readBack, 1024 * 1024);
    assert.equal(r.identical, true);
  });

  test('a message over message.max.bytes fails with MSG_SIZE_TOO_LARGE', async () => {
    const topic = uniqueTopic('py-toobig');
    const r = await runPy('ck_large.py', [bs, topic, String(MAX_MESSAGE_BYTES + 100_000)]);
    assert.equal(r.error, 'MSG_SIZE_TOO_LARGE');
  });
});

describe('kafka-python', () => {
  let broker: TestBroker;
  before(async () => {
    broker = await startTestBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  after(async () => {
    await broker?.close();
  });

  for (const compression of ['none', 'gzip']) {
    test(`admin create/delete, producer (${compression}), consumer assign + seek`, async () => {
      const topic = uniqueTopic(`kp-${compression}`);
      const count = 30;
      const r = await runPy('kp_roundtrip.py', [broker.bootstrapServers, topic, compression, String(count)]);
      // kafka-python probes the broker with ApiVersions and settles on its newest known protocol (>= 1.0 / 2.x)
      assert.ok(r.apiVersion[0] >= 1, `api_version ${r.apiVersion}`);
      assert.equal(r.duplicate, 'TopicAlreadyExistsError');
      assert.equal(r.sent.length, count);
      for (let i = 0; i < count; i++) {
        assert.equal(r.sent[i].partition, i % 2);
        assert.equal(r.sent[i].offset, Math.floor(i / 2));
      }
      assert.equal(r.records.length, count);
      const byKey = new Map(r.records.map((x: any) => [x.key, x]));
      for (let i = 0; i < count; i++) {
        const rec: any = byKey.get(`k${i}`);
        assert.ok(rec, `k${i} read back`);
        assert.equal(rec.value, `v${i}`);
        assert.equal(rec.partition, i % 2);
        assert.equal(rec.offset, Math.floor(i / 2));
        assert.deepEqual(rec.headers, [['n', String(i)]]);
        assert.equal(rec.timestamp, r.baseTs + i);
      }
      for (const p of [0, 1]) {
        const offs = r.records.filter((x: any) => x.partition === p).map((x: any) => x.offset);
        assert.deepEqual(
          offs,
          offs.map((_: any, i: number) => i),
          `partition ${p} in order`,
        );
      }
      assert.deepEqual(r.afterSeek, [{ partition: 1, offset: 2, value: 'v5' }]);
      assert.deepEqual(r.end, { '0': count / 2, '1': count / 2 });
      assert.equal(r.goneAfterDelete, true);
    });
  }
});
