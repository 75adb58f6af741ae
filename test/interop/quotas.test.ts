/**
 * Client quotas (KIP-219) with real clients: quotas set with `samsa quota`
 * (kafka-python 2.0.2 and confluent-kafka-python have no client-quota admin
 * API), a confluent-kafka-python producer / consumer over its
 * producer_byte_rate / consumer_byte_rate held within 10% of it over 10 s
 * while another client on the same broker runs unlimited, controller
 * mutation quotas (KIP-599) on CreateTopics, and the quotas surviving a
 * restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildBroker, startChildBroker, uniqueTopic } from '../helpers/broker.ts';
import { runPy } from '../helpers/proc.ts';
import { runCli } from '../../src/cli/main.ts';
import { Connection } from '../../src/client/connection.ts';
import { ErrorCode } from '../../src/protocol/error-codes.ts';

const QUOTA = 256 * 1024;
/** What the unlimited clients send or read: 16 MiB (over 4 x QUOTA x 11 s). */
const FAST_BYTES = 16 * 1024 * 1024;

async function samsa(args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runCli(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  assert.equal(code, 0, `samsa ${args.join(' ')}: ${err}`);
  return out;
}

/**
 * Bytes per second in the 10 s after the first second (buckets of 100 ms
 * from the first byte; the scripts run at least 11 s from there, so buckets
 * missing at the end had nothing).
 */
function rateOver10s(buckets: number[]): number {
  const perSecond: number[] = [];
  for (let i = 0; i < buckets.length; i += 10) perSecond.push(buckets.slice(i, i + 10).reduce((a, b) => a + b, 0));
  console.log(`bytes per second: ${perSecond.join(' ')}`);
  let sum = 0;
  for (let i = 10; i < 110; i++) sum += buckets[i] ?? 0;
  return sum / 10;
}

describe('client quotas', () => {
  let broker: ChildBroker;
  let bs: string;

  before(async () => {
    broker = await startChildBroker({
      overrides: { 'num.partitions': '1', 'auto.create.topics.enable': 'true' },
    });
    bs = broker.bootstrapServers;
  });
  after(async () => {
    await broker?.close();
  });

  test('producer_byte_rate: a producer is held within 10% of its quota over 10 s, another is not limited', async () => {
    await samsa(['quota', 'set', '-b', bs, '--client', 'quota-slow', '--add-config', `producer_byte_rate=${QUOTA}`]);
    // the other producer stops after FAST_BYTES (so as not to fill the disk), which it must send in under 11 s
    const [slow, fast] = await Promise.all([
      runPy('ck_quota_produce.py', [bs, uniqueTopic('quota-slow'), 'quota-slow', '12', '1024']),
      runPy('ck_quota_produce.py', [bs, uniqueTopic('quota-fast'), 'quota-fast', '12', '1024', String(FAST_BYTES)]),
    ]);
    const slowRate = rateOver10s(slow.buckets);
    const fastRate = fast.total / Math.max(fast.elapsed, 0.001);
    console.log(
      `producer_byte_rate=${QUOTA}: quota'd producer ${slowRate.toFixed(0)} B/s (max throttle ${slow.maxThrottleMs} ms), other ${fastRate.toFixed(0)} B/s`,
    );
    assert.ok(Math.abs(slowRate - QUOTA) / QUOTA <= 0.1, `held at ${slowRate.toFixed(0)} B/s, quota ${QUOTA}`);
    assert.ok(slow.maxThrottleMs > 0, 'the client was told its throttle time');
    assert.equal(fast.total, FAST_BYTES, 'the other producer sent all it had');
    assert.equal(fast.maxThrottleMs, 0, 'the other producer was never throttled');
    assert.ok(fastRate > 4 * QUOTA, `the other producer ran at ${fastRate.toFixed(0)} B/s`);
  });

  test('consumer_byte_rate: a consumer is held within 10% of its quota over 10 s, another is not limited', async () => {
    const topic = uniqueTopic('quota-read');
    // FAST_BYTES to read: more than the quota'd consumer can take in 11 s
    const filled = await runPy('ck_quota_produce.py', [bs, topic, 'quota-fill', '30', '1024', String(FAST_BYTES)]);
    assert.equal(filled.total, FAST_BYTES);
    await samsa(['quota', 'set', '-b', bs, '--client', 'quota-reader', '--add-config', `consumer_byte_rate=${QUOTA}`]);
    const [slow, fast] = await Promise.all([
      runPy('ck_quota_consume.py', [bs, topic, 'quota-reader', '11']),
      runPy('ck_quota_consume.py', [bs, topic, 'quota-free-reader', '11', String(FAST_BYTES)]),
    ]);
    const slowRate = rateOver10s(slow.buckets);
    const fastRate = fast.total / Math.max(fast.elapsed, 0.001);
    console.log(
      `consumer_byte_rate=${QUOTA}: quota'd consumer ${slowRate.toFixed(0)} B/s; other ${fastRate.toFixed(0)} B/s`,
    );
    assert.ok(Math.abs(slowRate - QUOTA) / QUOTA <= 0.1, `held at ${slowRate.toFixed(0)} B/s, quota ${QUOTA}`);
    assert.equal(fast.total, FAST_BYTES, 'the other consumer read everything');
    assert.ok(fastRate > 4 * QUOTA, `the other consumer read at ${fastRate.toFixed(0)} B/s`);
  });

  test('controller_mutation_rate: strict CreateTopics (v6+) over the quota gets THROTTLING_QUOTA_EXCEEDED', async () => {
    await samsa(['quota', 'set', '-b', bs, '--client', 'quota-admin', '--add-config', 'controller_mutation_rate=1']);
    const conn = new Connection({ host: broker.host, port: broker.port, clientId: 'quota-admin' });
    await conn.connect();
    try {
      assert.ok(conn.versionOf('CreateTopics') >= 6);
      const [a, b] = [uniqueTopic('quota-mut-a'), uniqueTopic('quota-mut-b')];
      const spec = (name: string) => ({ name, numPartitions: 20, replicationFactor: 1, assignments: [], configs: [] });
      // the first topic is within the quota when asked for (20 partitions then put the rate over it)
      const r = await conn.send('CreateTopics', { topics: [spec(a), spec(b)], timeoutMs: 10_000, validateOnly: false });
      const byName = new Map(r.topics.map((t) => [t.name, t]));
      assert.equal(byName.get(a)?.errorCode, ErrorCode.NONE);
      assert.equal(byName.get(b)?.errorCode, ErrorCode.THROTTLING_QUOTA_EXCEEDED);
      assert.ok(r.throttleTimeMs > 0, 'throttle time in the response');
      // DeleteTopics counts against the same quota: refused too, on a second connection (the first one is
      // not read from until its throttle time is over, when the rate is back within the quota)
      const conn2 = new Connection({ host: broker.host, port: broker.port, clientId: 'quota-admin' });
      await conn2.connect();
      try {
        const d = await conn2.send('DeleteTopics', { topics: [{ name: a }], timeoutMs: 10_000 });
        assert.equal(d.responses[0].errorCode, ErrorCode.THROTTLING_QUOTA_EXCEEDED);
      } finally {
        await conn2.close();
      }
    } finally {
      await conn.close();
    }
    // another client id is not limited
    await samsa(['topic', 'create', '-b', bs, uniqueTopic('quota-mut-free'), '--partitions', '20']);
  });

  test('quotas set with samsa quota are described the same after a restart', async () => {
    await samsa([
      'quota',
      'set',
      '-b',
      bs,
      '--user',
      'alice',
      '--client-defaults',
      '--add-config',
      'request_percentage=25.5',
    ]);
    await samsa(['quota', 'set', '-b', bs, '--user-defaults', '--add-config', 'producer_byte_rate=1048576']);
    await samsa([
      'quota',
      'set',
      '-b',
      bs,
      '--entity-type',
      'users',
      '--entity-name',
      'bob',
      '--add-config',
      'consumer_byte_rate=2048,producer_byte_rate=4096',
    ]);
    await samsa(['quota', 'set', '-b', bs, '--user', 'bob', '--delete-config', 'producer_byte_rate']);
    const before = JSON.parse(await samsa(['quota', 'list', '-b', bs, '--json']));
    assert.deepEqual(
      before.find((e: { entity: string }) => e.entity === 'user=bob'),
      { entity: 'user=bob', values: { consumer_byte_rate: 2048 } },
    );
    assert.deepEqual(
      before.find((e: { entity: string }) => e.entity === 'user=alice, client-id=<default>'),
      { entity: 'user=alice, client-id=<default>', values: { request_percentage: 25.5 } },
    );
    await broker.restart();
    const afterRestart = JSON.parse(await samsa(['quota', 'list', '-b', bs, '--json']));
    assert.deepEqual(afterRestart, before);
    const users = JSON.parse(await samsa(['quota', 'list', '-b', bs, '--json', '--user-defaults']));
    assert.deepEqual(users, [{ entity: 'user=<default>', values: { producer_byte_rate: 1048576 } }]);
  });
});
