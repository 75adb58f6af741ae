/**
 * The table of broker properties Samsa knows: Kafka's names, types and
 * defaults, with our validation and one-line documentation. Properties
 * marked `ignored` are accepted (so a stock server.properties loads) but
 * change nothing in Samsa.
 */
import { type PropertyDef, type ConfigKind, type Validator, LONG_MAX_TEXT, INT_MAX, atLeast, between, oneOf, listOf } from './config-def.ts';

export interface BrokerPropertyDef extends PropertyDef {
  /** Accepted for compatibility; has no effect in Samsa. */
  ignored?: boolean;
  /** Can be changed at runtime through AlterConfigs / IncrementalAlterConfigs on the broker resource. */
  dynamic?: boolean;
  /** The value is a secret: DescribeConfigs reports it as null. */
  sensitive?: boolean;
}

function p(name: string, kind: ConfigKind, dflt: string | null, doc: string, validate?: Validator, extra: Partial<BrokerPropertyDef> = {}): BrokerPropertyDef {
  return { name, kind, default: dflt, doc, validate, ...extra };
}
/** A property that is accepted and type-checked but has no effect. */
function ig(name: string, kind: ConfigKind, dflt: string | null, doc: string, validate?: Validator): BrokerPropertyDef {
  return p(name, kind, dflt, `${doc} (accepted for compatibility; no effect in Samsa)`, validate, { ignored: true });
}
/** A broker default for a topic config: it can also be changed dynamically, cluster-wide or per broker. */
function d(name: string, kind: ConfigKind, dflt: string | null, doc: string, validate?: Validator): BrokerPropertyDef {
  return p(name, kind, dflt, doc, validate, { dynamic: true });
}

const INT_MAX_TEXT = String(INT_MAX);
const COMPRESSION = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'];
/** -1 is Kafka's "unlimited" for the retention settings. */
const unlimitedOrAtLeast = (min: number): Validator => (v) =>
  typeof v === 'number' && v !== -1 && v < min ? `must be -1 (unlimited) or at least ${min}` : null;

export const DEFAULT_LISTENERS = 'PLAINTEXT://127.0.0.1:9092';
export const DEFAULT_SECURITY_PROTOCOL_MAP = 'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

