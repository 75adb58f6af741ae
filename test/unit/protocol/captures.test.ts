/**
 * Request frames recorded from real clients (kcat / librdkafka 2.0,
 * kafkajs 2.2.4, confluent-kafka-python on librdkafka; recorded by
 * scripts/capture-client-frames.ts) decode field by field with our
 * declarations and re-encode byte-identically.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { apiByKey } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { readRequestHeader, writeRequestHeader } from '../../../src/protocol/headers.ts';
import { decodeBatch, splitBatches, Compression } from '../../../src/protocol/records/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../../fixtures/captures');
const CLIENTS = ['kcat', 'kafkajs', 'confluent-kafka-python'];

function load(client: string) {
  const dir = path.join(ROOT, client);
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => ({ file: f, frame: fs.readFileSync(path.join(dir, f)) }));
}

function decode(frame: Buffer) {
  const api = apiByKey(frame.readInt16BE(0));
  assert.ok(api, `known API key ${frame.readInt16BE(0)}`);
  const version = frame.readInt16BE(2);
  const flexible = api.requestIsFlexible(version);
  const r = new Reader(frame);
  const header = readRequestHeader(r, flexible);
  const body = api.requestDecoder(version)(r);
  assert.equal(r.pos, frame.length, 'the whole frame is consumed');
  return { api, version, flexible, header, body };
}

for (const client of CLIENTS) {
  test(`${client}: every captured request decodes and re-encodes byte-identically`, () => {
    const frames = load(client);
    assert.ok(frames.length >= 15, `${client} has captures`);
    for (const { file, frame } of frames) {
      const { api, version, flexible, header, body } = decode(frame);
      assert.equal(`${api.name}-v${version}`, file.replace(/(-\d+)?\.bin$/, ''));
      const w = new Writer();
      writeRequestHeader(w, header, flexible);
      api.requestEncoder(version)(w, body);
      assert.ok(w.toBuffer().equals(frame), `${file} re-encodes to the same bytes`);
    }
  });
}

test('librdkafka clients name themselves in ApiVersions v3; kafkajs uses v2 (no name field)', () => {
  const kcat = decode(fs.readFileSync(path.join(ROOT, 'kcat', 'ApiVersions-v3.bin')));
  assert.equal(kcat.body.clientSoftwareName, 'librdkafka');
  assert.match(kcat.body.clientSoftwareVersion, /^2\./);
  const py = decode(fs.readFileSync(path.join(ROOT, 'confluent-kafka-python', 'ApiVersions-v3.bin')));
  assert.equal(py.body.clientSoftwareName, 'confluent-kafka-python');
  assert.match(py.body.clientSoftwareVersion, /-rdkafka-2\./);
  assert.equal(py.header.clientId, 'rdkafka');
  const kjs = decode(fs.readFileSync(path.join(ROOT, 'kafkajs', 'ApiVersions-v2.bin')));
  assert.equal(kjs.version, 2);
  assert.equal(kjs.body.clientSoftwareName, ''); // absent from v2: the default
});

test('kcat Produce frames carry every codec, with the keys, values and headers that were sent', () => {
  const codecs = new Set<number>();
  const values = new Set<string>();
  for (const { file, frame } of load('kcat')) {
    if (!file.startsWith('Produce-')) continue;
    const { body } = decode(frame);
    for (const td of body.topicData) {
      assert.equal(td.name, 'cap-kcat');
      for (const pd of td.partitionData) {
        for (const { at } of splitBatches(pd.records)) {
          const b = decodeBatch(pd.records, at);
          codecs.add(b.compression);
          for (const rec of b.records) {
            const value = rec.value?.toString().replace(/x+$/, '') ?? 'null'; // values carry a compressible tail
            values.add(value);
            if (rec.key?.toString() === 'k1') {
              assert.equal(value, 'v1');
              assert.deepEqual(
                rec.headers.map((h) => [h.key, h.value?.toString()]),
                [['h', 'v']],
              );
            }
          }
        }
      }
    }
  }
  assert.deepEqual(
    [...codecs].sort(),
    [Compression.NONE, Compression.GZIP, Compression.SNAPPY, Compression.LZ4, Compression.ZSTD].sort(),
  );
  for (const v of ['v1', 'v2', 'nokey', 'a', 'b']) assert.ok(values.has(v), `value ${v} was produced`);
});

test('kafkajs Produce v7 carries an idempotent batch and a gzip batch', () => {
  const seen: { compression: number; producerId: number; values: string[] }[] = [];
  for (const { file, frame } of load('kafkajs')) {
    if (!file.startsWith('Produce-')) continue;
    const { body } = decode(frame);
    assert.equal(body.acks, -1, 'idempotent producers send acks=all');
    for (const td of body.topicData) {
      for (const pd of td.partitionData) {
        const b = decodeBatch(pd.records, 0);
        seen.push({
          compression: b.compression,
          producerId: b.producerId,
          values: b.records.map((r) => r.value?.toString() ?? 'null'),
        });
      }
    }
  }
  assert.ok(seen.some((s) => s.compression === Compression.GZIP && s.values.includes('zipped')));
  assert.ok(
    seen.every((s) => s.producerId >= 0),
    'every batch carries the producer id from InitProducerId',
  );
  assert.ok(
    seen.some((s) => s.values.includes('null')),
    'a null value travels as null',
  );
});

test('group requests: JoinGroup names the consumer protocol and its assignors', () => {
  const expect: Record<string, string[]> = {
    kcat: ['range', 'roundrobin'],
    'confluent-kafka-python': ['range', 'roundrobin'],
    kafkajs: ['RoundRobinAssigner'],
  };
  for (const client of CLIENTS) {
    const { body } = decode(fs.readFileSync(path.join(ROOT, client, 'JoinGroup-v5.bin')));
    assert.equal(body.protocolType, 'consumer');
    assert.match(body.groupId, /^cap-/);
    for (const name of expect[client])
      assert.ok(
        body.protocols.some((p: { name: string }) => p.name === name),
        `${client} offers ${name}`,
      );
  }
});
