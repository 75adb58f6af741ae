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
import { ConsumerGroupHeartbeat } from './consumer-group-heartbeat.ts';
import { ConsumerGroupDescribe } from './consumer-group-describe.ts';
import { AddPartitionsToTxn } from './add-partitions-to-txn.ts';
import { AddOffsetsToTxn } from './add-offsets-to-txn.ts';
import { EndTxn } from './end-txn.ts';
import { WriteTxnMarkers } from './write-txn-markers.ts';
import { TxnOffsetCommit } from './txn-offset-commit.ts';
import { DescribeProducers } from './describe-producers.ts';
import { DescribeTransactions } from './describe-transactions.ts';
import { ListTransactions } from './list-transactions.ts';

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
  ConsumerGroupHeartbeat,
  ConsumerGroupDescribe,
  AddPartitionsToTxn,
  AddOffsetsToTxn,
  EndTxn,
  WriteTxnMarkers,
  TxnOffsetCommit,
  DescribeProducers,
  DescribeTransactions,
  ListTransactions,
];
