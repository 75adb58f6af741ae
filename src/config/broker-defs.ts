/**
 * The table of broker properties Samsa knows: Kafka's names, types and
 * defaults, with our validation and one-line documentation.
 *
 * - `p` / `d`: enforced by Samsa.
 * - `ig`: accepted (so a stock server.properties loads) but changes nothing;
 *   set ones are listed in one log line at startup.
 * - `sec`: promises security (TLS, SASL, ACLs) that Samsa does not provide:
 *   a value that would make that promise stops startup (and is refused by
 *   AlterConfigs); the harmless values are accepted and ignored.
 *
 * Whether a property can be changed at runtime, and at which level, follows
 * Kafka (update-modes.ts) and is filled in below the table.
 */
import {
  type PropertyDef,
  type ConfigKind,
  type ConfigValue,
  type Validator,
  LONG_MAX_TEXT,
  INT_MAX,
  atLeast,
  between,
  oneOf,
  listOf,
} from './config-def.ts';
import { type UpdateMode, kafkaUpdateMode } from './update-modes.ts';

export interface BrokerPropertyDef extends PropertyDef {
  /** Accepted for compatibility; has no effect in Samsa. */
  ignored?: boolean;
  /** Kafka's dynamic update mode (set from update-modes.ts for every property). */
  updateMode: UpdateMode;
  /** Can be changed at runtime through AlterConfigs / IncrementalAlterConfigs on the broker resource (updateMode is not read-only). */
  dynamic?: boolean;
  /** The value is a secret: DescribeConfigs reports it as null, errors never repeat it. */
  sensitive?: boolean;
  /**
   * A runtime change takes effect at once. Derived for the broker defaults of
   * enforced topic configs; set it on other dynamic properties whose change
   * the broker applies while running (otherwise it applies from the next start).
   */
  live?: boolean;
  /**
   * For properties that promise security Samsa does not provide: why the
   * value cannot be honoured and what to do, or null for a harmless value.
   */
  refuse?: (v: ConfigValue) => string | null;
  /** Which values `refuse` accepts, for the reference docs. */
  accepts?: string;
  /** Also read per listener (listener.name.<listener>.<name>; for SASL, also per mechanism): such a prefixed setting has effect. */
  listenerOverride?: boolean;
}

function p(
  name: string,
  kind: ConfigKind,
  dflt: string | null,
  doc: string,
  validate?: Validator,
  extra: Partial<BrokerPropertyDef> = {},
): BrokerPropertyDef {
  return { name, kind, default: dflt, doc, validate, updateMode: 'read-only', ...extra };
}
/** A property that is accepted and type-checked but has no effect. */
function ig(
  name: string,
  kind: ConfigKind,
  dflt: string | null,
  doc: string,
  validate?: Validator,
  extra: Partial<BrokerPropertyDef> = {},
): BrokerPropertyDef {
  return p(name, kind, dflt, `${doc} (accepted for compatibility; no effect in Samsa)`, validate, {
    ...extra,
    ignored: true,
  });
}
/** A broker default for a topic config: it can also be changed dynamically, cluster-wide or per broker. */
function d(name: string, kind: ConfigKind, dflt: string | null, doc: string, validate?: Validator): BrokerPropertyDef {
  return p(name, kind, dflt, doc, validate, { dynamic: true });
}
const NO_TLS_SETTING = 'Samsa does not implement this TLS setting';
const NO_SASL = 'Samsa does not support this SASL setting, so clients would not be authenticated as it says';
const OAUTH_VALIDATOR = 'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler';
const OAUTH_UNSECURED_VALIDATOR =
  'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler';
/** The OAUTHBEARER validators Samsa implements (the secured one also under its Kafka 3.1-3.3 package name). */
export const OAUTH_VALIDATOR_CLASSES = [
  OAUTH_VALIDATOR,
  'org.apache.kafka.common.security.oauthbearer.secured.OAuthBearerValidatorCallbackHandler',
  OAUTH_UNSECURED_VALIDATOR,
];
const INT_MAX_TEXT = String(INT_MAX);
const COMPRESSION = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'];
/** -1 is Kafka's "unlimited" for the retention settings. */
const unlimitedOrAtLeast =
  (min: number): Validator =>
  (v) =>
    typeof v === 'number' && v !== -1 && v < min ? `must be -1 (unlimited) or at least ${min}` : null;

export const DEFAULT_LISTENERS = 'PLAINTEXT://127.0.0.1:9092';
export const DEFAULT_SECURITY_PROTOCOL_MAP =
  'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

