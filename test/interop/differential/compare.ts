/**
 * Field-by-field comparison of two decoded responses (the reference Kafka's
 * and Samsa's), after the allow-list has masked the fields that may differ,
 * and the table API × version → identical / differs that docs/protocol.md
 * keeps.
 */
import { decodeBatch } from '../../../src/protocol/records/index.ts';
import { type AllowEntry, allowed, knownDifference } from './allow-list.ts';

/** A JSON-like value: what a decoded response becomes once normalised. */
export type Plain = null | boolean | number | string | Plain[] | { [k: string]: Plain };

const ALLOWED = '<allowed>';

/**
 * A record batch buffer as its batches' header fields and records (keys,
 * values and headers as text), so that a difference names the field.
 */
function decodeRecords(buf: Buffer): Plain {
  const out: Plain[] = [];
  let at = 0;
  while (at + 61 <= buf.length) {
    const size = 12 + buf.readInt32BE(at + 8);
    if (at + size > buf.length) break; // a partial batch at the end of a fetch
    const b = decodeBatch(buf, at);
    out.push({
      baseOffset: b.baseOffset,
      partitionLeaderEpoch: b.partitionLeaderEpoch,
      magic: b.magic,
      crc: b.crc,
      attributes: b.attributes,
      lastOffsetDelta: b.lastOffsetDelta,
      baseTimestamp: b.baseTimestamp,
      maxTimestamp: b.maxTimestamp,
      producerId: b.producerId,
      producerEpoch: b.producerEpoch,
      baseSequence: b.baseSequence,
      recordCount: b.recordCount,
      records: b.records.map((r) => ({
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key === null ? null : r.key.toString('utf8'),
        value: r.value === null ? null : r.value.length > 64 ? `<${r.value.length} bytes>` : r.value.toString('utf8'),
        headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('utf8') })),
      })),
    });
    at += size;
  }
  return out;
}

/** Turns a decoded response into plain data: buffers decoded (records) or hex, bigints as numbers. */
export function toPlain(v: unknown, key = ''): Plain {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return key === 'records' ? decodeRecords(v) : v.toString('hex');
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x) => toPlain(x, key));
  if (typeof v === 'object') {
    const o: { [k: string]: Plain } = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === '_unknownTaggedFields') continue;
      o[k] = toPlain(x, k);
    }
    return o;
  }
  return v as Plain;
}

/** Replaces the allow-listed fields of `v` by a placeholder (`path` is like `topics[].partitions[].leaderId`). */
export function mask(v: Plain, api: string, entries: readonly AllowEntry[], path = ''): Plain {
  if (path !== '' && allowed(entries, api, path)) return ALLOWED;
  if (Array.isArray(v)) return v.map((x) => mask(x, api, entries, `${path}[]`));
  if (v !== null && typeof v === 'object') {
    const o: { [k: string]: Plain } = {};
    for (const [k, x] of Object.entries(v)) o[k] = mask(x, api, entries, path === '' ? k : `${path}.${k}`);
    return o;
  }
  return v;
}

/** Fields that name an element of a list (a topic, a partition, a config…): elements are ordered by them first. */
const IDENTIFYING = [
  'name',
  'topic',
  'groupId',
  'partitionIndex',
  'partition',
  'index',
  'nodeId',
  'brokerId',
  'apiKey',
  'resourceName',
  'key',
  'logDir',
];

function sortKey(o: { [k: string]: Plain }): string {
  const id = IDENTIFYING.filter((k) => k in o && o[k] !== '<allowed>').map((k) => JSON.stringify(o[k]).padStart(24));
  return `${id.join('|')}#${JSON.stringify(o)}`;
}

/**
 * Sorts every array of objects by its elements' names, then JSON (after masking): the
 * protocol's lists of topics, partitions, brokers and groups are maps whose
 * order neither broker promises. Records inside a batch keep their order.
 */
