// Tests of `samsa bench` against an in-process broker: counts of the produce and consume phases agree with ListOffsets,
// the latency run yields ordered percentiles, the topic is deleted (or kept), and bad input is one line with exit code 1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { runCli } from '../../../src/cli/main.ts';
import { startBroker, type EmbeddedBroker } from '../../../src/index.ts';
import { KafkaClient } from '../../../src/client/client.ts';
import { freePort } from '../../helpers/broker.ts';

let broker: EmbeddedBroker;
let client: KafkaClient;
before(async () => {
  broker = await startBroker({});
  client = new KafkaClient({ bootstrapServers: broker.bootstrapServers, clientId: 'bench-test' });
});
after(async () => {
  await client.close();
  await broker.close();
});

async function bench(
  args: string[],
  bootstrap = broker.bootstrapServers,
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(['bench', '-b', bootstrap, ...args], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    stdin: Readable.from([]),
  });
  return { code, out, err };
}

async function topicNames(): Promise<string[]> {
  return (await client.metadata()).topics.map((t) => t.name);
}

/** Log end - log start of each partition. */
async function storedPerPartition(topic: string, partitions: number): Promise<number[]> {
  return Promise.all(
    Array.from(
      { length: partitions },
      async (_, p) =>
        (await client.listOffsets(topic, p, 'latest')).offset - (await client.listOffsets(topic, p, 'earliest')).offset,
    ),
  );
}

const SMALL = [
  '--messages',
  '2000',
  '--size',
  '100',
  '--partitions',
  '4',
  '--acks',
  'all',
  '--rate',
  '2000',
  '--warmup',
  '0.3',
  '--latency-seconds',
  '0.7',
];

