/**
 * The shape of a message declaration: the protocol as data.
 *
 * Each Kafka API is declared once, as a request MessageSpec and a response
 * MessageSpec, following the facts of Kafka's message definitions (field
 * names, types, version ranges, nullable and flexible versions, tagged fields
 * and defaults). `compile.ts` turns a (spec, version) pair into straight-line
 * decode and encode functions.
 *
 * Field names are the lowerCamelCase form of Kafka's field names
 * (`TransactionalId` -> `transactionalId`).
 */

/** Primitive field types, as Kafka names them. */
export type PrimitiveType =
  | 'bool'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'float64'
  | 'uuid'
  | 'string'
  | 'bytes'
  | 'records';

export interface FieldSpec {
  name: string;
  /**
   * A primitive type, `[]<primitive>` for an array of primitives,
   * `[]<StructName>` for an array of structs, or `<StructName>` for a struct.
   * Struct fields come from `fields`, or from the message's `commonStructs`.
   */
  type: string;
  /** Versions the field exists in: `0+`, `3-5`, `7`, or `none`. */
  versions: string;
  nullableVersions?: string;
  /** Versions in which the field is a tagged field (must be flexible versions). */
  taggedVersions?: string;
  tag?: number;
  /** Default value when absent; Kafka's defaults otherwise (0, false, '', [], zero uuid). */
  default?: number | bigint | boolean | string | null;
  /** Fields of an inline struct or struct array. */
  fields?: FieldSpec[];
  /** Kafka marks some fields ignorable: dropped silently when a version lacks them. */
  ignorable?: boolean;
}

export interface MessageSpec {
  apiKey: number;
  name: string;
  type: 'request' | 'response';
  validVersions: string;
  flexibleVersions: string;
  fields: FieldSpec[];
  commonStructs?: Record<string, FieldSpec[]>;
}

export interface ApiSpec {
  request: MessageSpec;
  response: MessageSpec;
}

export interface VersionRange {
  min: number;
  max: number;
}

const NONE: VersionRange = { min: 1, max: 0 };

export function parseVersions(s: string | undefined): VersionRange {
  if (s === undefined || s === 'none' || s === '') return NONE;
  if (s.endsWith('+')) return { min: Number(s.slice(0, -1)), max: Number.MAX_SAFE_INTEGER };
  const dash = s.indexOf('-');
  if (dash > 0) return { min: Number(s.slice(0, dash)), max: Number(s.slice(dash + 1)) };
  const v = Number(s);
  return { min: v, max: v };
}

export function inVersions(s: string | undefined, v: number): boolean {
  const r = parseVersions(s);
  return v >= r.min && v <= r.max;
}

export const PRIMITIVES: ReadonlySet<string> = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'uuid',
  'string',
  'bytes',
  'records',
]);

export const ZERO_UUID = 'AAAAAAAAAAAAAAAAAAAAAA';
