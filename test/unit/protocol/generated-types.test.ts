/** src/protocol/generated/messages.ts is what the declarations give (run `npm run gen:protocol` after changing one). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { protocolTypesSource } from '../../../src/protocol/typegen-sources.ts';
import { ApiKey } from '../../../src/protocol/generated/messages.ts';
import type { FetchRequest, ProduceResponseInput } from '../../../src/protocol/generated/messages.ts';
import { allApis } from '../../../src/protocol/apis.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { Reader } from '../../../src/protocol/reader.ts';

test('the committed protocol types are generated from the current declarations', () => {
  const file = path.resolve(import.meta.dirname, '../../../src/protocol/generated/messages.ts');
  assert.equal(fs.readFileSync(file, 'utf8'), protocolTypesSource());
});

test('ApiKey names every declared API with its key', () => {
  const apis = allApis();
  assert.deepEqual(Object.fromEntries(apis.map((a) => [a.name, a.key])), ApiKey);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.Produce, 0);
});

test('a decoded request has every declared field: one its version lacks holds the default', () => {
  const fetch = allApis().find((a) => a.key === ApiKey.Fetch)!;
  const w = new Writer(64);
  fetch.requestEncoder(4)(w, { maxWaitMs: 500, minBytes: 1, maxBytes: 1024, topics: [] });
  const req: FetchRequest = fetch.requestDecoder(4)(new Reader(w.toBuffer()));
  // v7 fields, absent from v4: Kafka's defaults.
  assert.equal(req.sessionId, 0);
  assert.equal(req.sessionEpoch, -1);
  assert.deepEqual(req.forgottenTopicsData, []);
  assert.equal(req.rackId, '');
  assert.equal(req.maxWaitMs, 500);
});

test('types catch misspelt and mistyped fields', () => {
  // Compile-time checks: `npx tsc -p .` fails if the generated types accept these.
  // @ts-expect-error a misspelt field of a response
  const a: ProduceResponseInput = { responses: [], throttleTimeMS: 0 };
  const b: ProduceResponseInput = {
    // @ts-expect-error a field of the wrong type
    responses: [{ name: 't', partitionResponses: [{ index: '0', errorCode: 0, baseOffset: 0 }] }],
  };
  // @ts-expect-error a required field left out (partitionResponses has no default)
  const c: ProduceResponseInput = { responses: [{ name: 't' }] };
  assert.ok(a && b && c);
});
