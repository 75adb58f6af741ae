/** The APIs a broker needs first: data path, metadata, topics admin. */
import type { ApiSpec } from '../schema.ts';
import { ApiVersions } from './api-versions.ts';
import { Produce } from './produce.ts';
import { Fetch } from './fetch.ts';
import { ListOffsets } from './list-offsets.ts';
import { Metadata } from './metadata.ts';
import { CreateTopics } from './create-topics.ts';
import { DeleteTopics } from './delete-topics.ts';
import { InitProducerId } from './init-producer-id.ts';

export const CORE_APIS: ApiSpec[] = [
  ApiVersions,
  Produce,
  Fetch,
  ListOffsets,
  Metadata,
  CreateTopics,
  DeleteTopics,
  InitProducerId,
];
