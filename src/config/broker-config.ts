/**
 * BrokerConfig and its loader: a Java-properties file plus `key=value`
 * overrides, checked against the broker property table, turned into typed
 * camelCase fields (Kafka's precedence rules applied, e.g. log.retention.ms
 * over .minutes over .hours). Any problem is a ConfigError with a one-line
 * message naming the property.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseProperties } from './properties.ts';
import { type ConfigValue, checkValue, closestName, parseValue } from './config-def.ts';
import {
  type BrokerPropertyDef,
  BROKER_PROPERTY_BY_NAME,
  BROKER_PROPERTY_DEFS,
  IGNORED_PREFIXES,
  mechanismPropertyDef,
  parseConnectionOverrides,
  securityRefusal,
} from './broker-defs.ts';
import { type DynamicBrokerConfigs, TOPIC_CONFIG_BY_NAME } from './topic-config.ts';
import { type TlsSettings, TlsConfigError, buildContext, tlsSettings } from '../security/tls.ts';
import { parseRules } from '../security/principal-mapping.ts';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The security protocols of listener.security.protocol.map (parseListener says which Samsa can open). */
export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';

export interface Listener {
  /** Listener name, upper case (PLAINTEXT, INTERNAL, ...). */
  name: string;
  /** Host to bind / advertise; '0.0.0.0' when the address left it empty. IPv6 without brackets. */
  host: string;
  /** 0 = pick a free port. */
  port: number;
  securityProtocol: SecurityProtocol;
}

export type CleanupPolicyItem = 'delete' | 'compact';

/** One voter of the metadata quorum (controller.quorum.voters): its node id and CONTROLLER listener address. */
export interface QuorumVoter {
  id: number;
  host: string;
  port: number;
}

export interface BrokerConfig {
  nodeId: number;
  clusterId: string | null;
  /** process.roles: whether this node serves clients and hosts partitions (broker), and whether it is a voter of the metadata quorum (controller). */
  roles: { broker: boolean; controller: boolean };
  /** The client listeners (controller listeners left out): at least one on a broker, none on a controller-only node. */
  listeners: Listener[];
  /** The client listener brokers use between them (inter.broker.listener.name / security.inter.broker.protocol); null on a controller-only node. */
  interBrokerListenerName: string | null;
  /** The ssl.* settings (listener.name.<name>.ssl.* applied) of each TLS listener (SSL, SASL_SSL), by listener name. */
  listenerTls: Map<string, TlsSettings>;
  /** The ssl.* settings of the controller listener when it is SSL (every node's connections to the voters use them), else null. */
  controllerTls: TlsSettings | null;
  /** advertised.listeners, or the listeners when not set. */
  advertisedListeners: Listener[];
  controllerListenerNames: string[];
  /** The listener of the first of controller.listener.names found in listeners (opened by a voter), or null. */
  controllerListener: Listener | null;
  /** controller.quorum.voters; empty: this node alone is the quorum, without network. */
  quorumVoters: QuorumVoter[];
  /** controller.quorum.bootstrap.servers. */
  quorumBootstrapServers: { host: string; port: number }[];
  quorumElectionTimeoutMs: number;
  quorumFetchTimeoutMs: number;
  quorumElectionBackoffMaxMs: number;
  brokerHeartbeatIntervalMs: number;
  brokerSessionTimeoutMs: number;
  /** broker.rack, or null. */
  brokerRack: string | null;
  /** replica.selector.class, or null (the leader serves consumers). */
  replicaSelectorClass: string | null;
  /** Absolute paths, at least one, no duplicates. */
  logDirs: string[];
  numPartitions: number;
  defaultReplicationFactor: number;
  autoCreateTopicsEnable: boolean;
  /** samsa.max.partitions: partitions hosted by this broker (Samsa extension). */
  maxPartitions: number;
  /** metadata.log.dir: where the metadata log lives (null: the first log dir). */
  metadataLogDir: string | null;
  /** metadata.log.max.record.bytes.between.snapshots */
  metadataLogMaxRecordBytesBetweenSnapshots: number;
  /** samsa.max.topics: topics in the cluster (Samsa extension). */
  maxTopics: number;
  deleteTopicEnable: boolean;
  /** ACLs on (authorizer.class.name is the StandardAuthorizer). */
  authorizerEnabled: boolean;
  /** super.users, as principal strings (User:admin). */
  superUsers: string[];
  allowEveryoneIfNoAclFound: boolean;
  /** -1 = keep forever. */
  logRetentionMs: number;
  logRetentionBytes: number;
  logRetentionCheckIntervalMs: number;
  logSegmentBytes: number;
  /** From log.roll.ms / log.roll.hours. */
  logSegmentMs: number;
  logSegmentJitterMs: number;
  logIndexSizeMaxBytes: number;
  logIndexIntervalBytes: number;
  /** Number.MAX_SAFE_INTEGER stands for Kafka's Long.MAX_VALUE ("never"). */
  logFlushIntervalMessages: number;
  /** null = log.flush.interval.ms not set (Kafka then uses log.flush.scheduler.interval.ms). */
  logFlushIntervalMs: number | null;
  logFlushSchedulerIntervalMs: number;
  logCleanupPolicy: CleanupPolicyItem[];
  logCleanerEnable: boolean;
  logCleanerBackoffMs: number;
  logCleanerDeleteRetentionMs: number;
  logCleanerMinCompactionLagMs: number;
  logCleanerMaxCompactionLagMs: number;
  logCleanerMinCleanableRatio: number;
  logSegmentDeleteDelayMs: number;
  logPreallocate: boolean;
  logMessageTimestampType: 'CreateTime' | 'LogAppendTime';
  logMessageTimestampBeforeMaxMs: number;
  logMessageTimestampAfterMaxMs: number;
  messageMaxBytes: number;
  compressionType: 'uncompressed' | 'zstd' | 'lz4' | 'snappy' | 'gzip' | 'producer';
  minInsyncReplicas: number;
  uncleanLeaderElectionEnable: boolean;
  autoLeaderRebalanceEnable: boolean;
  leaderImbalanceCheckIntervalSeconds: number;
  leaderImbalancePerBrokerPercentage: number;
  socketRequestMaxBytes: number;
  connectionsMaxIdleMs: number;
  /**
   * max.connections. Kafka's default is Int.MAX; when it is not set Samsa uses
   * min(open-file soft limit - 64, 10000) so that accepting connections never
   * starves the log files of descriptors. An explicit value is used as given.
   */
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides: host (name or address) -> limit. */
  maxConnectionsPerIpOverrides: Map<string, number>;
  maxConnectionCreationRate: number;
  queuedMaxRequests: number;
  /**
   * queued.max.request.bytes; -1 = unbounded. Kafka's default is -1; when it
   * is not set Samsa uses min(256 MiB, a quarter of the memory).
   */
  queuedMaxRequestBytes: number;
  /** samsa.request.read.timeout.ms (0 = none). */
  requestReadTimeoutMs: number;
  fetchMaxBytes: number;
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  groupMaxSize: number;
  groupConsumerHeartbeatIntervalMs: number;
  groupConsumerSessionTimeoutMs: number;
  offsetsTopicNumPartitions: number;
  /** As set (default 3): __consumer_offsets is created with it, capped by the live brokers then. */
  offsetsTopicReplicationFactor: number;
  /** How long a write to __consumer_offsets waits for the ISR and the fsync. */
  offsetsCommitTimeoutMs: number;
  offsetsTopicSegmentBytes: number;
  offsetsRetentionMinutes: number;
  /** offsets.retention.minutes in ms. */
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  transactionStateLogNumPartitions: number;
  transactionStateLogReplicationFactor: number;
  transactionStateLogMinIsr: number;
  transactionMaxTimeoutMs: number;
  transactionalIdExpirationMs: number;
  producerIdExpirationMs: number;
  /** Every property that was set (file, then overrides), as text. */
  raw: Map<string, string>;
  /** Properties that were set but have no effect in Samsa (listed in one log line at startup). */
  ignored: string[];
}