export function canonical(v: Plain, key = ''): Plain {
  if (Array.isArray(v)) {
    const xs = v.map((x) => canonical(x, key));
    if (key === 'records' || xs.some((x) => x === null || typeof x !== 'object')) return xs;
    const keyed = xs.map((x) => ({ x, k: sortKey(x as { [k: string]: Plain }) }));
    keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    return keyed.map((e) => e.x);
  }
  if (v !== null && typeof v === 'object') {
    const o: { [k: string]: Plain } = {};
    for (const k of Object.keys(v).sort()) o[k] = canonical(v[k], k);
    return o;
  }
  return v;
}

/** The paths (array indices as `[]`) at which `a` and `b` differ; a list of another length is one difference. */
export function diffPaths(a: Plain, b: Plain, path = ''): string[] {
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path}[] (${a.length} vs ${b.length})`];
    const out = new Set<string>();
    for (let i = 0; i < a.length; i++) for (const p of diffPaths(a[i], b[i], `${path}[]`)) out.add(p);
    return [...out];
  }
  if (
    a !== null &&
    b !== null &&
    typeof a === 'object' &&
    typeof b === 'object' &&
    !Array.isArray(a) &&
    !Array.isArray(b)
  ) {
    const out = new Set<string>();
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      for (const p of diffPaths(a[k] ?? null, b[k] ?? null, path === '' ? k : `${path}.${k}`)) out.add(p);
    }
    return [...out];
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path === '' ? '(whole response)' : path];
}

/** Compares two decoded responses of `api`: the differing paths that no allow-list entry covers. */
export function compareResponses(
  api: string,
  kafka: unknown,
  samsa: unknown,
  entries: readonly AllowEntry[],
): { paths: string[]; kafka: Plain; samsa: Plain } {
  const k = canonical(mask(toPlain(kafka), api, entries));
  const s = canonical(mask(toPlain(samsa), api, entries));
  return { paths: diffPaths(k, s).sort(), kafka: k, samsa: s };
}

/** One compared request: the API, its version, the case's name, and the fields that differ. */
export interface Outcome {
  api: string;
  version: number;
  caseName: string;
  /** Differing fields, or a failure of the exchange (`error: ...`). */
  paths: string[];
}

/** Versions as ranges: [0,1,2,5] → "v0–v2, v5". */
function ranges(vs: number[]): string {
  const sorted = [...new Set(vs)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `v${sorted[i]}` : `v${sorted[i]}–v${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/**
 * The markdown table: one row per API and result, the versions that share it
 * grouped; a differing row names each case and its fields.
 */
export function renderTable(outcomes: readonly Outcome[]): string {
  const perVersion = new Map<string, Map<number, { paths: Set<string>; reasons: Set<string> }>>();
  for (const o of outcomes) {
    const m = perVersion.get(o.api) ?? new Map<number, { paths: Set<string>; reasons: Set<string> }>();
    perVersion.set(o.api, m);
    const s = m.get(o.version) ?? { paths: new Set<string>(), reasons: new Set<string>() };
    m.set(o.version, s);
    if (o.caseName === '') {
      s.paths.add('no case yet');
      continue;
    }
    for (const p of o.paths) s.paths.add(`${o.caseName}: ${p}`);
    if (o.paths.length > 0) s.reasons.add(knownDifference(o.api, o.caseName)?.reason ?? `(${o.caseName}: unexplained)`);
  }
  const lines = ['| API | versions | result | why |', '| --- | --- | --- | --- |'];
  for (const api of [...perVersion.keys()].sort()) {
    const byResult = new Map<string, number[]>();
    for (const [v, s] of perVersion.get(api)!) {
      const r =
        s.paths.size === 0
          ? 'identical |'
          : s.paths.has('no case yet')
            ? 'not compared: no case yet |'
            : `differs: ${[...s.paths]
                .sort()
                .map((x) => `\`${x}\``)
                .join(', ')} | ${[...s.reasons].sort().join('; ')}`;
      byResult.set(r, [...(byResult.get(r) ?? []), v]);
    }
    const rows = [...byResult].sort((a, b) => Math.min(...a[1]) - Math.min(...b[1]));
    for (const [r, vs] of rows) lines.push(`| ${api} | ${ranges(vs)} | ${r} |`);
  }
  return lines.join('\n');
}
