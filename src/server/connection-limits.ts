/**
 * The connection limits in force: a dynamic broker config (this broker's,
 * then the cluster-wide default, from the metadata image) over the static
 * BrokerConfig, as Kafka resolves them. The socket server gets them at
 * start and after every committed metadata batch that changes a broker
 * config, so AlterConfigs / IncrementalAlterConfigs take effect at once.
 */
import type { BrokerConfig } from '../config/broker-config.ts';
import { BROKER_PROPERTY_BY_NAME, parseConnectionOverrides } from '../config/broker-defs.ts';
import { checkValue } from '../config/config-def.ts';
import type { MetadataImage } from '../metadata/image.ts';
import type { MetadataRecord } from '../metadata/records.ts';
import type { ConnectionLimits } from './socket-server.ts';

export const CONNECTION_LIMIT_PROPERTIES = [
  'max.connections',
  'max.connections.per.ip',
  'max.connections.per.ip.overrides',
  'max.connection.creation.rate',
] as const;

export function connectionLimits(config: BrokerConfig, image: MetadataImage): ConnectionLimits {
  const perBroker = image.brokerConfigs.get(String(config.nodeId));
  const clusterDefault = image.brokerConfigs.get('');
  const dynamicNumber = (name: string): number | undefined => {
    const text = perBroker?.get(name) ?? clusterDefault?.get(name);
    if (text === undefined) return undefined;
    const r = checkValue(BROKER_PROPERTY_BY_NAME.get(name)!, text);
    return 'value' in r ? (r.value as number) : undefined; // validated when set
  };
  const overridesText =
    perBroker?.get('max.connections.per.ip.overrides') ?? clusterDefault?.get('max.connections.per.ip.overrides');
  const parsed = overridesText === undefined ? undefined : parseConnectionOverrides(overridesText);
  return {
    maxConnections: dynamicNumber('max.connections') ?? config.maxConnections,
    maxConnectionsPerIp: dynamicNumber('max.connections.per.ip') ?? config.maxConnectionsPerIp,
    maxConnectionsPerIpOverrides: parsed instanceof Map ? parsed : config.maxConnectionsPerIpOverrides,
    maxConnectionCreationRate: dynamicNumber('max.connection.creation.rate') ?? config.maxConnectionCreationRate,
  };
}

/** Whether a committed metadata batch changes a broker config the connection limits read. */
export function touchesConnectionLimits(batch: readonly MetadataRecord[]): boolean {
  return batch.some(
    (r) =>
      r.type === 'Config' &&
      r.resourceType === 'broker' &&
      (CONNECTION_LIMIT_PROPERTIES as readonly string[]).includes(r.name),
  );
}
