/**
 * kcat (librdkafka) against Samsa: produce with keys/headers/partitions and
 * every compression codec, consume with -f and -J, metadata listing (-L -J),
 * offsets by timestamp (-o s@ts, -Q), relative offsets, the idempotent
 * producer, NULL values, and topic auto-creation on produce.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, uniqueTopic, sleep, type TestBroker } from '../helpers/broker.ts';
import { kcatConsume, kcatProduce } from '../helpers/kcat.ts';
import { KCAT, runOk } from '../helpers/proc.ts';

const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;

describe('kcat', () => {
  let broker: TestBroker;
  let bs: string;

  before(async () => {
    broker = await startTestBroker({ overrides: { 'num.partitions': '2', 'auto.create.topics.enable': 'true' } });
    bs = broker.bootstrapServers;
  });
  after(async () => {
    await broker?.close();
  });

  for (const codec of CODECS) {
    test(`produce -z ${codec} with keys and headers to chosen partitions; consume -f and -J`, async () => {
      const topic = uniqueTopic(`kc-${codec}`);
      // the topic is auto-created (2 partitions) by the first produce
      const p0 = Array.from({ length: 50 }, (_, i) => `key${i}:value-${codec}-${i}-${'z'.repeat(i)}`);
      const p1 = Array.from({ length: 30 }, (_, i) => `other${i}:p1-${codec}-${i}`);
      const compress = codec === 'none' ? [] : ['-z', codec];
      await kcatProduce(bs, topic, p0, [
        '-p',
        '0',
        '-H',
        'h1=v1',
        '-H',
        `codec=${codec}`,
        ...compress,
        '-X',
        'api.version.request=true',
      ]);
      await kcatProduce(bs, topic, p1, ['-p', '1', '-H', 'only=p1', ...compress]);

      const fmt = await runOk(KCAT, [
        '-b',
        bs,
        '-C',
        '-t',
        topic,
        '-p',
        '0',
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%k %s %h %T %o %p\n',
      ]);
      const lines = fmt.stdout.split('\n').filter(Boolean);
      assert.equal(lines.length, 50);
      lines.forEach((line, i) => {
        const [k, s, h, ts, o, p] = line.split(' ');
        assert.equal(k, `key${i}`);
        assert.equal(s, `value-${codec}-${i}-${'z'.repeat(i)}`);
        assert.equal(h, `h1=v1,codec=${codec}`);
        assert.ok(Math.abs(Number(ts) - Date.now()) < 600_000, `timestamp ${ts} is a recent CreateTime`);
        assert.equal(o, String(i));
        assert.equal(p, '0');
      });

      const recs = await kcatConsume(bs, topic, { partition: 1 });
      assert.deepEqual(
        recs.map((r) => [r.key, r.payload, r.offset, r.partition]),
        p1.map((_, i) => [`other${i}`, `p1-${codec}-${i}`, i, 1]),
      );
      for (const r of recs) assert.deepEqual(r.headers, [['only', 'p1']]);

      // whole topic, both partitions
      const all = await kcatConsume(bs, topic);
      assert.equal(all.length, 80);
    });
  }

  test('metadata listing -L -J shows the broker and the topic partitions', async () => {
    const topic = uniqueTopic('kc-meta');
    await kcatProduce(bs, topic, ['a:1']);
    const r = await runOk(KCAT, ['-b', bs, '-L', '-J']);
    const md = JSON.parse(r.stdout);
    assert.equal(md.brokers.length, 1);
    assert.match(md.brokers[0].name, new RegExp(`^127\\.0\\.0\\.1:${broker.port}\\b`));
    const t = md.topics.find((x: any) => x.topic === topic);
    assert.ok(t, 'topic listed');
    assert.equal(t.partitions.length, 2);
    for (const p of t.partitions) {
      assert.equal(p.leader, md.brokers[0].id);
      assert.deepEqual(
        p.replicas.map((x: any) => x.id),
        [md.brokers[0].id],
      );
      assert.deepEqual(
        p.isrs.map((x: any) => x.id),
        [md.brokers[0].id],
      );
    }
    // one topic only
    const one = JSON.parse((await runOk(KCAT, ['-b', bs, '-L', '-J', '-t', topic])).stdout);
    assert.deepEqual(
      one.topics.map((x: any) => x.topic),
      [topic],
    );
  });

  test('offsets by timestamp: -o s@ts and -Q', async () => {
    const topic = uniqueTopic('kc-ts');
    await kcatProduce(bs, topic, ['a:first', 'b:second'], ['-p', '0']);
    const mid = Date.now() + 1; // later than both records' CreateTime
    while (Date.now() <= mid) await sleep(1); // the next two are stamped after mid
    await kcatProduce(bs, topic, ['c:third', 'd:fourth'], ['-p', '0']);

    const recs = await kcatConsume(bs, topic, { partition: 0, offset: `s@${mid}` });
    assert.deepEqual(
      recs.map((r) => r.payload),
      ['third', 'fourth'],
    );
    assert.deepEqual(
      recs.map((r) => r.offset),
      [2, 3],
    );
    assert.ok(recs[0].ts >= mid);

    const q = await runOk(KCAT, ['-b', bs, '-Q', '-t', `${topic}:0:${mid}`]);
    assert.match(q.stdout, new RegExp(`${topic} \\[0\\] offset 2\\b`));
    const qFuture = await runOk(KCAT, ['-b', bs, '-Q', '-t', `${topic}:0:${Date.now() + 3_600_000}`]);
    assert.match(qFuture.stdout, new RegExp(`${topic} \\[0\\] offset -1\\b`));
  });

  test('relative offsets: -o -2 reads the last two records', async () => {
    const topic = uniqueTopic('kc-rel');
    await kcatProduce(bs, topic, ['a:0', 'a:1', 'a:2', 'a:3', 'a:4'], ['-p', '1']);
    const recs = await kcatConsume(bs, topic, { partition: 1, offset: '-2' });
    assert.deepEqual(
      recs.map((r) => [r.offset, r.payload]),
      [
        [3, '3'],
        [4, '4'],
      ],
    );
  });

  test('idempotent producer with acks=all', async () => {
    const topic = uniqueTopic('kc-idem');
    const lines = Array.from({ length: 500 }, (_, i) => `k${i}:idem-${i}`);
    await kcatProduce(bs, topic, lines, [
      '-p',
      '0',
      '-X',
      'enable.idempotence=true',
      '-X',
      'acks=all',
      '-X',
      'linger.ms=5',
      '-X',
      'batch.num.messages=37',
    ]);
    const recs = await kcatConsume(bs, topic, { partition: 0 });
    assert.deepEqual(
      recs.map((r) => r.payload),
      lines.map((_, i) => `idem-${i}`),
    );
    assert.deepEqual(
      recs.map((r) => r.offset),
      lines.map((_, i) => i),
    );
  });

  test('-Z sends empty values as NULL and they read back as NULL', async () => {
    const topic = uniqueTopic('kc-null');
    await kcatProduce(bs, topic, ['knull:', 'kval:v'], ['-p', '0', '-Z']);
    const recs = await kcatConsume(bs, topic, { partition: 0 });
    assert.deepEqual(
      recs.map((r) => [r.key, r.payload]),
      [
        ['knull', null],
        ['kval', 'v'],
      ],
    );
    const f = await runOk(KCAT, [
      '-b',
      bs,
      '-C',
      '-t',
      topic,
      '-p',
      '0',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%k %S\n',
    ]);
    assert.equal(f.stdout, 'knull -1\nkval 1\n');
  });
});
