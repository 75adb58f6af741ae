/**
 * Derives fast-check arbitraries from a message declaration at one version:
 * values shaped exactly like what the compiled decoder returns for that
 * version, so that `decode(encode(v))` can be compared to `v` as it is.
 *
 * What the decoder returns, type by type (and so what is generated):
 * - every declared field is present: fields of other versions hold their
 *   defaults (computed here from the declaration, independently of compile.ts);
 * - bool -> boolean; int8..uint32 -> number in range; float64 -> any double;
 * - int64 -> number when it is a safe integer, bigint otherwise;
 * - uuid -> base64url text of 16 bytes;
 * - string -> string (valid UTF-16 only: lone surrogates do not survive UTF-8);
 * - bytes / records -> Buffer;
 * - nullable (per nullableVersions) -> the value or null;
 * - `_unknownTaggedFields` only when the frame carried unknown tags, as
 *   [tag, Buffer] pairs in ascending tag order (generated only on request).
 */
import fc from 'fast-check';
import { type FieldSpec, type MessageSpec, PRIMITIVES, ZERO_UUID, inVersions } from '../../../src/protocol/schema.ts';
import { isFlexible } from '../../../src/protocol/compile.ts';

export interface GenOptions {
  /** Add `_unknownTaggedFields` (tags >= UNKNOWN_TAG_BASE) to some flexible structs. */
  unknownTags?: boolean;
  /** Max elements of any array. */
  maxArray?: number;
  /** Sometimes generate bytes/records past the writer's zero-copy threshold (default true). */
  largeBuffers?: boolean;
}

/** Tags from here up are never declared by any API, so they stay unknown. */
export const UNKNOWN_TAG_BASE = 1000;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function int64(): fc.Arbitrary<number | bigint> {
  const safe = fc.oneof(
    fc.integer({ min: -1, max: 1 << 20 }),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
  );
  const wide = fc
    .bigInt({ min: I64_MIN, max: I64_MAX })
    .map((b) => (Number.isSafeInteger(Number(b)) && BigInt(Number(b)) === b ? Number(b) : b));
  const edges = fc.constantFrom<number | bigint>(
    I64_MIN,
    I64_MAX,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    2n ** 53n,
    -(2n ** 53n),
  );
  return fc.oneof({ arbitrary: safe, weight: 4 }, { arbitrary: wide, weight: 2 }, { arbitrary: edges, weight: 1 });
}

function buffer(large: boolean): fc.Arbitrary<Buffer> {
  const small = fc.uint8Array({ maxLength: 24 }).map((u) => Buffer.from(u));
  // Past the writer's zero-copy threshold (1 KiB): kept by reference, not copied.
  const big = fc.tuple(fc.integer({ min: 1024, max: 1300 }), fc.integer({ min: 0, max: 255 })).map(([n, seed]) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (seed + i * 31) & 0xff;
    return b;
  });
  if (!large) return small;
  return fc.oneof({ arbitrary: small, weight: 9 }, { arbitrary: big, weight: 1 });
}

/**
 * One Unicode scalar value (any plane, no lone surrogates). Built by hand:
 * fast-check's 'binary' unit constructs a reverse map of every code point,
 * which costs over a second per process.
 */
const CODE_POINT: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 6 },
    { arbitrary: fc.integer({ min: 0, max: 0xd7ff }), weight: 2 },
    { arbitrary: fc.integer({ min: 0xe000, max: 0x10ffff }), weight: 2 },
  )
  .map((cp) => String.fromCodePoint(cp));

// Primitive arbitraries are built once: some (strings) are costly to construct.
const primitiveCache = new Map<string, fc.Arbitrary<unknown>>();

function primitive(t: string, largeBuffers: boolean): fc.Arbitrary<unknown> {
  const key = `${t}/${largeBuffers}`;
  let arb = primitiveCache.get(key);
  if (arb === undefined) primitiveCache.set(key, (arb = makePrimitive(t, largeBuffers)));
  return arb;
}

function makePrimitive(t: string, largeBuffers: boolean): fc.Arbitrary<unknown> {
  switch (t) {
    case 'bool':
      return fc.boolean();
    case 'int8':
      return fc.integer({ min: -128, max: 127 });
    case 'int16':
      return fc.integer({ min: -32768, max: 32767 });
    case 'uint16':
      return fc.integer({ min: 0, max: 65535 });
    case 'int32':
      return fc.integer({ min: -2147483648, max: 2147483647 });
    case 'uint32':
      return fc.integer({ min: 0, max: 4294967295 });
    case 'int64':
      return int64();
    case 'float64':
      return fc.double();
    case 'uuid':
      return fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u).toString('base64url'));
    case 'string':
      return fc.string({ unit: CODE_POINT, maxLength: 12 });
    case 'bytes':
    case 'records':
      return buffer(largeBuffers);
  }
  throw new Error(`unknown primitive ${t}`);
}

