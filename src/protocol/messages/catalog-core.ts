/** The APIs a broker needs first: data path, metadata, topics admin. */
import type { ApiSpec } from '../schema.ts';
import { ApiVersions } from './api-versions.ts';
import { Produce } from './produce.ts';
import { Fetch } from './fetch.ts';
import { ListOffsets } from './list-offsets.ts';
import { Metadata } from './metadata.ts';
import { CreateTopics } from './create-topics.ts';
import { DeleteTopics } from './delete-topics.ts';
import { DeleteRecords } from './delete-records.ts';
import { InitProducerId } from './init-producer-id.ts';
import { OffsetForLeaderEpoch } from './offset-for-leader-epoch.ts';
import { DescribeConfigs } from './describe-configs.ts';
import { AlterConfigs } from './alter-configs.ts';
import { DescribeLogDirs } from './describe-log-dirs.ts';
import { SaslHandshake } from './sasl-handshake.ts';
import { SaslAuthenticate } from './sasl-authenticate.ts';
import { CreatePartitions } from './create-partitions.ts';
import { IncrementalAlterConfigs } from './incremental-alter-configs.ts';
import { DescribeCluster } from './describe-cluster.ts';

export const CORE_APIS: ApiSpec[] = [
  ApiVersions,
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  SaslHandshake,
  CreateTopics,
  DeleteTopics,
  DeleteRecords,
  InitProducerId,
  OffsetForLeaderEpoch,
  DescribeConfigs,
  AlterConfigs,
  DescribeLogDirs,
  SaslAuthenticate,
  CreatePartitions,
  IncrementalAlterConfigs,
  DescribeCluster,
];
