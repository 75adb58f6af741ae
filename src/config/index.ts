/**
 * src/config: broker and topic configuration — Kafka's property names,
 * types and defaults, the server.properties loader with its one-line errors,
 * and the DescribeConfigs views (value, source, synonyms) of topic and
 * broker configs. Nothing here touches the network or the disk beyond
 * reading the properties file.
 */
export {
  ConfigError,
  loadBrokerConfig,
  parseOverrides,
  parseListener,
  defaultMaxConnections,
  withDynamicConfigs,
} from './broker-config.ts';
export type { BrokerConfig, Listener, LoadBrokerConfigOptions, SecurityProtocol } from './broker-config.ts';
export { BROKER_PROPERTY_DEFS, BROKER_PROPERTY_BY_NAME } from './broker-defs.ts';
export type { BrokerPropertyDef } from './broker-defs.ts';
export type { UpdateMode } from './update-modes.ts';
export {
  TOPIC_CONFIG_DEFS,
  TOPIC_CONFIG_BY_NAME,
  validateTopicConfig,
  checkBrokerConfigChange,
  describeClusterDefaultConfigs,
  isListConfig,
  isDynamicBrokerConfig,
  resolveTopicConfigs,
  effectiveTopicConfigs,
  describeBrokerConfigs,
} from './topic-config.ts';
export type {
  BrokerConfigRefusal,
  DescribedConfig,
  ConfigSynonymEntry,
  DynamicBrokerConfigs,
  TopicConfigDef,
} from './topic-config.ts';
export { ConfigType, ConfigSource } from './config-def.ts';
export { parseProperties } from './properties.ts';