export const BROKER_PROPERTY_DEFS: BrokerPropertyDef[] = [
  // identity and network
  p('node.id', 'int', '1', 'The id of this broker in the cluster.', atLeast(0)),
  p('broker.id', 'int', null, 'Older name of node.id; when both are set they must be equal.', atLeast(0)),
  p('cluster.id', 'string', null, 'Cluster id to format fresh log dirs with (Samsa extension; a random id is generated when unset).'),
  p('listeners', 'list', DEFAULT_LISTENERS, 'Comma-separated NAME://host:port addresses to listen on; an empty host binds every interface, port 0 picks a free port.'),
  p('advertised.listeners', 'list', null, 'The addresses given to clients in Metadata responses; defaults to listeners.'),
  p('listener.security.protocol.map', 'string', DEFAULT_SECURITY_PROTOCOL_MAP, 'Maps listener names to security protocols, as NAME:PROTOCOL pairs.'),
  p('controller.listener.names', 'list', null, 'Listeners used only by the KRaft controller; Samsa does not open them.'),
  ig('inter.broker.listener.name', 'string', null, 'Listener used between brokers.'),
  ig('security.inter.broker.protocol', 'string', 'PLAINTEXT', 'Security protocol used between brokers.'),
  p('socket.request.max.bytes', 'int', '104857600', 'The largest request frame a client may send.', atLeast(1)),
  ig('socket.send.buffer.bytes', 'int', '102400', 'SO_SNDBUF of the server sockets.'),
  ig('socket.receive.buffer.bytes', 'int', '102400', 'SO_RCVBUF of the server sockets.'),
  ig('socket.listen.backlog.size', 'int', '50', 'Backlog of pending connections.', atLeast(1)),
  p('connections.max.idle.ms', 'long', '600000', 'Connections idle for longer than this are closed.'),
  p('max.connections', 'int', INT_MAX_TEXT, 'Most client connections accepted at once; Samsa caps the default below the open-file limit.', atLeast(0), { dynamic: true }),
  p('max.connections.per.ip', 'int', INT_MAX_TEXT, 'Most connections accepted from one IP address.', atLeast(0), { dynamic: true }),
  ig('num.network.threads', 'int', '3', 'Threads handling network requests.', atLeast(1)),
  ig('num.io.threads', 'int', '8', 'Threads processing requests.', atLeast(1)),
  ig('background.threads', 'int', '10', 'Threads for background work.', atLeast(1)),
  ig('queued.max.requests', 'int', '500', 'Requests queued before the network threads stop reading.', atLeast(1)),
  ig('num.recovery.threads.per.data.dir', 'int', '2', 'Threads per data dir for log recovery and shutdown.', atLeast(1)),
  ig('num.replica.fetchers', 'int', '1', 'Replica fetcher threads.'),
  ig('replica.lag.time.max.ms', 'long', '30000', 'Followers behind for longer leave the ISR.'),
  ig('replica.fetch.max.bytes', 'int', '1048576', 'Bytes per partition a follower fetches.', atLeast(0)),
  ig('replica.fetch.response.max.bytes', 'int', '10485760', 'Bytes per response a follower fetches.', atLeast(0)),
  p('fetch.max.bytes', 'int', '57671680', 'The most bytes returned by one Fetch response.', atLeast(1024)),
  ig('auto.leader.rebalance.enable', 'boolean', 'true', 'Move leadership back to preferred replicas.'),
  p('delete.topic.enable', 'boolean', 'true', 'Allow DeleteTopics.'),
  // KRaft / ZooKeeper deployment settings that a single Samsa process does not need
  ig('process.roles', 'list', null, 'KRaft roles of this process.', listOf(['broker', 'controller'])),
  ig('controller.quorum.voters', 'list', '', 'KRaft controller voters.'),
  ig('controller.quorum.bootstrap.servers', 'list', '', 'KRaft controller bootstrap addresses.'),
  ig('metadata.log.dir', 'string', null, 'Directory of the KRaft metadata log (Samsa keeps it in the first log dir).'),
  ig('zookeeper.connect', 'string', null, 'ZooKeeper connection string.'),
  ig('zookeeper.connection.timeout.ms', 'int', null, 'ZooKeeper connection timeout.'),
  ig('zookeeper.session.timeout.ms', 'int', '18000', 'ZooKeeper session timeout.'),
  ig('inter.broker.protocol.version', 'string', null, 'Inter-broker protocol version.'),
  ig('log.message.format.version', 'string', null, 'Record format version (removed in Kafka 4.0).'),
  ig('authorizer.class.name', 'string', '', 'Authorizer class.'),
  ig('super.users', 'list', '', 'Principals allowed everything.'),
  ig('sasl.enabled.mechanisms', 'list', 'GSSAPI', 'SASL mechanisms enabled.'),
  ig('sasl.mechanism.inter.broker.protocol', 'string', 'GSSAPI', 'SASL mechanism between brokers.'),
  ig('group.coordinator.rebalance.protocols', 'list', 'classic,consumer', 'Group protocols enabled.'),
  ig('share.coordinator.state.topic.replication.factor', 'short', '3', 'Replication factor of the share-group state topic.'),
  ig('share.coordinator.state.topic.min.isr', 'short', '2', 'Min ISR of the share-group state topic.'),
  // topics and logs
  p('log.dirs', 'list', null, 'Directories holding partition data; overrides log.dir. Relative paths are resolved against the working directory.'),
  p('log.dir', 'string', './data', 'The data directory when log.dirs is not set.'),
  p('num.partitions', 'int', '1', 'Partitions of an auto-created topic, or of a CreateTopics request that asks for the default (-1).', atLeast(1)),
  p('default.replication.factor', 'int', '1', 'Replication factor of an auto-created topic or of a request asking for the default.', atLeast(1)),
  p('auto.create.topics.enable', 'boolean', 'true', 'Create a topic the first time a client asks for it in a Metadata request (as in Kafka, a Produce to an unknown topic does not create it).'),
  p('log.retention.ms', 'long', null, 'How long to keep a segment; -1 keeps forever. Takes precedence over log.retention.minutes and log.retention.hours.', unlimitedOrAtLeast(1), { dynamic: true }),
  p('log.retention.minutes', 'int', null, 'log.retention.ms in minutes; used when log.retention.ms is not set.'),
  p('log.retention.hours', 'int', '168', 'log.retention.ms in hours; used when neither log.retention.ms nor log.retention.minutes is set.'),
  d('log.retention.bytes', 'long', '-1', 'Delete the oldest segments while a partition is larger than this; -1 means no size limit.'),
  p('log.retention.check.interval.ms', 'long', '300000', 'How often retention is checked.', atLeast(1)),
  d('log.segment.bytes', 'int', '1073741824', 'Roll a new segment before the active one would exceed this size.', atLeast(14)),
  d('log.roll.ms', 'long', null, 'Roll a new segment once the active one is this old; takes precedence over log.roll.hours.', atLeast(1)),
  p('log.roll.hours', 'int', '168', 'log.roll.ms in hours.', atLeast(1)),
  d('log.roll.jitter.ms', 'long', null, 'Random reduction of the roll time, to spread segment rolls; takes precedence over log.roll.jitter.hours.', atLeast(0)),
  p('log.roll.jitter.hours', 'int', '0', 'log.roll.jitter.ms in hours.', atLeast(0)),
  d('log.index.size.max.bytes', 'int', '10485760', 'Most bytes of a segment offset or time index.', atLeast(4)),
  d('log.index.interval.bytes', 'int', '4096', 'Bytes of log between two offset index entries.', atLeast(0)),
  d('log.flush.interval.messages', 'long', LONG_MAX_TEXT, 'fsync a partition once this many records are unflushed.', atLeast(1)),
  d('log.flush.interval.ms', 'long', null, 'fsync a partition once its oldest unflushed record is this old; defaults to log.flush.scheduler.interval.ms.', atLeast(0)),
  p('log.flush.scheduler.interval.ms', 'long', LONG_MAX_TEXT, 'How often the flusher checks whether a partition needs an fsync.'),
  ig('log.flush.offset.checkpoint.interval.ms', 'int', '60000', 'How often recovery points are checkpointed.', atLeast(0)),
  ig('log.flush.start.offset.checkpoint.interval.ms', 'int', '60000', 'How often log start offsets are checkpointed.', atLeast(0)),
  d('log.cleanup.policy', 'list', 'delete', 'What to do with old segments: delete, compact, or both.', listOf(['delete', 'compact'])),
  p('log.cleaner.enable', 'boolean', 'true', 'Run the log cleaner for compacted topics.'),
  ig('log.cleaner.threads', 'int', '1', 'Log cleaner threads.', atLeast(0)),
  ig('log.cleaner.dedupe.buffer.size', 'long', '134217728', 'Memory for compaction de-duplication.'),
  ig('log.cleaner.io.buffer.size', 'int', '524288', 'I/O buffer of the log cleaner.', atLeast(0)),
  p('log.cleaner.backoff.ms', 'long', '15000', 'Sleep of the log cleaner when there is nothing to clean.', atLeast(0)),
  d('log.cleaner.delete.retention.ms', 'long', '86400000', 'How long tombstones stay in a compacted topic.', atLeast(0)),
  d('log.cleaner.min.compaction.lag.ms', 'long', '0', 'Records younger than this are never compacted.', atLeast(0)),
  d('log.cleaner.max.compaction.lag.ms', 'long', LONG_MAX_TEXT, 'Records older than this are compacted even if the dirty ratio is low; compacted logs also roll after this long.', atLeast(1)),
  d('log.cleaner.min.cleanable.ratio', 'double', '0.5', 'Compact once dirty bytes / total bytes exceed this ratio.', between(0, 1)),
  d('log.segment.delete.delay.ms', 'long', '60000', 'How long a deleted segment file lingers before it is removed.', atLeast(0)),
  d('log.preallocate', 'boolean', 'false', 'Preallocate segment files.'),
  d('log.message.timestamp.type', 'string', 'CreateTime', 'CreateTime keeps the producer timestamp; LogAppendTime stamps the broker time.', oneOf('CreateTime', 'LogAppendTime')),
  d('log.message.timestamp.before.max.ms', 'long', LONG_MAX_TEXT, 'Reject records whose timestamp is further than this in the past (CreateTime only).', atLeast(0)),
  d('log.message.timestamp.after.max.ms', 'long', '3600000', 'Reject records whose timestamp is further than this in the future (CreateTime only).', atLeast(0)),
  d('log.local.retention.ms', 'long', '-2', 'Tiered storage local retention (-2: same as log.retention.ms).', atLeast(-2)),
  d('log.local.retention.bytes', 'long', '-2', 'Tiered storage local retention (-2: same as log.retention.bytes).', atLeast(-2)),
  d('message.max.bytes', 'int', '1048588', 'The largest record batch a producer may send.', atLeast(0)),
  d('compression.type', 'string', 'producer', 'Compression of stored batches; producer keeps what the producer sent.', oneOf(...COMPRESSION)),
  d('compression.gzip.level', 'int', '-1', 'gzip level used when the broker compresses.', (v) =>
    typeof v === 'number' && v !== -1 && (v < 1 || v > 9) ? 'must be -1 or between 1 and 9' : null),
  d('compression.lz4.level', 'int', '9', 'lz4 level used when the broker compresses.', between(1, 17)),
  d('compression.zstd.level', 'int', '3', 'zstd level used when the broker compresses.', between(-131072, 22)),
  d('min.insync.replicas', 'int', '1', 'Replicas that must have a record before an acks=all produce succeeds.', atLeast(1)),
  d('unclean.leader.election.enable', 'boolean', 'false', 'Allow an out-of-sync replica to become leader.'),
  // groups and internal topics
  p('group.initial.rebalance.delay.ms', 'int', '3000', 'How long the first rebalance of an empty group waits for more members.', atLeast(0)),
  p('group.min.session.timeout.ms', 'int', '6000', 'The smallest session timeout a member may ask for.'),
  p('group.max.session.timeout.ms', 'int', '1800000', 'The largest session timeout a member may ask for.'),
  p('group.max.size', 'int', INT_MAX_TEXT, 'Most members in one consumer group.', atLeast(1)),
  p('group.consumer.heartbeat.interval.ms', 'int', '5000', 'Heartbeat interval the coordinator gives members of consumer-protocol groups (KIP-848).', atLeast(1)),
  p('group.consumer.session.timeout.ms', 'int', '45000', 'Session timeout of members of consumer-protocol groups (KIP-848).', atLeast(1)),
  p('offsets.topic.num.partitions', 'int', '50', 'Partitions of __consumer_offsets (fixed once created).', atLeast(1)),
  p('offsets.topic.replication.factor', 'short', '1', "Replication factor of __consumer_offsets (Kafka's default is 3; Samsa's is 1 as it runs as one node).", atLeast(1)),
  p('offsets.topic.segment.bytes', 'int', '104857600', 'Segment size of __consumer_offsets.', atLeast(1)),
  ig('offsets.topic.compression.codec', 'int', '0', 'Compression of __consumer_offsets batches.'),
  ig('offsets.load.buffer.size', 'int', '5242880', 'Read buffer when loading offsets.', atLeast(1)),
  ig('offsets.commit.timeout.ms', 'int', '5000', 'How long an offset commit waits for replication.', atLeast(1)),
  p('offsets.retention.minutes', 'int', '10080', 'Committed offsets of an empty group are removed after this.', atLeast(1)),
  p('offsets.retention.check.interval.ms', 'long', '600000', 'How often stale offsets are looked for.', atLeast(1)),
  p('offset.metadata.max.bytes', 'int', '4096', 'The most metadata bytes stored with a committed offset.'),
  p('transaction.state.log.num.partitions', 'int', '50', 'Partitions of __transaction_state.', atLeast(1)),
  p('transaction.state.log.replication.factor', 'short', '1', "Replication factor of __transaction_state (Kafka's default is 3).", atLeast(1)),
  p('transaction.state.log.min.isr', 'int', '1', "min.insync.replicas of __transaction_state (Kafka's default is 2).", atLeast(1)),
  ig('transaction.state.log.segment.bytes', 'int', '104857600', 'Segment size of __transaction_state.', atLeast(1)),
  p('transaction.max.timeout.ms', 'int', '900000', 'The longest transaction timeout a producer may ask for.', atLeast(1)),
  p('transactional.id.expiration.ms', 'int', '604800000', 'Forget a transactional id unused for this long.', atLeast(1)),
  p('producer.id.expiration.ms', 'int', '86400000', 'Forget an idempotent producer id unused for this long.', atLeast(1)),
];

export const BROKER_PROPERTY_BY_NAME: ReadonlyMap<string, BrokerPropertyDef> = new Map(BROKER_PROPERTY_DEFS.map((d) => [d.name, d]));

/** Prefixes of per-listener settings (listener.name.<name>.<config>); accepted and ignored. */
export const IGNORED_PREFIXES = ['listener.name.'];
