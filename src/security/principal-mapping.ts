/**
 * The principal of a TLS client: its certificate's subject as a
 * distinguished name in RFC 2253 form (as Java's X500Principal.getName()
 * writes it, which is what Kafka maps), then through
 * `ssl.principal.mapping.rules`.
 *
 * RFC 2253: the RDNs in reverse order of the certificate (CN first for the
 * usual subject), separated by ','; the attributes of a multi-valued RDN
 * joined by '+'; the keywords CN, C, L, ST, O, OU, STREET, DC, UID for their
 * types, any other type as its dotted OID with the value as '#' + the hex of
 * its DER encoding; in string values, ',', '+', '"', '\', '<', '>', ';' and a
 * leading '#' or a leading or trailing space are escaped with '\'.
 *
 * Rules (Kafka's syntax): a comma-separated list of `DEFAULT` (the DN as it
 * is) and `RULE:pattern/replacement/` with an optional `L` or `U` (lower or
 * upper case the result); '/' inside a pattern or replacement is escaped as
 * '\/'. The first rule whose pattern matches the whole DN gives the name
 * (replacement with $1... groups); a DN that no rule matches cannot be
 * mapped, and its connection fails authentication.
 */

/** A DER element: tag, where its contents start, and where it ends. */
interface Der {
  tag: number;
  start: number;
  end: number;
  /** Offset of the tag byte (the whole element is bytes[header..end]). */
  header: number;
}

function readDer(buf: Uint8Array, at: number, limit: number): Der {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = buf[at];
  let len = buf[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > limit) throw new Error('DER element overruns its container');
  return { tag, start: p, end: p + len, header: at };
}

function children(buf: Uint8Array, parent: Der): Der[] {
  const out: Der[] = [];
  for (let p = parent.start; p < parent.end; ) {
    const c = readDer(buf, p, parent.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

function oidText(buf: Uint8Array, d: Der): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = d.start; i < d.end; i++) {
    v = v * 128 + (buf[i] & 0x7f);
    if (!(buf[i] & 0x80)) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else {
        parts.push(v);
      }
      v = 0;
    }
  }
  return parts.join('.');
}

/** RFC 2253's keywords (the only ones Java's RFC 2253 form uses). */
const KEYWORDS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

const UTF8 = 0x0c;
const PRINTABLE = 0x13;
const T61 = 0x14;
const IA5 = 0x16;
const UNIVERSAL = 0x1c;
const BMP = 0x1e;

function stringValue(buf: Uint8Array, d: Der): string | null {
  const bytes = Buffer.from(buf.buffer, buf.byteOffset + d.start, d.end - d.start);
  switch (d.tag) {
    case UTF8:
      return bytes.toString('utf8');
    case PRINTABLE:
    case IA5:
    case T61:
      return bytes.toString('latin1');
    case BMP: {
      let s = '';
      for (let i = 0; i + 1 < bytes.length; i += 2) s += String.fromCharCode(bytes.readUInt16BE(i));
      return s;
    }
    case UNIVERSAL: {
      let s = '';
      for (let i = 0; i + 3 < bytes.length; i += 4) s += String.fromCodePoint(bytes.readUInt32BE(i));
      return s;
    }
    default:
      return null;
  }
}

