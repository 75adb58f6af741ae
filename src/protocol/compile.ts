/**
 * Compiles a message declaration at one version into straight-line decode and
 * encode functions (generated source, built once with `new Function` and
 * cached). Nothing is interpreted per field per message on the hot path.
 *
 * Decoders read from a bounds-checked Reader and return plain objects with
 * every declared field: a field absent from the version (or a tagged field
 * absent from the frame) holds its default, as in Kafka's generated message
 * classes, so a decoded object has one shape in every version. Unknown tagged
 * fields are kept in `_unknownTaggedFields` as [tag, bytes] pairs so that a
 * re-encode is byte-identical.
 *
 * Encoders accept partial objects: a missing (undefined) field is written as
 * its default, so handlers set only what they mean.
 */
import type { Reader } from './reader.ts';
import { Writer } from './writer.ts';
import { ProtocolError } from './protocol-error.ts';
import { type FieldSpec, type MessageSpec, PRIMITIVES, ZERO_UUID, inVersions } from './schema.ts';

// any: what a compiled codec reads or writes is shaped by the declaration given at run time;
// the generated types (generated/messages.ts, through Api<K> and Handler) say which shape.
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Decoder = (r: Reader) => any;
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Encoder = (w: Writer, value: any) => void;

interface Ctx {
  spec: MessageSpec;
  version: number;
  flexible: boolean;
  fns: string[];
  next: number;
}

function elemType(type: string): string {
  return type.startsWith('[]') ? type.slice(2) : type;
}

function isArray(type: string): boolean {
  return type.startsWith('[]');
}

function structFields(ctx: Ctx, f: FieldSpec): FieldSpec[] {
  if (f.fields) return f.fields;
  const name = elemType(f.type);
  const common = ctx.spec.commonStructs?.[name];
  if (!common) throw new Error(`${ctx.spec.name}: struct ${name} of field ${f.name} has no fields`);
  return common;
}

function isTagged(ctx: Ctx, f: FieldSpec): boolean {
  return ctx.flexible && f.tag !== undefined && inVersions(f.taggedVersions, ctx.version);
}

function isNullable(ctx: Ctx, f: FieldSpec): boolean {
  return inVersions(f.nullableVersions, ctx.version);
}

/** JS source for a field's default value. */
function defaultSrc(ctx: Ctx, f: FieldSpec): string {
  const t = f.type;
  if (f.default === null) return 'null';
  if (isArray(t)) return '[]';
  if (!PRIMITIVES.has(t)) {
    return `${structDefaultFn(ctx, f)}()`;
  }
  const d = f.default;
  switch (t) {
    case 'bool':
      return d === undefined ? 'false' : String(d === true || d === 'true');
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return d === undefined ? '0' : String(Number(d));
    case 'int64': {
      if (d === undefined) return '0';
      const b = BigInt(d as number | bigint | string | boolean);
      return Number.isSafeInteger(Number(b)) && BigInt(Number(b)) === b ? String(Number(b)) : `${b}n`;
    }
    case 'uuid':
      return JSON.stringify(ZERO_UUID);
    case 'string':
      return JSON.stringify(d === undefined ? '' : String(d));
    case 'bytes':
    case 'records':
      return 'EMPTY';
  }
  throw new Error(`unknown type ${t}`);
}

/** JS expression testing whether `v` equals the field's default (for tagged fields). */
function isDefaultSrc(ctx: Ctx, f: FieldSpec, v: string): string {
  if (f.default === null) return `(${v} === null)`;
  const test = nonNullIsDefaultSrc(ctx, f, v);
  // A null in a nullable field whose default is not null is not the default.
  return isNullable(ctx, f) ? `(${v} !== null && ${test})` : test;
}

function nonNullIsDefaultSrc(ctx: Ctx, f: FieldSpec, v: string): string {
  const t = f.type;
  if (isArray(t)) return `(${v}.length === 0)`;
  if (!PRIMITIVES.has(t)) return `${structIsDefaultFn(ctx, f)}(${v})`;
  if (t === 'bytes' || t === 'records') return `(${v}.length === 0)`;
  if (t === 'int64') return `(${v} == ${defaultSrc(ctx, f)})`;
  return `(${v} === ${defaultSrc(ctx, f)})`;
}

