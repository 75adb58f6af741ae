/**
 * A full disk, for real: the broker (a child process) keeps its data on a
 * 16 MiB tmpfs. kafkajs produces with acks=all until the file system is full
 * and must get KAFKA_STORAGE_ERROR (not a closed connection); reads go on;
 * deleting a topic frees space and produces succeed again; every acknowledged
 * record and topic survives a restart; the broker starts on a full disk
 * read-only (reads served, produces refused) and recovers once space is back.
 * The full/online transitions are logged once each, with no per-request
 * errors. Needs root (mount); the file system is unmounted even on failure.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { startChildBroker, sleep, type ChildBroker } from '../helpers/broker.ts';
import { kcatConsume } from '../helpers/kcat.ts';

const FS_BYTES = 16 * 1024 * 1024;
const VALUE = 'v'.repeat(16 * 1024);

function kafkaFor(b: ChildBroker) {
  return new Kafka({
    clientId: 'disk-full-test',
    brokers: [b.bootstrapServers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 5000,
    requestTimeout: 30000,
  });
}

/** The Kafka error type of a kafkajs error (walking its causes), or its message. */
function errorType(err: unknown): string {
  for (let e = err as any; e; e = e.cause ?? e.originalError) {
    if (typeof e.type === 'string' && e.type !== 'UNKNOWN') return e.type;
  }
  return String((err as Error)?.message ?? err);
}

/** Poll `fn` until it returns true, or fail after `ms`. */
async function until(what: string, ms: number, fn: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(200);
  }
}

function countLines(out: string, text: string): number {
  return out.split('\n').filter((l) => l.includes(text)).length;
}

/**
 * Every record of the topic's partition 0, offset -> value, read with kcat
 * (no consumer group: a group cannot form while the disk holding
 * __consumer_offsets is full, on Kafka as here).
 */
async function readAll(b: ChildBroker, topic: string, expect: number): Promise<Map<number, string>> {
  const records = await kcatConsume(b.bootstrapServers, topic, { partition: 0 });
  const got = new Map<number, string>(records.map((r) => [r.offset, r.payload ?? '']));
  assert.ok(got.size >= expect, `${topic}: read ${got.size} records, expected at least ${expect}`);
  return got;
}

