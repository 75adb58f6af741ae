/**
 * Hostile-input tests of every compiled decoder (every registered API, every
 * version, request and response): random bytes, truncated frames, bit flips,
 * absurd / negative lengths and overlong varints spliced into valid frames.
 *
 * For every input a decoder must either return or throw ProtocolError (never
 * RangeError, TypeError, ...); it must not look at bytes past the frame end
 * (the outcome is the same whatever bytes follow the frame, and every Buffer
 * it returns lies inside the frame); and it must not allocate by a hostile
 * count (every `new Array(n)` it makes has n <= frame bytes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { allApis, type Api } from '../../../src/protocol/apis.ts';
import { Reader } from '../../../src/protocol/reader.ts';
import { Writer } from '../../../src/protocol/writer.ts';
import { ProtocolError } from '../../../src/protocol/protocol-error.ts';
import type { Decoder, Encoder } from '../../../src/protocol/compile.ts';
import type { MessageSpec } from '../../../src/protocol/schema.ts';
import { messageArbitrary } from './arbitrary.ts';

interface Case {
  label: string;
  spec: MessageSpec;
  version: number;
  dec: Decoder;
  enc: Encoder;
}

function allCases(): Case[] {
  const out: Case[] = [];
  for (const api of allApis()) {
    for (let v = api.minVersion; v <= api.maxVersion; v++) {
      out.push(mk(api, 'request', v), mk(api, 'response', v));
    }
  }
  return out;
}

function mk(api: Api, dir: 'request' | 'response', v: number): Case {
  const req = dir === 'request';
  return {
    label: `${api.name} ${dir} v${v}`,
    spec: req ? api.spec.request : api.spec.response,
    version: v,
    dec: req ? api.requestDecoder(v) : api.responseDecoder(v),
    enc: req ? api.requestEncoder(v) : api.responseEncoder(v),
  };
}

const CASES = allCases();

// ------------------------------------------------------------ instrumentation

const RealArray = Array;
let maxArrayAlloc = 0;
const CountingArray: ArrayConstructor = new Proxy(RealArray, {
  construct(target, args, newTarget): object {
    if (args.length === 1 && typeof args[0] === 'number' && args[0] > maxArrayAlloc) maxArrayAlloc = args[0];
    return Reflect.construct(target, args, newTarget === CountingArray ? target : newTarget);
  },
});

type Outcome = { ok: true; value: unknown; pos: number } | { ok: false; error: unknown };

/**
 * Runs `body` with the global Array replaced by a counting proxy (the
 * generated decoders allocate with `new Array(n)`), restoring it after.
 * Swapping the global once per test rather than per decode keeps V8 from
 * deoptimising on every swap. Errors are created without stacks meanwhile:
 * most inputs here are rejected, and stack capture would dominate the run.
 */
function instrumented(body: () => void): void {
  const limit = Error.stackTraceLimit;
  (globalThis as any).Array = CountingArray;
  Error.stackTraceLimit = 0;
  try {
    body();
  } finally {
    (globalThis as any).Array = RealArray;
    Error.stackTraceLimit = limit;
  }
}

/** Decodes [start, start+len) of `backing`, noting the largest `new Array(n)` the decoder made. */
function run(dec: Decoder, backing: Buffer, start: number, len: number): Outcome & { maxAlloc: number } {
  const r = new Reader(backing, start, start + len);
  maxArrayAlloc = 0;
  let out: Outcome;
  try {
    out = { ok: true, value: dec(r), pos: r.pos };
  } catch (error) {
    out = { ok: false, error };
  }
  return { ...out, maxAlloc: maxArrayAlloc };
}

const PREFIX = 5;
const CANARY = 16;

function backed(frame: Uint8Array, fill: number): Buffer {
  const b = Buffer.allocUnsafe(PREFIX + frame.length + CANARY).fill(fill);
  b.set(frame, PREFIX);
  return b;
}

/** Every Buffer in `v` lies inside the frame; every array is no longer than the frame. */
function checkValue(v: unknown, backing: Buffer, len: number, where: () => string): void {
  if (Buffer.isBuffer(v)) {
    const lo = backing.byteOffset + PREFIX;
    if (!(v.buffer === backing.buffer && v.byteOffset >= lo && v.byteOffset + v.length <= lo + len)) {
      assert.fail(`${where()}: a returned Buffer lies outside the frame`);
    }
    return;
  }
  if (Array.isArray(v)) {
    if (v.length > len) assert.fail(`${where()}: array of ${v.length} from a ${len}-byte frame`);
    for (const e of v) checkValue(e, backing, len, where);
    return;
  }
  if (v !== null && typeof v === 'object') {
    for (const k of Object.keys(v)) checkValue((v as any)[k], backing, len, where);
  }
}

