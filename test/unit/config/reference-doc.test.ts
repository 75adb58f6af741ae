/** docs/configuration.md is what the property tables say (run `npm run docs:config` after changing them). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderConfigReference } from '../../../src/config/reference-doc.ts';

test('docs/configuration.md is generated from the current property tables', () => {
  const file = path.resolve(import.meta.dirname, '../../../docs/configuration.md');
  assert.equal(fs.readFileSync(file, 'utf8'), renderConfigReference());
});

test('the reference lists the properties users know', () => {
  const md = renderConfigReference();
  for (const name of [
    'node.id',
    'listeners',
    'log.dirs',
    'log.retention.hours',
    'message.max.bytes',
    'retention.ms',
    'cleanup.policy',
  ]) {
    assert.ok(md.includes(`\`${name}\``), `${name} is documented`);
  }
});

/** The row of one property, split into its cells. */
function row(md: string, name: string): string[] {
  const line = md.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
  assert.ok(line, `${name} has a row`);
  return line.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, ''));
}

test('every broker property says whether it is enforced, ignored, stored only or refused, and its update mode', () => {
  const md = renderConfigReference();
  assert.match(md, /\| property \| type \| default \| effect \| update mode \| description \|/);
  const effects =
    /^(enforced|enforced; runtime changes apply at once|enforced; runtime changes apply from the next start|ignored \(no effect\)|stored only \(dynamic, nothing to reconfigure\)|refused unless .*)(; sensitive \(never shown\))?$/;
  const section = md.slice(md.indexOf('## Broker properties'), md.indexOf('## Topic configs'));
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  assert.ok(rows.length > 100);
  for (const l of rows) {
    const cells = l.split(' | ');
    assert.match(cells[3], effects, l);
    assert.match(cells[4], /^(read-only|per-broker|cluster-wide)$/, l);
  }
  assert.deepEqual(row(md, 'log.cleaner.threads').slice(3, 5), [
    'stored only (dynamic, nothing to reconfigure)',
    'cluster-wide',
  ]);
  assert.deepEqual(row(md, 'sasl.kerberos.min.time.before.relogin').slice(3, 5), [
    'stored only (dynamic, nothing to reconfigure)',
    'per-broker',
  ]);
  assert.deepEqual(row(md, 'log.retention.ms').slice(3, 5), [
    'enforced; runtime changes apply at once',
    'cluster-wide',
  ]);
  assert.deepEqual(row(md, 'node.id').slice(3, 5), ['enforced', 'read-only']);
  assert.deepEqual(row(md, 'num.io.threads').slice(3, 5), [
    'stored only (dynamic, nothing to reconfigure)',
    'cluster-wide',
  ]);
  assert.deepEqual(row(md, 'socket.send.buffer.bytes').slice(3, 5), ['ignored (no effect)', 'read-only']);
  assert.deepEqual(row(md, 'authorizer.class.name').slice(3, 5), ['enforced', 'read-only']);
  assert.match(row(md, 'password.encoder.secret')[3], /sensitive \(never shown\)/);
});

test('topic configs say whether they are enforced', () => {
  const md = renderConfigReference();
  const topics = md.slice(md.indexOf('## Topic configs'));
  assert.match(topics, /\| config \| type \| default \| effect \| broker synonyms \| description \|/);
  assert.equal(row(topics, 'retention.ms')[3], 'enforced');
  assert.equal(row(topics, 'min.insync.replicas')[3], 'enforced');
  assert.equal(row(topics, 'preallocate')[3], 'ignored (no effect)');
});