test('a small workload: produced = consumed = stored, ordered latency percentiles, topic deleted afterwards', async () => {
  const r = await bench([...SMALL, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, '');
  const j = JSON.parse(r.out);
  assert.match(j.topic, /^samsa-bench-[0-9a-f]{8}$/);
  assert.equal(j.partitions, 4);
  assert.equal(j.replicationFactor, 1);
  assert.equal(j.acks, 'all');
  assert.equal(j.produce.messages, 2000);
  assert.equal(j.produce.bytes, 200_000);
  assert.equal(j.produce.stored, 2000);
  assert.equal(j.consume.messages, 2000);
  assert.equal(j.consume.bytes, 200_000);
  assert.ok(j.produce.mbPerSec > 0 && j.consume.mbPerSec > 0);

  const l = j.latency;
  assert.equal(l.processes, 2);
  assert.equal(l.rate, 2000);
  assert.equal(l.sent, 2000); // 2000 msgs/s over 0.3 + 0.7 s
  assert.equal(l.received, l.sent);
  assert.ok(l.samples > 0 && l.samples <= l.sent, `samples ${l.samples}`);
  assert.ok(l.p50Ms <= l.p99Ms && l.p99Ms <= l.p999Ms && l.p999Ms <= l.maxMs, JSON.stringify(l));
  assert.ok(l.p50Ms > 0);

  assert.equal(j.created, true);
  assert.equal(j.deleted, true);
  assert.ok(!(await topicNames()).includes(j.topic));
});

test('--keep-topic keeps it; ListOffsets shows every message; a second run on the existing topic never deletes it', async () => {
  const topic = 'bench-kept';
  let r = await bench([...SMALL, '--topic', topic, '--keep-topic', '--in-process', '--json']);
  assert.equal(r.code, 0, r.err);
  const first = JSON.parse(r.out);
  assert.equal(first.created, true);
  assert.equal(first.deleted, false);
  assert.equal(first.latency.processes, 1);
  assert.ok(first.latency.samples > 0);
  assert.ok(first.latency.p50Ms <= first.latency.p99Ms && first.latency.p99Ms <= first.latency.p999Ms);
  assert.equal(first.produce.messages, first.consume.messages);
  let stored = await storedPerPartition(topic, 4);
  // round-robin: each of the 4 partitions got a quarter of both phases
  assert.deepEqual(stored, [1000, 1000, 1000, 1000]);
  assert.equal(
    stored.reduce((a, b) => a + b),
    first.produce.messages + first.latency.sent,
  );

  // the topic exists now: used as it is, and kept without --keep-topic
  r = await bench(['--topic', topic, '--messages', '400', '--size', '64', '--acks', '1', '--no-latency', '--json']);
  assert.equal(r.code, 0, r.err);
  const second = JSON.parse(r.out);
  assert.equal(second.created, false);
  assert.equal(second.deleted, false);
  assert.equal(second.partitions, 4);
  assert.equal(second.latency, null);
  assert.equal(second.produce.stored, 400);
  assert.equal(second.consume.messages, 400);
  stored = await storedPerPartition(topic, 4);
  assert.deepEqual(stored, [1100, 1100, 1100, 1100]);
  assert.ok((await topicNames()).includes(topic));

  r = await bench(['--topic', topic, '--partitions', '3', '--no-latency']);
  assert.equal(r.code, 1);
  assert.equal(r.err, "samsa: topic 'bench-kept' already exists with 4 partitions, not 3\n");
});

test('the text report names the phases and the topic', async () => {
  const r = await bench(['--messages', '1000', '--size', '16', '--acks', '0', '--no-latency']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^topic samsa-bench-[0-9a-f]{8}: 1 partition\(s\), replication factor 1, 16 B values, acks=0\n/);
  assert.match(r.out, /\nPHASE\s+MESSAGES\s+MB\/S\s+MSGS\/S\s+SECONDS\s+CLIENT CPU %\n/);
  assert.match(r.out, /\nconsume\s+1000\s/);
  assert.match(r.out, /1000 messages stored \(ListOffsets\)/);
  assert.match(r.out, /\ntopic samsa-bench-[0-9a-f]{8} deleted\n$/);
});

test('bad flags: one line on stderr, exit code 1, nothing sent', async () => {
  const before = await topicNames();
  const cases: [string[], string][] = [
    [['--size', '0'], 'samsa: --size must be at least 16, got 0\n'],
    [['--acks', '2'], "samsa: --acks must be all, -1, 0 or 1, got '2'\n"],
    [['--messages', '10', '--duration', '1'], 'samsa: give either --messages or --duration, not both\n'],
    [['--rate', 'fast'], "samsa: --rate must be a number > 0, got 'fast'\n"],
    [['--partitions', '0'], 'samsa: --partitions must be at least 1, got 0\n'],
  ];
  for (const [args, line] of cases) {
    const r = await bench(args);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.err, line);
    assert.equal(r.out, '');
  }
  assert.deepEqual(await topicNames(), before);
});

test('an unreachable bootstrap server: one line, no stack trace', async () => {
  const port = await freePort();
  const r = await bench(['--messages', '10'], `127.0.0.1:${port}`);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.equal(r.err, `samsa: cannot connect to 127.0.0.1:${port}: connection refused\n`);
});

test('SIGINT mid-run: the topic the run created is deleted, exit code 130, one line', async () => {
  const topic = `bench-interrupted-${process.pid}`;
  const bin = path.resolve(import.meta.dirname, '../../../bin/samsa.mjs');
  const child = spawn(
    process.execPath,
    [bin, 'bench', '-b', broker.bootstrapServers, '--topic', topic, '--duration', '60', '--acks', '1', '--no-latency'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    // wait until the run has created its topic and is producing into it
    const t0 = Date.now();
    while (!(await topicNames()).includes(topic) || (await client.listOffsets(topic, 0, 'latest')).offset === 0) {
      assert.ok(Date.now() - t0 < 30_000, `topic never appeared; stderr: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    assert.equal(err, 'samsa: SIGINT: benchmark stopped; a topic this run created is deleted\n');
    assert.ok(!(await topicNames()).includes(topic), 'the interrupted run deleted its topic');
  } finally {
    child.kill('SIGKILL');
  }
});
