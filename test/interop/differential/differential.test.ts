/**
 * Differential protocol tests: the same request sequences (sequences.ts) sent
 * to the reference Apache Kafka and to Samsa, every case at every version
 * both serve, the decoded answers compared field by field after the
 * allow-list (allow-list.ts). The resulting table API × version → identical /
 * differs (fields), and the list of APIs Kafka serves and Samsa does not, are
 * kept in docs/protocol.md; this test fails when a run produces anything
 * else, so a new difference (or a fixed one) shows up in npm test.
 *
 *   SAMSA_DIFF_UPDATE=1 node --import tsx --test test/interop/differential/differential.test.ts
 *
 * rewrites the two sections of docs/protocol.md from a run. Each run writes
 * both answers of every differing case to .cache/differential/last-run.json.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, startTestBroker, type TestBroker } from '../../helpers/broker.ts';
import { startReferenceKafka, type ReferenceKafka } from '../../helpers/kafka-ref.ts';
import { renderTable } from './compare.ts';
import { knownDifference } from './allow-list.ts';
import { type RunResult, type Side, openSide, runDifferential } from './run.ts';

const DOC = path.join(REPO_ROOT, 'docs', 'protocol.md');
const TABLE = ['<!-- differential-table:begin -->', '<!-- differential-table:end -->'] as const;
const NOT_SERVED = ['<!-- not-yet-served:begin -->', '<!-- not-yet-served:end -->'] as const;

function section(doc: string, [begin, end]: readonly [string, string]): string {
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  assert.ok(i >= 0 && j > i, `docs/protocol.md has no ${begin} … ${end} section`);
  return doc.slice(i + begin.length, j).trim();
}

function replaceSection(doc: string, [begin, end]: readonly [string, string], body: string): string {
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  assert.ok(i >= 0 && j > i, `docs/protocol.md has no ${begin} … ${end} section`);
  return `${doc.slice(0, i + begin.length)}\n${body}\n${doc.slice(j)}`;
}

function notServedTable(r: RunResult): string {
  const lines = ['| API (key) | Kafka 4.3 serves | Samsa serves |', '| --- | --- | --- |'];
  for (const n of r.notServed) lines.push(`| ${n.api} | ${n.kafka} | ${n.samsa} |`);
  return lines.join('\n');
}

let kafka: ReferenceKafka | undefined;
let samsa: TestBroker | undefined;
const sides: Side[] = [];

before(async () => {
  // The same settings on both: scripts/kafka-ref.sh's server.properties, and one offsets
  // partition, so that the coordinator FindCoordinator waited for serves every group.
  const common = {
    'offsets.topic.num.partitions': '1',
    'num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
    'offsets.topic.replication.factor': '1',
  };
  [kafka, samsa] = await Promise.all([
    startReferenceKafka({ 'offsets.topic.num.partitions': '1' }),
    startTestBroker({ overrides: common }),
  ]);
});

after(async () => {
  for (const s of sides) await s.conn.close();
  await Promise.all([kafka?.stop(), samsa?.close()]);
});

test('Samsa answers the differential sequences as the reference Kafka does, but for the differences in docs/protocol.md', async () => {
  const [host, port] = kafka!.bootstrapServers.split(':');
  const k = await openSide('kafka', host, Number(port));
  sides.push(k);
  const s = await openSide('samsa', samsa!.host, samsa!.port);
  sides.push(s);
  const r = await runDifferential(k, s);
  const out = path.join(REPO_ROOT, '.cache', 'differential');
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'last-run.json'), JSON.stringify(r, null, 1));

  const unexplained = [
    ...new Set(
      r.outcomes
        .filter((o) => o.caseName !== '' && o.paths.length > 0 && !knownDifference(o.api, o.caseName))
        .map((o) => `${o.api} v${o.version} ${o.caseName}: ${o.paths.join(', ')}`),
    ),
  ];
  const table = renderTable(r.outcomes);
  const notServed = notServedTable(r);
  if (process.env.SAMSA_DIFF_UPDATE === '1') {
    let doc = fs.readFileSync(DOC, 'utf8');
    doc = replaceSection(replaceSection(doc, TABLE, table), NOT_SERVED, notServed);
    fs.writeFileSync(DOC, doc);
  }
  assert.deepEqual(
    unexplained,
    [],
    'differences that are neither fixed nor explained in allow-list.ts (both answers: .cache/differential/last-run.json)',
  );
  const doc = fs.readFileSync(DOC, 'utf8');
  assert.equal(
    table,
    section(doc, TABLE),
    'the differential table of docs/protocol.md (both answers of each difference: .cache/differential/last-run.json)',
  );
  assert.equal(notServed, section(doc, NOT_SERVED), 'the not-yet-served list of docs/protocol.md');
});

/** Sends raw bytes and reports what the broker did: closed the connection, or answered. */
function rawExchange(host: string, port: number, bytes: Buffer): Promise<'closed' | 'answered'> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${host}:${port} neither answered nor closed within 30 s`));
    }, 30_000);
    const done = (r: 'closed' | 'answered') => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    sock.once('connect', () => sock.write(bytes));
    sock.once('data', () => done('answered'));
    sock.once('close', () => done('closed'));
    sock.once('error', () => done('closed'));
  });
}

/** A request header v1 frame (no body) of `apiKey` at `version`. */
function headerFrame(apiKey: number, version: number): Buffer {
  const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 4);
  b.writeInt32BE(b.length - 4, 0);
  b.writeInt16BE(apiKey, 4);
  b.writeInt16BE(version, 6);
  b.writeInt32BE(7, 8);
  b.writeInt16BE(4, 12);
  b.write('diff', 14);
  return b;
}

test('both brokers close the connection on an oversize frame, an unknown API key and an unsupported version', async () => {
  const oversize = Buffer.alloc(64);
  oversize.writeInt32BE(200 * 1024 * 1024, 0); // above socket.request.max.bytes (100 MiB)
  const frames: [string, Buffer][] = [
    ['frame of 200 MiB', oversize],
    ['API key 999', headerFrame(999, 0)],
    ['Metadata v99', headerFrame(3, 99)],
    ['Fetch v3 (message sets, below the served range)', headerFrame(1, 3)],
  ];
  const [kHost, kPort] = kafka!.bootstrapServers.split(':');
  for (const [name, frame] of frames) {
    const [k, s] = await Promise.all([
      rawExchange(kHost, Number(kPort), frame),
      rawExchange(samsa!.host, samsa!.port, frame),
    ]);
    assert.equal(k, 'closed', `Kafka on ${name}`);
    assert.equal(s, k, `Samsa on ${name}`);
  }
});
