/**
 * The API table: which handler serves which API, and the version range
 * served where it is narrower than the declaration's. Only magic v2 record
 * batches are stored, so Fetch starts at v4 (as in Kafka 4). Produce is
 * advertised from v0 although v0-v2 carry old message formats (answered with
 * UNSUPPORTED_FOR_MESSAGE_FORMAT): librdkafka up to 2.11 enables gzip, snappy
 * and lz4 only when the broker's Produce range includes v0.
 */
import { offsetsPartitionVerifier, type TxnVerifier } from '../txn-verification.ts';
import type { Broker } from '../broker.ts';
import { apiVersionsHandler } from './api-versions.ts';
import { metadataHandler } from './metadata.ts';
import { produceHandler } from './produce.ts';
import { fetchHandler } from './fetch.ts';
import { listOffsetsHandler } from './list-offsets.ts';
import { createPartitionsHandler, createTopicsHandler, deleteTopicsHandler } from './topics.ts';
import { alterConfigsHandler, describeConfigsHandler, incrementalAlterConfigsHandler } from './configs.ts';
import { describeClusterHandler, describeLogDirsHandler } from './cluster.ts';
import { deleteRecordsHandler, offsetForLeaderEpochHandler } from './partition-admin.ts';
import { authorizedInitProducerId, initProducerIdHandler } from './init-producer-id.ts';
import { forwardedElectLeadersHandler } from './elect-leaders.ts';
import { registerReassignmentHandlers } from './reassignments.ts';
import { registerClientQuotaHandlers } from './client-quotas.ts';
import { OFFSETS_TOPIC } from '../group-store.ts';
import type { TransactionCoordinator } from '../../coordinator/txn/coordinator.ts';
import {
  addOffsetsToTxnHandler,
  addPartitionsToTxnHandler,
  describeTransactionsHandler,
  endTxnHandler,
  initProducerIdTxnHandler,
  listTransactionsHandler,
  offsetsPartitionAdder,
  txnOffsetCommitHandler,
} from './transactions.ts';
import { writeTxnMarkersHandler } from './write-txn-markers.ts';
import { registerAclHandlers } from './acls.ts';
import { describeProducersHandler } from './describe-producers.ts';
import { type ControllerRouter, relayHandler } from '../forwarding.ts';
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { GroupCoordinatorService } from '../../coordinator/group/service.ts';
import type { ConsumerGroupService } from '../../coordinator/group/consumer/service.ts';
import { consumerGroupDescribeHandler, consumerGroupHeartbeatHandler } from './consumer-group.ts';
import {
  deleteGroupsHandler,
  describeGroupsHandler,
  findCoordinatorHandler,
  heartbeatHandler,
  joinGroupHandler,
  leaveGroupHandler,
  listGroupsHandler,
  offsetCommitHandler,
  offsetDeleteHandler,
  offsetFetchHandler,
  partitionExistsIn,
  syncGroupHandler,
} from './groups.ts';

/** InitProducerId of idempotent producers, served by the active controller: relayed there when it is another node. */
export function relayedInitProducerId(
  router: ControllerRouter,
  initProducerId: ReturnType<typeof initProducerIdHandler>,
): ReturnType<typeof initProducerIdHandler> {
  return relayHandler(
    router,
    'InitProducerId',
    initProducerId,
    (r) => r.errorCode === ErrorCode.NOT_CONTROLLER,
    () => ({
      throttleTimeMs: 0,
      errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      producerId: -1,
      producerEpoch: -1,
    }),
  );
}

