/**
 * Log compaction seen by real clients: kafkajs creates compacted topics and
 * produces, kcat reads them back from the beginning. The broker runs its log
 * cleaner every log.cleaner.backoff.ms (200 ms here), apart from the retention
 * check (log.retention.check.interval.ms, 5 minutes by default), so the
 * compacted view must appear within a few backoffs of the last produce:
 * - the scenario (min.cleanable.dirty.ratio=0.01,
 *   max.compaction.lag.ms=100, 80 records of 1 KB over 4 keys in 10 KB
 *   segments);
 * - max.compaction.lag.ms alone forcing the clean (min.cleanable.dirty.ratio=1,
 *   which no dirty ratio exceeds).
 * Below the active segment a consumer sees one record per key, each the
 * latest of its key there, at its original offset; the active segment is
 * read as produced; the latest value of every key is still there.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Kafka, Partitioners, logLevel, type Admin, type Producer } from 'kafkajs';
import { startTestBroker, uniqueTopic, eventually, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume, type KcatRecord } from '../helpers/kcat.ts';

const KEYS = ['k0', 'k1', 'k2', 'k3'];
const RECORDS = 80;

/** Base offset of the partition's active segment: the newest `.log` file in its directory. */
function activeSegmentBase(broker: TestBroker, topic: string): number {
  const dir = broker.logDirs.map((d) => path.join(d, `${topic}-0`)).find((d) => fs.existsSync(d));
  assert.ok(dir, `no log directory for ${topic}-0`);
  const bases = fs
    .readdirSync(dir)
    .filter((f) => /^\d{20}\.log$/.test(f))
    .map((f) => Number(f.slice(0, 20)));
  return Math.max(...bases);
}

/**
 * Whether `recs` is the compacted view of `produced` (value by offset): null
 * when it is, else what is still missing.
 */
function compactionProblem(
  recs: KcatRecord[],
  produced: { key: string; value: string }[],
  activeBase: number,
): string | null {
  const latestBelow = new Map<string, number>();
  for (let o = 0; o < Math.min(activeBase, produced.length); o++) latestBelow.set(produced[o].key, o);
  const seenBelow = new Set<string>();
  for (const r of recs) {
    const p = produced[r.offset];
    assert.ok(p, `offset ${r.offset} was never produced`);
    assert.equal(r.key, p.key, `key at offset ${r.offset}`);
    assert.equal(r.payload, p.value, `value at offset ${r.offset}`);
    if (r.offset < activeBase) {
      if (seenBelow.has(r.key!) || latestBelow.get(r.key!) !== r.offset)
        return `offset ${r.offset} (${r.key}) is superseded below the active segment at ${activeBase}`;
      seenBelow.add(r.key!);
    }
  }
  const offsets = recs.map((r) => r.offset);
  for (let o = activeBase; o < produced.length; o++)
    assert.ok(offsets.includes(o), `offset ${o} of the active segment is missing`);
  for (const k of KEYS) {
    let last = produced.length - 1;
    while (produced[last].key !== k) last--;
    assert.ok(offsets.includes(last), `the latest value of ${k} (offset ${last}) is missing`);
  }
  return null;
}

describe('log compaction on the cleaner schedule', () => {
  let broker: TestBroker;
  let admin: Admin;
  let producer: Producer;

  before(async () => {
    broker = await startTestBroker({ overrides: { 'log.cleaner.backoff.ms': '200' } });
    const kafka = new Kafka({
      clientId: 'samsa-compaction',
      brokers: [broker.bootstrapServers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  after(async () => {
    await producer?.disconnect();
    await admin?.disconnect();
    await broker?.close();
  });

  /** Create a one-partition compacted topic with these configs, produce 80 1 KB records over 4 keys one request each. */
  async function createAndProduce(
    name: string,
    configs: Record<string, string>,
  ): Promise<{ topic: string; produced: { key: string; value: string }[] }> {
    const topic = uniqueTopic(name);
    const configEntries = Object.entries({ 'cleanup.policy': 'compact', 'segment.bytes': '10000', ...configs }).map(
      ([n, value]) => ({ name: n, value }),
    );
    assert.equal(
      await admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1, configEntries }],
        waitForLeaders: true,
      }),
      true,
    );
    const produced: { key: string; value: string }[] = [];
    for (let i = 0; i < RECORDS; i++) {
      const key = KEYS[i % KEYS.length];
      const value = `${key}-${i}-`.padEnd(1000, 'x');
      const [meta] = await producer.send({ topic, acks: -1, messages: [{ key, value }] });
      assert.equal(Number(meta.baseOffset), i);
      produced.push({ key, value });
    }
    return { topic, produced };
  }

  /**
   * Read from the beginning with kcat until the view is compacted. The
   * deadline (10 s) is well under the default log.cleaner.backoff.ms (15 s),
   * so passing shows the broker honours the 200 ms it was given.
   */
  async function awaitCompacted(topic: string, produced: { key: string; value: string }[]): Promise<KcatRecord[]> {
    let last = '';
    try {
      return await eventually(
        async () => {
          const base = activeSegmentBase(broker, topic);
          assert.ok(base > 0, 'segments rolled');
          const recs = await kcatConsume(broker.bootstrapServers, topic, { partition: 0 });
          const problem = compactionProblem(recs, produced, base);
          last = problem ?? '';
          return problem === null ? recs : false;
        },
        10_000,
        100,
      );
    } catch (e) {
      throw new Error(`not compacted: ${last || (e as Error).message}`);
    }
  }

  test('the issue: ratio 0.01, max.compaction.lag.ms=100, 80 x 1 KB over 4 keys are compacted within the backoff, not at the retention check', async () => {
    const { topic, produced } = await createAndProduce('compact-issue', {
      'min.cleanable.dirty.ratio': '0.01',
      'max.compaction.lag.ms': '100',
    });
    const recs = await awaitCompacted(topic, produced);
    assert.ok(recs.length < RECORDS, `${recs.length} records read`);
    assert.ok(recs.length >= KEYS.length);
  });

  test('max.compaction.lag.ms alone forces the clean when no dirty ratio can qualify (min.cleanable.dirty.ratio=1)', async () => {
    const { topic, produced } = await createAndProduce('compact-maxlag', {
      'min.cleanable.dirty.ratio': '1',
      'max.compaction.lag.ms': '100',
    });
    const recs = await awaitCompacted(topic, produced);
    assert.ok(recs.length < RECORDS, `${recs.length} records read`);
  });
});
