/**
 * Topic-level configs: Kafka's definitions (type, default, validation) with
 * each one's broker synonyms, and the DescribeConfigs views built from them —
 * the effective value of every topic config, where it came from (topic
 * override, dynamic broker config, server.properties, default) and its
 * synonym chain; and the same view of the broker's own properties.
 */
import {
  type ConfigKind,
  type ConfigValue,
  type PropertyDef,
  type Validator,
  CONFIG_TYPE_OF,
  ConfigSource,
  LONG_MAX_TEXT,
  atLeast,
  between,
  checkValue,
  closestName,
  formatValue,
  listOf,
  oneOf,
} from './config-def.ts';
import { BROKER_PROPERTY_BY_NAME, BROKER_PROPERTY_DEFS } from './broker-defs.ts';
import { type BrokerConfig, ConfigError, withDynamicConfigs } from './broker-config.ts';

/** A broker property standing in for a topic config; `factor` converts its unit (hours -> ms). */
export interface BrokerSynonym {
  name: string;
  factor: number;
}

export interface TopicConfigDef extends PropertyDef {
  /** Broker properties that supply the value when the topic has no override, highest priority first. */
  synonyms: BrokerSynonym[];
  /** Accepted, stored and described, but without effect in Samsa (TOPIC_CONFIGS_WITHOUT_EFFECT). */
  ignored?: boolean;
}

export interface ConfigSynonymEntry {
  name: string;
  value: string | null;
  source: number;
}

/** One config as DescribeConfigs reports it. */
export interface DescribedConfig {
  name: string;
  value: string | null;
  /** ConfigSource code. */
  source: number;
  isSensitive: boolean;
  readOnly: boolean;
  /** The chain that produced the value, highest priority first (the first one is the value's origin). */
  synonyms: ConfigSynonymEntry[];
  /** ConfigType code. */
  configType: number;
  documentation: string | null;
}

/** Broker configs changed at runtime (AlterConfigs on the BROKER resource). */
export interface DynamicBrokerConfigs {
  /** Set for this broker (resource name = its node id). */
  perBroker?: ReadonlyMap<string, string>;
  /** Set cluster-wide (resource name ''). */
  clusterDefault?: ReadonlyMap<string, string>;
}

const H = 3_600_000;
const MIN = 60_000;
const COMPRESSION = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'];
const syn = (name: string, factor = 1): BrokerSynonym => ({ name, factor });
function t(
  name: string,
  kind: ConfigKind,
  dflt: string,
  synonyms: BrokerSynonym[],
  doc: string,
  validate?: Validator,
): TopicConfigDef {
  return { name, kind, default: dflt, synonyms, doc, validate };
}
const throttledReplicas: Validator = (v) => {
  if (!Array.isArray(v)) return null;
  if (v.length === 1 && v[0] === '*') return null;
  const bad = v.find((x) => !/^\d+:\d+$/.test(x));
  return bad === undefined ? null : `'${bad}' is not of the form partition:brokerId (or use *)`;
};