function structDefaultFn(ctx: Ctx, f: FieldSpec): string {
  const name = `def${ctx.next++}`;
  // Every declared field, like a decoded struct (absent ones hold their defaults too).
  const fields = structFields(ctx, f);
  const parts = fields.map((sf) => `${JSON.stringify(sf.name)}: ${defaultSrc(ctx, sf)}`);
  ctx.fns.push(`function ${name}() { return { ${parts.join(', ')} }; }`);
  return name;
}

function structIsDefaultFn(ctx: Ctx, f: FieldSpec): string {
  const name = `isdef${ctx.next++}`;
  const fields = structFields(ctx, f).filter((sf) => inVersions(sf.versions, ctx.version));
  const parts = fields.map((sf) => isDefaultSrc(ctx, sf, `o.${sf.name}`));
  // Unknown tagged fields make a struct non-default: dropping it would lose them.
  parts.push('(o._unknownTaggedFields === undefined || o._unknownTaggedFields.length === 0)');
  ctx.fns.push(`function ${name}(o) { return ${parts.join(' && ')}; }`);
  return name;
}

/** Smallest encoded size of one value of type `t` (never less than 1, for array guards). */
function minSize(ctx: Ctx, f: FieldSpec, t: string): number {
  if (isArray(t)) return ctx.flexible ? 1 : 4;
  switch (t) {
    case 'bool':
    case 'int8':
      return 1;
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
    case 'uint32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
      return ctx.flexible ? 1 : 2;
    case 'bytes':
    case 'records':
      return ctx.flexible ? 1 : 4;
  }
  // struct
  let n = ctx.flexible ? 1 : 0;
  for (const sf of structFields(ctx, f)) {
    if (!inVersions(sf.versions, ctx.version) || isTagged(ctx, sf)) continue;
    n += isNullable(ctx, sf) && !PRIMITIVES.has(sf.type) && !isArray(sf.type) ? 1 : minSize(ctx, sf, sf.type);
  }
  return Math.max(1, n);
}

// ---------------------------------------------------------------- decoding

function readPrimitive(ctx: Ctx, t: string, nullable: boolean): string {
  const fx = ctx.flexible;
  switch (t) {
    case 'bool':
      return 'r.bool()';
    case 'int8':
      return 'r.int8()';
    case 'int16':
      return 'r.int16()';
    case 'uint16':
      return 'r.uint16()';
    case 'int32':
      return 'r.int32()';
    case 'uint32':
      return 'r.uint32()';
    case 'int64':
      return 'r.int64()';
    case 'float64':
      return 'r.float64()';
    case 'uuid':
      return 'r.uuid()';
    case 'string':
      return fx
        ? nullable
          ? 'r.compactNullableString()'
          : 'r.compactString()'
        : nullable
          ? 'r.nullableString()'
          : 'r.string()';
    case 'bytes':
    case 'records':
      return fx
        ? nullable
          ? 'r.compactNullableBytes()'
          : 'r.compactBytes()'
        : nullable
          ? 'r.nullableBytes()'
          : 'r.bytes()';
  }
  throw new Error(`unknown primitive ${t}`);
}

/** Statements assigning the decoded value of field f to variable `out`. */
function readField(ctx: Ctx, f: FieldSpec, out: string): string {
  const t = f.type;
  const nullable = isNullable(ctx, f);
  if (isArray(t)) {
    const et = elemType(t);
    const elemIsPrim = PRIMITIVES.has(et);
    const elem = elemIsPrim ? readPrimitive(ctx, et, false) : `${structDecoder(ctx, f)}(r)`;
    const min = elemIsPrim ? minSize(ctx, f, et) : minSize(ctx, f, et);
    const len = ctx.flexible ? `r.compactArrayLength(${min})` : `r.arrayLength(${min})`;
    return `{ const n = ${len};
  if (n < 0) { ${nullable ? `${out} = null;` : `throw new ProtocolError(${JSON.stringify(`non-nullable array ${f.name} is null`)});`} }
  else { const a = new Array(n); for (let i = 0; i < n; i++) a[i] = ${elem}; ${out} = a; } }`;
  }
  if (PRIMITIVES.has(t)) return `${out} = ${readPrimitive(ctx, t, nullable)};`;
  const fn = structDecoder(ctx, f);
  if (nullable) return `${out} = r.int8() < 0 ? null : ${fn}(r);`;
  return `${out} = ${fn}(r);`;
}

