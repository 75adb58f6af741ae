/**
 * Every API declaration Samsa knows, one file per API (or per family of small
 * APIs), each written from the facts of Kafka's message definitions.
 */
import type { ApiSpec } from '../schema.ts';
import { CORE_APIS } from './catalog-core.ts';
import { MORE_APIS } from './catalog-more.ts';
import { GROUP_APIS } from './catalog-groups.ts';
import { BROKER_LIFECYCLE_APIS } from './broker-lifecycle.ts';
import { ALTER_PARTITION_APIS } from './alter-partition.ts';
import { FetchSnapshot } from './fetch-snapshot.ts';

export const ALL_API_SPECS: ApiSpec[] = [
  ...CORE_APIS,
  ...MORE_APIS,
  ...GROUP_APIS,
  ...BROKER_LIFECYCLE_APIS,
  ...ALTER_PARTITION_APIS,
  FetchSnapshot,
];
