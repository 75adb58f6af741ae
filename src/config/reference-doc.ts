/**
 * Renders the configuration reference (docs/configuration.md) from the
 * property tables themselves, so the document cannot drift from what the
 * config loader accepts. `npm run docs:config` rewrites the file; a unit
 * test checks it is current.
 */
import { BROKER_PROPERTY_DEFS } from './broker-defs.ts';
import { TOPIC_CONFIG_DEFS } from './topic-config.ts';

function cell(text: string | null): string {
  if (text === null) return '(none)';
  if (text === '') return '""';
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function doc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderConfigReference(): string {
  const out: string[] = [];
  out.push('# Configuration reference');
  out.push('');
  out.push('Generated from `src/config/broker-defs.ts` and `src/config/topic-config.ts` by');
  out.push('`npm run docs:config`; do not edit by hand.');
  out.push('');
  out.push('Broker properties are read from a `server.properties`-style file');
  out.push('(`samsa start --config FILE`) and from `--override key=value`; an unknown or');
  out.push('invalid property stops startup with one line naming it. Properties marked');
  out.push('*dynamic* can also be changed at runtime with AlterConfigs /');
  out.push('IncrementalAlterConfigs on the broker resource. Properties marked *ignored* are');
  out.push('accepted so that existing Kafka files load, but have no effect in Samsa.');
  out.push('');
  out.push('## Broker properties');
  out.push('');
  out.push('| property | type | default | notes | description |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const d of [...BROKER_PROPERTY_DEFS].sort((a, b) => a.name.localeCompare(b.name))) {
    const notes = [d.dynamic ? 'dynamic' : '', d.ignored ? 'ignored' : '', d.sensitive ? 'sensitive' : ''].filter(Boolean).join(', ');
    out.push(`| \`${d.name}\` | ${d.kind} | ${cell(d.default)} | ${notes} | ${doc(d.doc)} |`);
  }
  out.push('');
  out.push('## Topic configs');
  out.push('');
  out.push('Set per topic at creation (`samsa topic create --config k=v`, CreateTopics) or later');
  out.push('(`samsa topic alter-config`, IncrementalAlterConfigs). Without an override a topic');
  out.push('takes the value of the first broker property listed as its synonym, then the default.');
  out.push('');
  out.push('| config | type | default | broker synonyms | description |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const d of [...TOPIC_CONFIG_DEFS].sort((a, b) => a.name.localeCompare(b.name))) {
    const syn = d.synonyms.map((s) => `\`${s.name}\``).join(', ');
    out.push(`| \`${d.name}\` | ${d.kind} | ${cell(d.default)} | ${syn} | ${doc(d.doc)} |`);
  }
  out.push('');
  return out.join('\n');
}
