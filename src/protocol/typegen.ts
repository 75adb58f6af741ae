/**
 * Renders TypeScript types from the message declarations (the single source
 * of the protocol): `scripts/gen-protocol-types.ts` writes the result to
 * `src/protocol/generated/messages.ts`, and a unit test fails when the
 * committed file differs from what the declarations give.
 *
 * Each message and each of its structs gets two interfaces:
 * - `XxxRequest` / `XxxResponse`: the object a decoder returns. Every field
 *   is present: one that the decoded version lacks holds its default (see
 *   compile.ts), so a handler reads `req.sessionId` as 0 from a Fetch v4 as
 *   Kafka's own handlers do.
 * - `XxxRequestInput` / `XxxResponseInput`: what an encoder accepts. The
 *   encoder writes the default for a missing field, so only fields that exist
 *   in every version, are not tagged, are not nullable, declare no default
 *   and are not uuids (zero meaning "none") are required.
 */
import { type FieldSpec, type MessageSpec, PRIMITIVES, parseVersions, type VersionRange } from './schema.ts';

function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

function isEmpty(r: VersionRange): boolean {
  return r.min > r.max;
}

function covers(outer: VersionRange, inner: VersionRange): boolean {
  return outer.min <= inner.min && outer.max >= inner.max;
}

function showRange(r: VersionRange): string {
  if (r.max === Number.MAX_SAFE_INTEGER) return `${r.min}+`;
  return r.min === r.max ? `${r.min}` : `${r.min}-${r.max}`;
}

function elemType(type: string): string {
  return type.startsWith('[]') ? type.slice(2) : type;
}

function primitiveTs(t: string, input: boolean): string {
  switch (t) {
    case 'bool':
      return 'boolean';
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'float64':
      return 'number';
    case 'int64':
      return 'number | bigint';
    case 'uuid':
    case 'string':
      return 'string';
    case 'bytes':
    case 'records':
      // Encoders take a buffer or a list of chunks (sendfile ranges included).
      return input ? 'ByteChunks' : 'Buffer';
  }
  throw new Error(`unknown primitive ${t}`);
}

interface Struct {
  /** TypeScript name without the Input suffix. */
  tsName: string;
  fields: FieldSpec[];
  /** Versions in which the struct appears (message versions ∩ field versions of every enclosing field). */
  range: VersionRange;
  /** Where it is declared, for error messages. */
  path: string;
}

class MessageRenderer {
  private readonly structs: Struct[] = [];
  private readonly byName = new Map<string, Struct>();
  private readonly valid: VersionRange;

  constructor(private readonly spec: MessageSpec) {
    this.valid = parseVersions(spec.validVersions);
    this.add(spec.name, spec.fields, this.valid, spec.name);
  }

  private structFields(f: FieldSpec): FieldSpec[] {
    if (f.fields) return f.fields;
    const common = this.spec.commonStructs?.[elemType(f.type)];
    if (!common) throw new Error(`${this.spec.name}: struct ${f.type} of field ${f.name} has no fields`);
    return common;
  }

  private add(tsName: string, fields: FieldSpec[], range: VersionRange, path: string): void {
    const prev = this.byName.get(tsName);
    if (prev) {
      // The same struct reached twice (a common struct, or one name in two places): one type
      // serves both when the declarations agree; the union of the ranges is where it appears.
      if (JSON.stringify(prev.fields) !== JSON.stringify(fields)) {
        throw new Error(`${path}: struct ${tsName} declared twice with different fields (also at ${prev.path})`);
      }
      prev.range = { min: Math.min(prev.range.min, range.min), max: Math.max(prev.range.max, range.max) };
      return;
    }
    const s: Struct = { tsName, fields, range, path };
    this.structs.push(s);
    this.byName.set(tsName, s);
    for (const f of fields) {
      const et = elemType(f.type);
      if (PRIMITIVES.has(et)) continue;
      const r = intersect(range, parseVersions(f.versions));
      if (isEmpty(r)) continue;
      this.add(this.structTsName(et), this.structFields(f), r, `${path}.${f.name}`);
    }
  }

  private structTsName(structType: string): string {
    const base = this.spec.name;
    return structType.startsWith(base) ? structType : `${base}${structType}`;
  }

  private fieldTs(f: FieldSpec, input: boolean): string {
    const et = elemType(f.type);
    const isArr = f.type.startsWith('[]');
    let t: string;
    if (PRIMITIVES.has(et)) t = primitiveTs(et, input);
    else t = `${this.structTsName(et)}${input ? 'Input' : ''}`;
    if (isArr) t = t.includes(' ') ? `(${t})[]` : `${t}[]`;
    return t;
  }

