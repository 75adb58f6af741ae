/** Groups, transactions, ACLs, configs, quorum and the rest of the admin APIs. */
import type { ApiSpec } from '../schema.ts';
import { DescribeAcls } from './describe-acls.ts';
import { CreateAcls } from './create-acls.ts';
import { DeleteAcls } from './delete-acls.ts';
import { ElectLeaders } from './elect-leaders.ts';
import { AlterPartitionReassignments } from './alter-partition-reassignments.ts';
import { ListPartitionReassignments } from './list-partition-reassignments.ts';
import { DescribeUserScramCredentials } from './describe-user-scram-credentials.ts';
import { AlterUserScramCredentials } from './alter-user-scram-credentials.ts';
import { Vote } from './vote.ts';
import { BeginQuorumEpoch } from './begin-quorum-epoch.ts';
import { EndQuorumEpoch } from './end-quorum-epoch.ts';
import { DescribeQuorum } from './describe-quorum.ts';
import { AlterClientQuotas, DescribeClientQuotas } from './client-quotas.ts';

export const MORE_APIS: ApiSpec[] = [
  DescribeAcls,
  CreateAcls,
  DeleteAcls,
  ElectLeaders,
  AlterPartitionReassignments,
  ListPartitionReassignments,
  DescribeUserScramCredentials,
  AlterUserScramCredentials,
  Vote,
  BeginQuorumEpoch,
  EndQuorumEpoch,
  DescribeQuorum,
  DescribeClientQuotas,
  AlterClientQuotas,
];
