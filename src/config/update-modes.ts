/**
 * Kafka's "Dynamic Update Mode" of broker properties (the broker configs
 * reference, computed in Kafka from DynamicBrokerConfig): which properties
 * AlterConfigs / IncrementalAlterConfigs may change on the BROKER resource,
 * and at which level. A per-broker property is set with the resource name of
 * one broker ("1"); a cluster-wide one also as the cluster default (resource
 * name ""). Every other property is read-only.
 *
 * The sets list Kafka's names, including properties Samsa's table does not
 * have; only names that are also in the table can be altered.
 */

export type UpdateMode = 'read-only' | 'per-broker' | 'cluster-wide';

/** Listener and security settings: Kafka reconfigures them per broker only. */
const PER_BROKER = new Set([
  'listeners',
  'listener.security.protocol.map',
  'principal.builder.class',
  'ssl.protocol',
  'ssl.provider',
  'ssl.cipher.suites',
  'ssl.enabled.protocols',
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
  'ssl.keymanager.algorithm',
  'ssl.trustmanager.algorithm',
  'ssl.endpoint.identification.algorithm',
  'ssl.secure.random.implementation',
  'ssl.client.auth',
  'ssl.engine.factory.class',
  'sasl.mechanism.inter.broker.protocol',
  'sasl.jaas.config',
  'sasl.enabled.mechanisms',
  'sasl.kerberos.service.name',
  'sasl.kerberos.kinit.cmd',
  'sasl.kerberos.ticket.renew.window.factor',
  'sasl.kerberos.ticket.renew.jitter',
  'sasl.kerberos.min.time.before.relogin',
  'sasl.kerberos.principal.to.local.rules',
  'sasl.login.refresh.window.factor',
  'sasl.login.refresh.window.jitter',
  'sasl.login.refresh.min.period.seconds',
  'sasl.login.refresh.buffer.seconds',
]);

const CLUSTER_WIDE = new Set([
  // the broker defaults of topic configs (the first broker synonym of each)
  'log.segment.bytes',
  'log.roll.ms',
  'log.roll.jitter.ms',
  'log.index.size.max.bytes',
  'log.flush.interval.messages',
  'log.flush.interval.ms',
  'log.retention.bytes',
  'log.retention.ms',
  'message.max.bytes',
  'log.index.interval.bytes',
  'log.cleaner.delete.retention.ms',
  'log.cleaner.min.compaction.lag.ms',
  'log.cleaner.max.compaction.lag.ms',
  'log.segment.delete.delay.ms',
  'log.cleaner.min.cleanable.ratio',
  'log.cleanup.policy',
  'unclean.leader.election.enable',
  'min.insync.replicas',
  'compression.type',
  'compression.gzip.level',
  'compression.lz4.level',
  'compression.zstd.level',
  'log.preallocate',
  'log.message.format.version',
  'log.message.timestamp.type',
  'log.message.timestamp.before.max.ms',
  'log.message.timestamp.after.max.ms',
  'log.message.downconversion.enable',
  'log.local.retention.ms',
  'log.local.retention.bytes',
  // log cleaner
  'log.cleaner.threads',
  'log.cleaner.dedupe.buffer.size',
  'log.cleaner.io.buffer.load.factor',
  'log.cleaner.io.buffer.size',
  'log.cleaner.io.max.bytes.per.second',
  'log.cleaner.backoff.ms',
  // thread pools
  'num.io.threads',
  'num.network.threads',
  'num.replica.fetchers',
  'num.recovery.threads.per.data.dir',
  'background.threads',
  // connection limits
  'max.connections',
  'max.connections.per.ip',
  'max.connections.per.ip.overrides',
  'max.connection.creation.rate',
  // replication quotas (KIP-73)
  'leader.replication.throttled.rate',
  'follower.replication.throttled.rate',
  // others
  'metric.reporters',
  'producer.id.expiration.ms',
  'transaction.partition.verification.enable',
  'follower.fetch.last.tiered.offset.enable',
  'config.providers',
]);

/** Kafka's update mode of a broker property (read-only when Kafka cannot change it at runtime). */
export function kafkaUpdateMode(name: string): UpdateMode {
  if (PER_BROKER.has(name)) return 'per-broker';
  if (CLUSTER_WIDE.has(name)) return 'cluster-wide';
  return 'read-only';
}
