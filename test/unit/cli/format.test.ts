// Tests for the CLI's pure parts: option parsers, tables, record templates, key splitting and the key partitioner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UsageError,
  formatTable,
  formatRecord,
  parseAcks,
  parseCompression,
  parseIntOption,
  parseKeyValue,
  parseStartOffset,
  recordJson,
  splitKeyValue,
  unescapeTemplate,
} from '../../../src/cli/format.ts';
import { PartitionChooser } from '../../../src/cli/produce.ts';
import { murmur2, partitionForKey } from '../../../src/client/partitioner.ts';

const rec = {
  offset: 42,
  timestamp: 1700000000000,
  key: Buffer.from('k'),
  value: Buffer.from('hello'),
  headers: [
    { key: 'a', value: Buffer.from('1') },
    { key: 'b', value: null },
  ],
};

test('formatRecord expands kcat-style tokens and escapes', () => {
  const ctx = { topic: 't', partition: 3 };
  assert.equal(formatRecord('%k=%v\\n', rec, ctx), 'k=hello\n');
  assert.equal(
    formatRecord('%t/%p@%o %T %s %K %S [%h] 100%%\\t', rec, ctx),
    't/3@42 1700000000000 hello 1 5 [a=1,b=] 100%\t',
  );
  assert.equal(formatRecord('%k|%v|%K|%S', { ...rec, key: null, value: null }, ctx), '||-1|-1');
  assert.equal(formatRecord('%x', rec, ctx), '%x');
  assert.equal(unescapeTemplate('a\\\\n'), 'a\\n');
});

test('recordJson', () => {
  assert.deepEqual(JSON.parse(recordJson(rec, { topic: 't', partition: 0 })), {
    topic: 't',
    partition: 0,
    offset: 42,
    timestamp: 1700000000000,
    key: 'k',
    value: 'hello',
    headers: [
      { key: 'a', value: '1' },
      { key: 'b', value: null },
    ],
  });
});

test('formatTable aligns columns and right-aligns numbers', () => {
  assert.equal(
    formatTable(
      ['NAME', 'N'],
      [
        ['a', 1],
        ['long-name', 100],
      ],
    ),
    ['NAME         N', 'a            1', 'long-name  100', ''].join('\n'),
  );
  assert.equal(formatTable(['A', 'B'], [[null, 'x']]), 'A  B\n-  x\n');
});

test('option parsers', () => {
  assert.deepEqual(parseKeyValue('a=b=c', '--config'), ['a', 'b=c']);
  assert.throws(() => parseKeyValue('=x', '--config'), UsageError);
  assert.throws(() => parseKeyValue('novalue', '--header'), /--header 'novalue' is not of the form key=value/);
  assert.equal(parseAcks('all'), -1);
  assert.equal(parseAcks('-1'), -1);
  assert.equal(parseAcks('0'), 0);
  assert.equal(parseAcks('1'), 1);
  assert.throws(() => parseAcks('2'), /--acks/);
  assert.equal(parseCompression('ZSTD'), 'zstd');
  assert.throws(() => parseCompression('brotli'), /--compression must be one of/);
  assert.equal(parseIntOption('7', '--partitions', 1), 7);
  assert.throws(() => parseIntOption('0', '--partitions', 1), /at least 1/);
  assert.throws(() => parseIntOption('1.5', '--partitions'), /whole number/);
  assert.deepEqual(parseStartOffset('beginning'), { kind: 'beginning' });
  assert.deepEqual(parseStartOffset('end'), { kind: 'end' });
  assert.deepEqual(parseStartOffset('stored'), { kind: 'stored' });
  assert.deepEqual(parseStartOffset('12'), { kind: 'absolute', offset: 12 });
  assert.deepEqual(parseStartOffset('-5'), { kind: 'fromEnd', count: 5 });
  assert.throws(() => parseStartOffset('soon'), /--offset/);
});

test('splitKeyValue', () => {
  assert.deepEqual(splitKeyValue('k:v:w', ':'), { key: 'k', value: 'v:w' });
  assert.deepEqual(splitKeyValue('plain', ':'), { key: null, value: 'plain' });
  assert.deepEqual(splitKeyValue('k::v', '::'), { key: 'k', value: 'v' });
  assert.deepEqual(splitKeyValue('k:v', undefined), { key: null, value: 'k:v' });
  assert.deepEqual(splitKeyValue(':v', ':'), { key: '', value: 'v' });
});

test('murmur2 matches Kafka reference values; key partitioning is stable', () => {
  // Reference values of Kafka's Utils.murmur2 (covering 0, 2 and 3 trailing bytes).
  assert.equal(murmur2(Buffer.from('21')), -973932308);
  assert.equal(murmur2(Buffer.from('foobar')), -790332482);
  assert.equal(murmur2(Buffer.from('abc')), 479470107);
  assert.equal(partitionForKey(Buffer.from('foobar'), 7), (-790332482 & 0x7fffffff) % 7);
});

test('PartitionChooser: fixed, keyed, sticky round-robin', () => {
  const fixed = new PartitionChooser(4, 2);
  assert.equal(fixed.choose('x'), 2);
  assert.equal(fixed.choose(null), 2);
  const c = new PartitionChooser(3, undefined);
  assert.equal(c.choose('foobar'), partitionForKey(Buffer.from('foobar'), 3));
  assert.equal(c.choose(null), 0);
  assert.equal(c.choose(null), 0);
  c.advance();
  assert.equal(c.choose(null), 1);
  c.advance();
  c.advance();
  assert.equal(c.choose(null), 0);
});

test('log lines for a terminal: time, level, message, then the fields', async () => {
  const { formatLogLine } = await import('../../../src/cli/log-format.ts');
  const line = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 1, 9, 20, 1, 123),
    pid: 1,
    hostname: 'h',
    msg: 'listening',
    port: 9092,
    dirs: ['/d'],
  });
  assert.equal(formatLogLine(line), '09:20:01.123 INFO  listening  port=9092 dirs=["/d"]\n');
  assert.equal(formatLogLine('not json'), 'not json');
});