export const TOPIC_CONFIG_DEFS: TopicConfigDef[] = [
  t(
    'cleanup.policy',
    'list',
    'delete',
    [syn('log.cleanup.policy')],
    'delete removes old segments by time/size; compact keeps the latest record per key; both may be given.',
    listOf(['delete', 'compact']),
  ),
  t(
    'compression.type',
    'string',
    'producer',
    [syn('compression.type')],
    'Codec batches are stored with; producer keeps what the producer sent, uncompressed stores them plain.',
    oneOf(...COMPRESSION),
  ),
  t(
    'compression.gzip.level',
    'int',
    '-1',
    [syn('compression.gzip.level')],
    'gzip level when the broker recompresses.',
    (v) => (typeof v === 'number' && v !== -1 && (v < 1 || v > 9) ? 'must be -1 or between 1 and 9' : null),
  ),
  t(
    'compression.lz4.level',
    'int',
    '9',
    [syn('compression.lz4.level')],
    'lz4 level when the broker recompresses.',
    between(1, 17),
  ),
  t(
    'compression.zstd.level',
    'int',
    '3',
    [syn('compression.zstd.level')],
    'zstd level when the broker recompresses.',
    between(-131072, 22),
  ),
  t(
    'delete.retention.ms',
    'long',
    '86400000',
    [syn('log.cleaner.delete.retention.ms')],
    'How long a tombstone, or a transaction marker with nothing left of its transaction, stays readable in a compacted topic.',
    atLeast(0),
  ),
  t(
    'file.delete.delay.ms',
    'long',
    '60000',
    [syn('log.segment.delete.delay.ms')],
    'How long a deleted segment file lingers before it is removed.',
    atLeast(0),
  ),
  t(
    'flush.messages',
    'long',
    LONG_MAX_TEXT,
    [syn('log.flush.interval.messages')],
    'fsync once this many records are unflushed.',
    atLeast(1),
  ),
  t(
    'flush.ms',
    'long',
    LONG_MAX_TEXT,
    [syn('log.flush.interval.ms'), syn('log.flush.scheduler.interval.ms')],
    'fsync once the oldest unflushed record is this old.',
    atLeast(0),
  ),
  t(
    'follower.replication.throttled.replicas',
    'list',
    '',
    [],
    'Partitions whose followers outside the ISR fetch at most follower.replication.throttled.rate: partition:broker pairs (the broker being the follower) or *.',
    throttledReplicas,
  ),
  t(
    'index.interval.bytes',
    'int',
    '4096',
    [syn('log.index.interval.bytes')],
    'Bytes of log between two offset index entries.',
    atLeast(0),
  ),
  t(
    'leader.replication.throttled.replicas',
    'list',
    '',
    [],
    'Partitions whose leader answers followers outside the ISR at most leader.replication.throttled.rate: partition:broker pairs (the broker being the leader) or *.',
    throttledReplicas,
  ),
  t(
    'local.retention.bytes',
    'long',
    '-2',
    [syn('log.local.retention.bytes')],
    'Tiered storage: local size retention (-2: same as retention.bytes).',
    atLeast(-2),
  ),
  t(
    'local.retention.ms',
    'long',
    '-2',
    [syn('log.local.retention.ms')],
    'Tiered storage: local time retention (-2: same as retention.ms).',
    atLeast(-2),
  ),
  t(
    'max.compaction.lag.ms',
    'long',
    LONG_MAX_TEXT,
    [syn('log.cleaner.max.compaction.lag.ms')],
    'A record older than this gets its segment cleaned even below min.cleanable.dirty.ratio; a compacted log also rolls its active segment after this long.',
    atLeast(1),
  ),
  t(
    'max.message.bytes',
    'int',
    '1048588',
    [syn('message.max.bytes')],
    'Largest record batch accepted for this topic.',
    atLeast(0),
  ),
  t(
    'message.timestamp.after.max.ms',
    'long',
    '3600000',
    [syn('log.message.timestamp.after.max.ms')],
    'Reject CreateTime records more than this far in the future.',
    atLeast(0),
  ),
  t(
    'message.timestamp.before.max.ms',
    'long',
    LONG_MAX_TEXT,
    [syn('log.message.timestamp.before.max.ms')],
    'Reject CreateTime records more than this far in the past.',
    atLeast(0),
  ),
  t(
    'message.timestamp.type',
    'string',
    'CreateTime',
    [syn('log.message.timestamp.type')],
    'CreateTime keeps the producer timestamp; LogAppendTime stamps the broker time.',
    oneOf('CreateTime', 'LogAppendTime'),
  ),
  t(
    'min.cleanable.dirty.ratio',
    'double',
    '0.5',
    [syn('log.cleaner.min.cleanable.ratio')],
    'Compact once dirty bytes / total bytes exceed this ratio.',
    between(0, 1),
  ),
  t(
    'min.compaction.lag.ms',
    'long',
    '0',
    [syn('log.cleaner.min.compaction.lag.ms')],
    'Records younger than this are never compacted.',
    atLeast(0),
  ),
  t(
    'min.insync.replicas',
    'int',
    '1',
    [syn('min.insync.replicas')],
    'In-sync replicas needed for an acks=all produce to succeed.',
    atLeast(1),
  ),
  t('preallocate', 'boolean', 'false', [syn('log.preallocate')], 'Preallocate segment files.'),
  t(
    'remote.storage.enable',
    'boolean',
    'false',
    [],
    'Tiered storage for this topic (not supported by Samsa; only false is accepted).',
    (v) => (v === true ? 'tiered storage is not supported' : null),
  ),
  t(
    'retention.bytes',
    'long',
    '-1',
    [syn('log.retention.bytes')],
    'Delete the oldest segments while a partition is larger than this; -1 means no size limit.',
    atLeast(-1),
  ),
  t(
    'retention.ms',
    'long',
    '604800000',
    [syn('log.retention.ms'), syn('log.retention.minutes', MIN), syn('log.retention.hours', H)],
    'Delete segments older than this; -1 keeps them forever.',
    atLeast(-1),
  ),
  t(
    'segment.bytes',
    'int',
    '1073741824',
    [syn('log.segment.bytes')],
    'Roll a new segment before the active one would exceed this size.',
    atLeast(14),
  ),
  t(
    'segment.index.bytes',
    'int',
    '10485760',
    [syn('log.index.size.max.bytes')],
    'Most bytes of a segment offset or time index.',
    atLeast(4),
  ),
  t(
    'segment.jitter.ms',
    'long',
    '0',
    [syn('log.roll.jitter.ms'), syn('log.roll.jitter.hours', H)],
    'Random reduction of segment.ms, to spread segment rolls.',
    atLeast(0),
  ),
  t(
    'segment.ms',
    'long',
    '604800000',
    [syn('log.roll.ms'), syn('log.roll.hours', H)],
    'Roll a new segment once the active one is this old.',
    atLeast(1),
  ),
  t(
    'unclean.leader.election.enable',
    'boolean',
    'false',
    [syn('unclean.leader.election.enable')],
    'When no in-sync replica is live, elect a live replica outside the ISR (acknowledged records can be lost).',
  ),
];