export const BROKER_PROPERTY_DEFS: BrokerPropertyDef[] = [
  // identity and network
  p('node.id', 'int', '1', 'The id of this broker in the cluster.', atLeast(0)),
  p('broker.id', 'int', null, 'Older name of node.id; when both are set they must be equal.', atLeast(0)),
  p(
    'cluster.id',
    'string',
    null,
    'Cluster id to format fresh log dirs with (Samsa extension; a random id is generated when unset).',
  ),
  p(
    'listeners',
    'list',
    DEFAULT_LISTENERS,
    'The NAME://host:port addresses to listen on: one client listener (none on a controller-only node), plus the CONTROLLER listener (named in controller.listener.names) on which a voter of the controller quorum serves the other nodes; an empty host binds every interface, port 0 picks a free port.',
  ),
  p(
    'advertised.listeners',
    'list',
    null,
    'The addresses given to clients in Metadata responses; defaults to listeners.',
  ),
  p(
    'listener.security.protocol.map',
    'string',
    DEFAULT_SECURITY_PROTOCOL_MAP,
    'Maps listener names to security protocols, as NAME:PROTOCOL pairs.',
  ),
  p(
    'controller.listener.names',
    'list',
    'CONTROLLER',
    'Names of the listeners of the controller quorum (Raft between voters, admin requests forwarded by brokers, broker registration and heartbeats). A voter opens the first of them that is in listeners; other nodes reach the voters at the addresses of controller.quorum.voters.',
  ),
  p(
    'inter.broker.listener.name',
    'string',
    null,
    'The listener brokers use between them (replica fetching, transaction markers, partition verification): its name in listeners. Unset: the listener of security.inter.broker.protocol (PLAINTEXT by default) when there is one, else the first client listener.',
  ),
  p(
    'security.inter.broker.protocol',
    'string',
    'PLAINTEXT',
    'Security protocol used between brokers when inter.broker.listener.name is not set: the listener of that name is used. Setting both is an error.',
    oneOf('PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'),
  ),
  p('socket.request.max.bytes', 'int', '104857600', 'The largest request frame a client may send.', atLeast(1)),
  ig('socket.send.buffer.bytes', 'int', '102400', 'SO_SNDBUF of the server sockets.'),
  ig('socket.receive.buffer.bytes', 'int', '102400', 'SO_RCVBUF of the server sockets.'),
  ig('socket.listen.backlog.size', 'int', '50', 'Backlog of pending connections.', atLeast(1)),
  p('connections.max.idle.ms', 'long', '600000', 'Connections idle for longer than this are closed.'),
  p(
    'max.connections',
    'int',
    INT_MAX_TEXT,
    'Most client connections accepted at once; Samsa caps the default below the open-file limit. When it is reached, the least recently used idle connection (nothing in flight) is closed to make room for the new one; when none is idle, the new one is closed. Lowering it closes no open connection.',
    atLeast(0),
    { dynamic: true, live: true },
  ),
  p(
    'max.connections.per.ip',
    'int',
    INT_MAX_TEXT,
    'Most connections accepted from one IP address; a connection beyond it is closed at once.',
    atLeast(0),
    { dynamic: true, live: true },
  ),
  p(
    'max.connections.per.ip.overrides',
    'string',
    '',
    'Per-address exceptions to max.connections.per.ip, as host:count pairs separated by commas (e.g. 10.0.0.7:200,client.example:50); host names are resolved when the value is set.',
    validConnectionOverrides,
    { dynamic: true, live: true },
  ),
  p(
    'max.connection.creation.rate',
    'int',
    INT_MAX_TEXT,
    "Most connections the broker accepts per second, on all its listeners together (a burst of at most one second's worth); a connection beyond the rate is closed at once (Kafka delays accepting it instead). As in Kafka, the inter-broker listener is exempt when the broker has other listeners. The per-listener form (listener.name.<listener>.max.connection.creation.rate) is not supported: it is accepted with a warning and has no effect.",
    atLeast(0),
    { dynamic: true, live: true },
  ),
  p(
    'samsa.request.read.timeout.ms',
    'long',
    '30000',
    "(Samsa extension) Most time from the first bytes of a request frame to its last: a connection whose frame is still incomplete after this is closed, even if bytes trickle in, so that it cannot hold the frame's memory. Time the broker itself is not reading from the connection (backpressure, request memory full) does not count. 0 disables it.",
    atLeast(0),
  ),
  ig('num.network.threads', 'int', '3', 'Threads handling network requests.', atLeast(1)),
  ig('num.io.threads', 'int', '8', 'Threads processing requests.', atLeast(1)),
  ig('background.threads', 'int', '10', 'Threads for background work.', atLeast(1)),
  p(
    'queued.max.requests',
    'int',
    '500',
    'Most requests read and not yet answered across all connections; when reached, the broker reads no more requests until one is answered. Fetch, JoinGroup and SyncGroup requests, which wait by design (Kafka parks them outside its queue), do not count.',
    atLeast(1),
  ),
  p(
    'queued.max.request.bytes',
    'long',
    '-1',
    "Most bytes held by requests being received or not yet answered, across all connections; when reached, the broker stops reading from its connections until requests are answered (a frame is admitted while the total is below the limit, so it may go over by one frame). Kafka's default -1 is unbounded; when this is not set Samsa uses 256 MiB or a quarter of the memory, whichever is less. Set -1 for unbounded.",
    (v) => (typeof v === 'number' && v !== -1 && v < 1 ? 'must be -1 (unbounded) or at least 1' : null),
  ),
  ig(
    'num.recovery.threads.per.data.dir',
    'int',
    '2',
    'Threads per data dir for log recovery and shutdown.',
    atLeast(1),
  ),
  p(
    'num.replica.fetchers',
    'int',
    '1',
    'Fetch loops, each with its own connection, per leader broker a follower fetches from.',
    atLeast(1),
  ),
  p('replica.lag.time.max.ms', 'long', '30000', 'Followers behind for longer leave the ISR.', atLeast(1)),
  p('replica.fetch.max.bytes', 'int', '1048576', 'Bytes per partition a follower fetches.', atLeast(0)),
  p('replica.fetch.response.max.bytes', 'int', '10485760', 'Bytes per response a follower fetches.', atLeast(0)),
  p('replica.fetch.wait.max.ms', 'int', '500', 'Longest wait of a follower fetch for new records.', atLeast(0)),
  p('replica.fetch.min.bytes', 'int', '1', 'Bytes a follower fetch waits for.', atLeast(1)),
  p('replica.fetch.backoff.ms', 'int', '1000', 'Wait of a follower after a fetch error.', atLeast(0)),
  p(
    'leader.replication.throttled.rate',
    'long',
    LONG_MAX_TEXT,
    "Bytes per second this broker, as leader, sends to followers outside the ISR for the partitions a topic's leader.replication.throttled.replicas names with this broker (or *); a throttled partition's fetch gets fewer bytes, or none (it waits) while the rate is used up. In-sync followers are never throttled.",
    atLeast(0),
    { dynamic: true, live: true },
  ),
  p(
    'follower.replication.throttled.rate',
    'long',
    LONG_MAX_TEXT,
    "Bytes per second this broker, as a follower outside the ISR, fetches for the partitions a topic's follower.replication.throttled.replicas names with this broker (or *); while the rate is used up those partitions are left out of its fetches.",
    atLeast(0),
    { dynamic: true, live: true },
  ),
  // client quotas (KIP-219, KIP-599): the rate sensors' windows
  p(
    'quota.window.num',
    'int',
    '11',
    'Samples of the rate sensors of client quotas (producer_byte_rate, consumer_byte_rate, request_percentage, and connection_creation_rate of ip entities): a rate is measured over this many windows.',
    atLeast(1),
  ),
  p('quota.window.size.seconds', 'int', '1', 'Seconds of each sample of the client quota rate sensors.', atLeast(1)),
  p(
    'controller.quota.window.num',
    'int',
    '11',
    'Samples of the rate sensor of controller_mutation_rate (partitions created or deleted per second).',
    atLeast(1),
  ),
  p(
    'controller.quota.window.size.seconds',
    'int',
    '1',
    'Seconds of each sample of the controller_mutation_rate sensor.',
    atLeast(1),
  ),
  ig('fetch.max.bytes', 'int', '57671680', 'The most bytes returned by one Fetch response.', atLeast(1024)),
  p(
    'auto.leader.rebalance.enable',
    'boolean',
    'true',
    'The active controller moves leaderships back to preferred replicas (first in the replica list) that are live and in sync, every leader.imbalance.check.interval.seconds.',
  ),
  p(
    'leader.imbalance.check.interval.seconds',
    'long',
    '300',
    'How often the active controller looks for leaderships to move back to preferred replicas.',
    atLeast(1),
  ),
  p(
    'leader.imbalance.per.broker.percentage',
    'int',
    '10',
    'Leaderships move back to a broker once more than this share (%) of the partitions it is the preferred replica of are led by another.',
    atLeast(0),
  ),
  p(
    'delete.topic.enable',
    'boolean',
    'true',
    'Allow DeleteTopics; when false every DeleteTopics is answered TOPIC_DELETION_DISABLED (INVALID_REQUEST before v3).',
  ),
  // the cluster: roles, the controller quorum (KRaft), broker membership
  p(
    'process.roles',
    'list',
    'broker,controller',
    'The roles of this node: broker (serves clients, hosts partitions), controller (a voter of the metadata quorum), or both (the default, so that one node is a whole cluster).',
    listOf(['broker', 'controller'], true),
  ),
  p(
    'controller.quorum.voters',
    'list',
    '',
    "The voters of the metadata quorum, as id@host:port entries separated by commas (the host and port of each voter's CONTROLLER listener). Empty: this node alone is the quorum (a one-voter quorum without network).",
  ),
  p(
    'controller.quorum.bootstrap.servers',
    'list',
    '',
    'host:port addresses of controller listeners to ask for the voters (with DescribeQuorum) when controller.quorum.voters is empty; for broker-only nodes.',
  ),
  p(
    'controller.quorum.election.timeout.ms',
    'int',
    '1000',
    'How long an election may go without a winner before a candidate stands again (with a random extra delay, so that candidates do not keep splitting the votes).',
    atLeast(1),
  ),
  p(
    'controller.quorum.fetch.timeout.ms',
    'int',
    '2000',
    'How long a voter goes without a successful fetch from the leader before it stands for election. A new active controller also fences, this long after taking over, the broker of another voter (the same node) that has neither heartbeated to it nor fetched from it.',
    atLeast(1),
  ),
  p(
    'controller.quorum.election.backoff.max.ms',
    'int',
    '1000',
    'Most time a voter waits (a random part of it) before standing again after losing an election.',
    atLeast(1),
  ),
  p(
    'broker.heartbeat.interval.ms',
    'int',
    '2000',
    'How often a broker heartbeats to the active controller.',
    atLeast(1),
  ),
  p(
    'broker.session.timeout.ms',
    'int',
    '9000',
    'A broker whose heartbeats stop for this long is fenced (it leads no partition and is not given to clients). After a failover, the broker of a voter silent to the new active controller is fenced sooner (controller.quorum.fetch.timeout.ms).',
    atLeast(1),
  ),
  p(
    'broker.rack',
    'string',
    null,
    'The rack of this broker, registered with the controller and reported in Metadata and DescribeCluster.',
  ),
  p(
    'replica.selector.class',
    'string',
    null,
    "How a partition leader picks the replica a consumer should fetch from (KIP-392): unset or org.apache.kafka.common.replica.LeaderSelector, the leader; org.apache.kafka.common.replica.RackAwareReplicaSelector, an in-sync replica in the consumer's client.rack when the leader is not in it.",
    oneOf('org.apache.kafka.common.replica.RackAwareReplicaSelector', 'org.apache.kafka.common.replica.LeaderSelector'),
  ),
  p(
    'metadata.log.dir',
    'string',
    null,
    'Directory of the cluster metadata log (the __cluster_metadata-0 partition); when unset, the first of log.dirs.',
  ),
  p(
    'metadata.log.max.record.bytes.between.snapshots',
    'long',
    '20971520',
    'Record bytes appended to the metadata log after the latest snapshot that trigger a new snapshot (and the trimming of the log up to it).',
    atLeast(1),
  ),
  ig('zookeeper.connect', 'string', null, 'ZooKeeper connection string.'),
  ig('zookeeper.connection.timeout.ms', 'int', null, 'ZooKeeper connection timeout.'),
  ig('zookeeper.session.timeout.ms', 'int', '18000', 'ZooKeeper session timeout.'),
  ig('inter.broker.protocol.version', 'string', null, 'Inter-broker protocol version.'),
  ig('log.message.format.version', 'string', null, 'Record format version (removed in Kafka 4.0).'),
  p(
    'authorizer.class.name',
    'string',
    '',
    'The authorizer: org.apache.kafka.metadata.authorizer.StandardAuthorizer turns ACLs on (stored in the metadata log, managed with CreateAcls/DescribeAcls/DeleteAcls or samsa acl); empty: no authorization, every client may do everything.',
    (v) =>
      v === '' || v === 'org.apache.kafka.metadata.authorizer.StandardAuthorizer'
        ? null
        : v === 'kafka.security.authorizer.AclAuthorizer'
          ? "is ZooKeeper-based Kafka's authorizer (gone in Kafka 4.0); use org.apache.kafka.metadata.authorizer.StandardAuthorizer, which keeps the ACLs in the metadata log"
          : 'must be empty or org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  ),
  p(
    'super.users',
    'string',
    '',
    'Principals allowed every operation on every resource whatever the ACLs say, separated by semicolons (User:admin;User:broker).',
    (v) => {
      for (const item of String(v)
        .split(';')
        .map((x) => x.trim()))
        if (item !== '' && !/^[^:]+:.+$/.test(item)) return `'${item}' is not a principal of the form Type:name`;
      return null;
    },
  ),
  p(
    'sasl.enabled.mechanisms',
    'list',
    'GSSAPI',
    "The SASL mechanisms a SASL_PLAINTEXT or SASL_SSL listener offers (also per listener: listener.name.<listener>.sasl.enabled.mechanisms): PLAIN, SCRAM-SHA-256, SCRAM-SHA-512. The default is Kafka's, GSSAPI (Kerberos), which Samsa does not support: a SASL listener that leaves it stops the start with an error, so set it.",
    undefined,
    { listenerOverride: true },
  ),
  p(
    'sasl.mechanism.inter.broker.protocol',
    'string',
    'GSSAPI',
    'The SASL mechanism a broker uses to reach the other brokers when the inter-broker listener is SASL; the username and password are those of the listener JAAS entry (username=, password=).',
  ),
  p(
    'sasl.jaas.config',
    'password',
    null,
    'The JAAS login module of a SASL mechanism, in Kafka\'s form; usually per listener and mechanism: listener.name.<listener>.<mechanism>.sasl.jaas.config (PLAIN: org.apache.kafka.common.security.plain.PlainLoginModule required user_<name>="<password>" ...;). Never logged.',
    undefined,
    { listenerOverride: true },
  ),
  p(
    'connections.max.reauth.ms',
    'long',
    '0',
    'Longest life of an authenticated SASL session (KIP-368; also per listener and mechanism): the broker tells the client in SaslAuthenticate (v1+), and closes a connection whose session expired without re-authenticating at its next request. 0: sessions do not expire.',
    atLeast(0),
    { listenerOverride: true },
  ),
  p(
    'connection.failed.authentication.delay.ms',
    'int',
    '100',
    'How long the broker waits before it answers a failed SASL authentication and closes the connection (slows password guessing).',
    atLeast(0),
  ),
  p(
    'sasl.server.max.receive.size',
    'int',
    '524288',
    'The largest request frame a client may send before it has authenticated on a SASL listener (a larger one closes the connection).',
    atLeast(1),
  ),
  // OAUTHBEARER (KIP-768): also per listener and mechanism (listener.name.<l>.oauthbearer.<name>)
  p(
    'sasl.server.callback.handler.class',
    'class',
    null,
    `The class that validates a SASL mechanism's credentials; Kafka reads it only with the listener and mechanism prefix (listener.name.<listener>.<mechanism>.sasl.server.callback.handler.class); Samsa also without them. For OAUTHBEARER Samsa knows ${OAUTH_VALIDATOR} (signed JWTs checked against sasl.oauthbearer.jwks.endpoint.url) and, for testing only, ${OAUTH_UNSECURED_VALIDATOR} (unsigned JWTs; Kafka's default when this is not set).`,
    undefined,
    {
      listenerOverride: true,
      accepts: 'one of the OAUTHBEARER validators named here',
      refuse: (v) =>
        v === null || OAUTH_VALIDATOR_CLASSES.includes(String(v))
          ? null
          : `Samsa runs no Java classes, so a SASL callback handler other than Kafka's OAUTHBEARER validators (${OAUTH_VALIDATOR_CLASSES.join(', ')}) cannot be used; remove it`,
    },
  ),
  p(
    'sasl.oauthbearer.jwks.endpoint.url',
    'string',
    null,
    'The JSON Web Key Set that OAUTHBEARER tokens are verified against: a file:// path or an http(s):// URL of the identity provider (read at startup, which fails if it cannot be read, and every sasl.oauthbearer.jwks.endpoint.refresh.ms; a token whose key id is unknown causes an early read, at most one per 10 s). Required by OAuthBearerValidatorCallbackHandler.',
    (v) => (/^(file|https?):\/\//i.test(String(v)) ? null : 'expected a file://, http:// or https:// URL'),
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.jwks.endpoint.refresh.ms',
    'long',
    '3600000',
    'How often the JWKS of sasl.oauthbearer.jwks.endpoint.url is read again.',
    atLeast(1),
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.jwks.endpoint.retry.backoff.ms',
    'long',
    '100',
    'Wait before the first retry of a failed JWKS read (the keys read before stay in use); doubles with each failure up to sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms.',
    atLeast(0),
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms',
    'long',
    '10000',
    'Longest wait between retries of a failed JWKS read.',
    atLeast(0),
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.expected.audience',
    'list',
    null,
    "Audiences an OAUTHBEARER token's aud claim must name one of. When not set, a token that has an aud claim is refused (as in Kafka).",
    undefined,
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.expected.issuer',
    'string',
    null,
    "The value an OAUTHBEARER token's iss claim must have; when not set the issuer is not checked.",
    undefined,
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.sub.claim.name',
    'string',
    'sub',
    'The claim of an OAUTHBEARER token that names the principal (User:<value>).',
    undefined,
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.scope.claim.name',
    'string',
    'scope',
    'The claim of an OAUTHBEARER token that holds its scope (a string or a list of strings).',
    undefined,
    { listenerOverride: true },
  ),
  p(
    'sasl.oauthbearer.clock.skew.seconds',
    'int',
    '30',
    'Seconds of difference allowed between the broker clock and the token issuer clock when checking exp and nbf.',
    atLeast(0),
    { listenerOverride: true },
  ),
  ig('group.coordinator.rebalance.protocols', 'list', 'classic,consumer', 'Group protocols enabled.'),
  ig(
    'share.coordinator.state.topic.replication.factor',
    'short',
    '3',
    'Replication factor of the share-group state topic.',
  ),
  ig('share.coordinator.state.topic.min.isr', 'short', '2', 'Min ISR of the share-group state topic.'),
  // topics and logs
  p(
    'log.dirs',
    'list',
    null,
    'Directories holding partition data; overrides log.dir. Relative paths are resolved against the working directory.',
  ),
  p('log.dir', 'string', './data', 'The data directory when log.dirs is not set.'),
  p(
    'num.partitions',
    'int',
    '1',
    'Partitions of an auto-created topic, or of a CreateTopics request that asks for the default (-1).',
    atLeast(1),
  ),
  p(
    'default.replication.factor',
    'int',
    '1',
    'Replication factor of an auto-created topic or of a request asking for the default.',
    atLeast(1),
  ),
  p(
    'auto.create.topics.enable',
    'boolean',
    'true',
    'Create a topic the first time a client asks for it in a Metadata request (as in Kafka, a Produce to an unknown topic does not create it).',
  ),
  p(
    'samsa.max.partitions',
    'int',
    '4000',
    '(Samsa extension; Kafka has no such cap) The most partitions one broker hosts, internal topics included. A CreateTopics, CreatePartitions or auto-creation that would pass it is refused with POLICY_VIOLATION. The default is the per-broker limit Kafka recommends; docs/architecture.md says what more costs.',
    atLeast(1),
  ),
  p(
    'samsa.max.topics',
    'int',
    '4000',
    '(Samsa extension; Kafka has no such cap) The most topics in the cluster, internal topics included. A CreateTopics or auto-creation that would pass it is refused with POLICY_VIOLATION.',
    atLeast(1),
  ),
  p(
    'log.retention.ms',
    'long',
    null,
    'How long to keep a segment; -1 keeps forever. Takes precedence over log.retention.minutes and log.retention.hours.',
    unlimitedOrAtLeast(1),
    { dynamic: true },
  ),
  p('log.retention.minutes', 'int', null, 'log.retention.ms in minutes; used when log.retention.ms is not set.'),
  p(
    'log.retention.hours',
    'int',
    '168',
    'log.retention.ms in hours; used when neither log.retention.ms nor log.retention.minutes is set.',
  ),
  d(
    'log.retention.bytes',
    'long',
    '-1',
    'Delete the oldest segments while a partition is larger than this; -1 means no size limit.',
  ),
  p('log.retention.check.interval.ms', 'long', '300000', 'How often retention is checked.', atLeast(1)),
  d(
    'log.segment.bytes',
    'int',
    '1073741824',
    'Roll a new segment before the active one would exceed this size.',
    atLeast(14),
  ),
  d(
    'log.roll.ms',
    'long',
    null,
    'Roll a new segment once the active one is this old; takes precedence over log.roll.hours.',
    atLeast(1),
  ),
  p('log.roll.hours', 'int', '168', 'log.roll.ms in hours.', atLeast(1)),
  ig(
    'log.roll.jitter.ms',
    'long',
    null,
    'Random reduction of the roll time, to spread segment rolls; takes precedence over log.roll.jitter.hours.',
    atLeast(0),
  ),
  ig('log.roll.jitter.hours', 'int', '0', 'log.roll.jitter.ms in hours.', atLeast(0)),
  d('log.index.size.max.bytes', 'int', '10485760', 'Most bytes of a segment offset or time index.', atLeast(4)),
  d('log.index.interval.bytes', 'int', '4096', 'Bytes of log between two offset index entries.', atLeast(0)),
  d(
    'log.flush.interval.messages',
    'long',
    LONG_MAX_TEXT,
    'fsync a partition once this many records are unflushed.',
    atLeast(1),
  ),
  d(
    'log.flush.interval.ms',
    'long',
    null,
    'fsync a partition once its oldest unflushed record is this old; defaults to log.flush.scheduler.interval.ms.',
    atLeast(0),
  ),
  p(
    'log.flush.scheduler.interval.ms',
    'long',
    LONG_MAX_TEXT,
    'How often the flusher checks whether a partition needs an fsync.',
  ),
  ig(
    'log.flush.offset.checkpoint.interval.ms',
    'int',
    '60000',
    'How often recovery points are checkpointed.',
    atLeast(0),
  ),
  ig(
    'log.flush.start.offset.checkpoint.interval.ms',
    'int',
    '60000',
    'How often log start offsets are checkpointed.',
    atLeast(0),
  ),
  d(
    'log.cleanup.policy',
    'list',
    'delete',
    'What to do with old segments: delete, compact, or both.',
    listOf(['delete', 'compact']),
  ),
  p('log.cleaner.enable', 'boolean', 'true', 'Run the log cleaner for compacted topics.'),
  ig('log.cleaner.threads', 'int', '1', 'Log cleaner threads.', atLeast(0)),
  ig('log.cleaner.dedupe.buffer.size', 'long', '134217728', 'Memory for compaction de-duplication.'),
  ig('log.cleaner.io.buffer.size', 'int', '524288', 'I/O buffer of the log cleaner.', atLeast(0)),
  p('log.cleaner.backoff.ms', 'long', '15000', 'Sleep of the log cleaner when there is nothing to clean.', atLeast(0)),
  d(
    'log.cleaner.delete.retention.ms',
    'long',
    '86400000',
    'How long tombstones, and transaction markers with nothing left of their transaction, stay in a compacted topic.',
    atLeast(0),
  ),
  d('log.cleaner.min.compaction.lag.ms', 'long', '0', 'Records younger than this are never compacted.', atLeast(0)),
  d(
    'log.cleaner.max.compaction.lag.ms',
    'long',
    LONG_MAX_TEXT,
    'Records older than this are compacted even if the dirty ratio is low; compacted logs also roll after this long.',
    atLeast(1),
  ),
  d(
    'log.cleaner.min.cleanable.ratio',
    'double',
    '0.5',
    'Compact once dirty bytes / total bytes exceed this ratio.',
    between(0, 1),
  ),
  d(
    'log.segment.delete.delay.ms',
    'long',
    '60000',
    'How long a deleted segment file lingers before it is removed.',
    atLeast(0),
  ),
  ig('log.preallocate', 'boolean', 'false', 'Preallocate segment files.'),
  d(
    'log.message.timestamp.type',
    'string',
    'CreateTime',
    'CreateTime keeps the producer timestamp; LogAppendTime stamps the broker time.',
    oneOf('CreateTime', 'LogAppendTime'),
  ),
  d(
    'log.message.timestamp.before.max.ms',
    'long',
    LONG_MAX_TEXT,
    'Reject records whose timestamp is further than this in the past (CreateTime only).',
    atLeast(0),
  ),
  d(
    'log.message.timestamp.after.max.ms',
    'long',
    '3600000',
    'Reject records whose timestamp is further than this in the future (CreateTime only).',
    atLeast(0),
  ),
  ig(
    'log.local.retention.ms',
    'long',
    '-2',
    'Tiered storage local retention (-2: same as log.retention.ms).',
    atLeast(-2),
  ),
  ig(
    'log.local.retention.bytes',
    'long',
    '-2',
    'Tiered storage local retention (-2: same as log.retention.bytes).',
    atLeast(-2),
  ),
  d('message.max.bytes', 'int', '1048588', 'The largest record batch a producer may send.', atLeast(0)),
  ig(
    'compression.type',
    'string',
    'producer',
    'Compression of stored batches; producer keeps what the producer sent.',
    oneOf(...COMPRESSION),
  ),
  ig('compression.gzip.level', 'int', '-1', 'gzip level used when the broker compresses.', (v) =>
    typeof v === 'number' && v !== -1 && (v < 1 || v > 9) ? 'must be -1 or between 1 and 9' : null,
  ),
  ig('compression.lz4.level', 'int', '9', 'lz4 level used when the broker compresses.', between(1, 17)),
  ig('compression.zstd.level', 'int', '3', 'zstd level used when the broker compresses.', between(-131072, 22)),
  d(
    'min.insync.replicas',
    'int',
    '1',
    'In-sync replicas needed for an acks=all produce to succeed (NOT_ENOUGH_REPLICAS otherwise).',
    atLeast(1),
  ),
  d(
    'unclean.leader.election.enable',
    'boolean',
    'false',
    'When no in-sync replica of a partition is live, the controller elects a live replica outside the ISR (records acknowledged by the old ISR can be lost).',
  ),
  // groups and internal topics
  p(
    'group.initial.rebalance.delay.ms',
    'int',
    '3000',
    'How long the first rebalance of an empty group waits for more members.',
    atLeast(0),
  ),
  p('group.min.session.timeout.ms', 'int', '6000', 'The smallest session timeout a member may ask for.'),
  p('group.max.session.timeout.ms', 'int', '1800000', 'The largest session timeout a member may ask for.'),
  p('group.max.size', 'int', INT_MAX_TEXT, 'Most members in one consumer group.', atLeast(1)),
  p(
    'group.consumer.heartbeat.interval.ms',
    'int',
    '5000',
    'Heartbeat interval the coordinator gives members of consumer-protocol groups (KIP-848).',
    atLeast(1),
  ),
  p(
    'group.consumer.session.timeout.ms',
    'int',
    '45000',
    'Session timeout of members of consumer-protocol groups (KIP-848).',
    atLeast(1),
  ),
  p('offsets.topic.num.partitions', 'int', '50', 'Partitions of __consumer_offsets (fixed once created).', atLeast(1)),
  p(
    'offsets.topic.replication.factor',
    'short',
    '3',
    'Replication factor of __consumer_offsets, given when it is created (on first use); capped by the number of live brokers then, with a warning.',
    atLeast(1),
  ),
  ig('offsets.topic.segment.bytes', 'int', '104857600', 'Segment size of __consumer_offsets.', atLeast(1)),
  ig('offsets.topic.compression.codec', 'int', '0', 'Compression of __consumer_offsets batches.'),
  ig('offsets.load.buffer.size', 'int', '5242880', 'Read buffer when loading offsets.', atLeast(1)),
  p(
    'offsets.commit.timeout.ms',
    'int',
    '5000',
    'How long a write to __consumer_offsets (an offset commit, group metadata) waits for every in-sync replica and the fsync before the request fails with COORDINATOR_NOT_AVAILABLE.',
    atLeast(1),
  ),
  p(
    'offsets.retention.minutes',
    'int',
    '10080',
    'Committed offsets of an empty group are removed after this.',
    atLeast(1),
  ),
  ig('offsets.retention.check.interval.ms', 'long', '600000', 'How often stale offsets are looked for.', atLeast(1)),
  p('offset.metadata.max.bytes', 'int', '4096', 'The most metadata bytes stored with a committed offset.'),
  p(
    'transaction.state.log.num.partitions',
    'int',
    '50',
    'Partitions of __transaction_state (fixed once created).',
    atLeast(1),
  ),
  p(
    'transaction.state.log.replication.factor',
    'short',
    '3',
    'Replication factor of __transaction_state, given when it is created (on first use); capped by the number of live brokers then, with a warning.',
    atLeast(1),
  ),
  p(
    'transaction.state.log.min.isr',
    'int',
    '2',
    'min.insync.replicas of __transaction_state when it is created (capped by its replication factor).',
    atLeast(1),
  ),
  ig('transaction.state.log.segment.bytes', 'int', '104857600', 'Segment size of __transaction_state.', atLeast(1)),
  p(
    'transaction.max.timeout.ms',
    'int',
    '900000',
    'The longest transaction timeout a producer may ask for (longer: INVALID_TRANSACTION_TIMEOUT).',
    atLeast(1),
  ),
  p(
    'transactional.id.expiration.ms',
    'int',
    '604800000',
    'A transactional id with no transaction open and unused for this long is forgotten (a tombstone in __transaction_state).',
    atLeast(1),
  ),
  p(
    'transaction.abort.timed.out.transaction.cleanup.interval.ms',
    'int',
    '10000',
    'How often the transaction coordinator aborts transactions open longer than their timeout.',
    atLeast(1),
  ),
  p(
    'transaction.remove.expired.transaction.cleanup.interval.ms',
    'int',
    '3600000',
    'How often the transaction coordinator removes expired transactional ids.',
    atLeast(1),
  ),
  ig(
    'producer.id.expiration.ms',
    'int',
    '86400000',
    'Forget an idempotent producer id unused for this long.',
    atLeast(1),
  ),
  // security that Samsa does not provide yet (TLS, SASL, ACLs): promising values stop startup, tuning is ignored
  p(
    'allow.everyone.if.no.acl.found',
    'boolean',
    'false',
    'With the authorizer on: whether a request on a resource that no ACL applies to is allowed (false: denied unless an ACL allows it).',
  ),
  // TLS (SSL and SASL_SSL listeners; each also as listener.name.<listener>.ssl.*, which wins for that listener)
  p(
    'ssl.client.auth',
    'string',
    'none',
    'Whether TLS clients must present a certificate signed by the truststore: required (refused without one), requested (optional), none. A client certificate makes the principal User:<its subject DN> (RFC 2253), through ssl.principal.mapping.rules.',
    oneOf('none', 'requested', 'required'),
  ),
  p(
    'ssl.keystore.type',
    'string',
    'JKS',
    'Format of the keystore: PEM or PKCS12 (JKS, the default, cannot be read by Samsa: set PEM or PKCS12 for a TLS listener).',
  ),
  p('ssl.keystore.location', 'string', null, 'File of the certificate chain and private key (PEM or PKCS12).'),
  p('ssl.keystore.password', 'password', null, 'Password of a PKCS12 keystore, or of the encrypted PEM key.'),
  p('ssl.key.password', 'password', null, 'Password of the private key (PEM: of an encrypted key).'),
  p(
    'ssl.keystore.certificate.chain',
    'password',
    null,
    'The certificate chain in PEM, given inline (KIP-651; ssl.keystore.type=PEM, with ssl.keystore.key).',
  ),
  p(
    'ssl.keystore.key',
    'password',
    null,
    'The private key in PEM (PKCS#8), given inline (KIP-651; ssl.keystore.type=PEM).',
  ),
  p('ssl.truststore.type', 'string', 'JKS', 'Format of the truststore: PEM or PKCS12 (JKS cannot be read by Samsa).'),
  p(
    'ssl.truststore.location',
    'string',
    null,
    'File of the CA certificates that client certificates (and, between brokers, server certificates) are checked against. Unset: the system CAs.',
  ),
  p('ssl.truststore.password', 'password', null, 'Password of a PKCS12 truststore.'),
  p('ssl.truststore.certificates', 'password', null, 'The trusted CA certificates in PEM, given inline (KIP-651).'),
  p(
    'ssl.enabled.protocols',
    'list',
    'TLSv1.2,TLSv1.3',
    'TLS versions accepted (TLSv1.2, TLSv1.3; older ones are refused by the TLS library).',
    listOf(['TLSv1.2', 'TLSv1.3', 'TLSv1.1', 'TLSv1'], true),
  ),
  p(
    'ssl.protocol',
    'string',
    'TLSv1.3',
    'The TLS version preferred (Samsa negotiates the highest of ssl.enabled.protocols).',
  ),
  p(
    'ssl.cipher.suites',
    'list',
    '',
    'Cipher suites allowed, by IANA or OpenSSL name (TLS 1.2 suites and TLS 1.3 suites); empty: the TLS library defaults.',
  ),
  p(
    'ssl.endpoint.identification.algorithm',
    'string',
    'https',
    'How a broker connecting to another over TLS checks the name in its certificate: https (host name against the certificate) or empty (not checked).',
  ),
  p(
    'ssl.principal.mapping.rules',
    'string',
    'DEFAULT',
    "Rules from a client certificate's subject DN to the principal name: RULE:pattern/replacement/[LU] entries and DEFAULT (the DN as it is), separated by commas, first match wins; a DN that no rule matches fails authentication.",
  ),
  ig('ssl.keymanager.algorithm', 'string', 'SunX509', 'Java key manager algorithm.'),
  ig('ssl.trustmanager.algorithm', 'string', 'PKIX', 'Java trust manager algorithm.'),
  ig('ssl.secure.random.implementation', 'string', null, 'Java SecureRandom implementation.'),
  p(
    'samsa.ssl.handshake.timeout.ms',
    'int',
    '10000',
    'A TLS handshake not complete this long after the connection is accepted closes the connection (Samsa extension).',
    atLeast(1),
  ),
  ig('sasl.kerberos.kinit.cmd', 'string', '/usr/bin/kinit', 'Kerberos kinit command path.'),
  ig(
    'sasl.kerberos.ticket.renew.window.factor',
    'double',
    '0.8',
    'Part of the Kerberos ticket lifetime after which the login thread renews it.',
  ),
  ig('sasl.kerberos.ticket.renew.jitter', 'double', '0.05', 'Random jitter added to the Kerberos renewal time.'),
  ig('sasl.kerberos.min.time.before.relogin', 'long', '60000', 'Login thread sleep between Kerberos refresh attempts.'),
  ig(
    'sasl.login.refresh.window.factor',
    'double',
    '0.8',
    'Part of the login credential lifetime after which it is refreshed.',
    between(0.5, 1),
  ),
  ig(
    'sasl.login.refresh.window.jitter',
    'double',
    '0.05',
    'Random jitter added to the credential refresh time.',
    between(0, 0.25),
  ),
  ig(
    'sasl.login.refresh.min.period.seconds',
    'short',
    '60',
    'Least time between two credential refreshes.',
    between(0, 900),
  ),
  ig(
    'sasl.login.refresh.buffer.seconds',
    'short',
    '300',
    'Time to keep before credential expiry when refreshing.',
    between(0, 3600),
  ),
  ig('password.encoder.secret', 'password', null, 'Secret that encodes dynamically set passwords (ZooKeeper mode).'),
  // runtime-tunable in Kafka; nothing to tune in Samsa
  ig('log.cleaner.io.buffer.load.factor', 'double', '0.9', 'Load factor of the log cleaner de-duplication buffer.'),
  ig('log.cleaner.io.max.bytes.per.second', 'double', '1.7976931348623157E308', 'I/O throttle of the log cleaner.'),
  ig('metric.reporters', 'list', '', 'Metrics reporter classes.'),
  p(
    'transaction.partition.verification.enable',
    'boolean',
    'true',
    'A partition leader appends the first transactional batch of a producer on a partition only once the transaction coordinator confirms the partition is in its ongoing transaction (KIP-890; refused with INVALID_TXN_STATE otherwise). Read at startup.',
  ),
];

/** SASL settings Kafka can reconfigure per listener at runtime; Samsa reads them at startup only. */
const STARTUP_ONLY = new Set(['sasl.enabled.mechanisms', 'sasl.jaas.config', 'sasl.mechanism.inter.broker.protocol']);

/** TLS settings a dynamic change applies to at once (the listeners' server side; see src/security/tls.ts). */
const LIVE_TLS_PROPERTIES = new Set([
  'ssl.keystore.type',
  'ssl.keystore.location',
  'ssl.keystore.password',
  'ssl.key.password',
  'ssl.keystore.certificate.chain',
  'ssl.keystore.key',
  'ssl.truststore.type',
  'ssl.truststore.location',
  'ssl.truststore.password',
  'ssl.truststore.certificates',
  'ssl.client.auth',
  'ssl.enabled.protocols',
  'ssl.cipher.suites',
]);

for (const def of BROKER_PROPERTY_DEFS) {
  def.updateMode = STARTUP_ONLY.has(def.name) ? 'read-only' : kafkaUpdateMode(def.name);
  def.dynamic = def.updateMode !== 'read-only';
  // a TLS listener rebuilds its context when these change (new handshakes use it)
  if (LIVE_TLS_PROPERTIES.has(def.name)) def.live = true;
  if (def.kind === 'password') def.sensitive = true;
}

/** Parses max.connections.per.ip.overrides: `host:count,...` (the count after the last ':', so IPv6 addresses work). */
export function parseConnectionOverrides(text: string): Map<string, number> | string {
  const out = new Map<string, number>();
  for (const item of text
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '')) {
    const at = item.lastIndexOf(':');
    const host =
      at > 0
        ? item
            .slice(0, at)
            .trim()
            .replace(/^\[(.*)\]$/, '$1')
        : '';
    const count = at > 0 ? item.slice(at + 1).trim() : '';
    if (host === '' || !/^\d+$/.test(count) || Number(count) > INT_MAX)
      return `'${item}' is not host:count with count 0..${INT_MAX}`;
    out.set(host, Number(count));
  }
  return out;
}

function validConnectionOverrides(v: ConfigValue): string | null {
  const r = parseConnectionOverrides(String(v));
  return typeof r === 'string' ? r : null;
}

export const BROKER_PROPERTY_BY_NAME: ReadonlyMap<string, BrokerPropertyDef> = new Map(
  BROKER_PROPERTY_DEFS.map((d) => [d.name, d]),
);

/** Prefixes of per-listener settings (listener.name.<name>.<config>); accepted and ignored unless they configure TLS or SASL. */
export const IGNORED_PREFIXES = ['listener.name.'];

/** The definition behind `<mechanism>.<property>` (e.g. plain.sasl.jaas.config): a SASL setting of one mechanism. */
export function mechanismPropertyDef(name: string): BrokerPropertyDef | undefined {
  const m = /^(plain|scram-sha-256|scram-sha-512|oauthbearer|gssapi)\.(.+)$/.exec(name);
  const def = m ? BROKER_PROPERTY_BY_NAME.get(m[2]) : undefined;
  return def?.listenerOverride ? def : undefined;
}

/**
 * Why a property that is not in the table promises security Samsa does not
 * provide (an ssl.* or sasl.* setting Samsa does not list), or null.
 * `name` is without any listener.name.<listener>. prefix.
 */
export function securityRefusal(name: string): string | null {
  // SASL mechanism configs: <mechanism>.sasl.jaas.config behind a listener prefix
  const base = name.replace(/^[a-z0-9-]+\.(?=sasl\.)/, '');
  if (BROKER_PROPERTY_BY_NAME.has(base)) return null;
  if (base.startsWith('ssl.')) return `${NO_TLS_SETTING}; remove it`;
  if (base.startsWith('sasl.') || base === 'principal.builder.class' || base === 'connections.max.reauth.ms')
    return `${NO_SASL}; remove it`;
  return null;
}
