/**
 * Property tests of the declaration compiler over every registered API, every
 * version, request and response: values derived from the declaration survive
 * encode -> decode unchanged, and decode -> encode reproduces the exact bytes.
 * Also: unknown tagged fields are kept and written back in place.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allApis, type Api } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { isFlexible } from '../../../src/protocol/compile.ts';
import type { MessageSpec } from '../../../src/protocol/schema.ts';
import { messageArbitrary, UNKNOWN_TAG_BASE } from './arbitrary.ts';

const RUNS = 20;

type Dir = 'request' | 'response';

function codecs(api: Api, dir: Dir, v: number) {
  return dir === 'request'
    ? { dec: api.requestDecoder(v), enc: api.requestEncoder(v), spec: api.spec.request }
    : { dec: api.responseDecoder(v), enc: api.responseEncoder(v), spec: api.spec.response };
}

function encode(enc: (w: Writer, v: unknown) => void, value: unknown): Buffer {
  const w = new Writer(64);
  enc(w, value);
  return w.toBuffer();
}

/** Decodes a whole frame; the decoder must consume it exactly. */
function decodeAll(dec: (r: Reader) => unknown, buf: Buffer): any {
  const r = new Reader(buf);
  const out = dec(r);
  assert.equal(r.pos, buf.length, 'decoder consumed the whole frame');
  return out;
}

function versions(api: Api): number[] {
  const out: number[] = [];
  for (let v = api.minVersion; v <= api.maxVersion; v++) out.push(v);
  return out;
}

const apis = allApis();

test('the registry is not empty and keys are unique', () => {
  assert.ok(apis.length > 0);
  assert.equal(new Set(apis.map((a) => a.key)).size, apis.length);
});

for (const api of apis) {
  describe(`${api.name} (key ${api.key})`, () => {
    for (const dir of ['request', 'response'] as const) {
      test(`${dir} v${api.minVersion}-${api.maxVersion}: decode(encode(v)) = v and encode(decode(b)) = b`, () => {
        for (const v of versions(api)) {
          const { dec, enc, spec } = codecs(api, dir, v);
          fc.assert(
            fc.property(messageArbitrary(spec, v), (value) => {
              const bytes = encode(enc, value);
              const back = decodeAll(dec, bytes);
              assert.deepStrictEqual(back, value);
              const again = encode(enc, back);
              assert.ok(again.equals(bytes), `re-encode of ${spec.name} v${v} is byte-identical`);
            }),
            { numRuns: RUNS },
          );
        }
      });
    }
  });
}

/** Specs with at least one flexible version, for the tagged-field tests. */
function flexibleCases(): { api: Api; dir: Dir; v: number; spec: MessageSpec }[] {
  const out = [];
  for (const api of apis) {
    for (const dir of ['request', 'response'] as const) {
      for (const v of versions(api)) {
        const { spec } = codecs(api, dir, v);
        if (isFlexible(spec, v)) out.push({ api, dir, v, spec });
      }
    }
  }
  return out;
}

test('unknown tagged fields, at any struct level, survive decode and re-encode byte for byte', () => {
  const cases = flexibleCases();
  assert.ok(cases.length > 0, 'some API has flexible versions');
  for (const { api, dir, v, spec } of cases) {
    const { dec, enc } = codecs(api, dir, v);
    fc.assert(
      fc.property(messageArbitrary(spec, v, { unknownTags: true }), (value) => {
        const bytes = encode(enc, value);
        const back = decodeAll(dec, bytes);
        assert.deepStrictEqual(back, value);
        assert.ok(encode(enc, back).equals(bytes), `${spec.name} v${v} re-encode is byte-identical`);
      }),
      { numRuns: 10 },
    );
  }
});

test('a hand-made frame with an unknown top-level tag decodes with _unknownTaggedFields and re-encodes identically', () => {
  // ApiVersionsRequest v3: compact string name, compact string version, tags.
  const api = allApis().find((a) => a.key === 18)!;
  const frame = Buffer.from([
    0x04,
    0x6b,
    0x61,
    0x66, // "kaf"
    0x02,
    0x31, // "1"
    0x02, // two tags
    0x05,
    0x02,
    0xaa,
    0xbb, // tag 5, 2 bytes
    0xe8,
    0x07,
    0x00, // tag 1000, 0 bytes
  ]);
  const decoded = decodeAll(api.requestDecoder(3), frame);
  assert.equal(decoded.clientSoftwareName, 'kaf');
  assert.equal(decoded.clientSoftwareVersion, '1');
  assert.deepStrictEqual(decoded._unknownTaggedFields, [
    [5, Buffer.from([0xaa, 0xbb])],
    [UNKNOWN_TAG_BASE, Buffer.alloc(0)],
  ]);
  assert.ok(encode(api.requestEncoder(3), decoded).equals(frame));
});