/** Topic configs Samsa accepts, stores and describes but does not act on yet. */
const TOPIC_CONFIGS_WITHOUT_EFFECT = new Set([
  'compression.type',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.zstd.level',
  'local.retention.bytes',
  'local.retention.ms',
  'preallocate',
  'segment.jitter.ms',
]);
for (const def of TOPIC_CONFIG_DEFS) if (TOPIC_CONFIGS_WITHOUT_EFFECT.has(def.name)) def.ignored = true;

/** Broker properties that are the broker default of an enforced topic config: a runtime change reaches the logs at once. */
export const LIVE_BROKER_SYNONYMS: ReadonlySet<string> = new Set(
  TOPIC_CONFIG_DEFS.filter((d) => !d.ignored).flatMap((d) => d.synonyms.map((s) => s.name)),
);

export const TOPIC_CONFIG_BY_NAME: ReadonlyMap<string, TopicConfigDef> = new Map(
  TOPIC_CONFIG_DEFS.map((d) => [d.name, d]),
);

/** Checks one topic config; returns a one-line problem, or null when it is acceptable. */
export function validateTopicConfig(name: string, value: string | null): string | null {
  const def = TOPIC_CONFIG_BY_NAME.get(name);
  if (!def) {
    const hint = closestName(name, TOPIC_CONFIG_BY_NAME.keys());
    return `unknown topic config '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}`;
  }
  if (value === null) return `topic config '${name}' needs a value`;
  const r = checkValue(def, value);
  return 'problem' in r ? `invalid value '${value}' for topic config '${name}': ${r.problem}` : null;
}

/** Why a change of dynamic broker configs is refused; Kafka answers most of these with INVALID_REQUEST (KAFKA-13609). */
export interface BrokerConfigRefusal {
  error: 'INVALID_REQUEST' | 'INVALID_CONFIG';
  message: string;
}

