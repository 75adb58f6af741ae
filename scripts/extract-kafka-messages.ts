/**
 * Extracts the facts of Apache Kafka's message definitions that Samsa's
 * declarations must agree with (names, types, versions, nullable, flexible
 * and tagged versions, defaults) into test/fixtures/kafka-messages/messages.json,
 * for the APIs and records Samsa declares. The CI machine cannot reach
 * GitHub, so the extract is committed.
 *
 *   node --import tsx scripts/extract-kafka-messages.ts <kafka-checkout> <kafka-version-label>
 *
 * reads <kafka-checkout>/clients/src/main/resources/common/message/*.json and
 * <kafka-checkout>/group-coordinator/src/main/resources/common/message/*.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ALL_API_SPECS } from '../src/protocol/messages/index.ts';
import { RECORD_SPECS } from '../src/protocol/typegen-sources.ts';

const [root, label] = process.argv.slice(2);
if (!root || !label) {
  console.error('usage: extract-kafka-messages.ts <kafka-checkout> <kafka-version-label>');
  process.exit(2);
}

/** Kafka's JSON files carry // comments; strips them outside strings. */
function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else out += c;
  }
  return out;
}

const KEEP_FIELD = ['name', 'type', 'versions', 'nullableVersions', 'taggedVersions', 'tag', 'default'];

interface RawField {
  [k: string]: unknown;
  fields?: RawField[];
}

function field(f: RawField): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of KEEP_FIELD) if (f[k] !== undefined) o[k] = f[k];
  if (f.fields) o.fields = f.fields.map(field);
  return o;
}

function load(name: string): Record<string, unknown> {
  const dirs = ['clients/src/main/resources/common/message', 'group-coordinator/src/main/resources/common/message'];
  for (const d of dirs) {
    const p = path.join(root, d, `${name}.json`);
    if (!fs.existsSync(p)) continue;
    const m = JSON.parse(stripComments(fs.readFileSync(p, 'utf8')));
    const out: Record<string, unknown> = {
      name: m.name,
      type: m.type,
      apiKey: m.apiKey,
      validVersions: m.validVersions,
      flexibleVersions: m.flexibleVersions,
      fields: m.fields.map(field),
    };
    if (m.commonStructs) {
      out.commonStructs = m.commonStructs.map((s: RawField) => ({
        name: s.name,
        versions: s.versions,
        fields: (s.fields ?? []).map(field),
      }));
    }
    return out;
  }
  throw new Error(`${name}.json not found under ${root}`);
}

const names = [...ALL_API_SPECS.flatMap((a) => [a.request.name, a.response.name]), ...RECORD_SPECS.map((s) => s.name)];
const messages: Record<string, unknown> = {};
for (const n of names.sort()) messages[n] = load(n);
const file = path.resolve(import.meta.dirname, '../test/fixtures/kafka-messages/messages.json');
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(file, `${JSON.stringify({ source: `Apache Kafka ${label}`, messages }, null, 1)}\n`);
console.log(`wrote ${Object.keys(messages).length} messages to ${path.relative(process.cwd(), file)}`);
