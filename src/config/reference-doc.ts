/**
 * Renders the configuration reference (docs/configuration.md) from the
 * property tables themselves, so the document cannot drift from what the
 * config loader accepts and enforces. `npm run docs:config` rewrites the
 * file; a unit test checks it is current.
 */
import { type BrokerPropertyDef, BROKER_PROPERTY_DEFS } from './broker-defs.ts';
import { LIVE_BROKER_SYNONYMS, TOPIC_CONFIG_DEFS } from './topic-config.ts';

function cell(text: string | null): string {
  if (text === null) return '(none)';
  if (text === '') return '""';
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function doc(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** What Samsa does with a broker property, in the words of the reference's "effect" column. */
export function brokerPropertyEffect(d: BrokerPropertyDef): string {
  if (d.refuse) return `refused unless ${d.accepts ?? 'unset'}${d.ignored ? ' (then no effect)' : ''}`;
  if (d.ignored) return d.dynamic ? 'stored only (dynamic, nothing to reconfigure)' : 'ignored (no effect)';
  if (!d.dynamic) return 'enforced';
  return d.live || LIVE_BROKER_SYNONYMS.has(d.name)
    ? 'enforced; runtime changes apply at once'
    : 'enforced; runtime changes apply from the next start';
}

export function renderConfigReference(): string {
  const out: string[] = [];
  out.push('# Configuration reference');
  out.push('');
  out.push('Generated from `src/config/broker-defs.ts`, `src/config/update-modes.ts` and');
  out.push('`src/config/topic-config.ts` by `npm run docs:config`; do not edit by hand.');
  out.push('');
  out.push('Broker properties are read from a `server.properties`-style file');
  out.push('(`samsa start --config FILE`) and from `--override key=value`; an unknown or');
  out.push('invalid property stops startup with one line naming it.');
  out.push('');
  out.push('The *effect* column says what Samsa does with a property:');
  out.push('');
  out.push('- **enforced**: Samsa acts on the value.');
  out.push('- **ignored (no effect)**: accepted so that existing Kafka files load, but');
  out.push('  Samsa does nothing with it. The ignored properties that are set are listed');
  out.push('  in one warning at startup.');
  out.push('- **stored only (dynamic, nothing to reconfigure)**: as ignored, and it can also');
  out.push('  be changed at runtime: the value is checked, stored in the metadata log and');
  out.push('  shown by DescribeConfigs, and changes nothing.');
  out.push('- **refused unless ...**: the property promises something Samsa does not');
  out.push('  provide yet (ACLs, refusing DeleteTopics). Any other value stops startup');
  out.push('  with one line naming the property, and AlterConfigs refuses it. The accepted');
  out.push('  values have no effect. The same holds for every `ssl.*` and `sasl.*` property');
  out.push('  not listed here (also behind a `listener.name.<listener>.` prefix) and for');
  out.push('  `principal.builder.class`. Listeners may be PLAINTEXT, SSL, SASL_PLAINTEXT');
  out.push('  and SASL_SSL (docs/security.md).');
  out.push('');
  out.push("The *update mode* column is Kafka's: a `per-broker` property can be changed at");
  out.push('runtime with AlterConfigs / IncrementalAlterConfigs on the broker resource named');
  out.push('by the broker id (`1`), a `cluster-wide` one also as the cluster default');
  out.push('(resource name `""`); `read-only` ones cannot be changed at runtime');
  out.push('(INVALID_REQUEST, as in Kafka). Runtime values are stored in the metadata log,');
  out.push('survive restarts and take precedence over the file (per broker, then the cluster');
  out.push('default). For an enforced property, a runtime change applies at once where the');
  out.push('effect column says so (the broker defaults of topic configs); otherwise the');
  out.push('broker keeps the value it started with until the next start.');
  out.push('');
  out.push('## Broker properties');
  out.push('');
  out.push('| property | type | default | effect | update mode | description |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const d of [...BROKER_PROPERTY_DEFS].sort((a, b) => a.name.localeCompare(b.name))) {
    const effect = brokerPropertyEffect(d) + (d.sensitive ? '; sensitive (never shown)' : '');
    out.push(`| \`${d.name}\` | ${d.kind} | ${cell(d.default)} | ${effect} | ${d.updateMode} | ${doc(d.doc)} |`);
  }
  out.push('');
  out.push('## Topic configs');
  out.push('');
  out.push('Set per topic at creation (`samsa topic create --config k=v`, CreateTopics) or later');
  out.push('(`samsa topic alter-config`, IncrementalAlterConfigs). Without an override a topic');
  out.push('takes the value of the first broker property listed as its synonym, then the default.');
  out.push("A change applies to the topic's partitions at once. Configs marked *ignored* are");
  out.push('accepted, stored and described, but Samsa does not act on them.');
  out.push('');
  out.push('| config | type | default | effect | broker synonyms | description |');
  out.push('| --- | --- | --- | --- | --- | --- |');
  for (const d of [...TOPIC_CONFIG_DEFS].sort((a, b) => a.name.localeCompare(b.name))) {
    const syn = d.synonyms.map((s) => `\`${s.name}\``).join(', ');
    out.push(
      `| \`${d.name}\` | ${d.kind} | ${cell(d.default)} | ${d.ignored ? 'ignored (no effect)' : 'enforced'} | ${syn} | ${doc(d.doc)} |`,
    );
  }
  out.push('');
  return out.join('\n');
}
