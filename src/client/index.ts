/**
 * src/client: a small promise-based Kafka client written on Samsa's protocol
 * codecs (no third-party Kafka library) — connections with version
 * negotiation, metadata and leader routing, produce/fetch/list offsets,
 * topic and config admin, consumer-group calls. Used by the CLI and tests;
 * works against any Kafka-compatible broker.
 */
export { Connection, ConnectionError, negotiateVersions } from './connection.ts';
export type { ConnectionOptions, VersionRange } from './connection.ts';
export * from './client.ts';
export { KafkaError } from '../protocol/error-codes.ts';
export { GroupConsumer } from './group-consumer.ts';
export type { GroupConsumerOptions } from './group-consumer.ts';
export * from './consumer-protocol.ts';