/**
 * Decodes `frame` with two different canaries after it (and garbage before
 * it) and checks the rules. Returns whether the decoder accepted the frame.
 */
function probe(c: Case, frame: Uint8Array, what: string): boolean {
  const len = frame.length;
  const a = backed(frame, 0x00);
  const b = backed(frame, 0xff);
  const ra = run(c.dec, a, PREFIX, len);
  const rb = run(c.dec, b, PREFIX, len);
  const where = () => `${c.label} ${what} [${Buffer.from(frame).toString('hex').slice(0, 120)}]`;
  for (const r of [ra, rb]) {
    if (!r.ok && !(r.error instanceof ProtocolError)) {
      const e = r.error as Error;
      assert.fail(`${where()}: threw ${e?.constructor?.name}: ${e?.message}`);
    }
    if (r.maxAlloc > len) assert.fail(`${where()}: new Array(${r.maxAlloc}) for a ${len}-byte frame`);
  }
  if (ra.ok !== rb.ok) assert.fail(`${where()}: outcome depends on bytes after the frame`);
  if (ra.ok && rb.ok) {
    if (ra.pos > PREFIX + len) assert.fail(`${where()}: reader moved past the frame end`);
    if (ra.pos !== rb.pos) assert.fail(`${where()}: position depends on bytes after the frame`);
    checkValue(ra.value, a, len, where);
    checkValue(rb.value, b, len, where);
    assert.deepStrictEqual(ra.value, rb.value, `value depends on bytes after the frame`);
  } else if (!ra.ok && !rb.ok) {
    const ma = (ra.error as Error).message;
    const mb = (rb.error as Error).message;
    if (ma !== mb) assert.fail(`${where()}: error depends on bytes after the frame: ${ma} / ${mb}`);
  }
  return ra.ok;
}

function encode(c: Case, value: unknown): Buffer {
  const w = new Writer(64);
  c.enc(w, value);
  return w.toBuffer();
}

/** A few valid frames of a case, small enough to mutate at every position. */
function validFrames(c: Case, n: number, seed: number): Buffer[] {
  const arb = messageArbitrary(c.spec, c.version, { maxArray: 2, largeBuffers: false });
  return fc.sample(arb, { numRuns: n, seed }).map((v) => encode(c, v));
}

/** Deterministic PRNG (xorshift32) for mutations, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

// ------------------------------------------------------------------ tests

test('the instrumentation sees the arrays a decoder allocates', () => {
  instrumented(() => {
    const api = allApis().find((a) => a.key === 18)!;
    // ApiVersionsResponse v0: errorCode, [apiKey, min, max] x 2
    const frame = Buffer.from([0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0, 3]);
    const r = run(api.responseDecoder(0), backed(frame, 0), PREFIX, frame.length);
    assert.ok(r.ok);
    assert.equal(r.maxAlloc, 2);
  });
  assert.equal(Array, RealArray, 'global Array restored');
});

test('every decoder: random bytes return or throw ProtocolError, within the frame', () => {
  instrumented(() => {
    for (const c of CASES) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
          probe(c, bytes, 'random');
        }),
        { numRuns: 12, seed: c.spec.apiKey * 1000 + c.version },
      );
    }
  });
});

test('every decoder: valid frames decode; every truncation throws ProtocolError', () => {
  instrumented(() => {
    for (const c of CASES) {
      for (const frame of validFrames(c, 1, 7 + c.version)) {
        assert.ok(probe(c, frame, 'valid'), `${c.label}: a valid frame is accepted`);
        for (let cut = 0; cut < frame.length; cut++) {
          const outcome = run(c.dec, backed(frame.subarray(0, cut), 0), PREFIX, cut);
          assert.ok(!outcome.ok, `${c.label}: a ${cut}-byte prefix of a ${frame.length}-byte frame was accepted`);
          if (!(outcome.error instanceof ProtocolError)) {
            assert.fail(
              `${c.label} cut at ${cut}: threw ${(outcome.error as Error)?.constructor?.name}: ${(outcome.error as Error)?.message}`,
            );
          }
        }
      }
    }
  });
});

test('every decoder: bit flips in valid frames return or throw ProtocolError', () => {
  instrumented(() => {
    for (const c of CASES) {
      const next = rng(c.spec.apiKey * 131 + c.version + 1);
      for (const frame of validFrames(c, 2, 11 + c.version)) {
        if (frame.length === 0) continue;
        for (let i = 0; i < 24; i++) {
          const m = Buffer.from(frame);
          const flips = 1 + (next() % 3);
          for (let f = 0; f < flips; f++) {
            const bit = next() % (m.length * 8);
            m[bit >> 3] ^= 1 << (bit & 7);
          }
          probe(c, m, 'bitflip');
        }
      }
    }
  });
});

/** Byte patterns that are absurd or negative lengths, or malformed varints. */
/** [name, bytes, also insert (not only overwrite)] */
const HOSTILE: [string, number[], boolean][] = [
  ['int32 2^31-1', [0x7f, 0xff, 0xff, 0xff], true],
  ['int32 -2^31', [0x80, 0x00, 0x00, 0x00], false],
  ['int32 -2', [0xff, 0xff, 0xff, 0xfe], true],
  ['int32 -1', [0xff, 0xff, 0xff, 0xff], false],
  ['int16 32767', [0x7f, 0xff], true],
  ['int16 -2', [0xff, 0xfe], false],
  ['uvarint 2^32-1', [0xff, 0xff, 0xff, 0xff, 0x0f], true],
  ['uvarint 2^35-1 (overflows 32 bits)', [0xff, 0xff, 0xff, 0xff, 0x7f], false],
  ['overlong varint', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80], true],
  ['uvarint 2^28', [0x80, 0x80, 0x80, 0x80, 0x01], false],
];
const HOSTILE_POSITIONS = 32;

