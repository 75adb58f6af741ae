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
  for (const name of ['node.id', 'listeners', 'log.dirs', 'log.retention.hours', 'message.max.bytes', 'retention.ms', 'cleanup.policy']) {
    assert.ok(md.includes(`\`${name}\``), `${name} is documented`);
  }
});
