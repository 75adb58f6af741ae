/** ApiVersions: the APIs and version ranges this broker serves (KIP-35, KIP-511), and its features (KIP-584). */
import { ErrorCode } from '../../protocol/error-codes.ts';
import type { AdminNode } from '../broker.ts';
import type { Handler } from '../dispatcher.ts';
import type { ApiVersionsRequest, ApiVersionsResponseInput } from '../../protocol/generated/messages.ts';

/**
 * `transactionVersion` 2 (a broker with a transaction coordinator that
 * verifies transactional produces) advertises the `transaction.version`
 * feature as supported 0-2 and finalized at 2: Kafka 4 clients then use
 * transactions v2 (KIP-890 part 2: EndTxn v5, Produce v12 and TxnOffsetCommit
 * v5 without AddPartitionsToTxn / AddOffsetsToTxn). At 0 no feature is
 * advertised and clients use transactions v1. The finalized level never
 * changes while a broker runs, so its epoch is a constant.
 */
export function apiVersionsHandler(
  b: Pick<AdminNode, 'dispatcher'>,
  transactionVersion = 0,
): Handler<ApiVersionsRequest, ApiVersionsResponseInput> {
  const tv2 = transactionVersion >= 2;
  return () => ({
    errorCode: ErrorCode.NONE,
    apiKeys: b.dispatcher.supportedApis(),
    throttleTimeMs: 0,
    supportedFeatures: tv2 ? [{ name: 'transaction.version', minVersion: 0, maxVersion: 2 }] : [],
    finalizedFeaturesEpoch: tv2 ? 0 : -1,
    finalizedFeatures: tv2 ? [{ name: 'transaction.version', maxVersionLevel: 2, minVersionLevel: 2 }] : [],
    zkMigrationReady: false,
  });
}