export interface LoadBrokerConfigOptions {
  /** Path of a server.properties file. */
  file?: string;
  /** Applied after the file: an object, or 'key=value' strings (as from --override). */
  overrides?: Record<string, string> | string[];
  /** Directory relative log dirs are resolved against (default process.cwd()). */
  cwd?: string;
  /** Open-file soft limit used to cap max.connections (default: read from the OS). */
  fdLimit?: number;
  /** Memory the default of queued.max.request.bytes is a quarter of (default: the OS's, or the cgroup's limit). */
  totalMemory?: number;
}

/** Splits 'key=value' strings; the value may itself contain '='. */
export function parseOverrides(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(`override '${item}' is not of the form key=value`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

/** The process's open-file soft limit, or undefined where it cannot be read. */
export function openFileSoftLimit(): number | undefined {
  try {
    const text = fs.readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\S+)/m.exec(text);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Default max.connections: room below the fd limit for log segments, indexes and the like. */
export function defaultMaxConnections(fdLimit: number | undefined): number {
  const cap = 10_000;
  if (fdLimit === undefined || !Number.isFinite(fdLimit)) return cap;
  return Math.max(1, Math.min(fdLimit - 64, cap));
}

/** "invalid value 'x'", without the value when it is a secret. */
function invalidValue(def: BrokerPropertyDef | undefined, text: string): string {
  return def?.sensitive ? 'invalid value' : `invalid value '${text}'`;
}

/** Default queued.max.request.bytes: 256 MiB, or a quarter of the memory when that is less. */
export function defaultQueuedMaxRequestBytes(totalMemory: number = availableMemory()): number {
  return Math.max(1, Math.min(256 * 1024 * 1024, Math.floor(totalMemory / 4)));
}

function availableMemory(): number {
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
  const total = os.totalmem();
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

function unknownPropertyError(key: string): ConfigError {
  const hint = closestName(key, BROKER_PROPERTY_BY_NAME.keys());
  const topicHint = TOPIC_CONFIG_BY_NAME.has(key)
    ? ` ('${key}' is a topic config; set it per topic or use its broker name)`
    : '';
  return new ConfigError(`unknown property '${key}'${hint ? ` (did you mean '${hint}'?)` : topicHint}`);
}

/** Why Samsa cannot serve a listener of this security protocol. */
const UNSUPPORTED_PROTOCOL: Record<string, string> = {};

/**
 * Parses `NAME://host:port`; '' host = every interface; IPv6 in brackets.
 * A listener of a security protocol Samsa cannot serve is refused, except
 * when `opened` is false (an address Samsa neither opens nor connects to).
 */
export function parseListener(
  text: string,
  protocolMap: Map<string, string>,
  property: string,
  opened = true,
): Listener {
  const m = /^([A-Za-z0-9_]+):\/\/(\[[0-9a-fA-F:.]*\]|[^:/[\]]*):(\d+)$/.exec(text.trim());
  if (!m) throw new ConfigError(`invalid value '${text}' for property '${property}': expected NAME://host:port`);
  const name = m[1].toUpperCase();
  let host = m[2];
  if (host.startsWith('[')) host = host.slice(1, -1);
  if (host === '') host = '0.0.0.0';
  const port = Number(m[3]);
  if (port > 65535)
    throw new ConfigError(`invalid value '${text}' for property '${property}': port ${port} is out of range 0..65535`);
  const protocol = protocolMap.get(name);
  if (!protocol) {
    throw new ConfigError(
      `invalid value '${text}' for property '${property}': listener name ${name} has no entry in listener.security.protocol.map`,
    );
  }
  if (UNSUPPORTED_PROTOCOL[protocol] !== undefined && opened) {
    throw new ConfigError(
      `invalid value '${text}' for property '${property}': listener ${name} uses security protocol ${protocol}, but ${UNSUPPORTED_PROTOCOL[protocol]}; ` +
        'use a PLAINTEXT:// listener (on a trusted network) instead',
    );
  }
  return { name, host, port, securityProtocol: protocol as SecurityProtocol };
}

function parseProtocolMap(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const [name, proto, ...rest] = item.split(':').map((s) => s.trim());
    const known = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'];
    if (!name || !proto || rest.length > 0 || !known.includes(proto.toUpperCase())) {
      throw new ConfigError(
        `invalid value '${item}' in property 'listener.security.protocol.map': expected NAME:PROTOCOL with PROTOCOL one of ${known.join(', ')}`,
      );
    }
    map.set(name.toUpperCase(), proto.toUpperCase());
  }
  return map;
}

/** Reads the properties file (if any) and the overrides into one ordered map of raw text values. */
function collectRaw(opts: LoadBrokerConfigOptions): { raw: Map<string, string>; origin: Map<string, string> } {
  const raw = new Map<string, string>();
  const origin = new Map<string, string>();
  if (opts.file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(opts.file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ENOENT'
          ? 'no such file'
          : e.code === 'EISDIR'
            ? 'it is a directory'
            : e.code === 'EACCES'
              ? 'permission denied'
              : e.message;
      throw new ConfigError(`cannot read config file '${opts.file}': ${why}`);
    }
    let entries: ReturnType<typeof parseProperties>;
    try {
      entries = parseProperties(text);
    } catch (err) {
      throw new ConfigError(`${opts.file}: ${(err as Error).message}`);
    }
    for (const e of entries) {
      raw.set(e.key, e.value);
      origin.set(e.key, `${path.basename(opts.file)}:${e.line}: `);
    }
  }
  const overrides = Array.isArray(opts.overrides) ? parseOverrides(opts.overrides) : (opts.overrides ?? {});
  for (const [k, v] of Object.entries(overrides)) {
    raw.delete(k);
    raw.set(k, String(v));
    origin.set(k, '');
  }
  return { raw, origin };
}

/** Loads, validates and types the broker configuration. Throws ConfigError. */
export function loadBrokerConfig(opts: LoadBrokerConfigOptions = {}): BrokerConfig {
  const { raw, origin } = collectRaw(opts);
  const values = new Map<string, ConfigValue>();
  const ignored: string[] = [];
  const refused = (key: string, why: string) =>
    new ConfigError(`${origin.get(key) ?? ''}property '${key}' cannot be honoured: ${why}`);
  /** Type-checks a value and refuses security promises Samsa cannot keep. */
  const check = (key: string, def: BrokerPropertyDef, text: string): ConfigValue => {
    const r = checkValue(def, text);
    if ('problem' in r)
      throw new ConfigError(`${origin.get(key) ?? ''}${invalidValue(def, text)} for property '${key}': ${r.problem}`);
    const why = def.refuse?.(r.value) ?? null;
    if (why !== null) throw refused(key, why);
    return r.value;
  };
  for (const [key, text] of raw) {
    const def = BROKER_PROPERTY_BY_NAME.get(key) ?? mechanismPropertyDef(key);
    if (!def) {
      const perListener = IGNORED_PREFIXES.some((p) => key.startsWith(p))
        ? /^listener\.name\.[^.]+\.(.+)$/.exec(key)?.[1]
        : undefined;
      const baseDef =
        perListener === undefined
          ? undefined
          : (BROKER_PROPERTY_BY_NAME.get(perListener) ?? mechanismPropertyDef(perListener));
      if (baseDef) check(key, baseDef, text);
      else {
        const why = securityRefusal(perListener ?? key);
        if (why !== null) throw refused(key, why);
      }
      // a listener's own TLS settings are read by tlsSettings()
      if (baseDef && perListener!.startsWith('ssl.') && !baseDef.ignored) continue;
      if (perListener !== undefined) {
        if (!baseDef?.listenerOverride) ignored.push(key);
        continue;
      }
      const e = unknownPropertyError(key);
      e.message = (origin.get(key) ?? '') + e.message;
      throw e;
    }
    values.set(key, check(key, def, text));
    if (def.ignored) ignored.push(key);
  }
  const has = (k: string) => values.has(k);
  const get = (k: string): ConfigValue | null => {
    if (values.has(k)) return values.get(k)!;
    const def = BROKER_PROPERTY_BY_NAME.get(k)!;
    return def.default === null ? null : parseValue(def.kind, def.default);
  };
  const num = (k: string) => get(k) as number;
  const bool = (k: string) => get(k) as boolean;
  const str = (k: string) => get(k) as string;
  const fail = (k: string, problem: string): never => {
    throw new ConfigError(
      `${origin.get(k) ?? ''}${invalidValue(BROKER_PROPERTY_BY_NAME.get(k), raw.get(k) ?? '')} for property '${k}': ${problem}`,
    );
  };

  // identity
  let nodeId = num('node.id');
  if (has('broker.id')) {
    if (has('node.id') && num('broker.id') !== nodeId)
      fail('broker.id', `differs from node.id ${nodeId}; set one of them`);
    nodeId = num('broker.id');
  }
  const clusterId = has('cluster.id') ? str('cluster.id') : null;
  if (clusterId !== null && !/^[A-Za-z0-9_-]{1,64}$/.test(clusterId))
    fail('cluster.id', 'expected 1-64 characters of A-Z a-z 0-9 _ -');

  // listeners
  const protocolMap = parseProtocolMap(str('listener.security.protocol.map'));
  const controllerNames = ((get('controller.listener.names') as string[] | null) ?? []).map((n) => n.toUpperCase());
  for (const n of controllerNames) if (!protocolMap.has(n)) protocolMap.set(n, 'PLAINTEXT');
  const parseList = (k: string): Listener[] => {
    const items = get(k) as string[];
    // controller listeners too: a voter opens its CONTROLLER listener, other nodes connect to it
    const list = items.map((t) => parseListener(t, protocolMap, k));
    const seen = new Set<string>();
    for (const l of list) {
      if (seen.has(l.name)) fail(k, `listener name ${l.name} appears twice`);
      seen.add(l.name);
    }
    return list;
  };
  const roleList = get('process.roles') as string[];
  const roles = { broker: roleList.includes('broker'), controller: roleList.includes('controller') };
  const allListeners = parseList('listeners');
  const listeners = allListeners.filter((l) => !controllerNames.includes(l.name));
  if (roles.broker && listeners.length === 0)
    fail('listeners', 'no client listener (every listener is a controller listener); a broker needs one');
  if (!roles.broker && listeners.length > 0) {
    fail(
      'listeners',
      `a controller-only node (process.roles=controller) serves no clients: remove ${listeners.map((l) => l.name).join(', ')} from listeners, or add broker to process.roles`,
    );
  }
  const ports = new Set<number>();
  for (const l of allListeners) {
    if (l.port !== 0 && ports.has(l.port)) fail('listeners', `port ${l.port} is used by two listeners`);
    ports.add(l.port);
  }
  const quorum = quorumSettings(nodeId, roles, listeners, allListeners, controllerNames, get, fail);
  let advertisedListeners = listeners;
  if (has('advertised.listeners')) {
    advertisedListeners = parseList('advertised.listeners').filter((l) => !controllerNames.includes(l.name));
    for (const a of advertisedListeners) {
      if (a.host === '0.0.0.0' || a.host === '::')
        fail('advertised.listeners', `${a.name} advertises the non-routable address ${a.host}`);
      if (!listeners.some((l) => l.name === a.name))
        fail('advertised.listeners', `${a.name} is not one of the listeners`);
    }
  }

  // the listener between brokers, and TLS
  let interBrokerListenerName: string | null = null;
  if (listeners.length > 0) {
    if (has('inter.broker.listener.name')) {
      if (has('security.inter.broker.protocol'))
        fail(
          'security.inter.broker.protocol',
          'set only one of inter.broker.listener.name and security.inter.broker.protocol',
        );
      const name = str('inter.broker.listener.name').toUpperCase();
      if (!listeners.some((l) => l.name === name))
        fail(
          'inter.broker.listener.name',
          `${name} is not one of the client listeners (${listeners.map((l) => l.name).join(', ')})`,
        );
      interBrokerListenerName = name;
    } else {
      const proto = str('security.inter.broker.protocol');
      const named = listeners.find((l) => l.name === proto);
      if (!named && has('security.inter.broker.protocol'))
        fail(
          'security.inter.broker.protocol',
          `no client listener is named ${proto}; add one, or set inter.broker.listener.name`,
        );
      interBrokerListenerName = (named ?? listeners[0]).name;
    }
  }
  // the controller listener: PLAINTEXT or SSL (every node connects to the voters with its ssl.* settings)
  const controllerName = controllerNames[0];
  const controllerProtocol =
    controllerName === undefined ? 'PLAINTEXT' : (protocolMap.get(controllerName) ?? 'PLAINTEXT');
  if (controllerProtocol !== 'PLAINTEXT' && controllerProtocol !== 'SSL')
    fail(
      'listener.security.protocol.map',
      `controller listener ${controllerName} uses ${controllerProtocol}, but Samsa's controller connections do not do SASL; map ${controllerName} to SSL or PLAINTEXT`,
    );
  let controllerTls: TlsSettings | null = null;
  if (controllerProtocol === 'SSL') {
    controllerTls = tlsSettings(raw, controllerName!);
    try {
      buildContext(controllerTls, false);
    } catch (err) {
      if (err instanceof TlsConfigError) throw new ConfigError(err.message);
      throw err;
    }
  }
  const listenerTls = new Map<string, TlsSettings>();
  for (const l of allListeners) {
    if (l.securityProtocol !== 'SSL' && l.securityProtocol !== 'SASL_SSL') continue;
    const settings = tlsSettings(raw, l.name);
    try {
      parseRules(settings.principalMappingRules);
    } catch (err) {
      fail('ssl.principal.mapping.rules', (err as Error).message);
    }
    try {
      buildContext(settings, true);
    } catch (err) {
      if (err instanceof TlsConfigError) throw new ConfigError(err.message);
      throw err;
    }
    listenerTls.set(l.name, settings);
  }

  // log dirs
  const cwd = opts.cwd ?? process.cwd();
  const dirList = has('log.dirs') ? (get('log.dirs') as string[]) : [str('log.dir')];
  const logDirs = dirList.filter((d) => d !== '').map((d) => path.resolve(cwd, d));
  if (logDirs.length === 0) fail(has('log.dirs') ? 'log.dirs' : 'log.dir', 'at least one directory is required');
  if (new Set(logDirs).size !== logDirs.length) fail('log.dirs', 'a directory is listed twice');

  // time settings with Kafka's precedence: ms, then minutes, then hours
  let logRetentionMs: number;
  if (has('log.retention.ms')) logRetentionMs = num('log.retention.ms');
  else if (has('log.retention.minutes')) logRetentionMs = num('log.retention.minutes') * 60_000;
  else logRetentionMs = num('log.retention.hours') * 3_600_000;
  if (logRetentionMs < 0) logRetentionMs = -1;
  else if (logRetentionMs === 0) {
    const k = has('log.retention.ms')
      ? 'log.retention.ms'
      : has('log.retention.minutes')
        ? 'log.retention.minutes'
        : 'log.retention.hours';
    fail(k, 'retention must be -1 (unlimited) or at least 1 ms');
  }
  const logSegmentMs = has('log.roll.ms') ? num('log.roll.ms') : num('log.roll.hours') * 3_600_000;
  const logSegmentJitterMs = has('log.roll.jitter.ms')
    ? num('log.roll.jitter.ms')
    : num('log.roll.jitter.hours') * 3_600_000;

  const minSession = num('group.min.session.timeout.ms');
  const maxSession = num('group.max.session.timeout.ms');
  if (minSession > maxSession)
    fail('group.min.session.timeout.ms', `must not exceed group.max.session.timeout.ms (${maxSession})`);

  const maxConnections = has('max.connections')
    ? num('max.connections')
    : defaultMaxConnections(opts.fdLimit ?? openFileSoftLimit());

  // ACLs: nodes talk to each other (CONTROLLER listener, replication) as User:ANONYMOUS over PLAINTEXT and over
  // SSL without client certificates, which needs ClusterAction on the cluster before any ACL can exist: a super
  // user, as in Kafka
  const superUsers = str('super.users')
    .split(';')
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (str('authorizer.class.name') !== '' && !superUsers.includes('User:ANONYMOUS')) {
    const anonymous = (l: Listener | null | undefined, tls: TlsSettings | null | undefined): boolean =>
      l?.securityProtocol === 'PLAINTEXT' || (l?.securityProtocol === 'SSL' && (tls?.clientAuth ?? 'none') === 'none');
    const anonymousController = anonymous(quorum.controllerListener, controllerTls);
    const interBroker = listeners.find((l) => l.name === interBrokerListenerName);
    const anonymousReplication =
      anonymous(interBroker, interBroker && listenerTls.get(interBroker.name)) &&
      (quorum.quorumVoters.length > 1 || !roles.controller);
    if (anonymousController || anonymousReplication) {
      const l = anonymousController ? quorum.controllerListener! : interBroker!;
      fail(
        'super.users',
        `must include User:ANONYMOUS when authorizer.class.name is set and nodes talk without authenticating (${anonymousController ? `the ${l.name} listener` : `replication on ${l.name}`}, ${l.securityProtocol === 'SSL' ? 'SSL with ssl.client.auth=none' : 'PLAINTEXT'}): they are User:ANONYMOUS there and need ClusterAction on the cluster (add User:ANONYMOUS to super.users and keep clients on a SASL listener, or require client certificates there and make the nodes' principals super users)`,
      );
    }
  }

  return {
    nodeId,
    clusterId,
    roles,
    listeners,
    interBrokerListenerName,
    listenerTls,
    controllerTls,
    advertisedListeners,
    controllerListenerNames: controllerNames,
    ...quorum,
    quorumElectionTimeoutMs: num('controller.quorum.election.timeout.ms'),
    quorumFetchTimeoutMs: num('controller.quorum.fetch.timeout.ms'),
    quorumElectionBackoffMaxMs: num('controller.quorum.election.backoff.max.ms'),
    brokerHeartbeatIntervalMs: num('broker.heartbeat.interval.ms'),
    brokerSessionTimeoutMs: num('broker.session.timeout.ms'),
    brokerRack: has('broker.rack') && str('broker.rack') !== '' ? str('broker.rack') : null,
    replicaSelectorClass: has('replica.selector.class') ? str('replica.selector.class') : null,
    logDirs,
    numPartitions: num('num.partitions'),
    defaultReplicationFactor: num('default.replication.factor'),
    autoCreateTopicsEnable: bool('auto.create.topics.enable'),
    maxPartitions: num('samsa.max.partitions'),
    maxTopics: num('samsa.max.topics'),
    metadataLogDir:
      has('metadata.log.dir') && str('metadata.log.dir') !== '' ? path.resolve(cwd, str('metadata.log.dir')) : null,
    metadataLogMaxRecordBytesBetweenSnapshots: num('metadata.log.max.record.bytes.between.snapshots'),
    deleteTopicEnable: bool('delete.topic.enable'),
    authorizerEnabled: str('authorizer.class.name') !== '',
    superUsers,
    allowEveryoneIfNoAclFound: bool('allow.everyone.if.no.acl.found'),
    logRetentionMs,
    logRetentionBytes: num('log.retention.bytes'),
    logRetentionCheckIntervalMs: num('log.retention.check.interval.ms'),
    logSegmentBytes: num('log.segment.bytes'),
    logSegmentMs,
    logSegmentJitterMs,
    logIndexSizeMaxBytes: num('log.index.size.max.bytes'),
    logIndexIntervalBytes: num('log.index.interval.bytes'),
    logFlushIntervalMessages: num('log.flush.interval.messages'),
    logFlushIntervalMs: has('log.flush.interval.ms') ? num('log.flush.interval.ms') : null,
    logFlushSchedulerIntervalMs: num('log.flush.scheduler.interval.ms'),
    logCleanupPolicy: get('log.cleanup.policy') as CleanupPolicyItem[],
    logCleanerEnable: bool('log.cleaner.enable'),
    logCleanerBackoffMs: num('log.cleaner.backoff.ms'),
    logCleanerDeleteRetentionMs: num('log.cleaner.delete.retention.ms'),
    logCleanerMinCompactionLagMs: num('log.cleaner.min.compaction.lag.ms'),
    logCleanerMaxCompactionLagMs: num('log.cleaner.max.compaction.lag.ms'),
    logCleanerMinCleanableRatio: num('log.cleaner.min.cleanable.ratio'),
    logSegmentDeleteDelayMs: num('log.segment.delete.delay.ms'),
    logPreallocate: bool('log.preallocate'),
    logMessageTimestampType: str('log.message.timestamp.type') as BrokerConfig['logMessageTimestampType'],
    logMessageTimestampBeforeMaxMs: num('log.message.timestamp.before.max.ms'),
    logMessageTimestampAfterMaxMs: num('log.message.timestamp.after.max.ms'),
    messageMaxBytes: num('message.max.bytes'),
    compressionType: str('compression.type') as BrokerConfig['compressionType'],
    minInsyncReplicas: num('min.insync.replicas'),
    uncleanLeaderElectionEnable: bool('unclean.leader.election.enable'),
    autoLeaderRebalanceEnable: bool('auto.leader.rebalance.enable'),
    leaderImbalanceCheckIntervalSeconds: num('leader.imbalance.check.interval.seconds'),
    leaderImbalancePerBrokerPercentage: num('leader.imbalance.per.broker.percentage'),
    socketRequestMaxBytes: num('socket.request.max.bytes'),
    connectionsMaxIdleMs: num('connections.max.idle.ms'),
    maxConnections,
    maxConnectionsPerIp: num('max.connections.per.ip'),
    maxConnectionsPerIpOverrides: parseConnectionOverrides(str('max.connections.per.ip.overrides')) as Map<
      string,
      number
    >,
    maxConnectionCreationRate: num('max.connection.creation.rate'),
    queuedMaxRequests: num('queued.max.requests'),
    queuedMaxRequestBytes: has('queued.max.request.bytes')
      ? num('queued.max.request.bytes')
      : defaultQueuedMaxRequestBytes(opts.totalMemory),
    requestReadTimeoutMs: num('samsa.request.read.timeout.ms'),
    fetchMaxBytes: num('fetch.max.bytes'),
    groupInitialRebalanceDelayMs: num('group.initial.rebalance.delay.ms'),
    groupMinSessionTimeoutMs: minSession,
    groupMaxSessionTimeoutMs: maxSession,
    groupMaxSize: num('group.max.size'),
    groupConsumerHeartbeatIntervalMs: num('group.consumer.heartbeat.interval.ms'),
    groupConsumerSessionTimeoutMs: num('group.consumer.session.timeout.ms'),
    offsetsTopicNumPartitions: num('offsets.topic.num.partitions'),
    offsetsTopicReplicationFactor: num('offsets.topic.replication.factor'),
    offsetsCommitTimeoutMs: num('offsets.commit.timeout.ms'),
    offsetsTopicSegmentBytes: num('offsets.topic.segment.bytes'),
    offsetsRetentionMinutes: num('offsets.retention.minutes'),
    offsetsRetentionMs: num('offsets.retention.minutes') * 60_000,
    offsetsRetentionCheckIntervalMs: num('offsets.retention.check.interval.ms'),
    offsetMetadataMaxBytes: num('offset.metadata.max.bytes'),
    transactionStateLogNumPartitions: num('transaction.state.log.num.partitions'),
    transactionStateLogReplicationFactor: num('transaction.state.log.replication.factor'),
    transactionStateLogMinIsr: num('transaction.state.log.min.isr'),
    transactionMaxTimeoutMs: num('transaction.max.timeout.ms'),
    transactionalIdExpirationMs: num('transactional.id.expiration.ms'),
    producerIdExpirationMs: num('producer.id.expiration.ms'),
    raw,
    ignored,
  };
}

export { BROKER_PROPERTY_DEFS };

const HOST_PORT = /^(\[[0-9a-fA-F:.]*\]|[^:@/[\]\s]+):(\d+)$/;

function parseHostPort(text: string): { host: string; port: number } | null {
  const m = HOST_PORT.exec(text);
  if (!m || Number(m[2]) > 65535) return null;
  return { host: m[1].startsWith('[') ? m[1].slice(1, -1) : m[1], port: Number(m[2]) };
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|::1)$/;

/** Whether a voter address names the same socket as a listener of this node. */
function sameAddress(voter: { host: string; port: number }, l: Listener): boolean {
  if (voter.port !== l.port) return false;
  if (voter.host === l.host) return true;
  if (LOOPBACK.test(voter.host) && LOOPBACK.test(l.host)) return voter.host === 'localhost' || l.host === 'localhost';
  // a listener on every interface answers on the loopback addresses
  return (l.host === '0.0.0.0' || l.host === '::') && LOOPBACK.test(voter.host);
}

/**
 * controller.quorum.voters / bootstrap servers and the CONTROLLER listener,
 * checked against the roles: each misconfiguration fails with one line that
 * says what to change.
 */
function quorumSettings(
  nodeId: number,
  roles: { broker: boolean; controller: boolean },
  clients: Listener[],
  allListeners: Listener[],
  controllerNames: string[],
  get: (k: string) => ConfigValue | null,
  fail: (k: string, problem: string) => never,
): Pick<BrokerConfig, 'quorumVoters' | 'quorumBootstrapServers' | 'controllerListener'> {
  const voters: QuorumVoter[] = [];
  for (const item of get('controller.quorum.voters') as string[]) {
    const m = /^(\d+)@(.*)$/.exec(item);
    const addr = m ? parseHostPort(m[2]) : null;
    if (!m || !addr || Number(m[1]) > INT_MAX_ID)
      fail('controller.quorum.voters', `'${item}' is not id@host:port (e.g. 1@controller1:9093)`);
    const id = Number(m![1]);
    if (voters.some((v) => v.id === id))
      fail('controller.quorum.voters', `voter id ${id} appears twice; each voter needs its own node.id`);
    voters.push({ id, ...addr! });
  }
  const bootstrap: { host: string; port: number }[] = [];
  for (const item of get('controller.quorum.bootstrap.servers') as string[]) {
    const addr = parseHostPort(item);
    if (!addr) fail('controller.quorum.bootstrap.servers', `'${item}' is not host:port (e.g. controller1:9093)`);
    bootstrap.push(addr!);
  }
  let controllerListener: Listener | null = null;
  for (const n of controllerNames) {
    controllerListener = allListeners.find((l) => l.name === n) ?? null;
    if (controllerListener) break;
  }
  const me = voters.find((v) => v.id === nodeId);
  if (roles.controller && voters.length > 0 && !me) {
    fail(
      'controller.quorum.voters',
      `node.id ${nodeId} has the controller role but is not one of the voters (${voters.map((v) => v.id).join(', ')}); add ${nodeId}@host:port to the voters, or set process.roles=broker`,
    );
  }
  if (!roles.controller && me) {
    fail(
      'controller.quorum.voters',
      `node.id ${nodeId} is a voter, but process.roles has no controller role; add controller to process.roles, or remove ${nodeId} from the voters`,
    );
  }
  if (!roles.controller && voters.length === 0 && bootstrap.length === 0) {
    fail(
      'process.roles',
      'a broker-only node (process.roles=broker) needs a controller quorum to join; set controller.quorum.voters (or controller.quorum.bootstrap.servers)',
    );
  }
  if (!roles.controller && controllerListener) {
    fail(
      'listeners',
      `${controllerListener.name} is a controller listener, but process.roles has no controller role; remove it from listeners (brokers reach the controllers at controller.quorum.voters)`,
    );
  }
  if (roles.controller && (voters.length > 0 || !roles.broker) && !controllerListener) {
    const name = controllerNames[0];
    fail(
      'listeners',
      name === undefined
        ? 'a controller needs a controller listener, but controller.listener.names is empty; set it (e.g. CONTROLLER) and add CONTROLLER://host:port to listeners'
        : `a voter of the controller quorum needs its ${name} listener; add ${name}://host:port to listeners (the address of node ${nodeId} in controller.quorum.voters)`,
    );
  }
  if (roles.broker && roles.controller && voters.length === 0 && controllerListener) {
    fail(
      'controller.quorum.voters',
      `node ${nodeId} opens its ${controllerListener.name} listener, but the voters are not listed, so no node could reach it; set controller.quorum.voters (e.g. ${nodeId}@${controllerListener.host === '0.0.0.0' ? 'host' : controllerListener.host}:${controllerListener.port || 'port'}), or remove ${controllerListener.name} from listeners for a single node whose quorum needs no network`,
    );
  }
  if (!roles.broker && voters.length === 0) {
    fail(
      'controller.quorum.voters',
      `a controller-only node needs the voters listed so that brokers can reach it; set controller.quorum.voters (e.g. ${nodeId}@host:port)`,
    );
  }
  for (const client of clients) {
    for (const v of voters) {
      if (sameAddress(v, client)) {
        fail(
          'controller.quorum.voters',
          `voter ${v.id} at ${v.host}:${v.port} is this node's client listener ${client.name}; voters are reached at their controller listener, which needs a port of its own`,
        );
      }
    }
  }
  if (me && controllerListener && me.port !== controllerListener.port) {
    fail(
      'controller.quorum.voters',
      `the entry ${me.id}@${me.host}:${me.port} for this node does not match its ${controllerListener.name} listener port ${controllerListener.port}; make them the same`,
    );
  }
  return { quorumVoters: voters, quorumBootstrapServers: bootstrap, controllerListener };
}

const INT_MAX_ID = 2147483647;

/**
 * The configuration with the dynamic broker configs applied over the static
 * ones (cluster default, then per broker, as Kafka orders them), checked as a
 * whole as at startup. `raw` stays the static properties (DescribeConfigs
 * reports those as STATIC_BROKER_CONFIG); `ignored` includes dynamic values
 * without effect. Throws ConfigError when the combination is not valid.
 */
export function withDynamicConfigs(
  config: BrokerConfig,
  dynamic: DynamicBrokerConfigs,
  opts: { fdLimit?: number } = {},
): BrokerConfig {
  if (!dynamic.clusterDefault?.size && !dynamic.perBroker?.size) return config;
  const overrides: Record<string, string> = Object.fromEntries(config.raw);
  for (const level of [dynamic.clusterDefault, dynamic.perBroker]) {
    for (const [k, v] of level ?? []) if (BROKER_PROPERTY_BY_NAME.get(k)?.dynamic) overrides[k] = v;
  }
  const merged = loadBrokerConfig({ overrides, fdLimit: opts.fdLimit });
  // the default max.connections came from the fd limit the static config was loaded with
  const maxConnections = 'max.connections' in overrides ? merged.maxConnections : config.maxConnections;
  return { ...merged, maxConnections, logDirs: config.logDirs, raw: config.raw };
}