function structDecoder(ctx: Ctx, f: FieldSpec): string {
  return genDecoder(ctx, structFields(ctx, f));
}

function genDecoder(ctx: Ctx, fields: FieldSpec[]): string {
  const name = `d${ctx.next++}`;
  const present = fields.filter((f) => inVersions(f.versions, ctx.version));
  const body: string[] = [];
  const tagged: FieldSpec[] = [];
  present.forEach((f, i) => {
    const v = `v${i}`;
    if (isTagged(ctx, f)) {
      tagged.push(f);
      body.push(`let ${v} = ${defaultSrc(ctx, f)};`);
    } else {
      body.push(`let ${v};`);
      body.push(readField(ctx, f, v));
    }
  });
  if (ctx.flexible) {
    body.push('let unk;');
    const cases = tagged
      .map((f) => {
        const v = `v${present.indexOf(f)}`;
        return `case ${f.tag}: { const saved = r.end; r.end = end; ${readField(ctx, f, v)} r.end = saved;
        if (r.pos !== end) throw new ProtocolError(${JSON.stringify(`tagged field ${f.name} has trailing bytes`)}); break; }`;
      })
      .join('\n');
    body.push(`{ const nt = r.uvarint();
  for (let t = 0; t < nt; t++) {
    const tag = r.uvarint(); const size = r.uvarint(); r.need(size); const end = r.pos + size;
    switch (tag) {
      ${cases}
      default: (unk || (unk = [])).push([tag, r.slice(size)]);
    }
  } }`);
  }
  const obj = fields
    .map((f) => {
      const i = present.indexOf(f);
      return `${JSON.stringify(f.name)}: ${i >= 0 ? `v${i}` : defaultSrc(ctx, f)}`;
    })
    .join(', ');
  body.push(`const o = { ${obj} };`);
  if (ctx.flexible) body.push('if (unk !== undefined) o._unknownTaggedFields = unk;');
  body.push('return o;');
  ctx.fns.push(`function ${name}(r) {\n${body.join('\n')}\n}`);
  return name;
}

// ---------------------------------------------------------------- encoding

function writePrimitive(ctx: Ctx, t: string, nullable: boolean, v: string): string {
  const fx = ctx.flexible;
  switch (t) {
    case 'bool':
      return `w.bool(${v});`;
    case 'int8':
      return `w.int8(${v});`;
    case 'int16':
      return `w.int16(${v});`;
    case 'uint16':
      return `w.uint16(${v});`;
    case 'int32':
      return `w.int32(${v});`;
    case 'uint32':
      return `w.uint32(${v});`;
    case 'int64':
      return `w.int64(${v});`;
    case 'float64':
      return `w.float64(${v});`;
    case 'uuid':
      return `w.uuid(${v});`;
    case 'string':
      return fx
        ? nullable
          ? `w.compactNullableString(${v});`
          : `w.compactString(${v});`
        : nullable
          ? `w.nullableString(${v});`
          : `w.string(${v});`;
    case 'bytes':
    case 'records':
      return fx
        ? nullable
          ? `w.compactNullableBytes(${v});`
          : `w.compactBytes(${v});`
        : nullable
          ? `w.nullableBytes(${v});`
          : `w.bytes(${v});`;
  }
  throw new Error(`unknown primitive ${t}`);
}

/** Statements writing value expression `v` (already defaulted) of field f. */
function writeField(ctx: Ctx, f: FieldSpec, v: string): string {
  const t = f.type;
  const nullable = isNullable(ctx, f);
  if (isArray(t)) {
    const et = elemType(t);
    const elem = PRIMITIVES.has(et) ? writePrimitive(ctx, et, false, 'a[i]') : `${structEncoder(ctx, f)}(w, a[i]);`;
    const len = ctx.flexible ? 'w.compactArrayLength' : 'w.arrayLength';
    return `{ const a = ${v};
  if (a === null) { ${nullable ? `${len}(-1);` : `throw new TypeError(${JSON.stringify(`non-nullable array ${f.name} is null`)});`} }
  else { ${len}(a.length); for (let i = 0; i < a.length; i++) { ${elem} } } }`;
  }
  if (PRIMITIVES.has(t)) return writePrimitive(ctx, t, nullable, v);
  const fn = structEncoder(ctx, f);
  if (nullable) return `if (${v} === null) w.int8(-1); else { w.int8(1); ${fn}(w, ${v}); }`;
  return `${fn}(w, ${v});`;
}

