/**
 * Output formatting for the CLI: aligned text tables, kcat-style record
 * templates (%k %v/%s %h %T %o %p %t ...), and the small value parsers the
 * commands share (key=value options, acks, offsets).
 */
import type { FetchedRecord } from '../client/client.ts';

/** An error in what the user typed: printed as one line, exit code 1 (or 2 for usage). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Left-aligned columns separated by two spaces; numbers (and '-' for null in a number column) right-aligned. */
export function formatTable(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = headers.map(
    (_, i) =>
      rows.some((r) => typeof r[i] === 'number') &&
      rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined),
  );
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n') + '\n';
}

/** Parses 'key=value' (value may contain '='). */
export function parseKeyValue(s: string, what: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UsageError(`${what} '${s}' is not of the form key=value`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}

/** Commander collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function parseIntOption(s: string, what: string, min = Number.MIN_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(s.trim())) throw new UsageError(`${what} must be a whole number, got '${s}'`);
  const n = Number(s);
  if (n < min) throw new UsageError(`${what} must be at least ${min}, got ${n}`);
  return n;
}

export function parseAcks(s: string): -1 | 0 | 1 {
  const t = s.trim().toLowerCase();
  if (t === 'all' || t === '-1') return -1;
  if (t === '0') return 0;
  if (t === '1') return 1;
  throw new UsageError(`--acks must be all, -1, 0 or 1, got '${s}'`);
}

export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export function parseCompression(s: string): (typeof COMPRESSIONS)[number] {
  const t = s.trim().toLowerCase();
  if ((COMPRESSIONS as readonly string[]).includes(t)) return t as (typeof COMPRESSIONS)[number];
  throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(', ')}, got '${s}'`);
}

/** Where a consumer starts: an absolute offset, the beginning, the end, or N before the end. */
export type StartOffset =
  | { kind: 'beginning' }
  | { kind: 'end' }
  | { kind: 'absolute'; offset: number }
  | { kind: 'fromEnd'; count: number }
  | { kind: 'stored' };

/** kcat's -o forms: beginning | end | stored | <n> | -<n> (n from the end). */
export function parseStartOffset(s: string): StartOffset {
  const t = s.trim().toLowerCase();
  if (t === 'beginning' || t === 'earliest') return { kind: 'beginning' };
  if (t === 'end' || t === 'latest') return { kind: 'end' };
  if (t === 'stored') return { kind: 'stored' };
  if (/^\d+$/.test(t)) return { kind: 'absolute', offset: Number(t) };
  if (/^-\d+$/.test(t)) return { kind: 'fromEnd', count: -Number(t) };
  throw new UsageError(`--offset must be beginning, end, stored, <n> or -<n>, got '${s}'`);
}

/** Turns the \n \t \r \\ escapes of a --format argument into characters. */
export function unescapeTemplate(s: string): string {
  return s.replace(/\\([ntr\\0])/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', '\\': '\\', '0': '\0' })[c]!);
}

export interface RecordContext {
  topic: string;
  partition: number;
}

const text = (b: Buffer | null, nullText = '') => (b === null ? nullText : b.toString('utf8'));

/**
 * Renders a record with a kcat-like template: %k key, %v or %s value, %K / %S
 * their sizes (-1 for null), %h headers as k=v,k=v, %T timestamp (ms), %o offset,
 * %p partition, %t topic, %% a literal percent. Escapes are expanded first.
 */
export function formatRecord(template: string, r: FetchedRecord, ctx: RecordContext): string {
  return unescapeTemplate(template).replace(/%(.)/g, (whole, c: string) => {
    switch (c) {
      case 'k':
        return text(r.key);
      case 'v':
      case 's':
        return text(r.value);
      case 'K':
        return String(r.key === null ? -1 : r.key.length);
      case 'S':
        return String(r.value === null ? -1 : r.value.length);
      case 'h':
        return r.headers.map((h) => `${h.key}=${text(h.value)}`).join(',');
      case 'T':
        return String(r.timestamp);
      case 'o':
        return String(r.offset);
      case 'p':
        return String(ctx.partition);
      case 't':
        return ctx.topic;
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}

/** One record as a JSON line (keys and values as UTF-8 text, null kept). */
export function recordJson(r: FetchedRecord, ctx: RecordContext): string {
  return JSON.stringify({
    topic: ctx.topic,
    partition: ctx.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key === null ? null : r.key.toString('utf8'),
    value: r.value === null ? null : r.value.toString('utf8'),
    headers: r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('utf8') })),
  });
}

/** Splits an input line into key and value at the first separator (no separator: null key). */
export function splitKeyValue(line: string, separator: string | undefined): { key: string | null; value: string } {
  if (!separator) return { key: null, value: line };
  const i = line.indexOf(separator);
  if (i < 0) return { key: null, value: line };
  return { key: line.slice(0, i), value: line.slice(i + separator.length) };
}
