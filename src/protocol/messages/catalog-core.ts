/** The APIs a broker needs first: data path, metadata, topics admin. */
import type { ApiSpec } from '../schema.ts';
import { ApiVersions } from './api-versions.ts';

export const CORE_APIS: ApiSpec[] = [ApiVersions];