test('known tagged fields are read into their field, absent ones take their default', () => {
  const api = allApis().find((a) => a.key === 18)!;
  const dec = api.responseDecoder(3);
  // errorCode 0, apiKeys [] (compact: 1), throttleTimeMs 0, tags: {1: int64 7}
  const frame = Buffer.from([0, 0, 1, 0, 0, 0, 0, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 7]);
  const out = decodeAll(dec, frame);
  assert.equal(out.finalizedFeaturesEpoch, 7);
  assert.deepStrictEqual(out.supportedFeatures, []);
  assert.equal(out.zkMigrationReady, false);
  assert.equal(out._unknownTaggedFields, undefined);
  assert.ok(encode(api.responseEncoder(3), out).equals(frame));
  // Absent: the declared default (-1), and nothing is written for it.
  const bare = decodeAll(dec, Buffer.from([0, 0, 1, 0, 0, 0, 0, 0]));
  assert.equal(bare.finalizedFeaturesEpoch, -1);
  assert.equal(encode(api.responseEncoder(3), bare).length, 8);
});

test('every encoder accepts an empty object (all defaults) and the result round-trips', () => {
  for (const api of apis) {
    for (const dir of ['request', 'response'] as const) {
      for (const v of versions(api)) {
        const { dec, enc, spec } = codecs(api, dir, v);
        const bytes = encode(enc, {});
        const back = decodeAll(dec, bytes);
        assert.ok(encode(enc, back).equals(bytes), `${spec.name} v${v}`);
      }
    }
  }
});

/**
 * A synthetic declaration using compiler features that registered APIs may
 * not (yet) use: every primitive, nullable structs (classic and flexible),
 * common structs, tagged fields of several types including a tagged struct,
 * fields appearing and disappearing across versions.
 */
const SYNTHETIC: MessageSpec = {
  apiKey: 10_000,
  name: 'SyntheticRequest',
  type: 'request',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'b', type: 'bool', versions: '0+' },
    { name: 'i8', type: 'int8', versions: '0+' },
    { name: 'i16', type: 'int16', versions: '0+' },
    { name: 'u16', type: 'uint16', versions: '1+' },
    { name: 'i32', type: 'int32', versions: '0+' },
    { name: 'u32', type: 'uint32', versions: '0+' },
    { name: 'i64', type: 'int64', versions: '0+' },
    { name: 'f64', type: 'float64', versions: '0+' },
    { name: 'id', type: 'uuid', versions: '0+' },
    { name: 's', type: 'string', versions: '0+' },
    { name: 'ns', type: 'string', versions: '0+', nullableVersions: '1+' },
    { name: 'by', type: 'bytes', versions: '0+', nullableVersions: '0+' },
    { name: 'recs', type: 'records', versions: '0+', nullableVersions: '0+' },
    { name: 'gone', type: 'int32', versions: '0-1' },
    { name: 'ints', type: '[]int64', versions: '0+', nullableVersions: '0+' },
    { name: 'one', type: 'Common', versions: '0+', nullableVersions: '0+' },
    { name: 'many', type: '[]Common', versions: '0+' },
    {
      name: 'inline',
      type: 'Inline',
      versions: '0+',
      fields: [
        { name: 'x', type: 'int16', versions: '0+' },
        { name: 'y', type: '[]string', versions: '3+' },
      ],
    },
    { name: 'tInt', type: 'int64', versions: '2+', taggedVersions: '2+', tag: 0, default: -1 },
    {
      name: 'tStr',
      type: 'string',
      versions: '2+',
      taggedVersions: '2+',
      tag: 1,
      nullableVersions: '2+',
      default: null,
    },
    { name: 'tArr', type: '[]Common', versions: '2+', taggedVersions: '2+', tag: 3 },
    {
      name: 'tStruct',
      type: 'Leader',
      versions: '3+',
      taggedVersions: '3+',
      tag: 2,
      fields: [
        { name: 'leaderId', type: 'int32', versions: '3+', default: -1 },
        { name: 'leaderEpoch', type: 'int32', versions: '3+', default: -1 },
      ],
    },
  ],
  commonStructs: {
    Common: [
      { name: 'a', type: 'int32', versions: '0+' },
      { name: 'n', type: 'string', versions: '0+', nullableVersions: '0+' },
      { name: 'tag', type: 'bool', versions: '2+', taggedVersions: '2+', tag: 0 },
    ],
  },
};

test('a synthetic declaration exercising every type and tag kind round-trips at every version', async () => {
  const { compileDecoder, compileEncoder } = await import('../../../src/protocol/compile.ts');
  for (let v = 0; v <= 3; v++) {
    const dec = compileDecoder(SYNTHETIC, v);
    const enc = compileEncoder(SYNTHETIC, v);
    fc.assert(
      fc.property(messageArbitrary(SYNTHETIC, v, { maxArray: 3 }), (value) => {
        const bytes = encode(enc, value);
        const back = decodeAll(dec, bytes);
        assert.deepStrictEqual(back, value);
        assert.ok(encode(enc, back).equals(bytes));
      }),
      { numRuns: 60 },
    );
  }
});
