/**
 * Checks every declaration against facts from outside this repository: the
 * message definitions of Apache Kafka itself, extracted into
 * test/fixtures/kafka-messages/messages.json (see its README). For every
 * version both declare, the wire layout must agree field by field: name
 * (lowerCamelCase of Kafka's), order, type, nullability, flexible and tagged
 * versions, tags and defaults. A field copied wrong into a declaration fails
 * here even though it round-trips against itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ALL_API_SPECS } from '../../../src/protocol/messages/index.ts';
import { RECORD_SPECS } from '../../../src/protocol/typegen-sources.ts';
import {
  type FieldSpec,
  type MessageSpec,
  PRIMITIVES,
  inVersions,
  parseVersions,
} from '../../../src/protocol/schema.ts';

interface KafkaField {
  name: string;
  type: string;
  versions: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number | string;
  default?: string;
  fields?: KafkaField[];
}

interface KafkaMessage {
  name: string;
  apiKey?: number;
  validVersions: string;
  flexibleVersions: string;
  fields: KafkaField[];
  commonStructs?: { name: string; versions: string; fields: KafkaField[] }[];
}

const FIXTURE = path.resolve(import.meta.dirname, '../../fixtures/kafka-messages/messages.json');
const kafka: { source: string; messages: Record<string, KafkaMessage> } = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));

/**
 * Versions Samsa declares that the extracted Kafka release does not define yet
 * (they came with later releases), so the fixture cannot check them.
 */
const NEWER_THAN_FIXTURE: Record<string, string> = {
  AlterPartitionReassignmentsRequest: '1',
  AlterPartitionReassignmentsResponse: '1',
  ConsumerGroupDescribeRequest: '1',
  ConsumerGroupDescribeResponse: '1',
  DescribeClusterRequest: '2',
  DescribeClusterResponse: '2',
  DescribeGroupsRequest: '6',
  DescribeGroupsResponse: '6',
  FetchRequest: '18',
  FetchResponse: '18',
  ListOffsetsRequest: '11',
  ListOffsetsResponse: '11',
  ListTransactionsRequest: '2',
  ListTransactionsResponse: '2',
  MetadataRequest: '13',
  MetadataResponse: '13',
  OffsetCommitRequest: '10',
  OffsetCommitResponse: '10',
  OffsetFetchRequest: '10',
  OffsetFetchResponse: '10',
  ProduceRequest: '12-13',
  ProduceResponse: '12-13',
  TxnOffsetCommitRequest: '5',
  TxnOffsetCommitResponse: '5',
  VoteRequest: '2',
  VoteResponse: '2',
  WriteTxnMarkersRequest: '2',
  WriteTxnMarkersResponse: '2',
};

const elem = (t: string) => (t.startsWith('[]') ? t.slice(2) : t);
const lowerFirst = (s: string) => s[0].toLowerCase() + s.slice(1);

function ourStruct(spec: MessageSpec, f: FieldSpec): FieldSpec[] {
  return f.fields ?? spec.commonStructs?.[elem(f.type)] ?? [];
}

function kafkaStruct(m: KafkaMessage, f: KafkaField): KafkaField[] {
  return f.fields ?? m.commonStructs?.find((s) => s.name === elem(f.type))?.fields ?? [];
}

/** A field's default as the decoder would hold it, from Kafka's text or our value; undefined for arrays/structs not defaulting to null. */
function normDefault(type: string, d: unknown, nullable: boolean): unknown {
  if (d === null || (d === 'null' && nullable)) return null;
  if (type.startsWith('[]') || !PRIMITIVES.has(type)) return undefined;
  switch (type) {
    case 'bool':
      return d === true || d === 'true';
    case 'int64':
      return d === undefined || d === '' ? 0n : BigInt(d as string | number);
    case 'string':
      return d === undefined ? '' : String(d);
    case 'uuid':
    case 'bytes':
    case 'records':
      return undefined;
  }
  return d === undefined || d === '' ? 0 : Number(d);
}