test('every decoder: absurd and negative lengths and bad varints at every position', () => {
  instrumented(() => {
    for (const c of CASES) {
      const [frame] = validFrames(c, 1, 3 + c.version);
      const positions = Math.min(frame.length, HOSTILE_POSITIONS);
      for (const [name, pat, insert] of HOSTILE) {
        for (let at = 0; at < positions; at++) {
          // overwrite in place
          const m = Buffer.from(frame);
          for (let k = 0; k < pat.length && at + k < m.length; k++) m[at + k] = pat[k];
          probe(c, m, `${name} over @${at}`);
          if (!insert) continue;
          // insert, then pad to make the claimed length look plausible
          const ins = Buffer.concat([frame.subarray(0, at), Buffer.from(pat), frame.subarray(at), Buffer.alloc(4, 1)]);
          probe(c, ins, `${name} inserted @${at}`);
        }
      }
    }
  });
});

test('an int32 array length of 2^31-1 in a 20-byte frame is a ProtocolError, not an allocation', () => {
  instrumented(() => {
    const api = allApis().find((a) => a.key === 18)!;
    const frame = Buffer.alloc(20, 0);
    frame.writeInt32BE(0x7fffffff, 2); // ApiVersionsResponse v0: errorCode, then apiKeys count
    const before = process.memoryUsage();
    for (let i = 0; i < 2000; i++) {
      const r = run(api.responseDecoder(0), backed(frame, 0), PREFIX, frame.length);
      assert.ok(!r.ok && r.error instanceof ProtocolError);
      assert.ok(r.maxAlloc <= frame.length);
    }
    const after = process.memoryUsage();
    // 2000 allocations of 2^31-1 slots would be terabytes; a few MiB of noise is fine.
    assert.ok(after.arrayBuffers - before.arrayBuffers < 64 * 1024 * 1024, 'arrayBuffers did not jump');
    assert.ok(after.heapUsed - before.heapUsed < 256 * 1024 * 1024, 'heap did not jump');
  });
});

test('negative lengths: strings, bytes and arrays below -1 are ProtocolErrors', () => {
  const mkSpec = (type: string, nullable: boolean): MessageSpec => ({
    apiKey: 1000,
    name: 'T',
    type: 'request',
    validVersions: '0',
    flexibleVersions: 'none',
    fields: [{ name: 'f', type, versions: '0+', ...(nullable ? { nullableVersions: '0+' } : {}) }],
  });
  const frames: [string, boolean, Buffer][] = [
    ['string', false, Buffer.from([0xff, 0xff])], // -1 for a non-nullable string
    ['string', true, Buffer.from([0xff, 0xfe])], // -2
    ['bytes', false, Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['bytes', true, Buffer.from([0xff, 0xff, 0xff, 0xfe])],
    ['[]int32', false, Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['[]int32', true, Buffer.from([0x80, 0, 0, 0])],
  ];
  return import('../../../src/protocol/compile.ts').then(({ compileDecoder }) => {
    for (const [type, nullable, frame] of frames) {
      const dec = compileDecoder(mkSpec(type, nullable), 0);
      assert.throws(
        () => dec(new Reader(frame)),
        ProtocolError,
        `${type} nullable=${nullable} ${frame.toString('hex')}`,
      );
    }
  });
});

test('overlong varints: a compact string length of 6 varint bytes is a ProtocolError', () => {
  const api = allApis().find((a) => a.key === 18)!;
  const frame = Buffer.from([0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x00]);
  assert.throws(() => api.requestDecoder(3)(new Reader(frame)), ProtocolError);
});
