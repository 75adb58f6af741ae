/**
 * Durability across `kill -9`: a broker child process (bin/samsa.mjs start)
 * takes acks=all produce requests from kafkajs; it is killed with SIGKILL,
 * both between requests and while requests are in flight, and restarted on
 * the same data directory. Every acknowledged record must be there, at the
 * offset it was acknowledged at, in order; topics and their configs survive;
 * the log continues after the recovered end.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs, { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';

// kafkajs is CommonJS and Node cannot see this enum as a named ESM export
const { ConfigResourceTypes } = kafkajs;
import { eventually, startChildBroker, uniqueTopic, type ChildBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

const PARTITIONS = 3;

function kafkaFor(b: ChildBroker) {
  return new Kafka({
    clientId: 'restart-test',
    brokers: [b.bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 2000 },
    connectionTimeout: 3000,
    requestTimeout: 15000,
  });
}

describe('restart after kill -9', () => {
  let broker: ChildBroker;

  before(async () => {
    broker = await startChildBroker({ overrides: { 'auto.create.topics.enable': 'false' } });
  });
  after(async () => {
    await broker?.close();
  });

  test('acknowledged records, topics and configs survive SIGKILL', async () => {
    const topic = uniqueTopic('durable');
    const other = uniqueTopic('durable-cfg');
    // acknowledged[p][offset] = value
    const acked: Map<number, string>[] = Array.from({ length: PARTITIONS }, () => new Map());
    const record = (p: number, base: string, values: string[]) => {
      for (const [i, v] of values.entries()) acked[p].set(Number(base) + i, v);
    };

    {
      const admin = kafkaFor(broker).admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic, numPartitions: PARTITIONS, configEntries: [{ name: 'retention.ms', value: '86400000' }] },
          {
            topic: other,
            numPartitions: 1,
            configEntries: [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'segment.bytes', value: '1048576' },
            ],
          },
        ],
        waitForLeaders: true,
      });
      await admin.disconnect();
    }

    // phase 1: acknowledged batches, then kill -9 between requests
    let n = 0;
    const sendBatch = async (producer: Producer, p: number, size: number) => {
      const values = Array.from({ length: size }, () => `rec-${n++}`);
      const res = await producer.send({
        topic,
        acks: -1,
        messages: values.map((value) => ({ partition: p, key: `k${p}`, value })),
      });
      assert.equal(res[0].errorCode, 0);
      record(p, res[0].baseOffset!, values);
    };
    {
      const producer = kafkaFor(broker).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      for (let i = 0; i < 60; i++) await sendBatch(producer, i % PARTITIONS, 1 + (i % 17));
      await broker.kill('SIGKILL');
      await producer.disconnect().catch(() => {});
    }
    await broker.restart();
    await verify('after a kill between requests');

    // phase 2: kill -9 while acks=all requests are in flight on every partition
    {
      const producer = kafkaFor(broker).producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        retry: { retries: 0 },
      });
      await producer.connect();
      let stop = false;
      const ackedNow = new Array(PARTITIONS).fill(0);
      const loops = Array.from({ length: PARTITIONS }, async (_, p) => {
        while (!stop) {
          const values = Array.from({ length: 5 }, () => `rec-${n++}`);
          try {
            const res = await producer.send({
              topic,
              acks: -1,
              messages: values.map((value) => ({ partition: p, value })),
            });
            if (res[0].errorCode === 0) {
              record(p, res[0].baseOffset!, values);
              ackedNow[p]++;
            }
          } catch {
            return; // the broker went away: this batch was not acknowledged
          }
        }
      });
      // every partition's loop is acknowledged a few times, so requests are in flight on all of them
      await eventually(() => ackedNow.every((c) => c >= 3), 30_000, 10);
      await broker.kill('SIGKILL');
      stop = true;
      await Promise.all(loops);
      await producer.disconnect().catch(() => {});
    }
    assert.ok(acked.every((m) => m.size > 0));
    await broker.restart();
    await verify('after a kill with requests in flight');

    // the log continues after the recovered end, and survives a clean stop too
    {
      const producer = kafkaFor(broker).producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      for (let p = 0; p < PARTITIONS; p++) {
        const end = (await kcatConsume(broker.bootstrapServers, topic, { partition: p })).length;
        const values = [`after-restart-${p}-a`, `after-restart-${p}-b`];
        const res = await producer.send({
          topic,
          acks: -1,
          messages: values.map((value) => ({ partition: p, value })),
        });
        assert.equal(Number(res[0].baseOffset), end, `partition ${p} continues at the recovered log end`);
        record(p, res[0].baseOffset!, values);
      }
      await producer.disconnect();
    }
    await broker.kill('SIGTERM');
    await broker.restart();
    await verify('after a clean stop');

    async function verify(when: string) {
      const admin = kafkaFor(broker).admin();
      await admin.connect();
      try {
        const md = await admin.fetchTopicMetadata({ topics: [topic, other] });
        const parts = Object.fromEntries(md.topics.map((t) => [t.name, t.partitions.length]));
        assert.deepEqual(parts, { [topic]: PARTITIONS, [other]: 1 }, `topics ${when}`);
        const cfg = await admin.describeConfigs({
          resources: [
            { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms'] },
            { type: ConfigResourceTypes.TOPIC, name: other, configNames: ['cleanup.policy', 'segment.bytes'] },
          ],
          includeSynonyms: false,
        });
        const values = Object.fromEntries(
          cfg.resources.map((r) => [
            r.resourceName,
            Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
          ]),
        );
        assert.equal(values[topic]['retention.ms'], '86400000', `config ${when}`);
        assert.equal(values[other]['cleanup.policy'], 'compact', `config ${when}`);
        assert.equal(values[other]['segment.bytes'], '1048576', `config ${when}`);
      } finally {
        await admin.disconnect();
      }
      for (let p = 0; p < PARTITIONS; p++) {
        const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: p });
        // offsets are dense from 0
        for (const [i, r] of recs.entries()) assert.equal(r.offset, i, `partition ${p} offset ${i} ${when}`);
        const stored = new Map(recs.map((r) => [r.offset, r.payload]));
        const maxAcked = Math.max(...acked[p].keys());
        for (const [off, v] of acked[p]) {
          assert.equal(
            stored.get(off),
            v,
            `partition ${p}: acknowledged offset ${off} (${v}) ${when}; the log now has ${recs.length} records, the highest acknowledged offset is ${maxAcked}`,
          );
        }
        // in order: record numbers increase along the log (unacknowledged tail records may also be present)
        const nums = recs.filter((r) => r.payload!.startsWith('rec-')).map((r) => Number(r.payload!.slice(4)));
        for (let i = 1; i < nums.length; i++) assert.ok(nums[i] > nums[i - 1], `partition ${p} order at ${i} ${when}`);
      }
    }
  });
});
