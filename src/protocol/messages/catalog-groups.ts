/** Consumer-group and transaction APIs: classic and KIP-848 groups, offsets, transactions. */
import type { ApiSpec } from '../schema.ts';
import { OffsetCommit } from './offset-commit.ts';
import { OffsetFetch } from './offset-fetch.ts';
import { FindCoordinator } from './find-coordinator.ts';
import { JoinGroup } from './join-group.ts';
import { Heartbeat } from './heartbeat.ts';
import { LeaveGroup } from './leave-group.ts';
import { SyncGroup } from './sync-group.ts';
import { DescribeGroups } from './describe-groups.ts';
import { ListGroups } from './list-groups.ts';
import { DeleteGroups } from './delete-groups.ts';
import { OffsetDelete } from './offset-delete.ts';

export const GROUP_APIS: ApiSpec[] = [
  OffsetCommit,
  OffsetFetch,
  FindCoordinator,
  JoinGroup,
  Heartbeat,
  LeaveGroup,
  SyncGroup,
  DescribeGroups,
  ListGroups,
  DeleteGroups,
  OffsetDelete,
];