  private renderStruct(s: Struct, input: boolean): string {
    const lines: string[] = [];
    const isRoot = s.tsName === this.spec.name;
    const what = isRoot
      ? `${this.spec.name}${this.spec.apiKey >= 0 ? ` (API key ${this.spec.apiKey})` : ''}, versions ${this.spec.validVersions}`
      : `${s.path}, in versions ${showRange(s.range)}`;
    lines.push(
      `/** ${what}${input ? ': what the encoder accepts (a missing field is written as its default)' : ''}. */`,
    );
    lines.push(`export interface ${s.tsName}${input ? 'Input' : ''} {`);
    for (const f of s.fields) {
      const present = intersect(s.range, parseVersions(f.versions));
      if (isEmpty(present)) continue;
      const always = covers(present, s.range);
      const nullable = !isEmpty(intersect(present, parseVersions(f.nullableVersions)));
      const tagged = f.tag !== undefined && !isEmpty(intersect(present, parseVersions(f.taggedVersions)));
      // A zero uuid means "none" in Kafka (a topic named by name), so uuids may be left out too.
      const optional = input && (!always || tagged || nullable || f.default !== undefined || f.type === 'uuid');
      const notes = [`versions ${showRange(present)}`];
      if (nullable) notes.push(`nullable in ${f.nullableVersions}`);
      if (tagged) notes.push(`tag ${f.tag}`);
      if (f.default !== undefined) notes.push(`default ${String(f.default)}`);
      lines.push(`  /** ${notes.join('; ')} */`);
      lines.push(`  ${f.name}${optional ? '?' : ''}: ${this.fieldTs(f, input)}${nullable ? ' | null' : ''};`);
    }
    if (this.flexibleSomewhere(s.range)) {
      lines.push('  /** Tagged fields this declaration does not know, kept so that a re-encode is byte-identical. */');
      lines.push('  _unknownTaggedFields?: [number, Buffer][];');
    }
    lines.push('}');
    return lines.join('\n');
  }

  private flexibleSomewhere(r: VersionRange): boolean {
    return !isEmpty(intersect(r, parseVersions(this.spec.flexibleVersions)));
  }

  render(): string {
    const out: string[] = [];
    for (const input of [false, true]) {
      for (const s of this.structs) out.push(this.renderStruct(s, input));
    }
    return out.join('\n\n');
  }
}

export interface TypegenInput {
  apis: { request: MessageSpec; response: MessageSpec }[];
  /** Non-API messages declared as data (the `__consumer_offsets` record formats). */
  records: MessageSpec[];
}

/** The API's name as the registry and the dispatcher spell it (`ProduceRequest` -> `Produce`). */
export function apiName(spec: MessageSpec): string {
  return spec.name.replace(/Request$/, '');
}

export function renderProtocolTypes(input: TypegenInput): string {
  const out: string[] = [];
  out.push(`/**
 * GENERATED by \`npm run gen:protocol\` (scripts/gen-protocol-types.ts) from the
 * declarations in src/protocol/messages. Do not edit: change a declaration and
 * run the script again (test/unit/protocol/generated-types.test.ts fails while
 * this file is stale).
 */
/* eslint-disable */
import type { ByteChunks } from '../writer.ts';
`);
  const apis = [...input.apis].sort((a, b) => a.request.apiKey - b.request.apiKey);
  out.push('/** The API keys, by API name. */');
  out.push('export const ApiKey = {');
  for (const a of apis) out.push(`  ${apiName(a.request)}: ${a.request.apiKey},`);
  out.push('} as const;\n');
  out.push('export type ApiName = keyof typeof ApiKey;\n');
  out.push("/** Each API's four shapes: decoded and encoder input, of request and response. */");
  out.push('export interface ApiMessages {');
  for (const a of apis) {
    const n = apiName(a.request);
    const req = a.request.name;
    const res = a.response.name;
    out.push(`  ${n}: { request: ${req}; requestInput: ${req}Input; response: ${res}; responseInput: ${res}Input };`);
  }
  out.push('}\n');
  for (const a of apis) {
    out.push(new MessageRenderer(a.request).render());
    out.push('');
    out.push(new MessageRenderer(a.response).render());
    out.push('');
  }
  for (const r of input.records) {
    out.push(new MessageRenderer(r).render());
    out.push('');
  }
  return out.join('\n');
}