describe('disk full', () => {
  let mnt: string;
  let mounted = false;
  let broker: ChildBroker | undefined;

  before(() => {
    mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'samsa-diskfull-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${FS_BYTES}`, 'tmpfs', mnt]);
    mounted = true;
  });

  after(async () => {
    try {
      await broker?.close();
    } finally {
      if (mounted) {
        try {
          execFileSync('umount', [mnt]);
        } catch {
          execFileSync('umount', ['-l', mnt]);
        }
      }
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  });

  test('acks=all until full: KAFKA_STORAGE_ERROR, reads served, recovery, restart, start on a full disk', async () => {
    const dataDir = path.join(mnt, 'data');
    broker = await startChildBroker({
      dataDir,
      overrides: { 'auto.create.topics.enable': 'false', 'num.partitions': '1' },
      env: { SAMSA_LOG_LEVEL: 'info' },
    });
    const b = broker;
    const admin = kafkaFor(b).admin();
    await admin.connect();
    await admin.createTopics({
      topics: [
        { topic: 'filler', numPartitions: 1, configEntries: [{ name: 'file.delete.delay.ms', value: '0' }] },
        { topic: 'main', numPartitions: 1 },
      ],
    });
    await admin.disconnect();

    const producer: Producer = kafkaFor(b).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    // 4 MiB that a topic deletion can give back later
    for (let i = 0; i < 16; i++) {
      await producer.send({
        topic: 'filler',
        acks: -1,
        messages: Array.from({ length: 16 }, () => ({ value: VALUE })),
      });
    }

    const acked = new Map<number, string>();
    const send = async (n: number, tag: string): Promise<string | null> => {
      const values = Array.from({ length: n }, (_, i) => `${tag}-${i}-${VALUE}`);
      try {
        const [r] = await producer.send({ topic: 'main', acks: -1, messages: values.map((value) => ({ value })) });
        assert.equal(r.errorCode, 0);
        for (const [i, v] of values.entries()) acked.set(Number(r.baseOffset) + i, v);
        return null;
      } catch (err) {
        return errorType(err);
      }
    };

    // 1. Fill the disk.
    let failure: string | null = null;
    for (let i = 0; i < 200 && failure === null; i++) failure = await send(16, `a${i}`);
    assert.equal(failure, 'KAFKA_STORAGE_ERROR', 'the producer is told the storage failed (no transport error)');
    assert.ok(acked.size > 0);
    // The same connection keeps answering: a second produce gets the error at once.
    assert.equal(await send(1, 'again'), 'KAFKA_STORAGE_ERROR');
    const out1 = b.output();
    assert.equal(countLines(out1, 'log dir is full'), countLines(out1, 'has space again') + 1, out1.slice(-3000));
    assert.equal(countLines(out1, 'request handler failed'), 0, 'no error line per failed request');

    // 2. Reads are served while full.
    const whileFull = await readAll(b, 'main', acked.size);
    for (const [off, v] of acked) assert.equal(whileFull.get(off), v);

    // 3. Deleting a topic frees space (its metadata record fits in the reserve); produces succeed again.
    const admin2 = kafkaFor(b).admin();
    await admin2.connect();
    await admin2.deleteTopics({ topics: ['filler'], timeout: 30000 });
    await admin2.disconnect();
    await until(
      'a produce to succeed after the topic deletion',
      30_000,
      async () => (await send(4, 'after-delete')) === null,
    );
    assert.ok(countLines(b.output(), 'has space again') >= 1);
    await producer.disconnect();

    // 4. A clean restart: every acknowledged record and topic is there.
    await b.kill('SIGTERM');
    await b.restart();
    const admin3 = kafkaFor(b).admin();
    await admin3.connect();
    assert.deepEqual((await admin3.listTopics()).filter((t) => !t.startsWith('__')).sort(), ['main']);
    await admin3.disconnect();
    const afterRestart = await readAll(b, 'main', acked.size);
    for (const [off, v] of acked) assert.equal(afterRestart.get(off), v, `acknowledged offset ${off}`);

    // 5. Start on a full disk: read-only.
    await b.kill('SIGTERM');
    const filler = path.join(mnt, 'filler.bin');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      fs.closeSync(fd);
    }
    await b.restart();
    const p2 = kafkaFor(b).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await p2.connect();
    const sendP2 = async (tag: string) => {
      try {
        const [r] = await p2.send({ topic: 'main', acks: -1, messages: [{ value: tag }] });
        acked.set(Number(r.baseOffset), tag);
        return null;
      } catch (err) {
        return errorType(err);
      }
    };
    // The restart's own metadata writes (the quorum's leader change, the broker's registration) take the
    // metadata log's 1 MiB reserve on a full disk; what is left of it may take a few produces before
    // the disk is full again and produces are refused.
    let refusal: string | null = null;
    for (let i = 0; i < 200 && refusal === null; i++) refusal = await sendP2(`r${i}-${VALUE}`);
    assert.equal(refusal, 'KAFKA_STORAGE_ERROR');
    const readOnly = await readAll(b, 'main', acked.size);
    for (const [off, v] of acked) assert.equal(readOnly.get(off), v);
    const out2 = b.output();
    assert.equal(countLines(out2, 'log dir is full'), countLines(out2, 'has space again') + 1, out2.slice(-3000));
    assert.equal(countLines(b.output(), 'request handler failed'), 0);

    // 6. Space comes back: the probe notices and produces succeed.
    fs.rmSync(filler);
    await until(
      'a produce to succeed once the filler file is gone',
      30_000,
      async () => (await sendP2('back')) === null,
    );
    const out3 = b.output();
    assert.equal(countLines(out3, 'has space again'), countLines(out3, 'log dir is full'));
    await p2.disconnect();
  });
});
