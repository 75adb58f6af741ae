/**
 * Java `.properties` text -> ordered key/value pairs: `#`/`!` comments,
 * `key=value`, `key: value` and `key value` separators, backslash line
 * continuations and the escapes (`\t \n \r \f \uXXXX`, `\x` -> `x`).
 */

/** One key/value pair and the 1-based line it started on (for error messages). */
export interface PropertyEntry {
  key: string;
  value: string;
  line: number;
}

const WS = new Set([' ', '\t', '\f']);

/** Joins continued lines into logical lines, remembering where each began. */
function logicalLines(text: string): { text: string; line: number }[] {
  const physical = text.split(/\r\n|\r|\n/);
  const out: { text: string; line: number }[] = [];
  let i = 0;
  while (i < physical.length) {
    const start = i;
    let cur = stripLeading(physical[i]);
    if (cur === '' || cur[0] === '#' || cur[0] === '!') {
      i++;
      continue;
    }
    // A line continues when it ends in an odd number of backslashes.
    while (endsWithOddBackslashes(cur) && i + 1 < physical.length) {
      cur = cur.slice(0, -1) + stripLeading(physical[++i]);
    }
    if (endsWithOddBackslashes(cur)) cur = cur.slice(0, -1);
    out.push({ text: cur, line: start + 1 });
    i++;
  }
  return out;
}

function stripLeading(s: string): string {
  let k = 0;
  while (k < s.length && WS.has(s[k])) k++;
  return s.slice(k);
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let k = s.length - 1; k >= 0 && s[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

function unescapeText(s: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++k];
    if (n === undefined) break;
    if (n === 't') out += '\t';
    else if (n === 'n') out += '\n';
    else if (n === 'r') out += '\r';
    else if (n === 'f') out += '\f';
    else if (n === 'u') {
      const hex = s.slice(k + 1, k + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new Error(`line ${line}: malformed \\uXXXX escape`);
      out += String.fromCharCode(parseInt(hex, 16));
      k += 4;
    } else out += n;
  }
  return out;
}

/** Parses properties text; a later duplicate key replaces an earlier one (as java.util.Properties does). */
export function parseProperties(text: string): PropertyEntry[] {
  const byKey = new Map<string, PropertyEntry>();
  for (const { text: l, line } of logicalLines(text)) {
    // The key ends at the first unescaped '=', ':' or whitespace.
    let k = 0;
    while (k < l.length) {
      const c = l[k];
      if (c === '\\') {
        k += 2;
        continue;
      }
      if (c === '=' || c === ':' || WS.has(c)) break;
      k++;
    }
    const rawKey = l.slice(0, Math.min(k, l.length));
    let v = k;
    while (v < l.length && WS.has(l[v])) v++;
    if (v < l.length && (l[v] === '=' || l[v] === ':')) v++;
    while (v < l.length && WS.has(l[v])) v++;
    const key = unescapeText(rawKey, line);
    byKey.delete(key);
    byKey.set(key, { key, value: unescapeText(l.slice(v), line), line });
  }
  return [...byKey.values()];
}
