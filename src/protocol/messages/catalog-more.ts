/** Groups, transactions, ACLs, configs, quorum and the rest of the admin APIs. */
import type { ApiSpec } from '../schema.ts';

export const MORE_APIS: ApiSpec[] = [];