export function registerHandlers(
  b: Broker,
  groups: GroupCoordinatorService,
  consumerGroups: ConsumerGroupService,
  router: ControllerRouter,
  /** This node's InitProducerId handler for when it is the active controller (shared with its CONTROLLER listener). */
  initProducerId = initProducerIdHandler(b.localController),
  /** The transaction coordinator; without it the transaction APIs are not served. */
  txn?: TransactionCoordinator,
  /** KIP-890 verification of transactional produces (none: appended unverified). */
  verifier?: TxnVerifier,
): void {
  const d = b.dispatcher;
  d.register('ApiVersions', { handler: apiVersionsHandler(b, txn && verifier?.enabled ? 2 : 0) });
  d.register('Metadata', { handler: metadataHandler(b) });
  d.register('Produce', { handler: produceHandler(b, verifier) });
  d.register('Fetch', { handler: fetchHandler(b), minVersion: 4 });
  d.register('ListOffsets', { handler: listOffsetsHandler(b) });
  d.register('CreateTopics', { handler: createTopicsHandler(b) });
  d.register('DeleteTopics', { handler: deleteTopicsHandler(b) });
  d.register('CreatePartitions', { handler: createPartitionsHandler(b) });
  d.register('DescribeConfigs', { handler: describeConfigsHandler(b) });
  d.register('AlterConfigs', { handler: alterConfigsHandler(b) });
  d.register('IncrementalAlterConfigs', { handler: incrementalAlterConfigsHandler(b) });
  d.register('DescribeCluster', { handler: describeClusterHandler(b) });
  d.register('DescribeLogDirs', { handler: describeLogDirsHandler(b) });
  d.register('DeleteRecords', { handler: deleteRecordsHandler(b) });
  d.register('OffsetForLeaderEpoch', { handler: offsetForLeaderEpochHandler(b) });
  // producer ids come from the active controller: relayed there when it is another node;
  // a transactional id goes to the transaction coordinator, which takes its producer ids the same way
  const idempotent = relayedInitProducerId(router, initProducerId);
  d.register('InitProducerId', {
    handler: authorizedInitProducerId(txn ? initProducerIdTxnHandler(txn, idempotent) : idempotent),
  });
  if (txn) {
    d.register('AddPartitionsToTxn', { handler: addPartitionsToTxnHandler(b, txn) });
    d.register('AddOffsetsToTxn', { handler: addOffsetsToTxnHandler(b, txn) });
    // v5: transactions v2 (KIP-890 part 2), used by clients once ApiVersions finalizes transaction.version 2
    d.register('EndTxn', { handler: endTxnHandler(txn) });
    d.register('DescribeTransactions', { handler: describeTransactionsHandler(txn) });
    d.register('ListTransactions', { handler: listTransactionsHandler(txn) });
    d.register('TxnOffsetCommit', {
      handler: txnOffsetCommitHandler(
        groups,
        partitionExistsIn(b.image),
        verifier?.enabled ? offsetsPartitionAdder(b, verifier) : undefined,
        verifier?.enabled ? offsetsPartitionVerifier(b, verifier) : undefined,
      ),
    });
  }
  // leader elections are the active controller's: relayed there when it is another node
  d.register('ElectLeaders', {
    handler: forwardedElectLeadersHandler(router, b.localController, { logger: b.logger }),
  });
  // a marker on __consumer_offsets also completes the transaction's pending offsets there (TxnOffsetCommit)
  d.register('WriteTxnMarkers', {
    handler: writeTxnMarkersHandler(b, (topic, partition, producerId, _epoch, commit) => {
      const part = verifier && b.replicas.get(topic, partition);
      if (part) verifier.onMarker(part, producerId);
      if (topic === OFFSETS_TOPIC) groups.completeTxnOnPartition(producerId, commit, partition);
    }),
  });
  d.register('DescribeProducers', { handler: describeProducersHandler(b) });
  d.register('FindCoordinator', { handler: findCoordinatorHandler(b) });
  d.register('JoinGroup', { handler: joinGroupHandler(groups) });
  d.register('SyncGroup', { handler: syncGroupHandler(groups) });
  d.register('Heartbeat', { handler: heartbeatHandler(groups) });
  d.register('LeaveGroup', { handler: leaveGroupHandler(groups) });
  // OffsetCommit / OffsetFetch v10 name topics by id; the group handlers read names.
  d.register('OffsetCommit', { handler: offsetCommitHandler(groups, partitionExistsIn(b.image)), maxVersion: 9 });
  d.register('OffsetFetch', { handler: offsetFetchHandler(groups), maxVersion: 9 });
  d.register('DescribeGroups', { handler: describeGroupsHandler(groups) });
  d.register('ListGroups', { handler: listGroupsHandler(groups) });
  d.register('DeleteGroups', { handler: deleteGroupsHandler(groups) });
  d.register('OffsetDelete', { handler: offsetDeleteHandler(groups) });
  d.register('ConsumerGroupHeartbeat', { handler: consumerGroupHeartbeatHandler(consumerGroups) });
  d.register('ConsumerGroupDescribe', { handler: consumerGroupDescribeHandler(consumerGroups) });
  registerReassignmentHandlers(d, b.localController, router);
  registerClientQuotaHandlers(d, b.image, router);
  registerAclHandlers(d, b.image, b.localController, router);
}