/**
 * Checks AlterConfigs / IncrementalAlterConfigs on the BROKER resource as
 * Kafka does: unknown names are INVALID_CONFIG; read-only properties,
 * per-broker properties set as the cluster default (resource name ''),
 * invalid values and values Samsa cannot honour (security) are
 * INVALID_REQUEST. The values are checked together with the static and the
 * other dynamic ones, as at startup. `replace` (legacy AlterConfigs) drops
 * the resource's other dynamic configs.
 */
export function checkBrokerConfigChange(
  broker: BrokerConfig,
  dynamic: DynamicBrokerConfigs,
  resourceName: string,
  changes: Record<string, string | null>,
  replace: boolean,
): BrokerConfigRefusal | null {
  const names = Object.keys(changes);
  const unknown = names.find((n) => !BROKER_PROPERTY_BY_NAME.has(n));
  if (unknown !== undefined) {
    const hint = closestName(unknown, BROKER_PROPERTY_BY_NAME.keys());
    return {
      error: 'INVALID_CONFIG',
      message: `Unknown broker config '${unknown}'${hint ? ` (did you mean '${hint}'?)` : ''}`,
    };
  }
  const readOnly = names.filter((n) => BROKER_PROPERTY_BY_NAME.get(n)!.updateMode === 'read-only');
  if (readOnly.length)
    return { error: 'INVALID_REQUEST', message: `Cannot update these configs dynamically: ${readOnly.join(', ')}` };
  const clusterLevel = resourceName === '';
  const perBroker = names.filter((n) => BROKER_PROPERTY_BY_NAME.get(n)!.updateMode === 'per-broker');
  if (clusterLevel && perBroker.length) {
    return {
      error: 'INVALID_REQUEST',
      message: `Cannot update these configs at default cluster level, broker id must be specified: ${perBroker.join(', ')}`,
    };
  }
  const level = new Map(replace ? [] : ((clusterLevel ? dynamic.clusterDefault : dynamic.perBroker) ?? []));
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) level.delete(k);
    else level.set(k, v);
  }
  try {
    withDynamicConfigs(broker, clusterLevel ? { ...dynamic, clusterDefault: level } : { ...dynamic, perBroker: level });
  } catch (err) {
    if (err instanceof ConfigError) return { error: 'INVALID_REQUEST', message: err.message };
    throw err;
  }
  return null;
}

/** Topic or broker configs whose value is a comma-separated list (the ones APPEND/SUBTRACT work on). */
export function isListConfig(name: string): boolean {
  return (TOPIC_CONFIG_BY_NAME.get(name) ?? BROKER_PROPERTY_BY_NAME.get(name))?.kind === 'list';
}

export function isDynamicBrokerConfig(name: string): boolean {
  return BROKER_PROPERTY_BY_NAME.get(name)?.dynamic === true;
}

/** The configs set as the cluster default (DescribeConfigs on broker resource ''), as Kafka lists them: only those. */
export function describeClusterDefaultConfigs(dynamic: DynamicBrokerConfigs = {}): DescribedConfig[] {
  const out: DescribedConfig[] = [];
  for (const [name, text] of dynamic.clusterDefault ?? []) {
    const def = BROKER_PROPERTY_BY_NAME.get(name);
    if (!def) continue;
    const value = def.sensitive ? null : canonical(def.kind, text);
    out.push({
      name,
      value,
      source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
      isSensitive: def.sensitive === true,
      readOnly: false,
      synonyms: [{ name, value, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG }],
      configType: CONFIG_TYPE_OF[def.kind],
      documentation: def.doc,
    });
  }
  return out;
}

/** Normalises a value to the text DescribeConfigs shows (e.g. Long.MAX spelled out, list spacing removed). */
function canonical(kind: ConfigKind, text: string): string {
  const r = checkValue({ name: '', kind, default: null, doc: '' }, text);
  return 'value' in r ? formatValue(kind, r.value) : text;
}

