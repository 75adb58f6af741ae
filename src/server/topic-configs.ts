/**
 * Config views the broker's handlers need, computed from the metadata image
 * (topic overrides, dynamic broker configs) and the static BrokerConfig:
 * effective topic configs for the logs, and DescribeConfigs entries with
 * sources and synonyms. The definitions themselves live in src/config.
 */
import type { BrokerConfig } from '../config/broker-config.ts';
import {
  type BrokerConfigRefusal,
  type DescribedConfig,
  type DynamicBrokerConfigs,
  describeBrokerConfigs as describeBroker,
  effectiveTopicConfigs,
  isDynamicBrokerConfig,
  isListConfig,
  resolveTopicConfigs,
  checkBrokerConfigChange,
  describeClusterDefaultConfigs as describeClusterDefault,
  validateTopicConfig,
} from '../config/topic-config.ts';
import type { MetadataImage, TopicState } from '../metadata/image.ts';

export type { DescribedConfig };
export { isDynamicBrokerConfig, isListConfig };

export function dynamicBrokerConfigs(image: MetadataImage | undefined, nodeId: number): DynamicBrokerConfigs {
  if (!image) return {};
  return { perBroker: image.brokerConfigs.get(String(nodeId)), clusterDefault: image.brokerConfigs.get('') };
}

export function effectiveTopicConfig(
  overrides: ReadonlyMap<string, string>,
  config: BrokerConfig,
  image?: MetadataImage,
): Map<string, string> {
  return effectiveTopicConfigs(overrides, config, dynamicBrokerConfigs(image, config.nodeId));
}

export function describeTopicConfigs(
  topic: TopicState,
  config: BrokerConfig,
  image?: MetadataImage,
): DescribedConfig[] {
  return resolveTopicConfigs(topic.configs, config, dynamicBrokerConfigs(image, config.nodeId));
}

/** The configs a topic with these overrides would have (CreateTopics with validateOnly). */
export function describeTopicOverrides(
  overrides: ReadonlyMap<string, string>,
  config: BrokerConfig,
  image?: MetadataImage,
): DescribedConfig[] {
  return resolveTopicConfigs(overrides, config, dynamicBrokerConfigs(image, config.nodeId));
}

export function describeBrokerConfigs(config: BrokerConfig, image?: MetadataImage): DescribedConfig[] {
  return describeBroker(config, dynamicBrokerConfigs(image, config.nodeId));
}

/** Validates a topic config (or, for broker resources, a dynamic broker config) value. */
export function validateTopicConfigValue(name: string, value: string): string | null {
  return validateTopicConfig(name, value);
}

/** DescribeConfigs on broker resource '': only the configs set as the cluster default. */
export function describeClusterDefaultConfigs(image?: MetadataImage): DescribedConfig[] {
  return describeClusterDefault({ clusterDefault: image?.brokerConfigs.get('') });
}

/** Checks a change of dynamic broker configs against the static and current dynamic ones; null when acceptable. */
export function checkDynamicBrokerConfigChange(
  config: BrokerConfig,
  image: MetadataImage,
  resourceName: string,
  changes: Record<string, string | null>,
  replace: boolean,
): BrokerConfigRefusal | null {
  return checkBrokerConfigChange(config, dynamicBrokerConfigs(image, config.nodeId), resourceName, changes, replace);
}