function valueSrc(ctx: Ctx, f: FieldSpec, obj: string): string {
  const acc = `${obj}.${f.name}`;
  if (isNullable(ctx, f)) return `(${acc} === undefined ? ${defaultSrc(ctx, f)} : ${acc})`;
  return `(${acc} ?? ${defaultSrc(ctx, f)})`;
}

function structEncoder(ctx: Ctx, f: FieldSpec): string {
  return genEncoder(ctx, structFields(ctx, f));
}

function genEncoder(ctx: Ctx, fields: FieldSpec[]): string {
  const name = `e${ctx.next++}`;
  const present = fields.filter((f) => inVersions(f.versions, ctx.version));
  const body: string[] = ['if (o === undefined || o === null) o = EMPTY_OBJ;'];
  const tagged: FieldSpec[] = [];
  for (const f of present) {
    if (isTagged(ctx, f)) {
      tagged.push(f);
      continue;
    }
    body.push(writeField(ctx, f, valueSrc(ctx, f, 'o')));
  }
  if (ctx.flexible) {
    tagged.sort((a, b) => a.tag! - b.tag!);
    body.push('const unk = o._unknownTaggedFields;');
    if (tagged.length === 0) {
      body.push('if (unk === undefined || unk.length === 0) w.uvarint(0); else writeTags(w, [], unk);');
    } else {
      body.push('const tl = [];');
      tagged.forEach((f, i) => {
        const v = `t${i}`;
        body.push(`{ const ${v} = ${valueSrc(ctx, f, 'o')};
  if (!${isDefaultSrc(ctx, f, v)}) { { const w = new Writer(64); ${writeField(ctx, f, v)} tl.push([${f.tag}, w.toBuffer()]); } } }`);
      });
      body.push('writeTags(w, tl, unk);');
    }
  }
  ctx.fns.push(`function ${name}(w, o) {\n${body.join('\n')}\n}`);
  return name;
}

/** Writes a tag section: known tagged fields and preserved unknown ones, in tag order. */
function writeTags(w: Writer, known: [number, Buffer][], unknown: [number, Buffer][] | undefined): void {
  const all = unknown?.length ? known.concat(unknown).sort((a, b) => a[0] - b[0]) : known;
  w.uvarint(all.length);
  for (const [tag, bytes] of all) {
    w.uvarint(tag);
    w.uvarint(bytes.length);
    w.raw(bytes);
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_OBJ = Object.freeze({});

function build<T>(ctx: Ctx, root: string): T {
  const src = `${ctx.fns.join('\n')}\nreturn ${root};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('ProtocolError', 'Writer', 'writeTags', 'EMPTY', 'EMPTY_OBJ', src)(
    ProtocolError,
    Writer,
    writeTags,
    EMPTY,
    EMPTY_OBJ,
  );
}

export function isFlexible(spec: MessageSpec, version: number): boolean {
  return inVersions(spec.flexibleVersions, version);
}

export function compileDecoder(spec: MessageSpec, version: number): Decoder {
  const ctx: Ctx = { spec, version, flexible: isFlexible(spec, version), fns: [], next: 0 };
  const root = genDecoder(ctx, spec.fields);
  return build<Decoder>(ctx, root);
}

export function compileEncoder(spec: MessageSpec, version: number): Encoder {
  const ctx: Ctx = { spec, version, flexible: isFlexible(spec, version), fns: [], next: 0 };
  const root = genEncoder(ctx, spec.fields);
  return build<Encoder>(ctx, root);
}

/** The generated source, for reading and debugging (`samsa` never evaluates it twice). */
export function decoderSource(spec: MessageSpec, version: number): string {
  const ctx: Ctx = { spec, version, flexible: isFlexible(spec, version), fns: [], next: 0 };
  const root = genDecoder(ctx, spec.fields);
  return `${ctx.fns.join('\n')}\nreturn ${root};`;
}