/** Escapes an attribute value as RFC 2253 requires. */
export function escapeDnValue(v: string): string {
  let out = v.replace(/[,+"\\<>;]/g, (c) => `\\${c}`);
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Formats a DER-encoded X.501 Name (the SEQUENCE) as an RFC 2253 string. */
export function formatName(der: Uint8Array, name: Der = readDer(der, 0, der.length)): string {
  const rdns: string[] = [];
  for (const set of children(der, name)) {
    const avas: string[] = [];
    for (const ava of children(der, set)) {
      const [type, value] = children(der, ava);
      if (!type || !value) throw new Error('bad AttributeTypeAndValue');
      const oid = oidText(der, type);
      const keyword = KEYWORDS[oid];
      const text = keyword ? stringValue(der, value) : null;
      if (keyword && text !== null) avas.push(`${keyword}=${escapeDnValue(text)}`);
      else avas.push(`${oid}=#${Buffer.from(der.subarray(value.header, value.end)).toString('hex')}`);
    }
    rdns.push(avas.join('+'));
  }
  return rdns.reverse().join(',');
}

/** The subject of a DER-encoded X.509 certificate, in RFC 2253 form. */
export function certificateSubject(cert: Uint8Array): string {
  const top = readDer(cert, 0, cert.length);
  const [tbs] = children(cert, top);
  if (!tbs) throw new Error('bad certificate');
  const fields = children(cert, tbs);
  // version [0] is optional; then serialNumber, signature, issuer, validity, subject
  const i = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[i + 4];
  if (subject?.tag !== 0x30) throw new Error('certificate has no subject');
  return formatName(cert, subject);
}

interface Rule {
  isDefault: boolean;
  pattern?: RegExp;
  replacement?: string;
  toLower?: boolean;
  toUpper?: boolean;
}

export class NoMatchingRule extends Error {
  override name = 'NoMatchingRule';
}

/** Reads up to the next unescaped '/', from `at`; returns the text (escapes of '/' undone) and where the '/' is. */
function untilSlash(text: string, at: number): { value: string; end: number } | null {
  let out = '';
  for (let i = at; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      out += text[i + 1] === '/' ? '/' : c + text[i + 1];
      i++;
    } else if (c === '/') {
      return { value: out, end: i };
    } else {
      out += c;
    }
  }
  return null;
}

/** Parses ssl.principal.mapping.rules; throws Error with what is wrong. */
export function parseRules(text: string): Rule[] {
  const rules: Rule[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  skipSpace();
  if (i === text.length) return [{ isDefault: true }];
  while (i < text.length) {
    skipSpace();
    if (text.startsWith('DEFAULT', i)) {
      rules.push({ isDefault: true });
      i += 'DEFAULT'.length;
    } else if (text.startsWith('RULE:', i)) {
      const pat = untilSlash(text, i + 5);
      if (!pat) throw new Error(`rule at ${i} has no '/' after its pattern`);
      const rep = untilSlash(text, pat.end + 1);
      if (!rep) throw new Error(`rule at ${i} has no '/' after its replacement`);
      i = rep.end + 1;
      let toLower = false;
      let toUpper = false;
      if (text[i] === 'L') {
        toLower = true;
        i++;
      } else if (text[i] === 'U') {
        toUpper = true;
        i++;
      }
      let pattern: RegExp;
      try {
        pattern = new RegExp(pat.value);
      } catch (err) {
        throw new Error(`invalid pattern '${pat.value}': ${(err as Error).message}`);
      }
      rules.push({ isDefault: false, pattern, replacement: rep.value, toLower, toUpper });
    } else {
      throw new Error(`'${text.slice(i)}' is not DEFAULT or RULE:pattern/replacement/[LU]`);
    }
    skipSpace();
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected ',' at '${text.slice(i)}'`);
      i++;
      skipSpace();
      if (i === text.length) throw new Error('a rule is missing after the last comma');
    }
  }
  return rules;
}

export class PrincipalMapper {
  private constructor(private readonly rules: Rule[]) {}

  static fromRules(text: string): PrincipalMapper {
    return new PrincipalMapper(parseRules(text));
  }

  /** The principal name for a DN; throws NoMatchingRule when no rule matches. */
  name(dn: string): string {
    for (const r of this.rules) {
      if (r.isDefault) return dn;
      const whole = new RegExp(`^(?:${r.pattern!.source})$`, r.pattern!.flags);
      if (!whole.test(dn)) continue;
      let out = dn.replace(new RegExp(r.pattern!.source, 'g'), r.replacement!);
      if (r.toLower) out = out.toLowerCase();
      else if (r.toUpper) out = out.toUpperCase();
      return out;
    }
    throw new NoMatchingRule(`no rule of ssl.principal.mapping.rules matches '${dn}'`);
  }
}