interface Ctx {
  spec: MessageSpec;
  version: number;
  flexible: boolean;
  opts: Required<GenOptions>;
}

function structFieldsOf(ctx: Ctx, f: FieldSpec): FieldSpec[] {
  if (f.fields) return f.fields;
  const name = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
  const common = ctx.spec.commonStructs?.[name];
  if (!common) throw new Error(`${ctx.spec.name}: no fields for struct ${name}`);
  return common;
}

function fieldArb(ctx: Ctx, f: FieldSpec): fc.Arbitrary<unknown> {
  const t = f.type;
  let arb: fc.Arbitrary<unknown>;
  if (t.startsWith('[]')) {
    const et = t.slice(2);
    const elem = PRIMITIVES.has(et) ? primitive(et, ctx.opts.largeBuffers) : structArb(ctx, structFieldsOf(ctx, f));
    arb = fc.array(elem, { maxLength: ctx.opts.maxArray });
  } else if (PRIMITIVES.has(t)) {
    arb = primitive(t, ctx.opts.largeBuffers);
  } else {
    arb = structArb(ctx, structFieldsOf(ctx, f));
  }
  if (inVersions(f.nullableVersions, ctx.version)) {
    arb = fc.option(arb, { nil: null, freq: 4 });
  }
  return arb;
}

function unknownTags(): fc.Arbitrary<[number, Buffer][]> {
  return fc
    .uniqueArray(fc.integer({ min: UNKNOWN_TAG_BASE, max: UNKNOWN_TAG_BASE + 5000 }), { minLength: 1, maxLength: 3 })
    .chain((tags) =>
      fc.tuple(
        ...tags
          .sort((a, b) => a - b)
          .map((tag) => fc.uint8Array({ maxLength: 8 }).map((u) => [tag, Buffer.from(u)] as [number, Buffer])),
      ),
    );
}

/** The value a decoder gives a field that the version lacks: the declared default, or Kafka's. */
function defaultValue(ctx: Ctx, f: FieldSpec): unknown {
  const d = f.default;
  if (d === null) return null;
  if (f.type.startsWith('[]')) return [];
  switch (f.type) {
    case 'bool':
      return d === true || d === 'true';
    case 'int64': {
      const b = BigInt(d ?? 0);
      return Number.isSafeInteger(Number(b)) ? Number(b) : b;
    }
    case 'uuid':
      return ZERO_UUID;
    case 'string':
      return d === undefined ? '' : String(d);
    case 'bytes':
    case 'records':
      return Buffer.alloc(0);
  }
  if (PRIMITIVES.has(f.type)) return d === undefined ? 0 : Number(d);
  return Object.fromEntries(structFieldsOf(ctx, f).map((sf) => [sf.name, defaultValue(ctx, sf)]));
}

function structArb(ctx: Ctx, fields: FieldSpec[]): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) {
    // A fresh default per value: generated values are mutated (unknown tags added) and must not share.
    shape[f.name] = inVersions(f.versions, ctx.version)
      ? fieldArb(ctx, f)
      : fc.constant(null).map(() => defaultValue(ctx, f));
  }
  // fc.record builds null-prototype objects; the decoder returns plain ones.
  const base = fc.record(shape).map((o) => ({ ...o }) as Record<string, unknown>);
  if (!(ctx.flexible && ctx.opts.unknownTags)) return base;
  return fc.tuple(base, fc.option(unknownTags(), { nil: undefined })).map(([o, unk]) => {
    if (unk !== undefined) o._unknownTaggedFields = unk;
    return o;
  });
}

/** An arbitrary of decoded-shaped values of `spec` at `version`. */
export function messageArbitrary(
  spec: MessageSpec,
  version: number,
  opts: GenOptions = {},
): fc.Arbitrary<Record<string, unknown>> {
  const ctx: Ctx = {
    spec,
    version,
    flexible: isFlexible(spec, version),
    opts: {
      unknownTags: opts.unknownTags ?? false,
      maxArray: opts.maxArray ?? 2,
      largeBuffers: opts.largeBuffers ?? true,
    },
  };
  return structArb(ctx, spec.fields);
}