function compareStructs(
  ours: FieldSpec[],
  theirs: KafkaField[],
  spec: MessageSpec,
  km: KafkaMessage,
  v: number,
  flexible: boolean,
  where: string,
  out: string[],
): void {
  const isTagged = (f: { tag?: number | string; taggedVersions?: string }) =>
    flexible && f.tag !== undefined && inVersions(f.taggedVersions, v);
  const o = ours.filter((f) => inVersions(f.versions, v));
  const k = theirs.filter((f) => inVersions(f.versions, v));
  const pairs: [FieldSpec | undefined, KafkaField | undefined][] = [];
  const oPlain = o.filter((f) => !isTagged(f));
  const kPlain = k.filter((f) => !isTagged(f));
  for (let i = 0; i < Math.max(oPlain.length, kPlain.length); i++) pairs.push([oPlain[i], kPlain[i]]);
  const oTagged = o.filter(isTagged);
  const kTagged = k.filter(isTagged);
  // Kafka's files write some tags as strings ("tag": "0").
  for (const t of new Set([...oTagged, ...kTagged].map((f) => Number(f.tag)))) {
    pairs.push([oTagged.find((f) => f.tag === t), kTagged.find((f) => Number(f.tag) === t)]);
  }
  for (const [a, b] of pairs) {
    if (!a || !b) {
      out.push(
        `${where} v${v}: ${a ? `our field ${a.name}` : `Kafka's field ${b!.name}`} has no counterpart at this position`,
      );
      continue;
    }
    const at = `${where}.${a.name} v${v}`;
    if (a.name !== lowerFirst(b.name)) out.push(`${at}: name differs from Kafka's ${b.name}`);
    const aArr = a.type.startsWith('[]');
    const bArr = b.type.startsWith('[]');
    const aPrim = PRIMITIVES.has(elem(a.type));
    const bPrim = PRIMITIVES.has(elem(b.type));
    if (aArr !== bArr || aPrim !== bPrim || (aPrim && elem(a.type) !== elem(b.type))) {
      out.push(`${at}: type ${a.type}, Kafka's ${b.type}`);
      continue;
    }
    const aNull = inVersions(a.nullableVersions, v);
    const bNull = inVersions(b.nullableVersions, v);
    if (aNull !== bNull) out.push(`${at}: nullable ${aNull}, Kafka's ${bNull}`);
    if (isTagged(a) && a.tag !== Number(b.tag)) out.push(`${at}: tag ${a.tag}, Kafka's ${b.tag}`);
    const da = normDefault(a.type, a.default, aNull);
    const db = normDefault(b.type, b.default, bNull);
    if (da !== db) out.push(`${at}: default ${String(da)}, Kafka's ${String(db)}`);
    if (!aPrim)
      compareStructs(ourStruct(spec, a), kafkaStruct(km, b), spec, km, v, flexible, `${where}.${a.name}`, out);
  }
}

/** Differences between our declaration and Kafka's, for every version both define. */
function differences(spec: MessageSpec): { diffs: string[]; unchecked: number[] } {
  const km = kafka.messages[spec.name];
  assert.ok(km, `${spec.name} is in the fixture`);
  const diffs: string[] = [];
  const unchecked: number[] = [];
  if (km.apiKey !== undefined && spec.apiKey >= 0 && km.apiKey !== spec.apiKey)
    diffs.push(`${spec.name}: apiKey ${spec.apiKey}, Kafka's ${km.apiKey}`);
  const ours = parseVersions(spec.validVersions);
  for (let v = ours.min; v <= ours.max; v++) {
    if (!inVersions(km.validVersions, v)) {
      unchecked.push(v);
      continue;
    }
    const flexible = inVersions(spec.flexibleVersions, v);
    if (flexible !== inVersions(km.flexibleVersions, v)) {
      diffs.push(`${spec.name} v${v}: flexible ${flexible}, Kafka's ${!flexible}`);
      continue;
    }
    compareStructs(spec.fields, km.fields, spec, km, v, flexible, spec.name, diffs);
  }
  return { diffs, unchecked };
}

function range(vs: number[]): string {
  return vs.length === 0 ? '' : vs.length === 1 ? `${vs[0]}` : `${vs[0]}-${vs[vs.length - 1]}`;
}

test(`every declared version agrees with Kafka's message definitions (${kafka.source})`, () => {
  const all: string[] = [];
  const unchecked: Record<string, string> = {};
  const specs = [...ALL_API_SPECS.flatMap((a) => [a.request, a.response]), ...RECORD_SPECS];
  for (const spec of specs) {
    const r = differences(spec);
    all.push(...r.diffs);
    if (r.unchecked.length > 0) unchecked[spec.name] = range(r.unchecked);
  }
  assert.deepEqual(all, []);
  assert.deepEqual(unchecked, NEWER_THAN_FIXTURE, 'versions newer than the fixture are listed');
});

test('the comparison catches a field copied wrong', () => {
  const produce = ALL_API_SPECS.find((a) => a.request.apiKey === 0)!.response;
  const bad: MessageSpec = structuredClone(produce);
  const partition = bad.fields[0].fields![bad.fields[0].fields!.length - 1].fields!;
  const i = partition.findIndex((f) => f.name === 'logStartOffset');
  partition[i] = { ...partition[i], type: 'int32' };
  assert.ok(differences(bad).diffs.some((d) => d.includes('logStartOffset') && d.includes('int32')));
  const swapped: MessageSpec = structuredClone(produce);
  const p2 = swapped.fields[0].fields![swapped.fields[0].fields!.length - 1].fields!;
  [p2[1], p2[2]] = [p2[2], p2[1]];
  assert.ok(differences(swapped).diffs.length > 0, 'two fields in the wrong order');
});