/** Every source of one broker property, highest priority first. */
function brokerSources(name: string, broker: BrokerConfig, dyn: DynamicBrokerConfigs): ConfigSynonymEntry[] {
  const def = BROKER_PROPERTY_BY_NAME.get(name);
  const out: ConfigSynonymEntry[] = [];
  const pb = dyn.perBroker?.get(name);
  if (pb !== undefined) out.push({ name, value: pb, source: ConfigSource.DYNAMIC_BROKER_CONFIG });
  const cd = dyn.clusterDefault?.get(name);
  if (cd !== undefined) out.push({ name, value: cd, source: ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG });
  const st = broker.raw.get(name);
  if (st !== undefined) out.push({ name, value: st.trim(), source: ConfigSource.STATIC_BROKER_CONFIG });
  if (def && def.default !== null) out.push({ name, value: def.default, source: ConfigSource.DEFAULT_CONFIG });
  return out;
}

function scaled(def: TopicConfigDef, s: ConfigSynonymEntry, factor: number): string | null {
  if (s.value === null) return null;
  const text = canonical(def.kind, s.value);
  if (factor === 1) return text;
  const n = Number(text);
  return n < 0 ? '-1' : String(Math.min(n * factor, Number.MAX_SAFE_INTEGER));
}

/** One topic config described: the override if any, else the first broker synonym that is set, else the default. */
function describeTopicConfig(
  def: TopicConfigDef,
  overrides: Record<string, string>,
  broker: BrokerConfig,
  dyn: DynamicBrokerConfigs,
): DescribedConfig {
  const synonyms: ConfigSynonymEntry[] = [];
  let value: string | null = null;
  let source: number = ConfigSource.DEFAULT_CONFIG;
  let found = false;
  if (Object.hasOwn(overrides, def.name)) {
    const v = canonical(def.kind, overrides[def.name]);
    synonyms.push({ name: def.name, value: v, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    value = v;
    source = ConfigSource.DYNAMIC_TOPIC_CONFIG;
    found = true;
  }
  for (const s of def.synonyms) {
    for (const entry of brokerSources(s.name, broker, dyn)) {
      synonyms.push(entry);
      if (!found) {
        value = scaled(def, entry, s.factor);
        source = entry.source;
        found = true;
      }
    }
  }
  if (!found) value = def.default;
  return {
    name: def.name,
    value,
    source,
    isSensitive: false,
    readOnly: false,
    synonyms,
    configType: CONFIG_TYPE_OF[def.kind],
    documentation: def.doc,
  };
}

/**
 * Every topic config for a topic with the given overrides: effective value,
 * source and synonyms. Overrides not in the table are left out.
 */
export function resolveTopicConfigs(
  topicOverrides: Record<string, string> | ReadonlyMap<string, string>,
  broker: BrokerConfig,
  dynamic: DynamicBrokerConfigs = {},
): DescribedConfig[] {
  const overrides =
    topicOverrides instanceof Map ? Object.fromEntries(topicOverrides) : (topicOverrides as Record<string, string>);
  return TOPIC_CONFIG_DEFS.map((def) => describeTopicConfig(def, overrides, broker, dynamic));
}

/** The effective topic config values as name -> text (what the log layer needs). */
export function effectiveTopicConfigs(
  topicOverrides: Record<string, string> | ReadonlyMap<string, string>,
  broker: BrokerConfig,
  dynamic: DynamicBrokerConfigs = {},
): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of resolveTopicConfigs(topicOverrides, broker, dynamic)) if (c.value !== null) out.set(c.name, c.value);
  return out;
}

/** The broker's own properties as DescribeConfigs on the BROKER resource reports them. */
export function describeBrokerConfigs(broker: BrokerConfig, dynamic: DynamicBrokerConfigs = {}): DescribedConfig[] {
  return BROKER_PROPERTY_DEFS.map((def) => {
    const synonyms = brokerSources(def.name, broker, dynamic).map((e) => (def.sensitive ? { ...e, value: null } : e));
    const first = synonyms[0];
    const value = first ? (first.value === null ? null : canonical(def.kind, first.value)) : null;
    return {
      name: def.name,
      value: def.sensitive ? null : value,
      source: first ? first.source : ConfigSource.DEFAULT_CONFIG,
      isSensitive: def.sensitive === true,
      readOnly: def.dynamic !== true,
      synonyms,
      configType: CONFIG_TYPE_OF[def.kind],
      documentation: def.doc,
    };
  });
}

export type { ConfigValue };
