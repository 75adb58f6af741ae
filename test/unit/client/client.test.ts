// Tests for the Kafka client: version negotiation, address parsing, fetched-record decoding, and calls against an in-process broker.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateVersions } from '../../../src/client/connection.ts';
import { KafkaClient, parseHostPort, decodeFetchedRecords, TopicNotFoundError } from '../../../src/client/client.ts';
import { encodeBatch, Compression } from '../../../src/protocol/records/index.ts';
import { apiByName } from '../../../src/protocol/apis.ts';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';

test('negotiateVersions picks the highest common version, skips non-overlapping and unknown APIs', () => {
  const produce = apiByName('Produce');
  const fetch = apiByName('Fetch');
  const v = negotiateVersions(
    new Map([
      [produce.key, { min: 3, max: 99 }],
      [fetch.key, { min: 4, max: 7 }],
      [1000, { min: 0, max: 1 }],
      [apiByName('Metadata').key, { min: 99, max: 120 }],
    ]),
  );
  // Produce v13 names topics by id; this client names them, so it stops at v12.
  assert.equal(v.get(produce.key), 12);
  assert.equal(v.get(fetch.key), 7);
  assert.equal(v.has(1000), false);
  assert.equal(v.has(apiByName('Metadata').key), false);
});

test('parseHostPort', () => {
  assert.deepEqual(parseHostPort('localhost:9092'), { host: 'localhost', port: 9092 });
  assert.deepEqual(parseHostPort(' [::1]:19092 '), { host: '::1', port: 19092 });
  assert.throws(() => parseHostPort('localhost'), /expected host:port/);
  assert.throws(() => parseHostPort('h:0'), /port out of range/);
});

test('decodeFetchedRecords skips earlier offsets and tolerates a partial trailing batch', () => {
  const a = encodeBatch({
    baseOffset: 10,
    compression: Compression.GZIP,
    records: [{ value: 'a' }, { value: 'b' }, { key: 'k', value: 'c' }],
  });
  const b = encodeBatch({ baseOffset: 13, records: [{ value: 'd', headers: [{ key: 'h', value: 'v' }] }] });
  const buf = Buffer.concat([a, b, b.subarray(0, 20)]);
  const out = decodeFetchedRecords(buf, 11);
  assert.deepEqual(
    out.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString()]),
    [
      [11, null, 'b'],
      [12, 'k', 'c'],
      [13, null, 'd'],
    ],
  );
  assert.equal(out[2].headers[0].key, 'h');
  assert.deepEqual(decodeFetchedRecords(null, 0), []);
});

let broker: EmbeddedBroker;
let client: KafkaClient;
before(async () => {
  broker = await startBroker({ overrides: { 'group.initial.rebalance.delay.ms': '0' } });
  client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, retryBackoffMs: 20 });
});
after(async () => {
  await client.close();
  await broker.close();
});

test('topics: create, duplicate, metadata, delete', async () => {
  const [r] = await client.createTopics([{ name: 'c-topics', numPartitions: 3 }]);
  assert.equal(r.error, null);
  const [dup] = await client.createTopics([{ name: 'c-topics' }]);
  assert.equal(dup.error?.errorName, 'TOPIC_ALREADY_EXISTS');
  assert.deepEqual(await client.partitionsFor('c-topics'), [0, 1, 2]);
  const [bad] = await client.createTopics([{ name: 'c-bad', configs: { 'retention.ms': 'soon' } }]);
  assert.equal(bad.error?.errorName, 'INVALID_CONFIG');
  const del = await client.deleteTopics(['c-topics']);
  assert.equal(del[0].error, null);
  await assert.rejects(client.partitionsFor('c-topics'), TopicNotFoundError);
});

test('produce and fetch round trip, with compression and headers', async () => {
  await client.createTopics([{ name: 'c-data', numPartitions: 1 }]);
  const first = await client.produce(
    'c-data',
    0,
    [{ key: 'k1', value: 'v1', headers: [{ key: 'h', value: 'x' }] }, { value: 'v2' }],
    { compression: 'gzip' },
  );
  assert.equal(first.baseOffset, 0);
  const second = await client.produce('c-data', 0, [{ value: 'v3', timestamp: 1_700_000_000_000 }], {
    acks: 1,
    compression: 'lz4',
  });
  assert.equal(second.baseOffset, 2);
  const f = await client.fetch('c-data', 0, 1);
  assert.deepEqual(
    f.records.map((r) => [r.offset, r.value?.toString()]),
    [
      [1, 'v2'],
      [2, 'v3'],
    ],
  );
  assert.equal(f.records[1].timestamp, 1_700_000_000_000);
  assert.equal(f.highWatermark, 3);
  assert.equal(f.nextOffset, 3);
  const all = await client.fetch('c-data', 0, 0);
  assert.equal(all.records[0].key?.toString(), 'k1');
  assert.deepEqual(
    all.records[0].headers.map((h) => [h.key, h.value?.toString()]),
    [['h', 'x']],
  );
  assert.equal((await client.listOffsets('c-data', 0, 'latest')).offset, 3);
  assert.equal((await client.listOffsets('c-data', 0, 'earliest')).offset, 0);
  await assert.rejects(client.fetch('c-missing', 0, 0), /topic 'c-missing' does not exist/);
});

test('configs: describe with synonyms, incremental alter, unknown config rejected', async () => {
  await client.createTopics([{ name: 'c-cfg', configs: { 'retention.ms': '60000' } }]);
  const [d] = await client.describeConfigs([{ type: 'topic', name: 'c-cfg', keys: ['retention.ms'] }], {
    includeSynonyms: true,
  });
  assert.equal(d.error, null);
  assert.equal(d.configs[0].value, '60000');
  assert.equal(d.configs[0].source, 1);
  const [ok] = await client.incrementalAlterConfigs([
    { type: 'topic', name: 'c-cfg', configs: [{ name: 'retention.ms', op: 'delete' }] },
  ]);
  assert.equal(ok.error, null);
  const [after] = await client.describeConfigs([{ type: 'topic', name: 'c-cfg', keys: ['retention.ms'] }]);
  assert.equal(after.configs[0].value, '604800000');
  const [bad] = await client.incrementalAlterConfigs([
    { type: 'topic', name: 'c-cfg', configs: [{ name: 'retention.mz', value: '1' }] },
  ]);
  assert.equal(bad.error?.errorName, 'INVALID_CONFIG');
});

test('group offsets: commit, fetch, list', async () => {
  await client.createTopics([{ name: 'c-grp', numPartitions: 2 }]);
  await client.offsetCommit('c-group', [{ topic: 'c-grp', partition: 1, offset: 5, metadata: 'm' }]);
  const offs = await client.offsetFetch('c-group');
  assert.deepEqual(offs, [{ topic: 'c-grp', partition: 1, offset: 5, metadata: 'm' }]);
  const groups = await client.listGroups();
  assert.ok(groups.some((g) => g.groupId === 'c-group'));
});

test('pipelined requests on one connection and a response frame spanning many packets', async () => {
  await client.createTopics([{ name: 'c-big', numPartitions: 1 }]);
  const big = Buffer.alloc(600_000, 'x');
  await client.produce('c-big', 0, [{ value: big }], { compression: 'none' });
  const [f, ...offsets] = await Promise.all([
    client.fetch('c-big', 0, 0, { partitionMaxBytes: 2_000_000 }),
    ...Array.from({ length: 20 }, () => client.listOffsets('c-big', 0, 'latest')),
  ]);
  assert.equal(f.records[0].value?.length, big.length);
  assert.ok(offsets.every((o) => o.offset === 1));
});
